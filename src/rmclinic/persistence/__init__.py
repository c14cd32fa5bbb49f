"""SQLAlchemy records, engine set-up, repositories, read-side queries and the migration runner."""
