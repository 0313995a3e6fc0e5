"""Mapped exports → the accounts the rulebook reads, and the report of where every row went.

    files ──match──▶ tables (mapping: file patterns, sheets)
    accounts sheet ──rows──▶ account rows (id, duplicates)
    deals sheet ──rows──▶ deals (typed, converted) ──join──▶ account rows
    account row + its deals' aggregations ──account_from_doc──▶ Account (or a rejected row)

A problem with a whole file — a file no table claims, a mapped column the export lacks, an
unreadable workbook — raises MappingError: nothing can be trusted then. A problem with one row
leaves that row out, with its file:line:col and the reason in the report (the CLI stops on them
only with --strict).
"""
from __future__ import annotations

import datetime as _dt
import fnmatch
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from kamrules.core.errors import InputError, Location, Problem, suggest
from kamrules.core.yamlio import Doc
from kamrules.io.account import account_from_doc
from kamrules.io.crm import convert
from kamrules.io.crm.aggregate import Coverage, Deal, Window, compute, window
from kamrules.io.crm.convert import CellProblem
from kamrules.io.crm.mapping import (
    DEAL_FIELDS,
    Aggregate,
    ColumnSpec,
    MappingError,
    MappingSpec,
    TableSpec,
    norm,
)
from kamrules.io.crm.report import FileRows, Report
from kamrules.io.crm.sources import Row, Sheet, read_sheet
from kamrules.io.csvio import LIST_SEPARATORS
from kamrules.rulebook.model import Account, Rulebook

# A bad cell in one of these rejects the deal: its figures rest on them. Any other bad cell is
# left out (reported) and the deal counts without it.
ESSENTIAL_DEAL_FIELDS = frozenset({"amount", "stage", "status", "won", "closed", "close_date", "currency"})
SUGGEST_LIMIT = 200  # unknown accounts that get a "did you mean" (difflib over every id is slow)
_SF_ID = re.compile(r"^[a-zA-Z0-9]{18}$")  # Salesforce: the 18-character id whose first 15 are the short id


@dataclass(frozen=True)
class Intake:
    accounts: tuple[tuple[Account, Location], ...]
    report: Report
    rejected: Mapping[str, tuple[Problem, ...]] = field(default_factory=dict)  # account id → why its row was left out
    # deals name accounts, and not one of them is in the accounts table: the join reads the wrong
    # column (the command line stops on it; the report above still says where every row went)
    unjoined: Problem | None = None


def _problem(code: str, message: str, loc: Location, path: str = "", expected: str = "", hint: str = "") -> Problem:
    return Problem(code, message, loc, path, expected, hint, severity="warning")


def _printable(text: str, limit: int = 300) -> str:
    """Export text inside a message, made safe for a terminal: control characters (an ANSI escape
    in a CRM name) are shown escaped, and a long cell is cut."""
    out = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _safe(p: Problem) -> Problem:
    return replace(p, message=_printable(p.message), path=_printable(p.path, 120), expected=_printable(p.expected),
                   hint=_printable(p.hint))


def _as_errors(problems: Sequence[Problem]) -> list[Problem]:
    return [replace(p, severity="error") for p in problems]


# --------------------------------------------------------------------------- files → tables

def matches(pattern: str, file: str) -> bool:
    """A table's file pattern against a FILE argument: its name, or its path, case-insensitively."""
    p = pattern.replace("\\", "/").casefold()
    f = file.replace("\\", "/").casefold()
    return fnmatch.fnmatchcase(Path(f).name, p) or fnmatch.fnmatchcase(f, p) or f.endswith("/" + p)


