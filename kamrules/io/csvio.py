"""CRM exports: a CSV file → one yamlio.Doc per row, so the account loader validates each row.

Sales teams export accounts from their CRM, usually through Excel: UTF-8 with a BOM or GBK,
comma, semicolon or tab separated, Chinese headers. Each header names a fact the way an account
file's key does (fact name, dotted name, zh/en label or alias); each row becomes the mapping an
account file would hold, with marks pointing at the row's line and the cell's column, so every
problem reads file:line:col with the header as its path.

The reader is a small RFC 4180 scanner rather than the csv module, because the csv module does
not say where a cell starts, and "line 7, column 23, 毛利率" is the point of the exercise.
Values stay strings ("18%", "1,200,000", "120万"): the account loader parses them.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Sequence, cast

from kamrules.core import settings, yamlio
from kamrules.core.errors import (
    AccountError,
    InputError,
    Location,
    Problem,
    UsageError,
    suggest,
)
from kamrules.core.yamlio import Doc
from kamrules.io.account import (
    FREE_KEYS,
    FlatReader,
    KeyIndex,
    RowPlan,
    account_from_doc,
    flat_reader,
    key_index,
    with_unit,
)
from kamrules.rulebook.model import Account, FactDef, Rulebook

CSV_SUFFIXES = (".csv", ".tsv")
DELIMITERS = (",", ";", "\t")  # in tie-break order
LIST_SEPARATORS = re.compile(r"[;；、\n]")
IGNORED_PREFIX = "#"  # a header starting with # marks a column kamrules should leave alone
MAX_COLUMNS = 1000

_QUOTED = re.compile(r'"([^"]*(?:""[^"]*)*)"')
_UNIT = re.compile(r"^(?P<base>.+?)\s*[（(]\s*(?P<unit>[^()（）]+?)\s*[)）]$")
_SEP_LINE = re.compile(r"^sep=(.)\r?\n?$")
# Units a CRM writes into its headers: the multiplier they imply (appended to bare numbers),
# and the fact types they fit. "年交易额(万元)" with 1200 means 1200万.
_MONEY_UNITS = {"元": "", "cny": "", "rmb": "", "¥": "", "￥": "", "人民币": "", "千元": "千", "万元": "万", "万": "万",
                "百万": "百万", "百万元": "百万", "亿元": "亿", "亿": "亿"}
_PLAIN_UNITS = {"天": "days", "日": "days", "days": "days", "人": "people", "people": "people", "年": "years",
                "years": "years", "笔": "orders", "单": "orders", "orders": "orders", "分": "points", "points": "points"}


def is_csv(path: str) -> bool:
    return Path(path).suffix.lower() in CSV_SUFFIXES


# --------------------------------------------------------------------------- scanning

class Cell(NamedTuple):
    """One cell of a record. A named tuple, not a frozen dataclass: an export has tens of cells a
    row, and a tuple is made in one step where a frozen dataclass sets each field through
    object.__setattr__ (≈ 1.5 % of a portfolio worker's time)."""

    text: str  # stripped
    line: int  # physical line where the cell starts, 1-based
    col: int  # character offset of the cell in that line, 1-based


# Cell(text, line, col) without the named tuple's own __new__, a Python function: tuple.__new__
# makes the same Cell from the three values (≈ 1,200 instructions less a cell, 12 a row of an export)
_cell = cast(Callable[[type[Cell], tuple[str, int, int]], Cell], tuple.__new__)


@dataclass(frozen=True)
class Record:
    line: int
    cells: tuple[Cell, ...]

    @property
    def blank(self) -> bool:
        return all(not c.text for c in self.cells)


@dataclass(frozen=True)
class Table:
    """A CSV file read but not yet interpreted: header cells, data records, and what is wrong
    with its shape (kept, not raised, so a caller can report it with everything else)."""

    file: str
    encoding: str
    delimiter: str
    header: Record
    rows: tuple[Record, ...]
    header_problems: tuple[Problem, ...] = ()  # empty and duplicate headers: every row is affected
    row_problems: Mapping[int, Problem] = field(default_factory=dict)  # by line: rows with too many cells
    skip: frozenset[int] = frozenset()  # column indexes already reported (the second of a duplicate)
    blank: int = 0  # blank records skipped (empty lines, rows of empty cells)

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(c.text for c in self.header.cells)


class _Lines:
    """Offset → (line, col), by bisecting the offsets where lines start."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]

    def at(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.starts, offset) - 1
        return i + 1, offset - self.starts[i] + 1


def _problem(code: str, message: str, file: str, line: int = 1, col: int = 1, *, path: str = "",
             expected: str = "", hint: str = "") -> Problem:
    return Problem(code, message, Location(file, line, col), path, expected, hint)


def scan(text: str, delimiter: str, file: str, start: int = 0, first_line: int = 1) -> Iterator[Record]:
    """Records of an RFC 4180 text: quoted cells may hold the delimiter, "" and line breaks.

    A record starts at the start of a line. A line without a quote is one record and is split
    at once (the common case, and the fast one); a line with a quote is scanned cell by cell,
    since its cells may span lines. `first_line`: the line number of the text's first line (a
    portfolio scans a large file a slice of whole records at a time)."""
    shift = first_line - 1
    lines: _Lines | None = None  # built on the first quoted record: offsets → line numbers
    unquoted = re.compile(f"[^{re.escape(delimiter)}\r\n]*")
    eol = re.compile(r"\r\n|\r|\n")
    pos, n = start, len(text)
    line_no = (text.count("\n", 0, start) + 1 if "\r" not in text[:start] else _Lines(text).at(start)[0]) + shift
    while pos < n:
        m = eol.search(text, pos)
        end, after = (m.start(), m.end()) if m else (n, n)
        seg = text[pos:end]
        if '"' not in seg:
            cells: list[Cell] = []
            col = 1
            for part in seg.split(delimiter):
                cells.append(_cell(Cell, (part.strip(), line_no, col)))
                col += len(part) + 1
            yield Record(line_no, tuple(cells))
            pos, line_no = after, line_no + 1
            continue
        if lines is None:
            lines = _Lines(text)
        first_line = line_no
        cells = []
        while True:
            cell_at = pos
            if text.startswith('"', pos):
                q = _QUOTED.match(text, pos)
                if q is None:
                    line, col = lines.at(pos)
                    line += shift
                    raise InputError([_problem(
                        "csv.unclosed-quote", "a quoted cell starting here is never closed", file, line, col,
                        hint='a " inside a quoted cell is written twice (""); check this cell')])
                value = q.group(1).replace('""', '"')
                rest = unquoted.match(text, q.end())
                assert rest is not None  # the pattern matches the empty string
                value += rest.group()  # "ab"c → abc, as the csv module and Excel read it
                pos = rest.end()
            else:
                u = unquoted.match(text, pos)
                assert u is not None
                value, pos = u.group(), u.end()
            line, col = lines.at(cell_at)
            cells.append(Cell(value.strip(), line + shift, col))
            if pos < n and text[pos] == delimiter:
                pos += 1
                continue
            pos += 2 if text.startswith("\r\n", pos) else 1
            break
        yield Record(first_line, tuple(cells))
        line_no = lines.at(min(pos, n))[0] + shift if pos < n else line_no


def sniff(line: str) -> str:
    """The delimiter a header line uses: the most frequent of , ; tab outside quotes."""
    outside = re.sub(r'"[^"]*"', "", line)
    counts = {d: outside.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first on ties
    return best if counts[best] else ","


def read_records(file: str, *, text: str | None = None) -> tuple[str, str, Iterator[Record]]:
    """The encoding, the delimiter, and every record of a CSV file, blank ones included (for
    callers that account for every line). Raises InputError (unreadable, binary, malformed)."""
    encoding = "utf-8"
    if text is None:
        text, encoding = _read(file)
    text = text.lstrip("\ufeff")
    _refuse_binary(text, file)
    start, delimiter = _directive(text)
    return encoding, delimiter, scan(text, delimiter, file, start)


def read_table(file: str, *, text: str | None = None) -> Table:
    """Read and scan a CSV file. Raises InputError (unreadable, binary, empty, malformed)."""
    encoding, delimiter, records = read_records(file, text=text)
    header: Record | None = None
    rows: list[Record] = []
    limit = settings.max_rows()
    blank = 0
    for rec in records:  # a generator: records are made one at a time
        if rec.blank:
            blank += 1  # blank lines, and the ,,,, rows Excel leaves under a table
            continue
        if header is None:
            header = rec
        elif len(rows) == limit:  # stop here: a million short rows fit under the byte cap
            raise InputError([_problem(
                "csv.too-many-rows", f"the file has more than {limit:,} accounts (rows); the limit is {limit:,}",
                file, rec.line, 1, expected=f"at most {limit:,} rows under the header",
                hint="split the export into smaller files, or raise KAMRULES_MAX_ROWS if it is genuine")])
        else:
            rows.append(rec)
    if header is None:
        raise InputError([_problem("csv.empty", "the CSV file is empty", file,
                                   hint="export the accounts with a header row: 客户编号,客户名称,年交易额,…")])
    if len(header.cells) > MAX_COLUMNS:
        raise InputError([_problem("csv.too-wide", f"the header has {len(header.cells):,} columns; "
                                   f"the limit is {MAX_COLUMNS:,}", file, header.line)])
    table = Table(file, encoding, delimiter, header, tuple(rows), blank=blank)
    return _checked(table)


def _read(file: str) -> tuple[str, str]:
    try:
        return yamlio.read_text(file)
    except InputError as e:
        if any(p.code == "file.binary" for p in e.problems) and _is_workbook(file):
            raise InputError([_problem("csv.workbook", "this is an Excel workbook, not a CSV file", file,
                                       hint="in Excel: File → Save As → 'CSV UTF-8 (Comma delimited)'")]) from None
        raise InputError([replace(p, hint="pass a CSV file saved as text (UTF-8 or GBK)")
                          if p.code in ("file.binary", "file.encoding") else p for p in e.problems]) from None


def _is_workbook(file: str) -> bool:
    try:
        with open(file, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    return head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0"))  # .xlsx (zip) or .xls (OLE)


def _refuse_binary(text: str, file: str) -> None:
    sample = text[:65536]
    odd = sum(1 for ch in sample if not (ch.isprintable() or ch in "\r\n\t"))
    if odd > 0.05 * max(len(sample), 1):
        raise InputError([_problem("file.binary", "this is not a text file", file,
                                   hint="pass a CSV file saved as text (UTF-8 or GBK)")])


def _directive(text: str) -> tuple[int, str]:
    """Excel's optional first line 'sep=;' names the delimiter; else sniff the header line."""
    first = re.match(r"[^\r\n]*(?:\r\n|\r|\n)?", text)
    assert first is not None  # the pattern matches the empty string
    m = _SEP_LINE.match(first.group())
    if m and m.group(1) in DELIMITERS:
        return first.end(), m.group(1)
    for line in re.finditer(r"[^\r\n]+", text):
        if line.group().strip(" ,;\t"):
            return 0, sniff(line.group())
    return 0, ","


