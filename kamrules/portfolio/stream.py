"""A portfolio run in bounded memory: inputs → tasks → workers → rows in input order.

    CSV exports ──slices of whole records──┐
    YAML/JSON account files ──one a task───┼──▶ pool (N processes) ──▶ TaskResult in input order
    mapped CRM intake ──accounts, batched──┘       each: parse, validate, evaluate, row_of

The main process reads the CSV text a slice at a time (256 records, whole quoted records) and
sends it to a worker, which scans, validates and evaluates it and sends back compact `Row`s (or
the problems of invalid rows). So the main process never holds a file's rows, and a worker holds
one slice. What the run keeps is the caller's choice (portfolio/fold.py): the summary's few
columns per account, or the rows when the output is a table of every account.

A file at most KAMRULES_MAX_FILE_BYTES long is read whole (the same encoding decision and errors
as everywhere else); a larger one is decoded as it is read, its encoding decided by its first
MiB. The accounts of one run are capped by KAMRULES_MAX_ACCOUNTS (core/settings.py), counted here
as records are sliced, so a run over the cap stops at the first row too many.

Two passes (a ranking before evaluation): the first reads the tasks, measures their accounts and
keeps what it read (portfolio/spill.py); the second evaluates what was kept (`Kept` tasks), or
reads a task again where nothing could be kept. `tasks()` is a plain function of the paths.
"""
from __future__ import annotations

import codecs
import datetime as _dt
import itertools
import os
import re
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterator, Mapping, Sequence

from kamrules.core import settings
from kamrules.core.errors import InputError, Location, Problem
from kamrules.io import csvio
from kamrules.portfolio import spill
from kamrules.rulebook.model import Account, Rulebook

SLICE = 256  # records per task: large enough that pickling and messages are noise, small enough to spread
BLOCK = 1 << 20  # bytes read at a time from a streamed file
STREAM_ABOVE: int | None = None  # stream files larger than this (None: KAMRULES_MAX_FILE_BYTES); tests lower it
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")


# --------------------------------------------------------------------------- tasks

@dataclass(frozen=True)
class Pass:
    """Which pass of the run a task belongs to. A rulebook that ranks the book reads the inputs
    twice: first every account is measured (facts and metrics, no rule runs; the result holds
    (id, measures) per valid account and None per invalid one), then evaluated with `given`, the
    portfolio facts of the task's accounts by id (portfolio/rank.py; an id not in it is not ranked)."""

    measure: bool = False
    given: Mapping[str, Mapping[str, Any]] | None = None
    keep: spill.Spot | None = None  # measure: keep the task's accounts there for the second pass
    # a Kept task's accounts are the first pass's, in its order: instead of `given`, the ranking's
    # size and measure, and per valid account its (rank share, tier, ABC class) or None (unranked)
    ranked: tuple[int, str] = (0, "")
    placed: tuple[tuple[float, str, str] | None, ...] | None = None
    # --summary-only: the rows come back folded (TaskResult.part, portfolio/fold.Part), with what
    # the overview reads of each (views) or without
    folded: bool = False
    views: bool = False


EVALUATE = Pass()  # a run that does not rank: evaluate, nothing given


@dataclass(frozen=True)
class CsvSlice:
    """Whole records of one CSV export, with what a worker needs to read them alone."""

    file: str
    encoding: str
    delimiter: str
    header: csvio.Record
    columns: csvio.Columns
    first_line: int
    text: str
    progress: float  # the share of the run's input read once this task is done
    pass_: Pass = EVALUATE


@dataclass(frozen=True)
class AccountFile:
    file: str
    progress: float
    pass_: Pass = EVALUATE


@dataclass(frozen=True)
class Accounts:
    """Accounts read in the main process (the mapped CRM intake joins and aggregates there)."""

    accounts: tuple[tuple[Account, Location], ...]
    progress: float
    pass_: Pass = EVALUATE


@dataclass(frozen=True)
class Kept:
    """A task of a ranked run's second pass whose accounts the first pass kept (portfolio/spill.py),
    with where they came from, for a report (run.describe): lines first–last of a CSV file, or a
    whole account file (first = 0)."""

    spot: spill.Spot
    file: str
    first: int
    last: int
    count: int  # records read (valid or not)
    progress: float
    pass_: Pass = EVALUATE