def assign(files: Sequence[str], spec: MappingSpec) -> dict[str, list[str]]:
    """Which files each table reads. Every file must be claimed by a table, and every table find a file."""
    out: dict[str, list[str]] = {t.kind: [] for t in spec.tables()}
    problems: list[Problem] = []
    for f in files:
        claims = [t for t in spec.tables() if matches(t.file, f)]
        if not claims:
            patterns = ", ".join(f"{t.kind}: {t.file}" for t in spec.tables())
            problems.append(Problem("crm.unclaimed-file", f"no table of the mapping reads {f}", Location(f),
                                    expected=patterns, hint=f"name it in the mapping's 'file:', or leave it out "
                                                            f"({spec.file})"))
            continue
        if len(claims) > 1 and not all(t.sheet is not None for t in claims):
            problems.append(Problem("crm.ambiguous-file", f"{f} matches the file of both the accounts and the deals "
                                    "table", Location(f), hint="make the 'file:' patterns tell them apart (a workbook "
                                                               "may hold both, on sheets named by 'sheet:')"))
            continue
        for t in claims:
            out[t.kind].append(f)
    for t in spec.tables():
        if not out[t.kind] and not any(p.code == "crm.ambiguous-file" for p in problems):
            problems.append(Problem("crm.no-file", f"none of the files given is the {t.kind} table's '{t.file}'",
                                    t.location, f"{t.kind}.file", "a FILE argument whose name matches",
                                    "pass the export, or correct the pattern (* and ? match any characters)"))
    if problems:
        raise MappingError(problems)
    return out


# --------------------------------------------------------------------------- columns

@dataclass(frozen=True)
class Bound:
    """A sheet with the mapping's columns found in it."""

    sheet: Sheet
    table: TableSpec
    index: dict[str, int]  # target → column index
    join: int = -1  # deals: the column naming the account

    @property
    def found(self) -> list[tuple[ColumnSpec, int]]:
        """The mapped columns the sheet has, with their indexes (the currency column apart)."""
        return [(c, self.index[c.target]) for c in self.table.columns
                if c.target in self.index and c.target != "currency"]


def bind(sheet: Sheet, table: TableSpec) -> tuple[Bound, list[Problem], FileRows]:
    by_header = sheet.index()
    index: dict[str, int] = {}
    problems: list[Problem] = []
    where = Location(sheet.name, sheet.header_line or 1, 1)
    headers = [h for h in sheet.headers if h]

    def find(header: str, what: str) -> int:
        ids = by_header.get(norm(header), [])
        if not ids:
            problems.append(Problem("crm.missing-column", f"the {table.kind} export has no column '{header}' ({what})",
                                    where, header, "one of the export's headers",
                                    suggest(header, headers) or "headers: " + ", ".join(headers[:12])
                                    + (" …" if len(headers) > 12 else "")))
            return -1
        if len(ids) > 1:
            a, b = ids[0], ids[1]
            problems.append(Problem("csv.duplicate-header", f"columns {a + 1} and {b + 1} are both headed '{header}'",
                                    Location(sheet.name, sheet.header[b].line, sheet.header[b].col), header,
                                    hint="rename one of them in the export"))
            return -1
        return ids[0]

    for col in table.columns:
        i = find(col.header, col.target)
        if i >= 0:
            index[col.target] = i
    join = -1
    if table.kind == "deals" and table.join_column:
        join = find(table.join_column, f"the account's {table.join_to}")
    used = {*index.values(), join, *(i for h in table.ignored for i in by_header.get(norm(h), []))}
    unused = tuple(c.text for i, c in enumerate(sheet.header) if c.text and i not in used)
    counts = FileRows(sheet.name, table.kind, len(sheet.rows), sheet.blank, sheet.above_header, unused)
    return Bound(sheet, table, index, join), problems, counts


def _expected_headers(table: TableSpec) -> list[str]:
    return [c.header for c in table.columns] + list(table.ignored) + ([table.join_column] if table.join_column else [])


# --------------------------------------------------------------------------- the run

@dataclass
class _AccountRow:
    bound: Bound
    row: Row
    id: str
    name: str
    deals: list[Deal] = field(default_factory=list)
    deal_lines: list[str] = field(default_factory=list)  # file:line of each