def _checked(table: Table) -> Table:
    """The table's shape, whatever the rulebook: empty and duplicate headers, rows that are too long."""
    problems: list[Problem] = []
    skip: set[int] = set()
    seen: dict[str, int] = {}
    cells = table.header.cells
    for i, cell in enumerate(cells):
        if not cell.text:
            used = next((r for r in table.rows if i < len(r.cells) and r.cells[i].text), None)
            if used is not None:
                problems.append(_problem("csv.empty-header", f"column {i + 1} has no header, but line {used.line} "
                                         "has a value in it", table.file, cell.line, cell.col,
                                         hint="give the column a header, or delete it"))
            continue
        first = seen.setdefault(cell.text.lower(), i)
        if first != i:
            skip.add(i)
            problems.append(_problem(
                "csv.duplicate-header", f"columns {first + 1} '{cells[first].text}' and {i + 1} '{cell.text}' "
                "have the same header", table.file, cell.line, cell.col, path=cell.text,
                hint="rename or remove one of the two columns"))
    width = len(cells)
    long_rows: dict[int, Problem] = {}
    for row in table.rows:
        if len(row.cells) <= width:  # nearly every row: nothing past the header's columns
            continue
        extra = [c for c in row.cells[width:] if c.text]
        if extra:
            long_rows[row.line] = _problem(
                "csv.too-many-cells", f"line {row.line} has {len(row.cells)} cells, but the header has {width} "
                "columns", table.file, extra[0].line, extra[0].col, expected=f"at most {width} cells",
                hint=_delimiter_hint(table.delimiter))
    return replace(table, header_problems=tuple(problems), row_problems=long_rows, skip=frozenset(skip))