Task = CsvSlice | AccountFile | Accounts | Kept


@dataclass(frozen=True)
class Invalid:
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class TaskResult:
    items: tuple[Any, ...]  # Row | Invalid, in input order (a folded pass: the Invalid only)
    engine: str = ""
    kept: bool = False  # measure: the accounts were kept where pass_.keep says
    part: Any = None  # a folded pass: the rows, as portfolio/fold.Part


@dataclass
class Tally:
    """What reading the inputs found before any account was evaluated (main process)."""

    problems: list[Problem] = field(default_factory=list)  # whole files that cannot be used
    invalid: int = 0  # accounts (or whole files) left out for those problems
    accounts: int = 0  # data records sliced so far, for the cap


def _too_many(file: str, line: int, limit: int) -> InputError:
    return InputError([Problem(
        "portfolio.too-many-accounts", f"the inputs hold more than {limit:,} accounts (reached on this line); "
        f"the limit is {limit:,}", Location(file, line, 1), expected=f"at most {limit:,} accounts in one run",
        hint="evaluate the accounts in several runs, or raise KAMRULES_MAX_ACCOUNTS if it is genuine")])


def tasks(files: Sequence[str], book: Rulebook, tally: Tally) -> Iterator[Task]:
    """The run's tasks, file by file, in order. Whole-file problems go to `tally`."""
    sizes = [_size(f) for f in files]
    total = float(sum(sizes)) or 1.0
    before = 0.0
    limit = settings.max_accounts()
    for file, size in zip(files, sizes):
        share = size / total
        if csvio.is_csv(file):
            yield from _csv_tasks(file, book, tally, limit, before, share)
        else:
            tally.accounts += 1
            if tally.accounts > limit:
                raise _too_many(file, 1, limit)
            yield AccountFile(file, before + share)
        before += share


def account_tasks(accounts: Sequence[tuple[Account, Location]]) -> Iterator[Accounts]:
    n = len(accounts) or 1
    for i in range(0, len(accounts), SLICE):
        part = tuple(accounts[i:i + SLICE])
        yield Accounts(part, min(1.0, (i + len(part)) / n))


def _size(file: str) -> int:
    try:
        return os.path.getsize(file)
    except OSError:
        return 0


# --------------------------------------------------------------------------- CSV text, a slice at a time

def _text(file: str) -> tuple[str, Iterator[tuple[str, float]]]:
    """The encoding, and the text in pieces with the share of the file read after each."""
    limit = settings.max_file_bytes() if STREAM_ABOVE is None else STREAM_ABOVE
    size = _size(file)
    if size > limit:
        return _stream(file)
    if size > BLOCK and _plain_utf8(file):
        # what reading it whole would give (strict UTF-8 throughout), decoded a block at a time: the
        # text of a 100,000-account export would otherwise be held whole, twice its size
        return _stream(file)
    text, encoding = csvio._read(file)  # the one decision and its errors, as for advise
    return encoding, iter([(text, 1.0)])


def _plain_utf8(file: str) -> bool:
    """Whether yamlio.decode would read the whole file as UTF-8 at once (its first case): no
    UTF-16 mark, no NUL byte in the first 8 KiB, strict UTF-8 to the end. Checked a block at a
    time; any other file is read whole, with the one decision and its errors."""
    try:
        with open(file, "rb") as fh:
            head = fh.read(BLOCK)
            if head.startswith((b"\xff\xfe", b"\xfe\xff")):
                return False
            body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
            if b"\x00" in body[:8192]:
                return False
            decoder = codecs.getincrementaldecoder("utf-8")()
            decoder.decode(body, final=False)
            while block := fh.read(BLOCK):
                decoder.decode(block, final=False)
            decoder.decode(b"", final=True)
    except (OSError, UnicodeDecodeError):
        return False
    return True


