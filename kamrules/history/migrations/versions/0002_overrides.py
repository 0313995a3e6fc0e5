"""Overrides: a manager's class or tier for an account, or an accepted warning, with a reason,
an author and an expiry; each review keeps the overrides that were in force.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("kamrules_overrides",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("account_id", sa.String(200), nullable=False),
                    sa.Column("kind", sa.String(20), nullable=False),
                    sa.Column("target", sa.String(200), nullable=False),
                    sa.Column("value", sa.String(200)),
                    sa.Column("reason", sa.Text, nullable=False),
                    sa.Column("author", sa.Text, nullable=False),
                    sa.Column("created_at", sa.DateTime, nullable=False),
                    sa.Column("expires", sa.Date, nullable=False),
                    sa.Column("removed_at", sa.DateTime),
                    sa.Column("removed_by", sa.Text))
    op.create_index("kamrules_ix_overrides_account", "kamrules_overrides", ["account_id"])
    # reviews recorded before this revision had no overrides in force
    with op.batch_alter_table("kamrules_reviews") as batch:
        batch.add_column(sa.Column("overrides", sa.Text, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("kamrules_reviews") as batch:
        batch.drop_column("overrides")
    op.drop_table("kamrules_overrides")