def checked(table: Table) -> Table:
    """The table's shape problems (see _checked): for a caller that builds a Table a slice at a time."""
    return _checked(table)


def row_result(table: Table, columns: Columns, row: Record, book: Rulebook,
               reader: RowsReader | None = None) -> RowResult:
    """One data row validated as an account (see read_accounts); `reader`: rows_reader(columns, book),
    made once for the rows of one header."""
    return _row_account(table, columns, row, book, reader)


def _delimiter_hint(delimiter: str) -> str:
    shown = {"\t": "a tab", ",": "','", ";": "';'"}[delimiter]
    example = '"1,200,000"' if delimiter == "," else '"a;b"'
    return (f"a value probably contains the separator {shown}: quote it ({example}), "
            "or write money without thousands separators")


# --------------------------------------------------------------------------- headers → facts

@dataclass(frozen=True)
class Column:
    index: int
    header: Cell
    fact: str  # dotted fact name, or a free key (notes, as_of)
    key: tuple[str, ...]  # the path in the row's Doc: the header itself, or its dotted parts
    is_list: bool = False
    suffix: str = ""  # appended to bare numbers: 万 for a (万元) column, % for a (%) column


@dataclass(frozen=True)
class Columns:
    columns: tuple[Column, ...]
    problems: tuple[Problem, ...]

    def for_fact(self, fact: str) -> Column | None:
        return next((c for c in self.columns if c.fact == fact), None)