class _Run:
    def __init__(self, spec: MappingSpec, book: Rulebook, as_of: _dt.date) -> None:
        self.spec, self.book, self.as_of = spec, book, as_of
        self.problems: list[Problem] = []
        self.labels = _stage_labels(book)
        self.counts: dict[str, int] = {k: 0 for k in (
            "duplicate_ids", "identical_rows", "rejected_accounts", "without_account", "unknown_account",
            "of_rejected_accounts", "duplicate_deals", "rejected_deals", "joined")}
        self.notes: list[str] = []
        self.rejected: dict[str, tuple[Problem, ...]] = {}
        self.cells: list[Problem] = []  # cells left out of rows that count
        self.converted: dict[str, int] = {}  # currency → amounts converted from it
        self.unknown_keys: list[str] = []  # the first accounts deals named that the accounts table lacks
        self.named_known = 0  # deals whose account column names an account of the table (valid or not)
        self._found: dict[int, tuple[list[tuple[ColumnSpec, int]], ColumnSpec | None, int]] = {}

    def left_out(self, counter: str, p: Problem) -> None:
        self.counts[counter] += 1
        self.problems.append(p)

    # -- accounts, first pass: ids and duplicates

    def account_rows(self, bounds: Sequence[Bound]) -> list[_AccountRow]:
        rows: list[_AccountRow] = []
        first: dict[str, tuple[_AccountRow, tuple[str, ...]]] = {}
        for b in bounds:
            id_col = b.index["id"]
            name_col = b.index.get("name", -1)
            id_header = _header(b.table, "id")
            for row in b.sheet.rows:
                where = Location(b.sheet.name, row.line, 1)
                if row.line in b.sheet.problems:
                    self.left_out("rejected_accounts", replace(b.sheet.problems[row.line], severity="warning"))
                    continue
                cell = row.at(id_col)
                if cell is None:
                    self.left_out("rejected_accounts", _problem(
                        "crm.no-id", f"the row has no account id (column '{id_header}' is empty)", where, id_header,
                        hint="every account needs an id: fill it in, or remove the row"))
                    continue
                rid = cell.text
                name_cell = row.at(name_col) if name_col >= 0 else None
                signature = tuple(row.cells[i].text if i < len(row.cells) else "" for i in sorted(b.index.values()))
                seen = first.get(rid)
                if seen is not None:
                    other, sig = seen
                    same = sig == signature
                    self.counts["identical_rows"] += same
                    self.left_out("duplicate_ids", _problem(
                        "crm.duplicate-row" if same else "crm.duplicate-id",
                        f"the id '{rid}' is already on {other.bound.sheet.name}:{other.row.line}"
                        + (" (the same row again)" if same else ", with other values"), Location(
                            b.sheet.name, row.line, cell.col), id_header,
                        hint="the first row is used" + ("" if same else "; merge the two rows in the CRM")))
                    continue
                acc = _AccountRow(b, row, rid, name_cell.text if name_cell else "")
                first[rid] = (acc, signature)
                rows.append(acc)
        return rows

    # -- deals

    def deals(self, bounds: Sequence[Bound], accounts: list[_AccountRow]) -> None:
        deals_spec = self.spec.deals
        assert deals_spec is not None
        by_id = {a.id: a for a in accounts}
        short = {a.id[:15]: a for a in accounts if _SF_ID.match(a.id)}
        by_name: dict[str, list[_AccountRow]] = {}
        for a in accounts:
            if a.name:
                by_name.setdefault(norm(a.name), []).append(a)
        seen_ids: dict[str, str] = {}
        suggested = 0
        needs_close = self.needs_close_date()
        for b in bounds:
            join_header = b.table.join_column
            id_col = b.index.get("id", -1)
            for row in b.sheet.rows:
                where = Location(b.sheet.name, row.line, 1)
                if row.line in b.sheet.problems:
                    self.left_out("rejected_deals", replace(b.sheet.problems[row.line], severity="warning"))
                    continue
                id_cell = row.at(id_col) if id_col >= 0 else None
                if id_cell is not None:
                    first = seen_ids.get(id_cell.text)
                    if first is not None:
                        self.left_out("duplicate_deals", _problem(
                            "crm.duplicate-deal", f"the deal '{id_cell.text}' is already on {first}",
                            Location(b.sheet.name, row.line, id_cell.col), _header(b.table, "id"),
                            hint="the first row is used"))
                        continue
                    seen_ids[id_cell.text] = f"{b.sheet.name}:{row.line}"
                key_cell = row.at(b.join)
                if key_cell is None:
                    self.left_out("without_account", _problem(
                        "crm.no-account", f"the deal names no account (column '{join_header}' is empty)", where,
                        join_header, hint="link the deal to its account in the CRM"))
                    continue
                if deals_spec.join_to == "name":
                    self.named_known += norm(key_cell.text) in by_name
                else:
                    self.named_known += key_cell.text in by_id or key_cell.text[:15] in short
                deal, problems = self.deal(b, row, needs_close)
                if deal is None:
                    self.counts["rejected_deals"] += 1
                    self.problems.extend(problems)
                    continue
                key = key_cell.text
                kwhere = Location(b.sheet.name, row.line, key_cell.col)
                if deals_spec.join_to == "name":
                    hits = by_name.get(norm(key), [])
                    if len(hits) > 1:
                        lines = ", ".join(f"'{h.id}' ({h.bound.sheet.name}:{h.row.line})" for h in hits[:4])
                        self.left_out("rejected_deals", _problem(
                            "crm.ambiguous-account", f"the account name '{key}' belongs to {len(hits)} accounts: "
                            f"{lines}", kwhere, join_header, hint="join on the account id instead (join: {to: id})"))
                        continue
                    target = hits[0] if hits else None
                else:
                    target = by_id.get(key) or (short.get(key) if len(key) == 15 else None) \
                        or (short.get(key[:15]) if _SF_ID.match(key) else None)
                if target is None:
                    hint = ""
                    # a numeric id one digit off (1067, 1057) is as likely another account as a typo
                    if suggested < SUGGEST_LIMIT and not key.isdigit():
                        suggested += 1
                        pool = [a.name for a in accounts] if deals_spec.join_to == "name" else list(by_id)
                        hint = suggest(key, pool)
                    if len(self.unknown_keys) < 3:
                        self.unknown_keys.append(key)
                    self.left_out("unknown_account", _problem(
                        "crm.unknown-account", f"the deal names the account '{key}', which is not in the accounts "
                        "table", kwhere, join_header, f"an account {deals_spec.join_to} of the accounts table",
                        hint or "export the account too, or correct the deal's account in the CRM"))
                    continue
                target.deals.append(deal)
                target.deal_lines.append(f"{b.sheet.name}:{row.line}")

    def needs_close_date(self) -> bool:
        return any(f is not None and f.period is not None and f.period.name != "all" and f.date == "close_date"
                   for a in self.spec.aggregates for f in (a.where, a.of))

    def deal(self, b: Bound, row: Row, needs_close: bool) -> tuple[Deal | None, list[Problem]]:
        """One deal row, typed; or its problems. A bad cell of a field the figures rest on (amount,
        stage, status, close date, currency) rejects the deal; any other bad cell is left out."""
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        dropped: list[Problem] = []
        table = b.table
        found, cur_col, cur_index = self._columns(b)
        row_currency = table.currency or self.spec.currency
        if cur_col is not None:
            c = row.at(cur_index)
            if c is not None:
                try:
                    row_currency = convert.currency_code(convert.mapped(cur_col, c.value)[1])
                    values["currency"] = row_currency
                except CellProblem as e:
                    problems.append(self.cell_problem(e, b, c, cur_col))
        for col, i in found:
            cell = row.at(i)
            if cell is None:
                continue
            try:
                values[col.target] = self.deal_value(col, cell.value, row_currency)
            except CellProblem as e:
                (problems if col.target in ESSENTIAL_DEAL_FIELDS else dropped).append(self.cell_problem(e, b, cell, col))
        if problems:
            return None, problems + dropped
        status = self.status(values)
        if needs_close and status in ("won", "lost") and "close_date" not in values:
            return None, [_problem("crm.no-close-date", f"the deal is {status} but has no close date, so no period "
                                   "can count it", Location(b.sheet.name, row.line, 1), _header(table, "close_date"),
                                   hint="fill in the close date in the CRM")]
        return Deal(row.line, values, status, tuple(dropped)), []

    def _columns(self, b: Bound) -> tuple[list[tuple[ColumnSpec, int]], ColumnSpec | None, int]:
        """A deals sheet's columns, worked out once for all its rows."""
        hit = self._found.get(id(b))
        if hit is None:
            hit = self._found[id(b)] = (b.found, b.table.column("currency"), b.index.get("currency", -1))
        return hit

    def deal_value(self, col: ColumnSpec, raw: Any, currency: str) -> Any:
        kind = DEAL_FIELDS[col.target]
        if kind == "money":
            hit, v = convert.mapped(col, raw)
            return convert.money(v, col, currency, self.spec, self.converted)
        if kind == "date":
            hit, v = convert.mapped(col, raw)
            return convert.date(v, col.dates)
        if kind == "stage":
            return convert.stage(raw, col, self.spec.stages, self.labels)
        if kind == "status":
            return convert.status(raw, col)
        if kind == "bool":
            return convert.boolean(raw, col)
        if kind == "percent":
            hit, v = convert.mapped(col, raw)
            return v if hit else convert.percent(v, col)
        hit, v = convert.mapped(col, raw)
        return str(v).strip() if not isinstance(v, float) or not v.is_integer() else str(int(v))

    def status(self, values: dict[str, Any]) -> str:
        """won | lost | open: the status column, else the won/closed flags, else the stage."""
        if values.get("status") in ("won", "lost", "open"):
            return str(values["status"])
        won, closed = values.get("won"), values.get("closed")
        if won is True:
            return "won"
        if closed is True:
            return "lost"
        if closed is False:
            return "open"
        stage = values.get("stage")
        if stage in ("won", "lost"):
            return str(stage)
        if won is False and stage is None:
            d = values.get("close_date")  # a won flag alone: not won and closed in the past is lost
            return "lost" if isinstance(d, _dt.date) and d <= self.as_of else "open"
        return "open"

    def cell_problem(self, e: CellProblem, b: Bound, cell: Any, col: ColumnSpec) -> Problem:
        return _problem(e.code, f"'{col.header}': {e.message}", Location(b.sheet.name, cell.line, cell.col),
                        col.header, e.expected, e.hint)

    # -- accounts, second pass: values and aggregations → Account

    def windows(self, coverage: Coverage) -> dict[str, tuple[Window, Window | None, str]]:
        out: dict[str, tuple[Window, Window | None, str]] = {}
        for a in self.spec.aggregates:
            w = window(a.where, self.as_of)
            o = window(a.of, self.as_of) if a.of is not None else None
            why = coverage.uncovered(a.where, w) or (coverage.uncovered(a.of, o) if a.of is not None and o else "")
            if why:
                self.notes.append(f"'{a.fact}' is left unknown for every account: {why}")
            elif (part := coverage.partly(w)) and part not in self.notes:
                self.notes.append(part)
            out[a.fact] = (w, o, why)
        return out

    def account(self, acc: _AccountRow, windows: dict[str, tuple[Window, Window | None, str]]) -> Account | None:
        """The account of a row: its cells, its deals' aggregations, checked by the account loader.
        A bad cell of a required fact (or of the row's currency) rejects the row; any other bad
        value is left out, reported, and the account evaluated without it — one typo in a
        column must not drop a key account, and its revenue, from the portfolio."""
        b, row = acc.bound, acc.row
        doc = Doc(file=b.sheet.name, data={}, encoding="utf-8")
        doc.value_marks[()] = (row.line, 1)
        hard: list[Problem] = []
        dropped: list[Problem] = []
        table = b.table
        required = {f.name for f in self.book.facts.values() if f.required}
        row_currency = table.currency or self.spec.currency
        cur_col = table.column("currency")
        if cur_col is not None and "currency" in b.index and self.spec.book_currency:
            c = row.at(b.index["currency"])
            if c is not None:
                try:
                    row_currency = convert.currency_code(convert.mapped(cur_col, c.value)[1])
                except CellProblem as e:
                    hard.append(self.cell_problem(e, b, c, cur_col))
        headers: dict[str, str] = {}
        for col in table.columns:
            if col.target not in b.index:
                continue
            cell = row.at(b.index[col.target])
            if cell is None:
                continue
            headers[col.target] = col.header
            try:
                value = self.account_value(col, cell.value, row_currency)
            except CellProblem as e:
                (hard if col.target in required else dropped).append(self.cell_problem(e, b, cell, col))
                continue
            key = (col.target,)
            doc.key_marks[key] = doc.value_marks[key] = (cell.line, cell.col)
            if isinstance(value, list):
                for j in range(len(value)):
                    doc.value_marks[key + (j,)] = (cell.line, cell.col)
            doc.data[col.target] = value
        if self.spec.book_currency and "currency" in self.book.facts and self.book.facts["currency"].type == "string":
            doc.data["currency"] = self.spec.book_currency  # the amounts are now in the rulebook's currency
        for a in self.spec.aggregates:
            w, o, why = windows[a.fact]
            if why:
                continue
            value = compute(a, self.book.facts[a.fact], acc.deals, self.as_of, w, o)
            if value is None:
                continue
            doc.data[a.fact] = value
            doc.key_marks[(a.fact,)] = doc.value_marks[(a.fact,)] = (row.line, 1)
        doc.data["as_of"] = self.as_of
        account = None
        while not hard:
            try:
                account = account_from_doc(doc, self.book)
                break
            except InputError as e:
                for p in e.problems:
                    fact = re.split(r"[\[]", p.path, maxsplit=1)[0]
                    if fact in doc.data and fact not in required and fact != "as_of":
                        doc.data.pop(fact)
                        dropped.append(self.relocated(p, acc, headers))
                    else:
                        hard.append(self.relocated(p, acc, headers))
        if account is None:
            self.counts["rejected_accounts"] += 1
            problems = sorted([*hard, *dropped], key=Problem.sort_key)
            self.problems.extend(problems)
            self.rejected[acc.id] = tuple(problems)
            if acc.deals:
                self.counts["of_rejected_accounts"] += len(acc.deals)
                lines = ", ".join(acc.deal_lines[:10]) + (" …" if len(acc.deal_lines) > 10 else "")
                n = len(acc.deals)
                self.problems.append(_problem(
                    "crm.rejected-account", f"{n:,} deal{'s' if n != 1 else ''} of the rejected account '{acc.id}' "
                    f"{'are' if n != 1 else 'is'} left out with it: {lines}", Location(b.sheet.name, row.line, 1),
                    _header(table, "id"), hint="fix the account's row and they count again"))
            return None
        self.cells.extend(dropped)
        for d in acc.deals:
            self.cells.extend(d.dropped)
        return account

    def account_value(self, col: ColumnSpec, raw: Any, currency: str) -> Any:
        fact = self.book.facts.get(col.target)
        hit, v = convert.mapped(col, raw)
        if hit or fact is None:
            return v
        if fact.type == "money":
            return convert.money(v, col, currency, self.spec, self.converted)
        if fact.type == "percent":
            return convert.percent(v, col)
        if fact.type == "date":
            return convert.date(v, col.dates)
        if fact.type == "list":
            return [s.strip() for s in LIST_SEPARATORS.split(str(v)) if s.strip()]
        if isinstance(v, float) and v.is_integer() and fact.type == "string":
            return str(int(v))
        return v

    def relocated(self, p: Problem, acc: _AccountRow, headers: dict[str, str]) -> Problem:
        """The account loader's problems, told in the export's terms."""
        p = replace(p, severity="warning")
        header = headers.get(p.path)
        if p.code == "account.missing":
            col = acc.bound.table.column(p.path)
            name = col.header if col else p.path
            return replace(p, location=Location(acc.bound.sheet.name, acc.row.line, 1), path=name,
                           message=f"the cell under '{name}' is empty: {p.message}", hint="fill in the cell")
        if header is not None:
            return replace(p, path=header)
        agg = next((a for a in self.spec.aggregates if a.fact == p.path), None)
        if agg is not None:
            return replace(p, message=f"{p.message} (from {len(acc.deals):,} deals: {describe(agg)})")
        return p


