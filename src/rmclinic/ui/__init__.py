"""PySide6 widgets and item models. Talks to services only, never to SQL."""