def resolve_columns(table: Table, book: Rulebook) -> Columns:
    """Map each header to a fact, once for the whole file; report each bad header once."""
    index = key_index(book)
    columns: list[Column] = []
    problems: list[Problem] = []
    by_fact: dict[str, Column] = {}
    for i, cell in enumerate(table.header.cells):
        if not cell.text or cell.text.startswith(IGNORED_PREFIX) or i in table.skip:
            continue
        col = _resolve(i, cell, index, book, table.file, problems)
        if col is None:
            continue
        if col.fact in by_fact:
            other = by_fact[col.fact]
            problems.append(_problem(
                "csv.duplicate-fact",
                f"columns {other.index + 1} '{other.header.text}' and {i + 1} '{cell.text}' both give '{col.fact}'",
                table.file, cell.line, cell.col, path=cell.text, hint="keep one of the two columns"))
            continue
        by_fact[col.fact] = col
        columns.append(col)
    for f in book.facts.values():
        if f.required and f.name not in by_fact:
            problems.append(_problem(
                "csv.missing-column", f"there is no column for '{f.name}' ({_label(f)}), which every account needs",
                table.file, table.header.line, 1, path=f.name, expected=f"a column headed {f.name} or {_label(f)}",
                hint="add the column to the export"))
    return Columns(tuple(columns), tuple(problems))


def _label(f: FactDef) -> str:
    return f.label.zh or f.label.en or f.name


LOOK_BELOW = 5  # records under a header without the required columns searched for the real one


def header_below(file: str, header: Record, following: Sequence[Record], book: Rulebook) -> Problem | None:
    """A report's title above the header (CRM reports often start with 客户列表 and an export
    time): when the header lacks a required fact and one of the next few records names them all,
    that record is the header. Said once, instead of everything that follows from reading the
    title as the header (missing columns, unknown and empty headers)."""
    index = key_index(book)
    required = [f for f in book.facts.values() if f.required]
    for rec in following[:LOOK_BELOW]:
        named = set()
        for c in rec.cells:
            text = c.text.strip()
            m = _UNIT.match(text)
            found = lookup_fact(index, text) or (lookup_fact(index, m["base"]) if m else None)
            if found:
                named.add(found)
        if required and all(f.name in named for f in required):
            shown = ", ".join(c.text for c in rec.cells[:4] if c.text)
            n = rec.line - header.line
            return _problem(
                "csv.title-above-header", f"line {header.line} is not the header: line {rec.line} is ({shown}, …), "
                f"with the line{'s' if n != 1 else ''} above it a report's title", file, header.line, 1,
                expected=f"the header ({', '.join(_label(f) for f in required)}, …) on the first line",
                hint=f"delete the {n} line{'s' if n != 1 else ''} above line {rec.line}, or read the export with a "
                     "mapping, which skips a title above the header: kamrules init mapping FILE -o crm.yaml")
    return None


