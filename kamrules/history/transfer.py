"""`kamrules store export` / `import`: the whole store as JSON Lines, for backups and for moves
between SQLite and PostgreSQL.

Line 1 is a header (format, schema revision, kamrules version); then one line per row, table by
table in dependency order, rows by primary key: {"table": …, "row": {…}}. Dates are ISO
strings, times ISO with microseconds, a review's packed result is its JSON text (readable, and
packed again on import). An export of a store imported from an export is byte-identical to it,
whichever database either was. Import goes into an empty store only, in one transaction, and
keeps review and override numbers.
"""
from __future__ import annotations

import datetime as _dt
import json
from typing import IO, Any, Iterator

from kamrules import __version__
from kamrules.history import codec
from kamrules.history import schema as S
from kamrules.history.location import StoreError, store_problem
from kamrules.history.store import Store, _date, _datetime

FORMAT = "kamrules-store"
FORMAT_VERSION = 1
ORDER = (S.sources, S.rulebooks, S.reviews, S.values, S.findings, S.overrides)


def _out(table: Any, col: Any, v: Any) -> Any:
    if v is None:
        return None
    if table is S.reviews and col.name == "result":
        return json.loads(codec.unpack(bytes(v)))
    t = col.type.python_type if hasattr(col.type, "python_type") else None
    if t is _dt.datetime:
        return _datetime(v).isoformat(timespec="microseconds")
    if t is _dt.date:
        return _date(v).isoformat()
    if t is bool:
        return bool(v)
    if t is float:
        return float(v)
    return v


def _in(table: Any, col: Any, v: Any) -> Any:
    if v is None:
        return None
    if table is S.reviews and col.name == "result":
        from kamrules.history.record import result_text

        return codec.pack(result_text(v))
    t = col.type.python_type if hasattr(col.type, "python_type") else None
    if t is _dt.datetime:
        return _dt.datetime.fromisoformat(v)
    if t is _dt.date:
        return _dt.date.fromisoformat(v)
    return v


def export_lines(store: Store) -> Iterator[str]:
    from sqlalchemy import select

    yield codec.canonical({"format": FORMAT, "version": FORMAT_VERSION, "schema": S.HEAD, "kamrules": __version__})
    with store.guard(), store.reading() as conn:
        for table in ORDER:
            pk = list(table.primary_key.columns)
            for r in conn.execute(select(table).order_by(*pk)):
                row = {c.name: _out(table, c, getattr(r, c.name)) for c in table.columns}
                yield codec.canonical({"table": table.name, "row": row})


def import_lines(store: Store, fh: IO[str], name: str) -> dict[str, int]:
    from sqlalchemy import func, insert, select, text

    tables = {t.name: t for t in ORDER}
    first = fh.readline()
    try:
        head = json.loads(first)
    except ValueError:
        head = None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise store_problem("import.not-an-export", f"{name} is not a kamrules store export", f"{name}:1",
                            "make one with 'kamrules store export'")
    if head.get("version") != FORMAT_VERSION or head.get("schema") not in S.REVISIONS:
        raise store_problem("import.newer", f"{name} was exported by kamrules {head.get('kamrules')} "
                                            f"(schema {head.get('schema')})", f"{name}:1", "upgrade kamrules")
    counts: dict[str, int] = {t.name: 0 for t in ORDER}
    with store.guard(), store.writing() as conn, conn.begin():
        if conn.execute(select(func.count()).select_from(S.reviews)).scalar_one() or \
                conn.execute(select(func.count()).select_from(S.overrides)).scalar_one():
            raise store_problem("import.not-empty", f"the store {store.where.shown} already holds reviews",
                                store.where.shown, "import into a new, empty store (--store NEW)")
        batch: dict[str, list[dict[str, Any]]] = {}
        for n, line in enumerate(fh, start=2):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                table = tables[item["table"]]
                row = {c.name: _in(table, c, item["row"].get(c.name)) for c in table.columns}
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise store_problem("import.bad-line", f"line {n} is not a store row ({type(e).__name__}: {e})",
                                    f"{name}:{n}") from None
            batch.setdefault(table.name, []).append(row)
            counts[table.name] += 1
            if len(batch[table.name]) >= 2000:
                _flush(conn, tables, batch)
        _flush(conn, tables, batch)
        if conn.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for t in (S.reviews, S.overrides):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), "
                                  f"COALESCE((SELECT MAX(id) FROM {t.name}), 0) + 1, false)"))
    return counts


def _flush(conn: Any, tables: dict[str, Any], batch: dict[str, list[dict[str, Any]]]) -> None:
    from sqlalchemy import insert

    from kamrules.history.store import _insert_missing

    for t in ORDER:  # parents before children
        rows = batch.get(t.name)
        if not rows:
            continue
        if t in (S.sources, S.rulebooks):  # content-addressed: a fresh store may already hold them
            for r in rows:
                _insert_missing(conn, t, r)
        else:
            conn.execute(insert(t), rows)
        batch[t.name] = []


__all__ = ["export_lines", "import_lines", "StoreError"]