def _stream(file: str) -> tuple[str, Iterator[tuple[str, float]]]:
    fh = open(file, "rb")  # noqa: SIM115 - closed by the generator
    size = max(_size(file), 1)
    head = fh.read(BLOCK)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        fh.close()
        raise InputError([Problem("file.too-large", f"{file} is UTF-16 and larger than KAMRULES_MAX_FILE_BYTES; "
                                  "only UTF-8 and GBK exports are read as a stream", Location(file),
                                  hint="save the export as UTF-8 (Excel: 'CSV UTF-8')")])
    encoding = "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError:
        encoding = "gb18030"  # as yamlio.decode: not UTF-8 at all, so GBK (its superset GB18030)

    def pieces() -> Iterator[tuple[str, float]]:
        decoder = codecs.getincrementaldecoder(encoding)()
        block, read, lines = head, len(head), 0
        try:
            while block:
                try:
                    text = decoder.decode(block, final=len(block) < BLOCK)
                except UnicodeDecodeError as e:
                    raise InputError([Problem(
                        "file.encoding", f"the file is read as {encoding}, but after line {lines + 1:,} it is not "
                        f"{encoding} ({e.reason})", Location(file, lines + 1), hint="save the export in one "
                        "encoding (UTF-8)")]) from None
                lines += text.count("\n")
                yield text, read / size
                block = fh.read(BLOCK)
                read += len(block)
        finally:
            fh.close()
    return ("utf-8" if encoding == "utf-8-sig" else encoding), pieces()


# str.splitlines breaks lines there too; csvio does not (only \r\n, \r and \n end a line)
_OTHER_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def _split(text: str) -> list[str]:
    """text's physical lines with their endings (\\r\\n, \\r or \\n, as csvio counts them); the last
    may have none. str.splitlines where it agrees (nearly every export): a line at a time through
    _LINE was the largest part of the main process's reading."""
    if _OTHER_BREAKS.search(text) is None:
        return text.splitlines(True)
    return [m for m in _LINE.findall(text) if m]


def _records(pieces: Iterator[tuple[str, float]], first_line: int = 1) -> Iterator[tuple[int, str, float]]:
    """(first line, text, share of the file read) of each record: physical lines, joined while a
    quoted cell is open. A piece with no quote at all is a run of one-line records."""
    line_no = first_line
    parts: list[str] = []
    quotes = 0
    first = first_line
    carry = ""
    share = 0.0
    done = False
    pieces = iter(pieces)
    while not done:
        got = next(pieces, None)
        if got is None:  # the last line, if the text does not end with a line ending
            done, text, end = True, carry, len(carry)
        else:
            text, share = carry + got[0], got[1]
            end = len(text) - 1 if text.endswith("\r") else len(text)  # maybe the first half of \r\n
        lines = _split(text[:end])
        if not done and lines and not lines[-1].endswith(("\n", "\r")):
            carry = lines.pop() + text[end:]  # a line the next piece finishes
        else:
            carry = text[end:]
        if not parts and '"' not in text:
            for line in lines:
                yield line_no, line, share
                line_no += 1
            continue
        for line in lines:
            if not parts:
                first = line_no
            parts.append(line)
            quotes += line.count('"')
            line_no += 1
            if quotes % 2 == 0:
                yield first, "".join(parts) if len(parts) > 1 else parts[0], share
                parts, quotes = [], 0
    if parts:
        yield first, "".join(parts), 1.0  # an unclosed quote: the worker's scanner reports it


def _blank(text: str, delimiter: str) -> bool:
    """Nothing but delimiters and white space (no cell has a value)."""
    if '"' in text:
        return False
    return not text.replace(delimiter, "").strip()