def _title_above(table: Table, problems: list[Problem], book: Rulebook) -> list[Problem]:
    if any(p.code == "csv.missing-column" for p in problems):
        found = header_below(table.file, table.header, table.rows, book)
        if found is not None:
            return [found]
    return problems


def lookup_fact(index: KeyIndex, header: str) -> str | None:
    """A header → dotted fact name, 'prefix:…' for a group, or None. Dotted headers walk the groups."""
    found = index.lookup("", header)
    if found is not None or "." not in header:
        return found
    prefix = ""
    parts = [p.strip() for p in header.split(".")]
    for part in parts[:-1]:
        step = index.lookup(prefix, part)
        if step is None or not step.startswith("prefix:"):
            return None
        prefix = step[len("prefix:"):]
    return index.lookup(prefix, parts[-1])


def _key(header: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in header.split(".")) if "." in header else (header,)


def _resolve(i: int, cell: Cell, index: KeyIndex, book: Rulebook, file: str,
             problems: list[Problem]) -> Column | None:
    header = cell.text
    if header in FREE_KEYS:
        return Column(i, cell, header, (header,))
    target, base, suffix = lookup_fact(index, header), header, ""
    if target is None:
        m = _UNIT.match(header)
        if m and (inner := lookup_fact(index, m["base"])) is not None and not inner.startswith("prefix:"):
            unit_suffix = _unit_suffix(book.facts[inner], m["unit"])
            if unit_suffix is None:
                f = book.facts[inner]
                problems.append(_problem(
                    "csv.header-unit", f"the unit '{m['unit']}' in '{header}' does not fit '{f.name}' ({f.type}"
                    + (f", {f.unit}" if f.unit else "") + ")", file, cell.line, cell.col, path=header,
                    hint=f"head the column '{m['base']}' and write the unit in the cells"))
                return None
            target, base, suffix = inner, m["base"], unit_suffix
    if target is None:
        hint = suggest(header, book.facts) or suggest(header, index.levels[""])  # names first, then labels
        problems.append(_problem(
            "csv.unknown-header", f"the header '{header}' is not a fact of the rulebook '{book.id}'", file, cell.line,
            cell.col, path=header, expected="a fact name or its label (see 'kamrules rules --facts')",
            hint=(hint + " " if hint else "") + f"(start a header with {IGNORED_PREFIX} to have kamrules ignore "
            "that column)"))
        return None
    if target.startswith("prefix:"):
        group = target[len("prefix:"):]
        subs = sorted(f for f in book.facts if f.startswith(group + "."))[:4]
        problems.append(_problem(
            "csv.group-header", f"'{header}' is a group of facts, not one fact", file, cell.line, cell.col,
            path=header, expected="one column per fact", hint="use columns such as " + ", ".join(subs)))
        return None
    fact = book.facts[target]
    if fact.type == "list" and fact.items:
        fields = ", ".join(f.name for f in fact.items[:4])
        problems.append(_problem(
            "csv.list-of-mappings",
            f"'{header}' ({fact.name}) is a list of records ({fields}, …), which one CSV row cannot hold",
            file, cell.line, cell.col, path=header,
            hint=f"give {fact.name} in a YAML account file ('kamrules init account'); to keep this column in the "
                 f"export, start its header with {IGNORED_PREFIX} so kamrules ignores it"))
        return None
    return Column(i, cell, target, _key(base), is_list=fact.type == "list", suffix=suffix)


def _unit_suffix(fact: FactDef, unit: str) -> str | None:
    """What a unit in a header means for the cells below it, or None when it does not fit the fact."""
    u = unit.strip().lower()
    if fact.type == "money" and u in _MONEY_UNITS:
        return _MONEY_UNITS[u]
    if fact.type == "percent" and u in ("%", "％"):
        return "%"
    if fact.type in ("integer", "number") and fact.unit and _PLAIN_UNITS.get(u) == fact.unit:
        return ""
    return None


