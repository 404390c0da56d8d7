"""The migration history (Alembic revisions under ``versions/``) and its SQLite scripts."""
