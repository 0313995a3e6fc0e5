"""The first schema: reviews with their conclusions, findings, scores and dimension values,
and the rulebooks (with their source text) that made them.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("kamrules_meta",
                    sa.Column("key", sa.String(50), primary_key=True),
                    sa.Column("value", sa.Text, nullable=False))
    op.create_table("kamrules_sources",
                    sa.Column("digest", sa.String(80), primary_key=True),
                    sa.Column("text", sa.Text, nullable=False))
    op.create_table("kamrules_rulebooks",
                    sa.Column("digest", sa.String(80), primary_key=True),
                    sa.Column("rulebook_id", sa.String(200), nullable=False),
                    sa.Column("version", sa.String(50), nullable=False),
                    sa.Column("entry", sa.Text, nullable=False),
                    sa.Column("files", sa.Text, nullable=False),
                    sa.Column("first_recorded", sa.DateTime, nullable=False))
    op.create_table("kamrules_reviews",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("account_id", sa.String(200), nullable=False),
                    sa.Column("account_name", sa.Text, nullable=False),
                    sa.Column("as_of", sa.Date, nullable=False),
                    sa.Column("recorded_at", sa.DateTime, nullable=False),
                    sa.Column("recorded_by", sa.Text, nullable=False),
                    sa.Column("run", sa.String(40), nullable=False),
                    sa.Column("rulebook_digest", sa.String(80), sa.ForeignKey("kamrules_rulebooks.digest"),
                              nullable=False),
                    sa.Column("rulebook_id", sa.String(200), nullable=False),
                    sa.Column("rulebook_version", sa.String(50), nullable=False),
                    sa.Column("engine", sa.String(20), nullable=False),
                    sa.Column("kamrules_version", sa.String(50), nullable=False),
                    sa.Column("lang", sa.String(5), nullable=False),
                    sa.Column("final", sa.String(100)),
                    sa.Column("tier", sa.String(100)),
                    sa.Column("facts", sa.Text, nullable=False),
                    sa.Column("facts_digest", sa.String(80), nullable=False),
                    sa.Column("supplied", sa.Text, nullable=False),
                    sa.Column("result", sa.LargeBinary, nullable=False),
                    sa.Column("result_digest", sa.String(80), nullable=False))
    op.create_index("kamrules_ix_reviews_account", "kamrules_reviews", ["account_id", "as_of", "id"])
    op.create_table("kamrules_review_values",
                    sa.Column("review_id", sa.Integer, sa.ForeignKey("kamrules_reviews.id", ondelete="CASCADE"),
                              primary_key=True),
                    sa.Column("kind", sa.String(10), primary_key=True),
                    sa.Column("name", sa.String(200), primary_key=True),
                    sa.Column("text", sa.String(200)),
                    sa.Column("number", sa.Float))
    op.create_table("kamrules_findings",
                    sa.Column("review_id", sa.Integer, sa.ForeignKey("kamrules_reviews.id", ondelete="CASCADE"),
                              primary_key=True),
                    sa.Column("position", sa.Integer, primary_key=True),
                    sa.Column("rule", sa.String(200), nullable=False),
                    sa.Column("concept", sa.String(200), nullable=False),
                    sa.Column("kind", sa.String(20), nullable=False),
                    sa.Column("severity", sa.String(20), nullable=False),
                    sa.Column("priority", sa.Integer, nullable=False),
                    sa.Column("suppressed", sa.Boolean, nullable=False))
    op.create_index("kamrules_ix_findings_rule", "kamrules_findings", ["rule"])


def downgrade() -> None:
    for t in ("kamrules_findings", "kamrules_review_values", "kamrules_reviews", "kamrules_rulebooks",
              "kamrules_sources", "kamrules_meta"):
        op.drop_table(t)
