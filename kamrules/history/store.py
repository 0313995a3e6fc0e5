"""The review store: one SQLAlchemy engine over SQLite (embedded, WAL) or PostgreSQL.

Opening a store checks its schema revision first: a new store is created, an older one is
upgraded in place (Alembic, inside one transaction that holds the write lock, so two processes
never migrate at once and a failed migration leaves the old schema), and a store from a newer
kamrules is refused. Every write is one transaction: a run that fails or is interrupted records
nothing. SQLite write transactions start with BEGIN IMMEDIATE and wait (busy timeout) for
another writer instead of failing; PostgreSQL serialises the rest.

Errors from the driver become StoreError (exit 2) with the password scrubbed.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from kamrules import __version__
from kamrules.core import interrupt
from kamrules.history import schema as S
from kamrules.history.location import StoreError, Where, store_problem

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_S = float(os.environ.get("KAMRULES_STORE_TIMEOUT", "60"))  # waiting for another writer
CONNECT_TIMEOUT_S = 10
_PG_LOCK = 0x6B616D72  # "kamr": the advisory lock migrations take on PostgreSQL


@dataclass(frozen=True)
class FindingRow:
    rule: str
    concept: str
    kind: str
    severity: str
    priority: int
    suppressed: bool


@dataclass(frozen=True)
class Summary:
    """What trends, history and diffs need of a review (its full result stays packed)."""

    id: int
    account_id: str
    account_name: str
    as_of: _dt.date
    recorded_at: _dt.datetime
    recorded_by: str
    run: str
    rulebook_digest: str
    rulebook_id: str
    rulebook_version: str
    engine: str
    kamrules_version: str
    lang: str
    facts_digest: str
    result_digest: str
    dims: Mapping[str, str | None]
    scores: Mapping[str, float | None]
    findings: tuple[FindingRow, ...]

    @property
    def final(self) -> str | None:
        return self.dims.get("final")

    @property
    def tier(self) -> str | None:
        return self.dims.get("tier")

    def warnings(self, *, suppressed: bool = False) -> list[FindingRow]:
        return [f for f in self.findings if f.kind == "warning" and (suppressed or not f.suppressed)]


@dataclass(frozen=True)
class Full:
    """A review with everything it recorded: facts, supplied history facts, the result."""

    summary: Summary
    facts: str  # canonical JSON
    supplied: str  # canonical JSON
    result: str  # canonical JSON of the advise output
    overrides: str  # JSON list of the overrides in force


@dataclass(frozen=True)
class NewReview:
    """One review to record (record.py builds it from an evaluation)."""

    account_id: str
    account_name: str
    as_of: _dt.date
    rulebook_digest: str
    rulebook_id: str
    rulebook_version: str
    engine: str
    lang: str
    dims: Mapping[str, str | None]
    scores: Mapping[str, float | None]
    findings: tuple[FindingRow, ...]
    facts: str
    facts_digest: str
    supplied: str
    result: bytes  # packed
    result_digest: str
    overrides: str = "[]"


@dataclass(frozen=True)
class RulebookSource:
    digest: str
    rulebook_id: str
    version: str
    entry: str
    files: tuple[tuple[str, str], ...]  # (display path, text)


@dataclass
class Store:
    where: Where
    engine: Any
    notes: list[str] = field(default_factory=list)  # what opening did (created, upgraded)

    # ------------------------------------------------------------------ transactions

    def reading(self) -> Any:
        return self.engine.connect()

    def writing(self) -> Any:
        """A connection whose transaction holds the write lock from its first statement."""
        return self.engine.connect().execution_options(kamrules_write=True)

    def close(self) -> None:
        self.engine.dispose()

    def guard(self) -> Any:
        return _Guard(self.where)

    # ------------------------------------------------------------------ writing

    def record(self, reviews: Sequence[NewReview], books: Sequence[RulebookSource], *, by: str,
               now: _dt.datetime | None = None, run: str = "") -> list[int]:
        """Every review, or none of them."""
        import uuid

        from sqlalchemy import insert

        now = now or utcnow()
        run = run or uuid.uuid4().hex
        with self.guard(), self.writing() as conn, conn.begin():
            for book in books:
                self._put_rulebook(conn, book, now)
            rows = [{"account_id": r.account_id, "account_name": r.account_name, "as_of": r.as_of,
                     "recorded_at": now, "recorded_by": by, "run": run, "rulebook_digest": r.rulebook_digest,
                     "rulebook_id": r.rulebook_id, "rulebook_version": r.rulebook_version, "engine": r.engine,
                     "kamrules_version": __version__, "lang": r.lang, "final": r.dims.get("final"),
                     "tier": r.dims.get("tier"), "facts": r.facts, "facts_digest": r.facts_digest,
                     "supplied": r.supplied, "result": r.result, "result_digest": r.result_digest,
                     "overrides": r.overrides} for r in reviews]
            ids: list[int] = []
            for chunk in _chunks(rows, 2000):
                res = conn.execute(insert(S.reviews).returning(S.reviews.c.id, sort_by_parameter_order=True), chunk)
                ids.extend(int(x) for x in res.scalars())
            vals: list[tuple[Any, ...]] = []
            fnds: list[tuple[Any, ...]] = []
            for rid, r in zip(ids, reviews):
                vals.extend((rid, "dimension", d, v, None) for d, v in r.dims.items())
                vals.extend((rid, "score", n, None, v) for n, v in r.scores.items())
                fnds.extend((rid, i, f.rule, f.concept, f.kind, f.severity, f.priority, f.suppressed)
                            for i, f in enumerate(r.findings))
            # the child rows (≈ 30 per review) go straight to the driver's executemany: the same
            # statement, a third of the time of SQLAlchemy's per-row parameter processing
            _bulk(conn, S.values, ("review_id", "kind", "name", "text", "number"), vals)
            _bulk(conn, S.findings, ("review_id", "position", "rule", "concept", "kind", "severity", "priority",
                                     "suppressed"), fnds)
            interrupt.check()  # before the commit: a Ctrl-C dropped on the way (in a GC callback) records nothing
        return ids

    def _put_rulebook(self, conn: Any, book: RulebookSource, now: _dt.datetime) -> None:
        from kamrules.history.codec import canonical, digest

        files = [(path, digest(text)) for path, text in book.files]
        for (path, d), (_, text) in zip(files, book.files):
            _insert_missing(conn, S.sources, {"digest": d, "text": text})
        _insert_missing(conn, S.rulebooks, {"digest": book.digest, "rulebook_id": book.rulebook_id,
                                            "version": book.version, "entry": book.entry,
                                            "files": canonical(files), "first_recorded": now})

    def has_rulebook(self, digest: str) -> bool:
        from sqlalchemy import select

        with self.guard(), self.reading() as conn:
            return conn.execute(select(S.rulebooks.c.digest).where(S.rulebooks.c.digest == digest)).first() is not None

    # ------------------------------------------------------------------ reading

    def summaries(self, account_ids: Iterable[str] | None = None, *, before: _dt.date | None = None,
                  since: _dt.date | None = None) -> dict[str, list[Summary]]:
        """Every recorded review of these accounts (all accounts: None), oldest first, each with
        its dimension values, scores and warnings."""
        from sqlalchemy import select

        ids = None if account_ids is None else sorted(set(account_ids))
        out: dict[str, list[Summary]] = {}
        with self.guard(), self.reading() as conn:
            q = select(*[S.reviews.c[n] for n in _SUMMARY_COLS])
            if before is not None:
                q = q.where(S.reviews.c.as_of < before)
            if since is not None:
                q = q.where(S.reviews.c.as_of >= since)
            rows: list[Any] = []
            if ids is None or len(ids) > 900:  # one scan beats thousands of IN lists
                rows = list(conn.execute(q))
                if ids is not None:
                    wanted = set(ids)
                    rows = [r for r in rows if r.account_id in wanted]
            else:
                rows = list(conn.execute(q.where(S.reviews.c.account_id.in_(ids))))
            by_id = {r.id: r for r in rows}
            vals: dict[int, tuple[dict[str, str | None], dict[str, float | None]]] = {i: ({}, {}) for i in by_id}
            fnds: dict[int, list[FindingRow]] = {i: [] for i in by_id}
            if by_id:
                lo, hi = int(min(by_id)), int(max(by_id))  # integers: safe to write into the SQL
                # plain driver rows (tuples): these two tables are most of what a portfolio reads
                for rid, kind, name, txt, number in conn.exec_driver_sql(
                        f"SELECT review_id, kind, name, text, number FROM {S.values.name} "
                        f"WHERE review_id BETWEEN {lo} AND {hi}"):
                    if rid in vals:
                        if kind == "dimension":
                            vals[rid][0][name] = txt
                        else:
                            vals[rid][1][name] = number
                # warnings only: trends, history and the portfolio read nothing else (full() has all)
                for rid, rule, concept, kind, sev, prio, supp in conn.exec_driver_sql(
                        f"SELECT review_id, rule, concept, kind, severity, priority, suppressed FROM {S.findings.name} "
                        f"WHERE review_id BETWEEN {lo} AND {hi} AND kind = 'warning' ORDER BY review_id, position"):
                    if rid in fnds:
                        fnds[rid].append(FindingRow(rule, concept, kind, sev, prio, bool(supp)))
        for r in sorted(rows, key=lambda r: (r.account_id, r.as_of, r.recorded_at, r.id)):
            d, s = vals[r.id]
            out.setdefault(r.account_id, []).append(_summary(r, d, s, tuple(fnds[r.id])))
        return out

    def full(self, review_id: int) -> Full | None:
        from sqlalchemy import select

        from kamrules.history.codec import unpack

        with self.guard(), self.reading() as conn:
            r = conn.execute(select(S.reviews).where(S.reviews.c.id == review_id)).first()
            if r is None:
                return None
            d: dict[str, str | None] = {}
            s: dict[str, float | None] = {}
            for v in conn.execute(select(S.values).where(S.values.c.review_id == review_id)):
                if v.kind == "dimension":
                    d[v.name] = v.text
                else:
                    s[v.name] = v.number
            fs = tuple(FindingRow(f.rule, f.concept, f.kind, f.severity, f.priority, bool(f.suppressed))
                       for f in conn.execute(select(S.findings).where(S.findings.c.review_id == review_id)
                                             .order_by(S.findings.c.position)))
        return Full(_summary(r, d, s, fs), r.facts, r.supplied, unpack(bytes(r.result)), r.overrides)

    def rulebook_source(self, digest: str) -> RulebookSource | None:
        from sqlalchemy import select

        with self.guard(), self.reading() as conn:
            b = conn.execute(select(S.rulebooks).where(S.rulebooks.c.digest == digest)).first()
            if b is None:
                return None
            files = [tuple(x) for x in json.loads(b.files)]
            texts = {row.digest: row.text for row in conn.execute(
                select(S.sources).where(S.sources.c.digest.in_([d for _, d in files])))}
        return RulebookSource(b.digest, b.rulebook_id, b.version, b.entry,
                              tuple((p, texts[d]) for p, d in files))

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func, select

        with self.guard(), self.reading() as conn:
            return {
                "reviews": int(conn.execute(select(func.count()).select_from(S.reviews)).scalar_one()),
                "accounts": int(conn.execute(select(func.count(S.reviews.c.account_id.distinct()))).scalar_one()),
                "rulebooks": int(conn.execute(select(func.count()).select_from(S.rulebooks)).scalar_one()),
                "overrides": int(conn.execute(select(func.count()).select_from(S.overrides)).scalar_one()),
            }

    def revision(self) -> str | None:
        with self.guard(), self.reading() as conn:
            return _revision(conn)


_SUMMARY_COLS = ("id", "account_id", "account_name", "as_of", "recorded_at", "recorded_by", "run", "rulebook_digest",
                 "rulebook_id", "rulebook_version", "engine", "kamrules_version", "lang", "facts_digest",
                 "result_digest")


def _summary(r: Any, dims: Mapping[str, str | None], scores: Mapping[str, float | None],
             findings: tuple[FindingRow, ...]) -> Summary:
    return Summary(int(r.id), r.account_id, r.account_name, _date(r.as_of), _datetime(r.recorded_at), r.recorded_by,
                   r.run, r.rulebook_digest, r.rulebook_id, r.rulebook_version, r.engine, r.kamrules_version, r.lang,
                   r.facts_digest, r.result_digest, dict(dims), dict(scores), findings)


def _date(v: Any) -> _dt.date:
    return v if isinstance(v, _dt.date) and not isinstance(v, _dt.datetime) else _dt.date.fromisoformat(str(v)[:10])


def _datetime(v: Any) -> _dt.datetime:
    return v if isinstance(v, _dt.datetime) else _dt.datetime.fromisoformat(str(v))


def utcnow() -> _dt.datetime:
    """UTC, naive (both databases store it the same way), to the microsecond."""
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def _chunks(rows: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(rows), n):
        yield rows[i:i + n]


def _bulk(conn: Any, table: Any, cols: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
    for chunk in _chunks(rows, 5000):
        conn.exec_driver_sql(sql, list(chunk))


def _insert_missing(conn: Any, table: Any, row: Mapping[str, Any]) -> None:
    """Insert a content-addressed row unless it is there (another writer may add it at once)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(table).values(**row).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        conn.execute(sqlite_insert(table).values(**row).on_conflict_do_nothing())


