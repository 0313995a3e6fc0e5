"""Alembic migrations of the review store, shipped inside the package."""
