"""Persistence: SQLAlchemy 2 models, the engine, units of work and migrations."""
