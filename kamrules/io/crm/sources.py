"""Export files → Sheets: a header and data rows of cells that know their line and column.

Three kinds of export, told apart by their content first and their name second:

- CSV (and TSV): csvio's scanner — UTF-8 with or without a BOM, GBK, UTF-16; comma, semicolon
  or tab; RFC 4180 quoting. A cell's line and column are where it starts in the file.
- Excel .xlsx: openpyxl in read-only mode (it streams the sheet instead of building the whole
  workbook). The line is the sheet's row number and the column its column number, and the file
  is named `file.xlsx[sheet]` so a location reads `deals.xlsx[商机]:12:4`. Dates stay dates,
  numbers stay numbers, a number formatted as a percent becomes "18%".
- JSON Lines (.jsonl, .ndjson): one JSON object per line; nested objects give dotted headers.

Reports often carry a title line or two above the header: the header is the first row among
the first few that holds the most of the headers the mapping names. Every other row is counted:
blank rows, rows above the header, data rows — so a caller can account for each of them.
"""
from __future__ import annotations

import datetime as _dt
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from kamrules.core import settings, yamlio
from kamrules.core.errors import InputError, Location, Problem, suggest
from kamrules.io import csvio
from kamrules.io.crm.mapping import norm

HEADER_SEARCH = 30  # non-blank rows searched for the header
MAX_COLUMNS = csvio.MAX_COLUMNS
XLSX_SUFFIXES = (".xlsx", ".xlsm")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
EXPORT_SUFFIXES = (*csvio.CSV_SUFFIXES, ".txt", *XLSX_SUFFIXES, *JSONL_SUFFIXES)


@dataclass(frozen=True, slots=True)
class Cell:
    value: Any  # text (CSV, JSON strings), a number, bool or date (xlsx, JSON), or None
    line: int
    col: int

    @property
    def empty(self) -> bool:
        return self.value is None or (isinstance(self.value, str) and not self.value.strip())

    @property
    def text(self) -> str:
        v = self.value
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, (_dt.date, _dt.datetime)):
            return v.isoformat()
        return str(v).strip()


@dataclass(frozen=True)
class Row:
    line: int
    cells: tuple[Cell, ...]

    def at(self, index: int) -> Cell | None:
        if 0 <= index < len(self.cells):
            c = self.cells[index]
            v = c.value
            if v is None or (v.__class__ is str and not v.strip()):
                return None
            return c
        return None


@dataclass(frozen=True)
class Sheet:
    file: str  # the path as given
    name: str  # how locations name it: the path, or path[sheet] for a workbook
    kind: str  # csv | xlsx | jsonl
    header: tuple[Cell, ...]
    header_line: int
    rows: tuple[Row, ...]
    blank: int = 0  # blank rows and lines
    above_header: int = 0  # non-blank rows above the header (a report's title)
    problems: Mapping[int, Problem] = field(default_factory=dict)  # line → why the row cannot be read
    sheets: tuple[str, ...] = ()  # a workbook's sheet names

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(c.text for c in self.header)

    def index(self) -> dict[str, list[int]]:
        """Normalised header → its column indexes (more than one: a duplicate header)."""
        out: dict[str, list[int]] = {}
        for i, c in enumerate(self.header):
            if c.text:
                out.setdefault(norm(c.text), []).append(i)
        return out


def _problem(code: str, message: str, file: str, line: int = 1, col: int = 1, *, path: str = "",
             expected: str = "", hint: str = "") -> Problem:
    return Problem(code, message, Location(file, line, col), path, expected, hint)


def kind_of(file: str) -> str:
    """csv | xlsx | jsonl | xls, by the file's first bytes, else its name."""
    try:
        with open(file, "rb") as fh:
            head = fh.read(8)
    except OSError:
        head = b""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    suffix = Path(file).suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in XLSX_SUFFIXES:
        return "xlsx"  # a broken workbook: the reader says so
    return "csv"