def _csv_tasks(file: str, book: Rulebook, tally: Tally, limit: int, before: float, share: float
               ) -> Iterator[CsvSlice]:
    try:
        encoding, pieces = _text(file)
        head, records = _head(file, encoding, pieces)
    except InputError as e:
        tally.problems.extend(e.problems)
        tally.invalid += 1
        return
    header_line, header_text, delimiter = head
    header = next(csvio.scan(header_text, delimiter, file, 0, header_line))
    table = csvio.checked(csvio.Table(file, encoding, delimiter, header, ()))
    problems = list(table.header_problems)
    if len(header.cells) > csvio.MAX_COLUMNS:
        problems.append(Problem("csv.too-wide", f"the header has {len(header.cells):,} columns; the limit is "
                                f"{csvio.MAX_COLUMNS:,}", Location(file, header.line)))
    empty = [i for i, c in enumerate(header.cells) if not c.text]
    if empty and not problems:  # a value under an empty header spoils the file: look before evaluating
        used = _used_empty_column(file, delimiter, empty)
        if used is not None:
            i, line = used
            c = header.cells[i]
            problems.append(Problem("csv.empty-header", f"column {i + 1} has no header, but line {line} has a value "
                                    "in it", Location(file, c.line, c.col), hint="give the column a header, or "
                                    "delete it"))
    columns = csvio.resolve_columns(table, book)
    problems.extend(columns.problems)
    if any(p.code == "csv.missing-column" for p in problems):  # a report's title above the header?
        below = list(itertools.islice(records, csvio.LOOK_BELOW))
        records = itertools.chain(below, records)
        found = csvio.header_below(file, header, [next(csvio.scan(text, delimiter, file, 0, line))
                                                  for line, text, _ in below if not _blank(text, delimiter)], book)
        if found is not None:
            problems = [found]
    if problems:  # a bad header spoils every row: count them, evaluate none
        rows = sum(1 for _, text, _ in records if not _blank(text, delimiter))
        tally.problems.extend(problems)
        tally.invalid += max(rows, 1)
        return
    batch: list[str] = []
    first = 0
    rows = 0
    last_share = 0.0
    for line, text, part in records:
        if _blank(text, delimiter):
            if batch:
                batch.append(text)  # kept, so the line numbers of the slice stay right
            continue
        rows += 1
        tally.accounts += 1
        if tally.accounts > limit:
            raise _too_many(file, line, limit)
        if not batch:
            first = line
        batch.append(text)
        last_share = part
        if len(batch) >= SLICE:
            yield CsvSlice(file, encoding, delimiter, header, columns, first, "".join(batch),
                           before + share * last_share)
            batch = []
    if batch:
        yield CsvSlice(file, encoding, delimiter, header, columns, first, "".join(batch), before + share)
    if not rows:
        tally.problems.append(Problem("csv.no-rows", "the CSV file has a header but no accounts",
                                      Location(file, header.line, 1),
                                      hint="export at least one account under the header"))
        tally.invalid += 1


def _head(file: str, encoding: str, pieces: Iterator[tuple[str, float]]
          ) -> tuple[tuple[int, str, str], Iterator[tuple[int, str, float]]]:
    """The header record (line, text, delimiter) and an iterator over the records after it."""
    first_text, first_share = next(pieces, ("", 1.0))
    first_text = first_text.lstrip("\ufeff")
    csvio._refuse_binary(first_text, file)
    start, delimiter = csvio._directive(first_text)

    def all_pieces() -> Iterator[tuple[str, float]]:
        yield first_text[start:], first_share
        yield from pieces
    offset = 1 if start else 0  # an Excel 'sep=;' line is not a record
    records = _records(all_pieces(), 1 + offset)
    for line, text, _ in records:
        if _blank(text, delimiter):
            continue
        return (line, text, delimiter), records
    raise InputError([Problem("csv.empty", "the CSV file is empty", Location(file),
                              hint="export the accounts with a header row: 客户编号,客户名称,年交易额,…")])


def _used_empty_column(file: str, delimiter: str, empty: list[int]) -> tuple[int, int] | None:
    """The first (column, line) with a value under an empty header: one more pass over the file."""
    encoding, pieces = _text(file)
    _, records = _head(file, encoding, pieces)
    for line, text, _ in records:
        for rec in csvio.scan(text, delimiter, file, 0, line):
            for i in empty:
                if i < len(rec.cells) and rec.cells[i].text:
                    return i, line
    return None


# --------------------------------------------------------------------------- the worker's side