# ---------------------------------------------------------------------- opening

class _Guard:
    """Driver errors → StoreError with the password scrubbed (no traceback, exit 2)."""

    def __init__(self, where: Where) -> None:
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: Any, e: Any, tb: Any) -> None:
        if e is None:
            return
        from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

        if isinstance(e, DBAPIError):
            err = connect_error(e, self.where)
            if err.problems[0].code != "store.connect" or isinstance(e, OperationalError) or e.connection_invalidated:
                raise err from None
        if isinstance(e, SQLAlchemyError):
            raise store_problem("store.failed", f"the store refused a write or read: {_first_line(e, self.where)}",
                                self.where.shown, "nothing was recorded; check the store with "
                                                  "'kamrules store info'") from None


def _first_line(e: BaseException, where: Where) -> str:
    orig = getattr(e, "orig", None) or e
    text = str(orig).strip().splitlines()
    return where.scrub(text[0] if text else type(orig).__name__)


def connect_error(e: BaseException, where: Where) -> StoreError:
    msg = _first_line(e, where)
    low = " ".join(str(getattr(e, "orig", None) or e).lower().split())
    shown = where.shown
    if "password authentication failed" in low or "authentication failed" in low or \
            ("role" in low and "does not exist" in low) or "no password supplied" in low:
        return store_problem("store.auth", f"the server at {shown} refused the user name or password", shown,
                             "check the user and password in the URL (or in PGPASSFILE)")
    if "database" in low and "does not exist" in low:
        return store_problem("store.no-database", f"the database named in {shown} does not exist", shown,
                             "create it (createdb NAME) or name an existing one")
    if any(s in low for s in ("connection refused", "could not connect", "timeout expired", "timed out",
                              "could not translate host name", "name or service not known",
                              "no route to host", "network is unreachable", "connection failed")):
        return store_problem("store.unreachable", f"cannot reach the store server at {shown}: {msg}", shown,
                             "check the host and port, and that the server is running")
    if "not a database" in low or "file is encrypted" in low:
        return store_problem("store.not-a-store", f"{shown} is not a kamrules store (not an SQLite database)",
                             shown, "name another file, or move this one away")
    if "database is locked" in low or "database is busy" in low:
        return store_problem("store.busy", f"another process kept the store busy for more than "
                                           f"{BUSY_TIMEOUT_S:g} s: {msg}", shown,
                             "try again, or raise KAMRULES_STORE_TIMEOUT (seconds)")
    if "readonly" in low or "read-only" in low or "unable to open" in low:
        return store_problem("store.read-only", f"cannot write to the store {shown}: {msg}", shown,
                             "check the file's and its folder's permissions")
    return store_problem("store.connect", f"cannot use the store {shown}: {msg}", shown)