def _header(table: TableSpec, target: str) -> str:
    col = table.column(target)
    return col.header if col is not None else target


def _stage_labels(book: Rulebook) -> dict[str, Any]:
    opp = book.facts.get("opportunities")
    stage = next((f for f in opp.items if f.name == "stage"), None) if opp else None
    return dict(stage.values) if stage is not None and stage.type == "enum" else {}


def describe(agg: Aggregate) -> str:
    what = agg.op + (" of " + ", ".join(agg.fields) if agg.fields else " of deals" if agg.op == "count" else "")
    parts = []
    if agg.where.statuses is not None:
        parts.append("/".join(sorted(agg.where.statuses)))
    if agg.where.stages is not None:
        parts.append("stage " + "/".join(sorted(agg.where.stages)))
    if agg.where.period is not None:
        parts.append(agg.where.period.name or "fixed dates")
    return what + (f" ({', '.join(parts)})" if parts else "")


# --------------------------------------------------------------------------- entry point

def read_exports(files: Sequence[str], spec: MappingSpec, book: Rulebook, as_of: _dt.date) -> Intake:
    """Every account the exports give, and where every row went. Raises MappingError (exit 2) for
    a problem with a whole file; rows with problems are left out and reported."""
    assigned = assign(files, spec)
    file_problems: list[Problem] = []
    bounds: dict[str, list[Bound]] = {"accounts": [], "deals": []}
    counts: list[FileRows] = []
    for table in spec.tables():
        for f in assigned[table.kind]:
            try:
                sheet = read_sheet(f, table.sheet, expect=_expected_headers(table))
            except InputError as e:
                file_problems.extend(e.problems)
                continue
            b, problems, rows = bind(sheet, table)
            file_problems.extend(problems)
            bounds[table.kind].append(b)
            counts.append(rows)
    if file_problems:
        raise MappingError(_as_errors([_safe(p) for p in file_problems]))
    run = _Run(spec, book, as_of)
    account_rows = run.account_rows(bounds["accounts"])
    if spec.deals is not None:
        run.deals(bounds["deals"], account_rows)
    coverage = Coverage.of(d for a in account_rows for d in a.deals)
    _date_notes(run, coverage, as_of)
    windows = run.windows(coverage)
    accounts: list[tuple[Account, Location]] = []
    joined = with_deals = 0
    by_status: dict[str, int] = {}
    for acc in account_rows:
        account = run.account(acc, windows)
        if account is None:
            continue
        accounts.append((account, Location(acc.bound.sheet.name, acc.row.line)))
        joined += len(acc.deals)
        with_deals += bool(acc.deals)
        for d in acc.deals:
            by_status[d.status] = by_status.get(d.status, 0) + 1
    c = run.counts
    unjoined = None
    if spec.deals is not None and run.named_known == 0 and c["unknown_account"] and account_rows:
        unjoined = _nothing_joined(spec.deals, run, account_rows)
    report = Report(
        files=tuple(counts),
        account_rows=sum(f.rows for f in counts if f.table == "accounts"), accounts=len(accounts),
        duplicate_ids=c["duplicate_ids"], identical_rows=c["identical_rows"], rejected_accounts=c["rejected_accounts"],
        deal_rows=sum(f.rows for f in counts if f.table == "deals"), joined=joined, accounts_with_deals=with_deals,
        without_account=c["without_account"], unknown_account=c["unknown_account"],
        of_rejected_accounts=c["of_rejected_accounts"], duplicate_deals=c["duplicate_deals"],
        rejected_deals=c["rejected_deals"], by_status=dict(sorted(by_status.items())),
        notes=tuple(_currency_notes(spec, run.converted) + run.notes),
        problems=tuple(sorted((_safe(p) for p in run.problems), key=Problem.sort_key)),
        cells=tuple(sorted((_safe(p) for p in run.cells), key=Problem.sort_key)))
    return Intake(tuple(accounts), report, {k: tuple(_safe(p) for p in v) for k, v in run.rejected.items()},
                  None if unjoined is None else _safe(unjoined))


