"""Rows in input order → the portfolio, keeping per account only what the output needs.

With a table of every account (md, csv, json), the rows themselves are the output: they are
kept. With `--summary-only`, a row is folded into a few columns and dropped:

    per account   final class (1 byte), revenue and the company's revenue (8 bytes each),
                  manager (an index, 4 bytes), its id (in a ranked run its index among the
                  first pass's ids, 4 bytes, and 8 bytes where it was first seen, for duplicate
                  ids: no string and no dict of ids), its
                  most severe finding and health (9 bytes: --fail-on's message)
    with views    (a ranked book: the portfolio overview) each dimension's class (2 bytes each)
                  and the fired rules (4 bytes: an index into the combinations seen); the name
                  of key accounts and of accounts a data-check rule fired on; the rows with
                  data checks
    per run       the dates seen, the severities seen (for --fail-on), the engine
    a few         id and name of the accounts at or over the major-customer share

The summary (portfolio.summarise) reads these columns (`Fold.columns`; a list of rows gives the
same columns, portfolio.columns_of), so one implementation serves both modes; the overview reads
a read-only view that rebuilds slim rows from them. A summary that reads another field of `Row`
adds a column here (tests/test_scale.py checks the fold's against the rows').

With `--summary-only` the columns are made where the rows are, in the workers (`Packer` → a
`Part` per task), and the main process appends them (`Fold.merge`): a Row is a dataclass of a
dozen dicts and tuples, and pickling it, sending it and reading it back cost the main process
more than all its other work per account (measured: ≈ 26 µs to unpickle and ≈ 20 µs to fold
each row, against ≈ 2 µs to merge it). A part's tables (dates, severities, managers, classes,
fired rules) are its own; merge gives them the fold's codes in the order the rows come, so the
fold is exactly the one adding the rows one by one made (tests/test_fold_parts.py).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from abc import abstractmethod
from array import array
from collections import Counter
from typing import Any, Hashable, Iterator, Mapping, Sequence, TypeVar, cast, overload

from kamrules.core.errors import Location, Problem
from kamrules.portfolio.ids import Picked
from kamrules.portfolio.overview import RowView
from kamrules.portfolio.portfolio import DIMENSIONS, MAJOR_DEFAULT, Columns, Row, _param, columns_of
from kamrules.rulebook.model import SEVERITIES, Rulebook

T = TypeVar("T")

_NONE = math.nan  # a missing number in a column


def _num(v: float | None) -> float:
    return _NONE if v is None else float(v)


def _first_index(values: list[str]) -> dict[str | None, int]:
    """value → list.index(value), as a dict (None, and any value not there: ask with a default)."""
    at: dict[str | None, int] = {}
    for k, v in enumerate(values):
        at.setdefault(v, k)
    return at


class Fold:
    def __init__(self, book: Rulebook, *, keep_rows: bool, views: bool = False,
                 known: Sequence[str] | None = None) -> None:
        """views: also keep, without the rows, what the portfolio overview reads of each account
        (a ranked book's summary): its classes and fired rules as small codes, its name only where
        the overview shows it, and the rows that carry data checks (the Markdown summary lists them).
        known: the ids a first pass read (rank.Measured.ids, each once): a row given with its index
        in them (add(row, index)) is checked for a duplicate id by that index, and its id is kept
        as that index — no string and no index of ids here. Rows without one go by id, as in a
        one-pass run."""
        self.keep = keep_rows
        self.known = known
        self._book = book
        self._packer: Packer | None = None  # add() without the rows: a part of one
        # by index in `known`: where the account was first seen (packed, as `first`; -1: not yet)
        self._first_at = array("q", [-1]) * len(known) if known is not None else array("q")
        # the ids of the folded accounts, in fold order: by their index in `known` where they have
        # one (no string per account: ids.Picked), else the string (at -1 - its place in _other_ids)
        self._id_at = array("i")
        self._other_ids: list[str] = []
        self.ids: Sequence[str] = Picked(known, self._id_at, self._other_ids) if known is not None else self._other_ids
        self.views = views and not keep_rows
        self.checked: list[Row] = []
        self._class_codes: dict[str, dict[str | None, int]] = {d: {None: 0} for d in book.dimensions}
        self._classes = {d: array("h") for d in book.dimensions}
        self._fired_codes: dict[tuple[str, ...], int] = {}
        self._fired = array("i")
        self._view_names: dict[int, str] = {}
        self._view_checks: dict[int, tuple[Any, Mapping[str, Any]]] = {}  # data checks: (row.checks, row.figures)
        self.rows: list[Row] = []
        # id → where it was first seen, packed: file index << 32 | line (a "file:line" string per
        # account cost more than all the columns together); the rows not given with an index
        self.first: dict[str, int] = {}
        self._files: dict[str, int] = {}
        self.duplicates: list[Problem] = []
        self.dates: set[_dt.date] = set()
        self.severities: set[str] = set()
        self.engine = ""
        self._codes = {d: [v for v, _ in book.dimensions[d].values] if d in book.dimensions else []
                       for d in DIMENSIONS}
        self._dims = {d: array("b") for d in DIMENSIONS}
        self._revenue = array("d")
        self._company = array("d")
        self._manager = array("i")
        self._managers: dict[str, int] = {}
        self._names: dict[int, tuple[str, str]] = {}  # index → (id, name) of the major customers
        # for --fail-on's message (which accounts, in the table's order): per account the index of its
        # most severe finding in SEVERITIES (len(SEVERITIES): none) and its health score
        self._worst = array("b")
        self._health = array("d")

    def __len__(self) -> int:
        return len(self._revenue)

    def add(self, row: Row, index: int | None = None) -> bool:
        """Fold one row; False (and a problem) when its id was seen before: the first one counts.
        index: the row's id is known[index] (see __init__)."""
        if not self.keep:
            if self._packer is None:
                self._packer = Packer(self._book, self.views)
            return self.merge(self._packer.pack((row,)), (index,)) == 0
        if not self._take_id(row.id, row.where, index):
            return False
        self.dates.add(row.as_of)
        self.severities |= row.severities
        self.rows.append(row)
        self._revenue.append(0.0)  # the count; the rows are the data
        return True

    def _take_id(self, ident: str, where: str, index: int | None) -> bool:
        """Note where an id is first seen; False (and a problem) when it was seen before."""
        at = index if self.known is not None else None  # by index, not by id (no string made)
        if at is not None:
            seen = self._first_at[at]
        else:
            got = self.first.get(ident)
            seen = -1 if got is None else got
        if seen >= 0:
            self.duplicates.append(Problem(
                "portfolio.duplicate-id", f"the id '{ident}' is already used by {self._unpack(seen)}", _where(where),
                "id", "a unique id per account", "give one of the two accounts another id"))
            return False
        if at is not None:
            self._first_at[at] = self._pack(where)
            self._id_at.append(at)
        else:
            self.first[ident] = self._pack(where)
            if self.known is not None:
                self._id_at.append(-1 - len(self._other_ids))
            self._other_ids.append(ident)
        return True

    def merge(self, part: Part, indexes: Sequence[int | None] | None = None) -> int:
        """Fold a task's rows, packed (keep_rows=False): what add() does for each, in their order.
        indexes: per row, as add's index. Returns the number of duplicate ids (not folded)."""
        n = len(part.ids)
        where, take = part.wheres, self._take_id
        kept = [k for k, ident in enumerate(part.ids) if take(ident, where[k], indexes[k] if indexes else None)]
        if not kept:
            return n
        every = len(kept) == n
        base = len(self._revenue)

        def pick(column: array[Any]) -> Any:
            return column if every else [column[k] for k in kept]

        self.dates.update(part.dates[c] for c in set(pick(part.date_at)))
        for c in set(pick(part.severity_at)):
            self.severities |= part.severities[c]
        for column, src in zip(self._dims.values(), part.dims):
            column.extend(pick(src))
        self._worst.extend(pick(part.worst))
        self._health.extend(pick(part.health))
        self._revenue.extend(pick(part.revenue))
        self._company.extend(pick(part.company))
        self._manager.extend(_recode(pick(part.manager_at), part.managers, self._managers))
        position = range(n) if every else {k: j for j, k in enumerate(kept)}
        for k, name in part.major.items():
            if every or k in position:
                self._names[base + position[k]] = (part.ids[k], name)
        if self.views:
            for (d, codes), (values, src) in zip(self._class_codes.items(), part.classes):
                self._classes[d].extend(_recode(pick(src), values, codes))
            self._fired.extend(_recode(pick(part.fired_at), part.fired, self._fired_codes))
            for k, name in part.names.items():
                if every or k in position:
                    self._view_names[base + position[k]] = name
            for k, checks in part.checks.items():
                if every or k in position:
                    self._view_checks[base + position[k]] = checks
            self.checked.extend(row for k, row in part.checked.items() if every or k in position)
        return n - len(kept)

    def row_views(self) -> Sequence[RowView]:
        """What the overview reads of each account, in fold order (views=True)."""
        return _RowViews(self)

    def at_or_above(self, limit: int) -> list[str]:
        """The ids of the accounts with a finding at SEVERITIES[limit] or above, in the order of the
        table of accounts (portfolio.sort_key: final class, health, id); keep_rows=False."""
        ids = self.ids
        finals = self._dims["final"]
        last = len(self._codes["final"])
        hit = [(finals[i] if finals[i] >= 0 else last, h if (h := self._health[i]) == h else math.inf, ids[i])
               for i in range(len(self)) if self._worst[i] <= limit]
        return [ident for _, _, ident in sorted(hit)]

    def _pack(self, where: str) -> int:
        file, _, line = where.rpartition(":")
        if not (file and line.isdigit() and int(line) < 1 << 32):
            file, line = where, "0"
        return self._files.setdefault(file, len(self._files)) << 32 | int(line)

    def _unpack(self, packed: int) -> str:
        files = {i: f for f, i in self._files.items()}
        file, line = files[packed >> 32], packed & 0xFFFFFFFF
        return f"{file}:{line}" if line else file

    def view(self) -> Sequence[Row]:
        """What the summaries read: the rows, or slim rows rebuilt from the columns."""
        return self.rows if self.keep else _View(self)

    def columns(self) -> Columns:
        """What portfolio.summarise reads, straight from the columns (a slim row is made only for
        the few accounts at or over the major-customer share)."""
        if self.keep:
            return columns_of(self.rows)
        finals = self._codes["final"]
        names = {i: m for m, i in self._managers.items()}
        return Columns([finals[k] if k >= 0 else None for k in self._dims["final"]] if finals else [None] * len(self),
                       [None if v != v else v for v in self._revenue],  # NaN: missing
                       [None if v != v else v for v in self._company],
                       [names[m] if m >= 0 else None for m in self._manager], _View(self).__getitem__)


class _Slim:
    """What the summaries read of a row, as a plain object: a frozen dataclass costs several
    times more to build, and the summaries walk the whole portfolio a few times."""

    __slots__ = ("id", "name", "dims", "revenue", "company_revenue", "manager")

    def __init__(self, ident: str, name: str, dims: dict[str, str | None], revenue: float | None,
                 company_revenue: float | None, manager: str | None) -> None:
        self.id, self.name, self.dims = ident, name, dims
        self.revenue, self.company_revenue, self.manager = revenue, company_revenue, manager

    @property
    def revenue_share(self) -> float | None:
        if self.revenue is None or not self.company_revenue:
            return None
        return self.revenue / self.company_revenue


class _Columns(Sequence[T]):
    """A sequence whose i-th item is rebuilt from the fold's columns on demand (`_at`)."""

    f: Fold

    @abstractmethod  # Sequence's metaclass is ABCMeta: a subclass without _at cannot be made
    def _at(self, i: int) -> T: ...

    def __len__(self) -> int:
        return len(self.f)

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[T]: ...

    def __getitem__(self, i: int | slice) -> T | Sequence[T]:
        if isinstance(i, slice):
            return [self._at(j) for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._at(i)

    def __iter__(self) -> Iterator[T]:
        for i in range(len(self)):
            yield self._at(i)


class _View(_Columns[Row]):
    """Slim rows rebuilt from the fold's columns, one at a time (duck-typed as Row: the fields the
    summaries read)."""

    def __init__(self, fold: Fold) -> None:
        self.f = fold
        self.managers = {i: m for m, i in fold._managers.items()}
        self.dims_of: dict[tuple[int, ...], dict[str, str | None]] = {}  # shared: a few combinations

    def _at(self, i: int) -> Row:
        f = self.f
        key = tuple(f._dims[d][i] for d in DIMENSIONS)
        dims = self.dims_of.get(key)
        if dims is None:
            dims = self.dims_of[key] = {d: (f._codes[d][k] if k >= 0 else None)
                                        for d, k in zip(DIMENSIONS, key) if f._codes[d]}
        ident, name = f._names.get(i, ("", ""))
        m = f._manager[i]
        revenue, company = f._revenue[i], f._company[i]
        slim = _Slim(ident, name, dims, None if revenue != revenue else revenue,  # NaN: missing
                     None if company != company else company, self.managers[m] if m >= 0 else None)
        return cast(Row, slim)


class _RowViews(_Columns[RowView]):
    """RowViews rebuilt from the fold's codes, one at a time."""

    def __init__(self, fold: Fold) -> None:
        self.f = fold
        self.ids = fold.ids  # the fold's order (duplicates are not folded)
        self.managers = {i: m for m, i in fold._managers.items()}
        self.values = {d: list(codes) for d, codes in fold._class_codes.items()}
        self.fired = list(fold._fired_codes)

    def counted(self, dims: Sequence[str]) -> list[tuple[tuple[str | None, ...], str | None, tuple[str, ...], int]]:
        """overview._groups from the codes: (classes in `dims`, manager, fired rules, accounts) per
        combination, counted over the columns without a RowView per account."""
        f = self.f
        present = [d for d in dims if d in self.values]
        at = {d: k for k, d in enumerate(present)}
        out = []
        for key, n in Counter(zip(*(f._classes[d] for d in present), f._manager, f._fired)).items():
            classes = tuple(self.values[d][key[at[d]]] if d in at else None for d in dims)
            m = key[-2]
            out.append((classes, self.managers[m] if m >= 0 else None, self.fired[key[-1]], n))
        return out

    def named(self) -> Iterator[RowView]:
        """The accounts whose name the fold kept (key accounts, accounts with a data check), in fold order."""
        for i in self.f._view_names:
            yield self._at(i)

    def _at(self, i: int) -> RowView:
        f = self.f
        m = f._manager[i]
        checks, figures = f._view_checks.get(i, ((), {}))
        return RowView(self.ids[i], f._view_names.get(i, ""),
                       {d: self.values[d][f._classes[d][i]] for d in self.values},
                       self.fired[f._fired[i]], self.managers[m] if m >= 0 else None, checks, figures)


def _where(where: str) -> Location:
    file, _, line = where.rpartition(":")
    if file and line.isdigit():
        return Location(file, int(line))
    return Location(where)


K = TypeVar("K", bound=Hashable)


def _recode(local: Sequence[int], table: Sequence[K], codes: dict[K, int]) -> list[int]:
    """A part's codes (indexes into its `table`; -1: none) → the fold's, whose `codes` give each
    value a code on its first use, in row order: as adding the rows one by one does."""
    mine: list[int | None] = [None] * len(table)
    out: list[int] = []
    for c in local:
        if c < 0:
            out.append(-1)
            continue
        g = mine[c]
        if g is None:
            value = table[c]
            g = codes.get(value)
            if g is None:
                g = codes[value] = len(codes)
            mine[c] = g
        out.append(g)
    return out


# --------------------------------------------------------------------------- made in the workers

@dataclasses.dataclass(frozen=True)
class Part:
    """A task's rows as the fold keeps them (Packer.pack; Fold.merge), row k of the task at k."""

    ids: tuple[str, ...]
    wheres: tuple[str, ...]
    dates: tuple[_dt.date, ...]  # the distinct as-of dates; date_at[k] indexes them
    date_at: array[int]
    severities: tuple[frozenset[str], ...]  # the distinct sets; severity_at[k] indexes them
    severity_at: array[int]
    dims: tuple[array[int], ...]  # per DIMENSIONS: the value's index in the dimension's values (-1: none)
    worst: array[int]
    health: array[float]
    revenue: array[float]
    company: array[float]
    managers: tuple[str, ...]
    manager_at: array[int]  # -1: none
    major: Mapping[int, str]  # k → name, at or over the major-customer share
    # views only (else empty): per book dimension its values and codes; the fired rules; what the
    # overview names and lists
    classes: tuple[tuple[tuple[str | None, ...], array[int]], ...]
    fired: tuple[tuple[str, ...], ...]
    fired_at: array[int]
    names: Mapping[int, str]
    checks: Mapping[int, tuple[Any, Mapping[str, Any]]]
    checked: Mapping[int, Row]


class Packer:
    """Rows → a Part: every code that depends only on the rulebook is made here, in the worker."""

    def __init__(self, book: Rulebook, views: bool) -> None:
        self.views = views
        codes = {d: [v for v, _ in book.dimensions[d].values] if d in book.dimensions else [] for d in DIMENSIONS}
        self._dims = tuple((d, _first_index(codes[d])) for d in DIMENSIONS)
        self._classes = tuple(book.dimensions)
        self._name_checks = frozenset(book.playbook.portfolio.checks)
        self._major = _param(book, "major_customer_share", MAJOR_DEFAULT)
        self._worst_of: dict[frozenset[str], int] = {}  # a handful of sets of severities in a whole book

    def pack(self, rows: Sequence[Row]) -> Part:
        dates: dict[_dt.date, int] = {}
        sets: dict[frozenset[str], int] = {}
        managers: dict[str, int] = {}
        date_at, severity_at, worst, manager_at = array("h"), array("h"), array("b"), array("i")
        health, revenue, company = array("d"), array("d"), array("d")
        dims = tuple((at_code, array("b")) for _, at_code in self._dims)
        major: dict[int, str] = {}
        views = self.views
        values: tuple[dict[str | None, int], ...] = tuple({None: 0} for _ in self._classes)
        classes = tuple(array("h") for _ in self._classes)
        fired: dict[tuple[str, ...], int] = {}
        fired_at = array("i")
        names: dict[int, str] = {}
        checks: dict[int, tuple[Any, Mapping[str, Any]]] = {}
        checked: dict[int, Row] = {}
        for k, row in enumerate(rows):
            date_at.append(dates.setdefault(row.as_of, len(dates)))
            s = row.severities
            severity_at.append(sets.setdefault(s, len(sets)))
            w = self._worst_of.get(s)
            if w is None:
                w = self._worst_of[s] = min((SEVERITIES.index(x) for x in s), default=len(SEVERITIES))
            worst.append(w)
            given = row.dims
            for (d, _), (at_code, column) in zip(self._dims, dims):
                column.append(at_code.get(given.get(d), -1))
            health.append(_num(row.scores.get("health")))
            revenue.append(_num(row.revenue))
            company.append(_num(row.company_revenue))
            manager_at.append(managers.setdefault(row.manager, len(managers)) if row.manager else -1)
            share = row.revenue_share
            if share is not None and share >= self._major:
                major[k] = row.name
            if not views:
                continue
            for d, local, column in zip(self._classes, values, classes):
                v = row.classes.get(d)
                column.append(local.setdefault(v, len(local)))
            fired_at.append(fired.setdefault(row.fired, len(fired)))
            # the overview names key accounts (no profit figure) and accounts with a data check (a rule or a range)
            checked_by_rule = not self._name_checks.isdisjoint(row.fired)
            if row.classes.get("final") == "key" or checked_by_rule or row.checks:
                names[k] = row.name
            if row.checks or checked_by_rule:  # the overview's one list of data checks reads these
                checks[k] = (row.checks, row.figures)
            if row.checks:
                checked[k] = row
        return Part(tuple(r.id for r in rows), tuple(r.where for r in rows), tuple(dates), date_at, tuple(sets),
                    severity_at, tuple(column for _, column in dims), worst, health, revenue, company,
                    tuple(managers), manager_at, major,
                    tuple((tuple(local), column) for local, column in zip(values, classes)) if views else (),
                    tuple(fired), fired_at, names, checks, checked)

