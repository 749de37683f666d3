"""Alembic migrations; `core.migrate` runs them without needing alembic.ini."""