def _nothing_joined(deals: TableSpec, run: _Run, account_rows: Sequence[_AccountRow]) -> Problem:
    """Every deal that names an account names one the accounts table lacks: the join reads the wrong
    column (or the accounts' names as ids), and every account would be evaluated without its deals —
    no revenue, no orders — a book of verdicts on nothing. Not a row problem: the mapping's (an error
    where the command line reports it)."""
    theirs = ", ".join(f"'{k}'" for k in run.unknown_keys)
    ours = ", ".join(f"'{a.name if deals.join_to == 'name' else a.id}'" for a in account_rows[:3])
    n = run.counts["unknown_account"]
    return Problem("crm.nothing-joined", f"none of the {n:,} deals that name an account matches an account of the "
                   f"accounts table: the deals' '{deals.join_column}' holds {theirs}, the accounts' {deals.join_to} "
                   f"{ours}", deals.location, path="deals.join",
                   expected=f"a deals column holding the accounts' {deals.join_to}",
                   hint="join on the column that holds the account's id (join: {column: …, to: id}), or on its "
                        "name (to: name); check that both exports come from the same CRM")


def _date_notes(run: _Run, coverage: Coverage, as_of: _dt.date) -> None:
    span = coverage.spans.get("close_date")
    if span is None or not run.spec.aggregates:
        return
    lo, hi = span
    run.notes.append(f"deals close from {lo} to {hi}; periods are counted back from {as_of}")
    if (as_of - hi).days > 92:
        run.notes.append(f"the latest close date is {hi}, {(as_of - hi).days} days before {as_of}: "
                         "is --as-of the date of the export?")


def _currency_notes(spec: MappingSpec, converted: dict[str, int]) -> list[str]:
    out = []
    if not spec.book_currency:
        if spec.currency:
            out.append(f"the rulebook states no currency: amounts are read as {spec.currency}, unconverted")
        return out
    for cur, n in sorted(converted.items()):
        out.append(f"amounts in {cur} are converted to {spec.book_currency} at {spec.rates[cur]:g} (the mapping's "
                   f"rate): {n:,}")
    return out


def read_mapped(files: Sequence[str], mapping_file: str, book: Rulebook, as_of: _dt.date) -> Intake:
    """Load the mapping, then read the exports it describes."""
    from kamrules.io.crm.mapping import load_mapping

    return read_exports(files, load_mapping(mapping_file, book), book, as_of)
