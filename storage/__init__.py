"""Persistence: SQLAlchemy 2 async models, Alembic migrations and small repository functions."""