def open_store(where: Where, *, create: bool = True, migrate: bool = True) -> Store:
    """Open (and create, or upgrade) the store. create=False: a missing SQLite file is an error."""
    if where.kind == "sqlite" and where.path is not None and not where.path.exists():
        if not create:
            raise store_problem("store.missing", f"there is no store at {where.shown} yet", where.shown,
                                "record a review first (kamrules advise ACCOUNT --record), or name the store "
                                "with --store or KAMRULES_STORE")
        if not where.path.parent.is_dir():
            raise store_problem("store.no-dir", f"the folder {where.path.parent} does not exist", where.shown)
    store = Store(where, _engine(where))
    try:
        with store.guard():
            _prepare(store, migrate=migrate)
    except BaseException:
        store.close()
        raise
    return store


def _engine(where: Where) -> Any:
    try:
        from sqlalchemy import create_engine, event
        from sqlalchemy.pool import NullPool
    except ImportError:  # pragma: no cover - a dependency of kamrules
        raise store_problem("store.driver", "SQLAlchemy is not installed", where.shown,
                            "pip install kamrules (it depends on SQLAlchemy)") from None
    if where.kind == "sqlite":
        eng = create_engine(where.url, poolclass=NullPool, connect_args={"timeout": BUSY_TIMEOUT_S})

        @event.listens_for(eng, "connect")
        def _connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we say BEGIN ourselves (pysqlite's own is too late)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            cur.close()

        @event.listens_for(eng, "begin")
        def _begin(conn: Any) -> None:
            write = conn.get_execution_options().get("kamrules_write")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return eng
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise store_problem("store.driver", "the PostgreSQL driver (psycopg 3) is not installed", where.shown,
                            "pip install 'kamrules[postgresql]'") from None
    return create_engine(where.url, poolclass=NullPool, hide_parameters=True,
                         connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "kamrules"})


