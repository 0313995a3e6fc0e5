"""The store's tables at the newest schema revision (SQLAlchemy Core). Migrations
(migrations/versions/) build them step by step; tests check the two agree.

Every name starts with `kamrules_`, so a team's PostgreSQL database can hold the store beside
other tables. Reviews are rows with their conclusions in columns and child tables a SQL user
can query (dimension values, scores, findings); the full JSON result of each review is kept
compressed for replay and audit. Rulebook sources are content-addressed (sha256 of the text).
"""
from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

HEAD = "0002"  # the newest migration; tests check it is alembic's head
REVISIONS = ("0001", "0002")  # oldest first: every revision this kamrules knows
VERSION_TABLE = "kamrules_alembic_version"

metadata = MetaData()

meta = Table(
    "kamrules_meta", metadata,
    Column("key", String(50), primary_key=True),
    Column("value", Text, nullable=False),
)

sources = Table(
    "kamrules_sources", metadata,
    Column("digest", String(80), primary_key=True),  # sha256 of the text
    Column("text", Text, nullable=False),
)

rulebooks = Table(
    "kamrules_rulebooks", metadata,
    Column("digest", String(80), primary_key=True),  # the effective rulebook's content digest
    Column("rulebook_id", String(200), nullable=False),
    Column("version", String(50), nullable=False),
    Column("entry", Text, nullable=False),  # the file the rulebook was loaded from (its display path)
    Column("files", Text, nullable=False),  # JSON [[display path, source digest], …], the extends chain
    Column("first_recorded", DateTime, nullable=False),
)

reviews = Table(
    "kamrules_reviews", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(200), nullable=False),
    Column("account_name", Text, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("recorded_at", DateTime, nullable=False),  # UTC
    Column("recorded_by", Text, nullable=False),
    Column("run", String(40), nullable=False),  # the reviews one command recorded together
    Column("rulebook_digest", String(80), ForeignKey("kamrules_rulebooks.digest"), nullable=False),
    Column("rulebook_id", String(200), nullable=False),
    Column("rulebook_version", String(50), nullable=False),
    Column("engine", String(20), nullable=False),
    Column("kamrules_version", String(50), nullable=False),
    Column("lang", String(5), nullable=False),
    Column("final", String(100)),
    Column("tier", String(100)),
    Column("facts", Text, nullable=False),  # canonical JSON of the account's own facts
    Column("facts_digest", String(80), nullable=False),
    Column("supplied", Text, nullable=False),  # JSON: the history facts the store supplied
    Column("result", LargeBinary, nullable=False),  # zlib(canonical JSON of `advise --format json`)
    Column("result_digest", String(80), nullable=False),
    Column("overrides", Text, nullable=False, server_default="[]"),  # 0002: overrides in force
)
Index("kamrules_ix_reviews_account", reviews.c.account_id, reviews.c.as_of, reviews.c.id)

values = Table(
    "kamrules_review_values", metadata,  # every dimension and score of a review
    Column("review_id", Integer, ForeignKey("kamrules_reviews.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(10), primary_key=True),  # dimension | score
    Column("name", String(200), primary_key=True),
    Column("text", String(200)),  # a dimension's value
    Column("number", Float),  # a score's value
)

findings = Table(
    "kamrules_findings", metadata,
    Column("review_id", Integer, ForeignKey("kamrules_reviews.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("rule", String(200), nullable=False),
    Column("concept", String(200), nullable=False),
    Column("kind", String(20), nullable=False),  # warning | recommendation | conflict
    Column("severity", String(20), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("suppressed", Boolean, nullable=False),  # accepted by an override
)
Index("kamrules_ix_findings_rule", findings.c.rule)

overrides = Table(  # 0002
    "kamrules_overrides", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(200), nullable=False),
    Column("kind", String(20), nullable=False),  # dimension | accept
    Column("target", String(200), nullable=False),  # the dimension, or the accepted warning's rule
    Column("value", String(200)),  # the dimension's value set by the manager
    Column("reason", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires", Date, nullable=False),  # lapses on this date
    Column("removed_at", DateTime),
    Column("removed_by", Text),
)
Index("kamrules_ix_overrides_account", overrides.c.account_id)

TABLES = (meta, sources, rulebooks, reviews, values, findings, overrides)  # in dependency order