@dataclass(frozen=True)
class Evaluate:
    """A task → its rows: what each worker runs (and the main process, with one worker)."""

    book: Rulebook
    as_of: _dt.date | None
    lang: str
    engine: str
    packers: dict[bool, Any] = field(default_factory=dict, compare=False, repr=False)  # views → fold.Packer

    def __call__(self, task: Task) -> TaskResult:
        from kamrules.pipeline import evaluate
        from kamrules.portfolio import rank
        from kamrules.portfolio.portfolio import row_of

        items: list[Any] = []
        if task.pass_.measure:
            names = rank.wanted(self.book.playbook.portfolio)
            read = list(self._accounts(task))
            for got in read:
                items.append(None if isinstance(got, Invalid) else
                             (got[0].id, rank.measure_values(got[0], self.book, self.as_of, names)))
            keep = task.pass_.keep
            return TaskResult(tuple(items), kept=keep is not None and spill.write(keep, read))
        given, placed = task.pass_.given, task.pass_.placed
        size, by = task.pass_.ranked
        engine = ""
        j = 0
        for got in self._accounts(task):
            if isinstance(got, Invalid):
                items.append(got)
                continue
            account, where = got
            if placed is not None:
                p = placed[j]
                j += 1
                account = rank.supply_facts(account, self.book, {} if p is None else
                                            rank.supplied_values(self.book, size, by, p))
            elif given is not None:
                account = rank.supply_facts(account, self.book, given.get(account.id, {}))
            # a row reads the classes, scores and findings, never a match's bindings
            advice = evaluate(account, self.book, as_of=self.as_of, lang=self.lang, engine=self.engine,
                              with_bindings=False)
            engine = advice.engine
            items.append(row_of(advice, where))
        if task.pass_.folded:
            rows = [x for x in items if not isinstance(x, Invalid)]
            return TaskResult(tuple(x for x in items if isinstance(x, Invalid)), engine,
                              part=self._packer(task.pass_.views).pack(rows))
        return TaskResult(tuple(items), engine)

    def _packer(self, views: bool) -> Any:
        packer = self.packers.get(views)
        if packer is None:
            from kamrules.portfolio.fold import Packer

            packer = self.packers[views] = Packer(self.book, views)
        return packer

    def _accounts(self, task: Task) -> Iterator[tuple[Account, Location] | Invalid]:
        if isinstance(task, Accounts):
            yield from task.accounts
        elif isinstance(task, Kept):
            yield from spill.read(task.spot)
        elif isinstance(task, AccountFile):
            from kamrules.io.account import load_account

            try:
                yield load_account(task.file, self.book), Location(task.file)
            except InputError as e:
                yield Invalid(tuple(e.problems))
        else:
            yield from self._csv(task)

    def _csv(self, s: CsvSlice) -> Iterator[tuple[Account, Location] | Invalid]:
        try:
            records = [r for r in csvio.scan(s.text, s.delimiter, s.file, 0, s.first_line) if not r.blank]
        except InputError as e:  # an unclosed quote: the rest of the slice is one broken record
            yield Invalid(tuple(e.problems))
            return
        table = csvio.checked(csvio.Table(s.file, s.encoding, s.delimiter, s.header, tuple(records)))
        reader = csvio.rows_reader(s.columns, self.book)
        for row in table.rows:
            r = csvio.row_result(table, s.columns, row, self.book, reader)
            if r.account is None:
                yield Invalid(r.problems)
            else:
                yield r.account, Location(s.file, r.line)


# --------------------------------------------------------------------------- progress

class Progress:
    """A one-line bar on standard error, redrawn at most ten times a second; only on a terminal."""

    def __init__(self, stream: IO[str] | None = None, *, enabled: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty()) if enabled is None else enabled
        self.clock = clock
        self.start = clock()
        self.shown = 0.0
        self.drawn = False

    def update(self, share: float, accounts: int) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if now - self.shown < 0.1 and share < 1.0:
            return
        self.shown = now
        width = 30
        full = int(max(0.0, min(share, 1.0)) * width)
        self._put(f"\r\x1b[Kkamrules: [{'#' * full}{'.' * (width - full)}] {share * 100:3.0f}% "
                  f"{accounts:,} accounts {now - self.start:.0f} s")
        self.drawn = True

    def close(self) -> None:
        if self.enabled and self.drawn:
            self._put("\r\x1b[K")

    def _put(self, text: str) -> None:
        # The one write that bypasses textsafe.terminal: its controls (carriage return, erase
        # line) are the bar itself, and it holds numbers only, never input text.
        self.stream.write(text)
        self.stream.flush()