# --------------------------------------------------------------------------- rows → Docs → accounts

def row_doc(table: Table, columns: Columns, row: Record) -> Doc:
    """The mapping an account file would hold for this row; empty cells are missing facts."""
    doc = Doc(file=table.file, data={}, encoding=table.encoding)
    doc.value_marks[()] = (row.line, 1)
    for col in columns.columns:
        if col.index >= len(row.cells) or not row.cells[col.index].text:
            continue
        cell = row.cells[col.index]
        target: dict[str, Any] = doc.data
        for depth, part in enumerate(col.key[:-1]):
            target = target.setdefault(part, {})
            doc.key_marks.setdefault(col.key[: depth + 1], (cell.line, cell.col))
        doc.key_marks[col.key] = doc.value_marks[col.key] = (cell.line, cell.col)
        target[col.key[-1]] = _cell_value(col, cell, doc)
    return doc


def _cell_value(col: Column, cell: Cell, doc: Doc) -> Any:
    if col.is_list:
        items = [s.strip() for s in LIST_SEPARATORS.split(cell.text) if s.strip()]
        for j in range(len(items)):
            doc.value_marks[col.key + (j,)] = (cell.line, cell.col)
        return items
    return with_unit(cell.text, col.suffix)


@dataclass(frozen=True)
class RowResult:
    """One data row: its account when valid, else its problems."""

    line: int
    account: Account | None
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class CsvAccounts:
    file: str
    rows: tuple[RowResult, ...]
    problems: tuple[Problem, ...]  # of the file as a whole (headers): every row is unusable then

    def all_problems(self) -> list[Problem]:
        return [*self.problems, *(p for r in self.rows for p in r.problems)]


def read_accounts(file: str, book: Rulebook, *, text: str | None = None) -> CsvAccounts:
    """Every row validated; nothing raised for a bad row (a portfolio may skip it)."""
    try:
        table = read_table(file, text=text)
    except InputError as e:
        return CsvAccounts(file, (), e.problems)
    columns = resolve_columns(table, book)
    problems = _title_above(table, [*table.header_problems, *columns.problems], book)
    if not table.rows:
        problems.append(_problem("csv.no-rows", "the CSV file has a header but no accounts", file,
                                 table.header.line, 1, hint="export at least one account under the header"))
    reader = rows_reader(columns, book) if not problems else None
    rows = tuple(_row_account(table, columns, row, book, reader) for row in table.rows)
    return CsvAccounts(file, rows, tuple(problems))


@dataclass(frozen=True)
class RowsReader:
    """FlatReader with the plan of one header's columns: which cell holds each key, and its unit."""

    flat: FlatReader
    plan: RowPlan

    def read(self, file: str, row: Record) -> Account | None:
        """What row_doc would put in the Doc, read fast (FlatReader.read_row), or None."""
        return self.flat.read_row(file, row.cells, self.plan)


def rows_reader(columns: Columns, book: Rulebook) -> RowsReader | None:
    """The fast reader of this header's rows (io/account.py FlatReader), or None when a column is
    read otherwise than as one plain fact (a dotted header, a list): its rows take the full way."""
    if any(len(c.key) != 1 or c.is_list for c in columns.columns):
        return None
    flat = flat_reader(book, tuple(c.key[0] for c in columns.columns))
    if flat is None:
        return None
    return RowsReader(flat, flat.plan([(j, c.index, c.suffix) for j, c in enumerate(columns.columns)]))


def _row_account(table: Table, columns: Columns, row: Record, book: Rulebook,
                 reader: RowsReader | None = None) -> RowResult:
    if row.line in table.row_problems:  # its cells are shifted: checking them would only add noise
        return RowResult(row.line, None, (table.row_problems[row.line],))
    if reader is not None:
        account = reader.read(table.file, row)
        if account is not None:
            return RowResult(row.line, account)
    try:
        return RowResult(row.line, account_from_doc(row_doc(table, columns, row), book))
    except InputError as e:
        kept = (_relocate(p, table, columns, row) for p in e.problems)
        return RowResult(row.line, None, tuple(p for p in kept if p is not None))


