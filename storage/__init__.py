"""Persistence: SQLAlchemy 2 async models, Alembic migrations and small repository functions."""

# The flush hook that keeps each action's next-reminder time and each school's next-digest
# time right, whichever write path changed them, is registered when this is imported.
from storage import planning as planning
