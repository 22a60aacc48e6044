"""Persistence: SQLAlchemy adapters for SQLite (default) and PostgreSQL. The only layer that speaks SQL."""