def read_sheet(file: str, sheet: str | int | None = None, *, expect: Iterable[str] = ()) -> Sheet:
    """Read one table of an export. `expect`: the headers the caller looks for (to find the
    header row below a title, and the sheet of a workbook). Raises InputError."""
    wanted = {norm(h) for h in expect}
    kind = kind_of(file)
    if kind == "xls":
        raise InputError([_problem("crm.xls", "this is an Excel 97–2003 workbook (.xls), which kamrules does not read",
                                   file, hint="in Excel: File → Save As → 'Excel Workbook (.xlsx)' or 'CSV UTF-8'")])
    if kind == "xlsx":
        return _read_xlsx(file, sheet, wanted)
    if sheet is not None:
        raise InputError([_problem("crm.sheet", f"{file} is not a workbook, so it has no sheet {sheet!r}", file,
                                   hint="remove 'sheet:' for a CSV or JSON Lines file")])
    if kind == "jsonl":
        return _read_jsonl(file)
    return _read_csv(file, wanted)


def sheet_names(file: str) -> list[str]:
    """A workbook's sheets (empty for other files)."""
    if kind_of(file) != "xlsx":
        return []
    wb = _open_workbook(file)
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


# --------------------------------------------------------------------------- header and rows

def _split(records: Iterable[tuple[int, list[Cell]]], wanted: set[str], name: str, kind: str,
           sheets: tuple[str, ...] = ()) -> Sheet:
    """Records (line, cells) → header and rows, counting blank rows and rows above the header."""
    blank = 0
    head: list[tuple[int, list[Cell]]] = []  # the first non-blank records, where the header is looked for
    it = iter(records)
    for line, cells in it:
        if all(c.empty for c in cells):
            blank += 1
            continue
        head.append((line, cells))
        if len(head) >= HEADER_SEARCH:
            break
    if not head:
        raise InputError([_problem("crm.empty", "the export has no header row", name,
                                   hint="export the table with its header row")])
    pick = 0
    if wanted:
        scores = [sum(1 for c in cells if norm(c.text) in wanted) for _, cells in head]
        best = max(scores)
        if best:
            pick = scores.index(best)
    header_line, header = head[pick]
    header = _trim(header)
    if len(header) > MAX_COLUMNS:
        raise InputError([_problem("csv.too-wide", f"the header has {len(header):,} columns; the limit is "
                                   f"{MAX_COLUMNS:,}", name, header_line)])
    rows: list[Row] = []
    problems: dict[int, Problem] = {}
    width = len(header)
    limit = settings.max_rows()

    def add(line: int, cells: list[Cell]) -> None:
        if len(rows) == limit:  # the records come one at a time: stop at the first row too many
            raise _too_many_rows(name, line, limit)
        extra = [c for c in cells[width:] if not c.empty]
        if extra:
            problems[line] = _problem(
                "csv.too-many-cells", f"line {line} has a value in column {extra[0].col}, right of the last header",
                name, extra[0].line, extra[0].col, expected=f"at most {width} cells",
                hint="a value probably contains the separator: quote it, or write money without thousands separators"
                if kind == "csv" else "give the column a header, or delete the value")
        rows.append(Row(line, tuple(cells[:width])))

    above = pick
    for line, cells in head[pick + 1:]:
        add(line, cells)
    for line, cells in it:
        if all(c.empty for c in cells):
            blank += 1
            continue
        add(line, cells)
    return Sheet(name, name, kind, tuple(header), header_line, tuple(rows), blank, above, problems, sheets)


def _too_many_rows(name: str, line: int, limit: int) -> InputError:
    return InputError([_problem(
        "csv.too-many-rows", f"the export has more than {limit:,} rows; the limit is {limit:,}", name, line, 1,
        expected=f"at most {limit:,} rows under the header",
        hint="split the export into smaller files, or raise KAMRULES_MAX_ROWS if it is genuine")])


def _trim(cells: list[Cell]) -> list[Cell]:
    """A header without its trailing empty cells."""
    end = len(cells)
    while end and cells[end - 1].empty:
        end -= 1
    return cells[:end]


def _read_csv(file: str, wanted: set[str]) -> Sheet:
    _, _, records = csvio.read_records(file)

    def cells() -> Iterator[tuple[int, list[Cell]]]:
        for rec in records:
            yield rec.line, [Cell(c.text, c.line, c.col) for c in rec.cells]
    sheet = _split(cells(), wanted, file, "csv")
    return Sheet(file, file, "csv", sheet.header, sheet.header_line, sheet.rows, sheet.blank, sheet.above_header,
                 sheet.problems)


# --------------------------------------------------------------------------- JSON Lines

