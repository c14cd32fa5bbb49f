"""Use cases: one unit of work each; permissions and audit attach here. No Qt, no SQLAlchemy."""