def _relocate(p: Problem, table: Table, columns: Columns, row: Record) -> Problem | None:
    """The account loader puts a missing required fact at line 1, which in a CSV is the header:
    point at the empty cell instead. Without a column, resolve_columns said so once already."""
    if p.code != "account.missing":
        return p
    col = columns.for_fact(p.path)
    if col is None:
        return None
    return replace(p, location=Location(table.file, row.line, _cell_col(row, col)),
                   message=f"the cell under '{col.header.text}' is empty: {p.message}", path=col.header.text,
                   hint="fill in the cell")


def _cell_col(row: Record, col: Column) -> int:
    if col.index < len(row.cells):
        return row.cells[col.index].col
    return row.cells[-1].col if row.cells else 1


def load_accounts(file: str, book: Rulebook, *, text: str | None = None) -> list[Account]:
    """Every row as an account; any problem anywhere raises AccountError listing them all."""
    result = read_accounts(file, book, text=text)
    problems = result.all_problems()
    if problems:
        raise AccountError(problems)
    return [r.account for r in result.rows if r.account is not None]


# --------------------------------------------------------------------------- choosing one row

def select_account(file: str, book: Rulebook, account_id: str | None = None, *, text: str | None = None) -> Account:
    """The account `kamrules advise FILE [--account ID]` means.

    A YAML/JSON file is its account (an --account that names another id is an error). A CSV
    with one row is that row; with several, --account picks one by id. Only the chosen row is
    validated, so one bad row elsewhere in the export does not stop advice on a good one."""
    if not is_csv(file):
        from kamrules.io.account import load_account

        account = load_account(file, book, text=text)
        if account_id is not None and account_id != account.id:
            raise UsageError([_problem(
                "cli.account", f"{file} holds the account '{account.id}', not '{account_id}'", "--account", 0, 0,
                hint="--account picks a row of a CSV export; leave it out here")])
        return account
    try:
        table = read_table(file, text=text)
    except InputError as e:
        raise AccountError(e.problems) from None
    columns = resolve_columns(table, book)
    if table.header_problems or columns.problems:
        raise AccountError(_title_above(table, [*table.header_problems, *columns.problems], book))
    if not table.rows:
        raise AccountError([_problem("csv.no-rows", "the CSV file has a header but no accounts", file,
                                     table.header.line, hint="export at least one account under the header")])
    row = _choose(table, columns, account_id)
    result = _row_account(table, columns, row, book)
    if result.account is None:
        raise AccountError(result.problems)
    return result.account


def _ids(table: Table, columns: Columns) -> list[tuple[str, Record]]:
    col = columns.for_fact("id")
    if col is None:
        return []
    return [(r.cells[col.index].text if col.index < len(r.cells) else "", r) for r in table.rows]


def _choose(table: Table, columns: Columns, account_id: str | None) -> Record:
    ids = _ids(table, columns)
    shown = _id_list([i for i, _ in ids])
    if account_id is None:
        if len(table.rows) == 1:
            return table.rows[0]
        raise UsageError([_problem(
            "cli.account-needed", f"{table.file} holds {len(table.rows)} accounts; advise is about one",
            table.file, table.header.line, expected="--account ID",
            hint=f"pick one with --account ID ({shown}), or evaluate them all with 'kamrules portfolio {table.file}'")])
    hits = [r for i, r in ids if i == account_id]
    if not hits:
        close = suggest(account_id, [i for i, _ in ids if i])
        raise UsageError([_problem(
            "cli.account-unknown", f"no account with the id '{account_id}' in {table.file}", "--account", 0, 0,
            path=account_id, expected="one of: " + shown,
            hint=close or "ids are matched exactly, as written in the id column")])
    if len(hits) > 1:
        lines = ", ".join(str(r.line) for r in hits)
        raise AccountError([_problem("csv.duplicate-id", f"the id '{account_id}' is on several lines: {lines}",
                                     table.file, hits[1].line, path=account_id, hint="ids must be unique")])
    return hits[0]


def _id_list(ids: Sequence[str], limit: int = 20) -> str:
    named = [i for i in ids if i]
    text = ", ".join(named[:limit])
    return text + (f", … ({len(named) - limit} more)" if len(named) > limit else "") if named else "no ids"
