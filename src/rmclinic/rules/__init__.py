"""The evidence-linked alert engine (pure functions over a patient snapshot); arrives with issue 6."""