def _read_jsonl(file: str) -> Sheet:
    text, _ = _read_text(file)
    text = text.lstrip("\ufeff")
    headers: dict[str, int] = {}
    parsed: list[tuple[int, dict[str, Any], str]] = []
    problems: dict[int, Problem] = {}
    blank = 0
    limit = settings.max_rows()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            blank += 1
            continue
        if len(parsed) == limit:
            raise _too_many_rows(file, n, limit)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems[n] = _problem("crm.not-json", f"line {n} is not JSON: {e.msg}", file, n, e.colno,
                                   hint="each line of a JSON Lines file is one JSON object")
            parsed.append((n, {}, line))
            continue
        if not isinstance(obj, dict):
            problems[n] = _problem("crm.not-record", f"line {n} holds {type(obj).__name__}, not an object", file, n, 1,
                                   expected='{"id": "A-1", "name": "…"}')
            parsed.append((n, {}, line))
            continue
        flat = dict(_flatten(obj))
        for k in flat:
            headers.setdefault(k, len(headers))
        parsed.append((n, flat, line))
    if not headers:
        raise InputError([_problem("crm.empty", "the JSON Lines file holds no records", file,
                                   hint="one JSON object per line: {\"id\": \"A-1\", \"name\": \"…\"}")])
    if len(headers) > MAX_COLUMNS:
        raise InputError([_problem("csv.too-wide", f"the records have {len(headers):,} keys; the limit is "
                                   f"{MAX_COLUMNS:,}", file)])
    header = tuple(Cell(k, 1, 1) for k in headers)
    rows: list[Row] = []
    for n, flat, line in parsed:
        cells = [Cell(None, n, 1)] * len(headers)
        for k, v in flat.items():
            at = line.find(json.dumps(k.rsplit(".", 1)[-1], ensure_ascii=False))
            cells[headers[k]] = Cell(v, n, at + 1 if at >= 0 else 1)
        rows.append(Row(n, tuple(cells)))
    return Sheet(file, file, "jsonl", header, 0, tuple(rows), blank, 0, problems)