def _revision(conn: Any) -> str | None:
    from sqlalchemy import inspect, text

    if not inspect(conn).has_table(S.VERSION_TABLE):
        return None
    v = conn.execute(text(f"SELECT version_num FROM {S.VERSION_TABLE}")).scalar()
    return str(v) if v is not None else None


def _meta(conn: Any) -> dict[str, str]:
    from sqlalchemy import inspect, select

    if not inspect(conn).has_table(S.meta.name):
        return {}
    return {r.key: r.value for r in conn.execute(select(S.meta))}


def _prepare(store: Store, *, migrate: bool) -> None:
    with store.reading() as conn:
        current = _revision(conn)
        meta = _meta(conn) if current is not None else {}
    _refuse_newer(store.where, current, meta)
    if current == S.HEAD:
        return
    if not migrate:
        # an empty database (a new PostgreSQL database, an empty SQLite file) is not an old store:
        # say that it holds none yet rather than "schema none"
        if current is None:
            raise store_problem("store.empty", f"{store.where.shown} holds no kamrules store yet", store.where.shown,
                                "create it with 'kamrules store upgrade' (recording a review creates it too)")
        raise store_problem("store.old-schema", f"the store {store.where.shown} has schema {current}; "
                                                f"this kamrules needs {S.HEAD}", store.where.shown,
                            "run 'kamrules store upgrade'")
    with store.writing() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            from sqlalchemy import text

            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        current = _revision(conn)  # another process may have migrated while we waited for the lock
        meta = _meta(conn) if current is not None else {}
        _refuse_newer(store.where, current, meta)
        if current == S.HEAD:
            return
        if current is None:
            from sqlalchemy import inspect

            if inspect(conn).has_table(S.reviews.name):
                raise store_problem("store.not-a-store", f"{store.where.shown} has kamrules tables but no schema "
                                                         "revision", store.where.shown,
                                    "it was not made by kamrules; name another store")
        upgrade(conn, S.HEAD)
        now = utcnow().isoformat(timespec="seconds")
        _set_meta(conn, {"kamrules": __version__, "schema": S.HEAD, "upgraded_at": now,
                         **({"created_by": __version__, "created_at": now} if current is None else {})})
    store.notes.append(f"created the store at {store.where.shown} ({store.where.why})" if current is None else
                       f"upgraded the store at {store.where.shown} from schema {current} to {S.HEAD}")


def _refuse_newer(where: Where, current: str | None, meta: Mapping[str, str]) -> None:
    if current is None or current in S.REVISIONS:
        return
    by = meta.get("kamrules")
    raise store_problem("store.newer", f"the store {where.shown} has schema {current}, written by "
                                       f"{'kamrules ' + by if by else 'a newer kamrules'}; this is kamrules "
                                       f"{__version__} (schema up to {S.HEAD})", where.shown,
                        "upgrade kamrules (pip install -U kamrules) to use this store; nothing was changed")


def _set_meta(conn: Any, items: Mapping[str, str]) -> None:
    from sqlalchemy import delete, insert

    for k, v in items.items():
        conn.execute(delete(S.meta).where(S.meta.c.key == k))
        conn.execute(insert(S.meta).values(key=k, value=v))


def upgrade(conn: Any, revision: str) -> None:
    """Run Alembic's migrations up to `revision` on this connection, in its transaction."""
    import logging

    from alembic import command
    from alembic.config import Config

    logging.getLogger("alembic").setLevel(logging.WARNING)  # no chatter (and never a URL) in logs
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def meta_info(store: Store) -> dict[str, str]:
    with store.guard(), store.reading() as conn:
        return _meta(conn)


Callback = Callable[[str], None]
