"""rmclinic: a desktop application for recurrent-miscarriage clinics."""

__version__ = "0.1.0"