def _flatten(obj: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            yield from _flatten(v, key + ".")
        elif isinstance(v, list):
            yield key, "; ".join(str(x) for x in v if x is not None and not isinstance(x, (dict, list)))
        else:
            yield key, v


def _read_text(file: str) -> tuple[str, str]:
    try:
        return yamlio.read_text(file)
    except InputError as e:
        raise InputError([Problem(p.code, p.message, p.location, p.path, p.expected,
                                  "pass the export saved as text (UTF-8 or GBK)" if p.code in ("file.binary",
                                                                                              "file.encoding")
                                  else p.hint) for p in e.problems]) from None


# --------------------------------------------------------------------------- Excel

def _open_workbook(file: str) -> Any:
    try:
        size = os.path.getsize(file)
    except OSError as e:
        raise InputError([_problem("file.unreadable", f"cannot read the file: {e.strerror or e}", file, 0, 0,
                                   hint="check the path")]) from None
    limit = settings.max_file_bytes()  # the one file-size limit (core/settings.py)
    if size > limit:
        raise yamlio.too_large(file, size, limit)
    import openpyxl  # only when a workbook is read

    try:
        with open(file, "rb") as fh:  # as bytes: openpyxl judges a path by its suffix, and a
            data = io.BytesIO(fh.read())  # workbook saved as "export.csv" is still a workbook
        return openpyxl.load_workbook(data, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises zipfile, XML and its own errors for a damaged file
        raise InputError([_problem("crm.workbook", f"cannot read the workbook: {type(e).__name__}: {e}", file,
                                   hint="open it in Excel and save it again as .xlsx, or export CSV")]) from None


# The currency a number format shows: [$€-407] or [$USD] (Excel's locale-tagged currency), a
# quoted "$" or "US$", or a bare sign outside quotes. Only the first section (positive numbers).
_FORMAT_TAG = re.compile(r"\[\$([^\]-]+)[^\]]*\]")
_FORMAT_QUOTED = re.compile(r'"([^"]*)"')
_FORMAT_SIGNS = ("US$", "HK$", "$", "€", "£", "¥", "￥", "₩", "₹")


def format_currency(number_format: str) -> str:
    """The currency sign or code a cell's number format writes beside its number, or ""."""
    first = number_format.split(";", 1)[0]
    tag = _FORMAT_TAG.search(first)
    if tag:
        return tag.group(1).strip()
    quoted = " ".join(_FORMAT_QUOTED.findall(first))
    bare = re.sub(r"\[[^\]]*\]", "", _FORMAT_QUOTED.sub("", first))  # [$-409] locale, [Red], [h]
    for text in (quoted, bare):
        for sign in _FORMAT_SIGNS:
            if sign in text:
                return sign
    code = re.search(r"\b([A-Z]{3})\b", quoted)  # "EUR" quoted; unquoted letters are date codes (MMM)
    return code.group(1) if code else ""


def _xlsx_value(cell: Any) -> Any:
    v = cell.value
    if isinstance(v, str):
        return v.strip() or None
    if isinstance(v, _dt.datetime):
        return v.date()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        fmt = getattr(cell, "number_format", "") or ""
        if "%" in fmt:
            return f"{round(v * 100, 10):g}%"  # what Excel shows: 0.18 formatted as a percent is 18%
        if fmt != "General" and (cur := format_currency(fmt)):
            # what Excel shows, $12,500.00: the amount is read in the currency it names (io/crm/convert)
            return f"{cur} {v!r}" if cur.isalpha() else f"{cur}{v!r}"
    return v


def _sheet_records(ws: Any) -> Iterator[tuple[int, list[Cell]]]:
    ws.reset_dimensions()  # some writers record a wrong size; read what is there
    for n, row in enumerate(ws.iter_rows(), 1):
        yield n, [Cell(_xlsx_value(c), n, i) for i, c in enumerate(row, 1)]


def _read_xlsx(file: str, sheet: str | int | None, wanted: set[str]) -> Sheet:
    wb = _open_workbook(file)
    try:
        names = tuple(wb.sheetnames)
        name = _choose_sheet(wb, file, names, sheet, wanted)
        ws = wb[name]
        display = f"{file}[{name}]"
        try:
            got = _split(_sheet_records(ws), wanted, display, "xlsx", names)
        except InputError:
            raise
        except Exception as e:  # a damaged sheet part
            raise InputError([_problem("crm.workbook", f"cannot read the sheet '{name}': {type(e).__name__}: {e}",
                                       file, hint="open it in Excel and save it again")]) from None
        return Sheet(file, display, "xlsx", got.header, got.header_line, got.rows, got.blank, got.above_header,
                     got.problems, names)
    finally:
        wb.close()


def _choose_sheet(wb: Any, file: str, names: Sequence[str], sheet: str | int | None, wanted: set[str]) -> str:
    if isinstance(sheet, int):
        if 1 <= sheet <= len(names):
            return names[sheet - 1]
        raise InputError([_problem("crm.sheet", f"{file} has {len(names)} sheet{'s' if len(names) != 1 else ''}, "
                                   f"so there is no sheet {sheet}", file, expected=_sheet_list(names))])
    if isinstance(sheet, str):
        if sheet in names:
            return sheet
        by_norm = {norm(n): n for n in names}
        if norm(sheet) in by_norm:
            return by_norm[norm(sheet)]
        raise InputError([_problem("crm.sheet", f"{file} has no sheet '{sheet}'", file, expected=_sheet_list(names),
                                   hint=suggest(sheet, names))])
    if len(names) == 1:
        return names[0]
    # several sheets and none named: the one whose first rows hold the mapping's headers, else
    # the only one that holds anything
    scores: dict[str, int] = {}
    for n in names:
        found = 0
        filled = False
        for i, (_, cells) in enumerate(_sheet_records(wb[n])):
            if i >= HEADER_SEARCH:
                break
            filled = filled or any(not c.empty for c in cells)
            found = max(found, sum(1 for c in cells if norm(c.text) in wanted))
        scores[n] = found if found else (0 if filled else -1)
    best = max(scores.values())
    winners = [n for n, s in scores.items() if s == best]
    if best >= 0 and len(winners) == 1:
        return winners[0]
    raise InputError([_problem("crm.sheet-needed", f"{file} has {len(names)} sheets; say which one holds the table",
                               file, expected=_sheet_list(names), hint=f"add sheet: {names[0]!r} to the mapping")])


def _sheet_list(names: Sequence[str]) -> str:
    return "one of: " + ", ".join(f"'{n}'" for n in names)
