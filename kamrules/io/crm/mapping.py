"""A mapping file → a checked MappingSpec, against the rulebook it will feed.

The grammar (grammar.py) checks the file's shape; this module checks what needs the rulebook:
each accounts column names a fact (by name, label or alias), each deals column a deal field,
units fit their fact, value maps give values the fact accepts, every aggregation has one
operation over fields of the right kind into a fact of the right type, and money is never
compared across currencies: the export's currency is stated, and a currency other than the
rulebook's has a rate. Every problem is collected, with file:line:col and a hint.
"""
from __future__ import annotations

import datetime as _dt
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Mapping

from kamrules.core import yamlio
from kamrules.core.errors import Collector, InputError, Location, suggest
from kamrules.core.grammar import INVALID, read_doc
from kamrules.core.values import ValueProblem, parse_date, parse_scalar
from kamrules.core.yamlio import Doc, format_path
from kamrules.core.yamlio import Path as YPath
from kamrules.io.account import FREE_KEYS, key_index
from kamrules.io.csvio import lookup_fact
from kamrules.io.crm.grammar import GRAMMAR, OPS
from kamrules.rulebook.model import FactDef, Rulebook


class MappingError(InputError):
    """A mapping file that cannot be used: exit 2, every problem listed."""


# --------------------------------------------------------------------------- vocabulary

# What one unit of a money column's bare numbers is worth (1200 under 万 is 12,000,000).
MONEY_UNITS: dict[str, float] = {
    "元": 1, "cny": 1, "rmb": 1, "¥": 1, "￥": 1, "人民币": 1, "1": 1,
    "千": 1e3, "千元": 1e3, "k": 1e3, "thousand": 1e3, "thousands": 1e3,
    "万": 1e4, "万元": 1e4,
    "百万": 1e6, "百万元": 1e6, "m": 1e6, "mn": 1e6, "mio": 1e6, "million": 1e6, "millions": 1e6,
    "千万": 1e7, "千万元": 1e7, "亿": 1e8, "亿元": 1e8, "bn": 1e9, "billion": 1e9,
}
PERCENT_UNITS = ("%", "％", "percent", "pct")
# Units that only name what a number counts: accepted when they fit the fact's own unit.
PLAIN_UNITS = {"天": "days", "日": "days", "days": "days", "day": "days", "人": "people", "people": "people",
               "年": "years", "years": "years", "笔": "orders", "单": "orders", "orders": "orders", "分": "points",
               "points": "points"}

# Deal fields: what a deals column can give, and its kind.
DEAL_FIELDS: dict[str, str] = {
    "id": "text", "name": "text", "amount": "money", "stage": "stage", "status": "status", "won": "bool",
    "closed": "bool", "close_date": "date", "created_date": "date", "last_activity": "date",
    "modified_date": "date", "currency": "currency", "owner": "text", "probability": "percent",
}
# Computed per deal: days from its latest activity (last_activity, modified, created, or a close
# date already past) to --as-of.
COMPUTED_FIELDS: dict[str, str] = {"days_since_activity": "integer"}
ALL_DEAL_FIELDS = {**DEAL_FIELDS, **COMPUTED_FIELDS}
DATE_FIELDS = tuple(k for k, v in DEAL_FIELDS.items() if v == "date")
NUMERIC_FIELDS = ("amount", "probability", "days_since_activity")
STATUS_VALUES = ("won", "lost", "open")
# Stage words every mapping may use, whatever the rulebook's opportunity stages are.
BASE_STAGES = ("open", "won", "lost")
DATE_ORDERS = ("YMD", "MDY", "DMY")


def norm(text: str) -> str:
    """How headers and mapped values are compared: NFKC (full-width → ASCII), case-folded, spaces
    collapsed — 'Close Date', 'close  date' and 'ＣＬＯＳＥ ＤＡＴＥ' are one header."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def value_key(raw: Any) -> str:
    """A cell value or a value-map key, as compared: 1.0 and '1' are the same, True is 'true'."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return norm(str(raw))


# --------------------------------------------------------------------------- the model

@dataclass(frozen=True)
class ColumnSpec:
    header: str  # as written in the mapping
    target: str  # a fact (accounts) or a deal field (deals)
    location: Location  # of the header key in the mapping file
    factor: float = 1.0  # multiplies bare numbers (money units)
    percent: bool = False  # a bare number is a percent (18 → 18%)
    currency: str = ""  # the column's own currency
    values: Mapping[str, Any] = field(default_factory=dict)  # value_key(export value) → kamrules value
    value_names: tuple[str, ...] = ()  # the value map's keys as written, for messages
    dates: str = ""  # date order for text dates

    @property
    def key(self) -> str:
        return norm(self.header)


@dataclass(frozen=True)
class TableSpec:
    kind: str  # accounts | deals
    file: str  # a file name pattern
    location: Location
    columns: tuple[ColumnSpec, ...]
    ignored: tuple[str, ...] = ()  # headers the mapping ignores on purpose
    sheet: str | int | None = None
    currency: str = ""
    dates: str = "YMD"
    join_column: str = ""  # deals: the column naming the account
    join_to: str = "id"

    def column(self, target: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.target == target), None)


@dataclass(frozen=True)
class Period:
    name: str  # a named period, or "" for fixed dates
    start: _dt.date | None = None  # fixed bounds, both included
    end: _dt.date | None = None

    def bounds(self, as_of: _dt.date) -> tuple[_dt.date | None, _dt.date | None]:
        """The first and last day of the period (None: open-ended), relative to as_of."""
        y = as_of.year
        if not self.name:
            return self.start, self.end
        if self.name == "last_12_months":
            return _years_before(as_of, 1) + _dt.timedelta(days=1), as_of
        if self.name == "previous_12_months":
            return _years_before(as_of, 2) + _dt.timedelta(days=1), _years_before(as_of, 1)
        if self.name == "this_year":
            return _dt.date(y, 1, 1), as_of
        if self.name == "last_year":
            return _dt.date(y - 1, 1, 1), _dt.date(y - 1, 12, 31)
        if self.name == "last_year_to_date":
            return _dt.date(y - 1, 1, 1), _years_before(as_of, 1)
        if self.name == "past":
            return None, as_of
        if self.name == "future":
            return as_of + _dt.timedelta(days=1), None
        if self.name.startswith("last_") and self.name.endswith("_days"):
            n = int(self.name[len("last_"):-len("_days")])
            return as_of - _dt.timedelta(days=n - 1), as_of
        return None, None  # all

    def describe(self, as_of: _dt.date) -> str:
        lo, hi = self.bounds(as_of)
        return f"{lo.isoformat() if lo else '…'} to {hi.isoformat() if hi else '…'}"


def _years_before(d: _dt.date, n: int) -> _dt.date:
    try:
        return d.replace(year=d.year - n)
    except ValueError:  # 29 February
        return d.replace(year=d.year - n, day=28)


@dataclass(frozen=True)
class Filter:
    statuses: frozenset[str] | None = None  # won | lost | open
    stages: frozenset[str] | None = None
    period: Period | None = None
    date: str = "close_date"

    @property
    def empty(self) -> bool:
        return self.statuses is None and self.stages is None and self.period is None


@dataclass(frozen=True)
class Aggregate:
    fact: str
    op: str  # sum | count | max | min | latest | ratio | list
    location: Location
    fields: tuple[str, ...] = ()  # the deal field(s) the operation reads; count: ()
    items: tuple[tuple[str, str], ...] = ()  # list: (item field, deal field)
    where: Filter = Filter()
    of: Filter | None = None  # ratio: the denominator's deals


@dataclass(frozen=True)
class MappingSpec:
    file: str
    currency: str  # the export's currency ("" only when it has no money)
    rates: Mapping[str, float]  # currency → units of the rulebook's currency
    book_currency: str  # "" when the rulebook states none
    accounts: TableSpec
    deals: TableSpec | None
    aggregates: tuple[Aggregate, ...]
    stages: tuple[str, ...]  # the deal stage words this mapping may use

    def tables(self) -> tuple[TableSpec, ...]:
        return (self.accounts,) + ((self.deals,) if self.deals else ())

    def rate(self, currency: str) -> float | None:
        """Units of the rulebook's currency per one unit of `currency`; None when unknown."""
        if not currency or currency == self.book_currency or not self.book_currency:
            return 1.0
        return self.rates.get(currency)


# --------------------------------------------------------------------------- loading

def load_mapping(file: str, book: Rulebook, *, text: str | None = None) -> MappingSpec:
    """Read and check a mapping file. Raises MappingError listing every problem."""
    try:
        doc = yamlio.load(file, text=text) if text is not None else yamlio.load(file)
    except InputError as e:
        raise MappingError(e.problems) from None
    out = Collector()
    if doc.data is None:
        out.add("mapping.empty", "the mapping file is empty", Location(file, 1, 1),
                expected="accounts:, deals:, aggregate:", hint="write a starting one with 'kamrules init mapping FILE...'")
        raise MappingError(out.problems)
    data = read_doc(GRAMMAR, doc, out, "mapping")
    if not isinstance(data, dict):
        raise MappingError(out.problems)
    spec = _Checker(doc, book, out).spec(data)
    if out.problems or spec is None:
        raise MappingError(out.problems)
    return spec


def _ok(v: Any) -> bool:
    return v is not None and v is not INVALID


def stage_words(book: Rulebook) -> tuple[str, ...]:
    """The rulebook's opportunity stages (when it declares opportunities with a stage), and open/won/lost."""
    opp = book.facts.get("opportunities")
    stage = next((f for f in opp.items if f.name == "stage"), None) if opp else None
    own = stage.value_names if stage is not None and stage.type == "enum" else ()
    return tuple(dict.fromkeys((*own, *BASE_STAGES)))


class _Checker:
    def __init__(self, doc: Doc, book: Rulebook, out: Collector) -> None:
        self.doc, self.book, self.out = doc, book, out
        self.index = key_index(book)
        self.stages = stage_words(book)

    def err(self, code: str, message: str, path: YPath, expected: str = "", hint: str = "", *,
            value: bool = True) -> None:
        loc = self.doc.value_loc(path) if value else self.doc.loc(path)
        self.out.add(code, message, loc, format_path(path), expected, hint)

    def spec(self, data: dict[str, Any]) -> MappingSpec | None:
        top_dates = data["dates"] if _ok(data.get("dates")) else "YMD"
        acc_raw, deals_raw = data.get("accounts"), data.get("deals")
        accounts = self.table("accounts", acc_raw, top_dates) if isinstance(acc_raw, dict) else None
        deals = self.table("deals", deals_raw, top_dates) if isinstance(deals_raw, dict) else None
        aggregates = self.aggregates(data.get("aggregate"), deals)
        rates = {k: float(v) for k, v in (data.get("rates") or {}).items() if _ok(v)}
        for k, v in rates.items():
            if v <= 0:
                self.err("mapping.rate", f"the rate for {k} is {v:g}; a rate is how much of the rulebook's currency "
                         f"one {k} is worth", ("rates", k), "a number above 0", f"e.g. {k}: 7.1")
        currency = data["currency"] if _ok(data.get("currency")) else ""
        if accounts is None:
            return None
        spec = MappingSpec(self.doc.file, currency, rates, self.book.currency, accounts, deals, tuple(aggregates),
                           self.stages)
        self.coverage(spec, data)
        self.currencies(spec, data)
        return spec

    # -- tables

    def table(self, kind: str, t: dict[str, Any], top_dates: str) -> TableSpec | None:
        path: YPath = (kind,)
        if not _ok(t.get("file")) or not isinstance(t.get("columns"), dict):
            return None
        dates = t["dates"] if _ok(t.get("dates")) else top_dates
        columns: list[ColumnSpec] = []
        ignored: list[str] = []
        seen_headers: dict[str, str] = {}
        seen_targets: dict[str, str] = {}
        for header, spec in t["columns"].items():
            cpath = path + ("columns", header)
            if spec is INVALID:
                continue
            other = seen_headers.setdefault(norm(header), header)
            if other != header:
                self.err("mapping.duplicate-header", f"'{header}' and '{other}' are the same header", cpath,
                         hint="headers are matched ignoring case and spaces: keep one", value=False)
                continue
            if spec is None:
                ignored.append(header)
                continue
            spec = spec if isinstance(spec, dict) else {"to": spec}
            targets: list[Any] = spec["to"] if isinstance(spec.get("to"), list) else [spec.get("to")]
            for n, to in enumerate(targets):
                if not _ok(to):
                    continue
                one = {**spec, "to": to}
                at = cpath + (("to",) if isinstance(self.doc_at(cpath), dict) else ()) + \
                    ((n,) if isinstance(spec.get("to"), list) else ())
                col = self.column(kind, header, one, cpath, at, dates)
                if col is None:
                    continue
                first = seen_targets.setdefault(col.target, header)
                if first != header or any(c.target == col.target for c in columns):
                    self.err("mapping.duplicate-target", f"'{header}' and '{first}' both give '{col.target}'", cpath,
                             hint="keep one of the two columns (leave the other empty to ignore it)", value=False)
                    continue
                columns.append(col)
        join_column, join_to = "", "id"
        if kind == "deals" and isinstance(t.get("join"), dict):
            j = t["join"]
            join_column = j["column"] if _ok(j.get("column")) else ""
            join_to = j["to"] if _ok(j.get("to")) else "id"
        sheet = t["sheet"] if _ok(t.get("sheet")) else None
        if isinstance(sheet, int) and sheet < 1:
            self.err("mapping.sheet", f"sheet {sheet} does not exist; sheets are numbered from 1", path + ("sheet",),
                     "a sheet name, or a number from 1")
        table = TableSpec(kind, t["file"], self.doc.loc(path), tuple(columns), tuple(ignored), sheet,
                          t["currency"] if _ok(t.get("currency")) else "", dates, join_column, join_to)
        if kind == "accounts":
            self.required_facts(table, path)
        return table

    def column(self, kind: str, header: str, spec: dict[str, Any], path: YPath, tpath: YPath,
               dates: str) -> ColumnSpec | None:
        to = spec.get("to")
        if not _ok(to):
            return None
        unit = str(spec["unit"]) if _ok(spec.get("unit")) else ""
        if kind == "accounts":
            target, type_, fact = self.fact_target(str(to), tpath)
        else:
            target, type_, fact = self.field_target(str(to), tpath), "", None
            type_ = DEAL_FIELDS.get(target or "", "")
        if target is None:
            return None
        factor, percent = self.unit(unit, type_, fact, target, path)
        currency = spec["currency"] if _ok(spec.get("currency")) else ""
        if currency and type_ != "money":
            self.err("mapping.currency", f"'{header}' gives '{target}', which is not an amount of money: it has no "
                     "currency", path + ("currency",), hint="remove 'currency:' here")
        values = self.value_map(spec.get("values"), type_, fact, target, path + ("values",))
        names = tuple(str(k) for k in spec["values"]) if isinstance(spec.get("values"), dict) else ()
        return ColumnSpec(header, target, self.doc.loc(path), factor, percent, currency, values, names,
                          spec["dates"] if _ok(spec.get("dates")) else dates)

    def doc_at(self, path: YPath) -> Any:
        node: Any = self.doc.data
        for p in path:
            if not isinstance(node, (dict, list)):
                return None
            node = node.get(p) if isinstance(node, dict) else node[int(p)]
        return node

    def fact_target(self, name: str, path: YPath) -> tuple[str | None, str, FactDef | None]:
        if name in FREE_KEYS and name == "notes":
            return name, "string", None
        target = lookup_fact(self.index, name)
        if target is None:
            hint = suggest(name, self.book.facts) or suggest(name, self.index.levels[""])
            self.err("mapping.unknown-fact", f"'{name}' is not a fact of the rulebook '{self.book.id}'", path,
                     "a fact name, its label or an alias (see 'kamrules rules --facts')", hint)
            return None, "", None
        if target.startswith("prefix:"):
            group = target[len("prefix:"):]
            subs = sorted(f for f in self.book.facts if f.startswith(group + "."))[:4]
            self.err("mapping.unknown-fact", f"'{name}' is a group of facts, not one fact", path, "one fact",
                     "use one of " + ", ".join(subs))
            return None, "", None
        fact = self.book.facts[target]
        if fact.type == "list" and fact.items:
            self.err("mapping.list-of-records", f"'{name}' ({fact.name}) is a list of records, which one cell cannot "
                     "hold", path, hint=f"build it from the deals table: aggregate: {{{fact.name}: {{list: {{…}}}}}}")
            return None, "", None
        return target, fact.type, fact

    def field_target(self, name: str, path: YPath) -> str | None:
        if name in DEAL_FIELDS:
            return name
        hint = suggest(name, DEAL_FIELDS)
        self.err("mapping.unknown-field", f"'{name}' is not a deal field", path, "one of " + ", ".join(DEAL_FIELDS),
                 hint or "the deals table's columns give deal fields; account facts come from 'aggregate:'")
        return None

    def unit(self, unit: str, type_: str, fact: FactDef | None, target: str, path: YPath) -> tuple[float, bool]:
        if not unit:
            return 1.0, False
        u = unit.strip().casefold()
        upath = path + ("unit",)
        if type_ == "money" and u in MONEY_UNITS:
            return MONEY_UNITS[u], False
        if type_ == "percent" and u in PERCENT_UNITS:
            return 1.0, True
        own = fact.unit if fact is not None else ""
        if type_ in ("integer", "number") and own and PLAIN_UNITS.get(u) == own:
            return 1.0, False
        if type_ == "money" and len(unit) == 3 and unit.isalpha():
            self.err("mapping.unit", f"'{unit}' is a currency, not a unit", upath, hint=f"write currency: {unit.upper()}")
            return 1.0, False
        fits = {"money": "a money unit: 元, 千, 万, 百万, 亿, k, M, thousand, million", "percent": "%"}.get(
            type_, f"{own}" if own else "no unit")
        self.err("mapping.unit", f"the unit '{unit}' does not fit '{target}' ({type_ or 'text'})", upath, fits,
                 suggest(u, MONEY_UNITS) if type_ == "money" else "")
        return 1.0, False

    def value_map(self, raw: Any, type_: str, fact: FactDef | None, target: str, path: YPath) -> dict[str, Any]:
        if not isinstance(raw, dict):
            return {}
        out: dict[str, Any] = {}
        for k, v in raw.items():
            vpath = path + (k,)
            if not _ok(v):
                continue
            checked = self.mapped_value(v, type_, fact, target, vpath)
            if checked is not INVALID:
                out[value_key(k)] = checked
        return out

    def mapped_value(self, v: Any, type_: str, fact: FactDef | None, target: str, path: YPath) -> Any:
        if type_ == "stage":
            return self.word(v, self.stages, "stage", path)
        if type_ == "status":
            return self.word(v, STATUS_VALUES, "status", path)
        kind = {"text": "string", "currency": "string", "bool": "bool", "date": "date", "money": "money",
                "percent": "percent"}.get(type_, type_)
        try:
            return parse_scalar(v, kind, dict(fact.values) if fact is not None else None)
        except ValueProblem as e:
            self.err("mapping.value", f"'{v}' is not a value '{target}' can take: {e.message}", path,
                     e.expected, e.hint)
            return INVALID

    def word(self, v: Any, words: tuple[str, ...], what: str, path: YPath) -> Any:
        if isinstance(v, str) and v in words:
            return v
        self.err("mapping.value", f"'{v}' is not a deal {what}", path, "one of " + ", ".join(words),
                 suggest(str(v), words))
        return INVALID

    def required_facts(self, table: TableSpec, path: YPath) -> None:
        given = {c.target for c in table.columns}
        if "id" not in given:
            self.err("mapping.missing-id", "the accounts table maps no column to 'id'", path + ("columns",),
                     "a column such as 'Account ID: id'",
                     "every account needs an id; deals join on it (or on the name: join: {to: name})")

    # -- aggregates

    def aggregates(self, raw: Any, deals: TableSpec | None) -> list[Aggregate]:
        if not isinstance(raw, dict):
            return []
        if raw and deals is None and isinstance(self.doc.data, dict) and "deals" not in self.doc.data:
            self.err("mapping.no-deals", "'aggregate:' needs a deals table to aggregate", ("aggregate",),
                     hint="add deals: {file: …, join: …, columns: …}", value=False)
            return []
        out: list[Aggregate] = []
        for name, spec in raw.items():
            if not isinstance(spec, dict):
                continue
            agg = self.aggregate(name, spec, ("aggregate", name), deals)
            if agg is not None:
                out.append(agg)
        return out

    def aggregate(self, name: str, spec: dict[str, Any], path: YPath, deals: TableSpec | None) -> Aggregate | None:
        ops = [op for op in OPS if op in spec]
        if len(ops) != 1:
            what = "none" if not ops else " and ".join(ops)
            self.err("mapping.aggregate", f"an aggregation needs exactly one of {', '.join(OPS)} (here: {what})", path,
                     "{sum: amount, where: {status: won, period: last_12_months}}", value=False)
            return None
        op = ops[0]
        target = lookup_fact(self.index, name)
        fact = self.book.facts.get(target or "")
        if fact is None:
            hint = suggest(name, self.book.facts) or suggest(name, self.index.levels[""])
            self.err("mapping.unknown-fact", f"'{name}' is not a fact of the rulebook '{self.book.id}'", path,
                     "a fact the rulebook declares", (hint + " " if hint else "") +
                     "(a company overlay can declare it: facts: {" + name + ": {type: …}})", value=False)
            return None
        where = self.filter(spec.get("where"), path + ("where",), deals)
        of = self.filter(spec.get("of"), path + ("of",), deals) if op == "ratio" else None
        if op != "ratio" and spec.get("of") is not None:
            self.err("mapping.aggregate", "'of:' belongs to a ratio", path + ("of",), hint="remove it", value=False)
        opath = path + (op,)
        raw = spec[op]
        if not _ok(raw):
            return None
        fields: tuple[str, ...] = ()
        items: tuple[tuple[str, str], ...] = ()
        if op in ("sum", "max", "min"):
            fields = self.op_field(raw, opath, NUMERIC_FIELDS + (DATE_FIELDS if op != "sum" else ()), op)
        elif op == "ratio":
            fields = () if raw == "count" else self.op_field(raw, opath, NUMERIC_FIELDS, op)
            if of is None:
                self.err("mapping.aggregate", "a ratio needs 'of:', the deals it is a share of", path,
                         "{ratio: count, where: {status: won}, of: {status: closed}}", value=False)
                return None
        elif op == "latest":
            fields = tuple(f for i, x in enumerate(raw)
                           for f in self.op_field(x, opath + ((i,) if len(raw) > 1 else ()), DATE_FIELDS, op))
        elif op == "list":
            items = self.list_items(fact, raw, opath)
        if not fields and not items and not (op == "count" or (op == "ratio" and raw == "count")):
            return None  # its problem is reported
        if where is None or (op == "ratio" and of is None):
            return None
        agg = Aggregate(fact.name, op, self.doc.loc(path), fields, items, where, of)
        self.result_type(agg, fact, path)
        if deals is not None:
            self.needs_columns(agg, deals, path)
        return agg

    def op_field(self, raw: Any, path: YPath, allowed: tuple[str, ...], op: str) -> tuple[str, ...]:
        name = str(raw)
        if name in allowed:
            return (name,)
        if name in ALL_DEAL_FIELDS:
            self.err("mapping.aggregate", f"{op} cannot read '{name}'", path, "one of " + ", ".join(allowed))
        else:
            self.err("mapping.unknown-field", f"'{name}' is not a deal field", path, "one of " + ", ".join(allowed),
                     suggest(name, allowed))
        return ()

    def list_items(self, fact: FactDef, raw: dict[str, Any], path: YPath) -> tuple[tuple[str, str], ...]:
        if fact.type != "list" or not fact.items:
            self.err("mapping.aggregate", f"'{fact.name}' is not a list of records; list builds one record per deal",
                     path, hint="use sum, count, max, min, latest or ratio")
            return ()
        fields = {f.name: f for f in fact.items}
        out: list[tuple[str, str]] = []
        for k, v in raw.items():
            ipath = path + (k,)
            if k not in fields:
                self.err("mapping.unknown-field", f"'{k}' is not a field of {fact.name}", ipath,
                         "one of " + ", ".join(fields), suggest(k, fields), value=False)
                continue
            if not _ok(v):
                continue
            if v not in ALL_DEAL_FIELDS:
                self.err("mapping.unknown-field", f"'{v}' is not a deal field", ipath,
                         "one of " + ", ".join(ALL_DEAL_FIELDS), suggest(str(v), ALL_DEAL_FIELDS))
                continue
            out.append((k, str(v)))
        return tuple(out)

    def result_type(self, agg: Aggregate, fact: FactDef, path: YPath) -> None:
        if agg.op == "list":
            return
        if fact.type == "list":
            self.err("mapping.aggregate", f"'{fact.name}' is a list; only 'list:' fills it", path, value=False)
            return
        is_date = bool(agg.fields) and agg.fields[0] in DATE_FIELDS
        if agg.op == "count":
            fits = fact.type in ("integer", "number")
        elif agg.op == "ratio":
            fits = fact.type in ("percent", "number")
        elif is_date or agg.op == "latest":
            fits = fact.type in ("date", "integer", "number")  # a date, or the time elapsed since it
        elif agg.fields and agg.fields[0] == "amount":
            fits = fact.type in ("money", "number")
        elif agg.fields and agg.fields[0] == "probability":
            fits = fact.type in ("percent", "number")
        else:
            fits = fact.type in ("integer", "number")
        if not fits:
            self.err("mapping.aggregate", f"{agg.op} of {', '.join(agg.fields) or 'deals'} does not give a "
                     f"{fact.type}, which '{fact.name}' is", path, value=False)

    def filter(self, raw: Any, path: YPath, deals: TableSpec | None) -> Filter | None:
        if raw is None:
            return Filter()
        if not isinstance(raw, dict):
            return None
        statuses: frozenset[str] | None = None
        if isinstance(raw.get("status"), list) and all(_ok(s) for s in raw["status"]):
            words = {s for x in raw["status"] for s in (("won", "lost") if x == "closed" else (x,))}
            statuses = frozenset(words)
        stages: frozenset[str] | None = None
        if isinstance(raw.get("stage"), list):
            good = [str(s) for i, s in enumerate(raw["stage"])
                    if self.word(str(s), self.stages, "stage", path + ("stage", i)) is not INVALID]
            stages = frozenset(good)
        period: Period | None = None
        p = raw.get("period")
        if isinstance(p, str):
            period = Period(p)
        elif isinstance(p, dict):
            period = Period("", self.date(p.get("from"), path + ("period", "from")),
                            self.date(p.get("to"), path + ("period", "to")))
            if period.start and period.end and period.start > period.end:
                self.err("mapping.period", f"the period starts ({period.start}) after it ends ({period.end})",
                         path + ("period",))
        date = "close_date"
        if _ok(raw.get("date")):
            date = raw["date"]
            if date not in DATE_FIELDS:
                self.err("mapping.unknown-field", f"'{date}' is not a date field of the deals", path + ("date",),
                         "one of " + ", ".join(DATE_FIELDS), suggest(str(date), DATE_FIELDS))
                date = "close_date"
        if p is INVALID or raw.get("status") is INVALID:
            return None
        return Filter(statuses, stages, period, date)

    def date(self, v: Any, path: YPath) -> _dt.date | None:
        if not _ok(v):
            return None
        try:
            return parse_date(v)
        except ValueProblem as e:
            self.err("mapping.period", e.message, path, e.expected)
            return None

    def needs_columns(self, agg: Aggregate, deals: TableSpec, path: YPath) -> None:
        """The deals table must give what the aggregation reads: a field, the status, the period's date."""
        given = {c.target for c in deals.columns}
        needed: list[str] = [f for f in agg.fields if f in DEAL_FIELDS]
        needed += [d for _, d in agg.items if d in DEAL_FIELDS]
        for flt in (agg.where, agg.of):
            if flt is None:
                continue
            if flt.period is not None and flt.period.name != "all":
                needed.append(flt.date)
            if flt.stages is not None:
                needed.append("stage")
        for f in dict.fromkeys(needed):
            if f not in given and not (f == "status" and given & {"stage", "won", "closed"}):
                self.err("mapping.missing-field", f"aggregate '{agg.fact}' reads the deals' {f}, but no deals column "
                         f"gives it", path, f"a deals column with to: {f}", value=False)
        uses_status = any(flt is not None and flt.statuses is not None for flt in (agg.where, agg.of))
        if uses_status and not given & {"status", "stage", "won", "closed"}:
            self.err("mapping.missing-field", f"aggregate '{agg.fact}' filters on won/lost/open, but no deals column "
                     "gives the stage, status or won flag", path, "a deals column with to: stage (or status, won)",
                     value=False)

    # -- whole-file checks

    def coverage(self, spec: MappingSpec, data: dict[str, Any]) -> None:
        """A fact given twice — by a column and an aggregation — would be silently overwritten."""
        from_columns = {c.target: c for c in spec.accounts.columns}
        for agg in spec.aggregates:
            col = from_columns.get(agg.fact)
            if col is not None:
                self.err("mapping.duplicate-target", f"'{agg.fact}' comes from the column '{col.header}' and from "
                         "aggregate", ("aggregate", agg.fact), hint="keep one: remove the column's mapping or the "
                                                                   "aggregation", value=False)
        given = set(from_columns) | {a.fact for a in spec.aggregates}
        for f in self.book.facts.values():
            if f.required and f.name not in given and f.name != "id":
                self.err("mapping.missing-fact", f"no column or aggregation gives '{f.name}', which every account "
                         "needs", ("accounts", "columns"), f"a column such as '<header>: {f.name}'", value=False)
        if spec.deals is not None and spec.deals.join_column and spec.deals.join_to == "name" \
                and "name" not in from_columns:
            self.err("mapping.join", "the deals join on the account name, but no accounts column gives 'name'",
                     ("deals", "join", "to"), hint="map the accounts' name column, or join on the id")

    def currencies(self, spec: MappingSpec, data: dict[str, Any]) -> None:
        """Money is read in one currency: stated, and converted at a given rate or refused."""
        money_tables = [t for t in spec.tables() if _has_money(t, self.book)]
        if not money_tables:
            return
        book_cur = self.book.currency
        if not spec.currency and not all(t.currency for t in money_tables):
            self.err("mapping.currency-missing", "the mapping does not say which currency the export's amounts are in",
                     (), "currency: CNY (or USD, EUR …)",
                     f"add 'currency: <code>' at the top{f'; the rulebook counts in {book_cur}' if book_cur else ''}"
                     " — amounts are never compared across currencies", value=False)
            return
        for t in money_tables:
            where: YPath = (t.kind, "currency") if t.currency else ("currency",)
            self.convertible(t.currency or spec.currency, spec, where, f"the {t.kind} table")
            for c in t.columns:
                if c.currency:
                    self.convertible(c.currency, spec, (t.kind, "columns", c.header, "currency"), f"'{c.header}'")

    def convertible(self, currency: str, spec: MappingSpec, path: YPath, what: str) -> None:
        if spec.rate(currency) is None:
            self.err("mapping.currency", f"{what} is in {currency}, but the rulebook '{self.book.id}' counts money in "
                     f"{spec.book_currency}, and the mapping gives no rate for {currency}", path,
                     f"rates: {{{currency}: <{spec.book_currency} per {currency}>}}",
                     f"add the rate, e.g. rates: {{{currency}: 7.1}} if one {currency} is 7.1 {spec.book_currency}; "
                     "kamrules never compares amounts in different currencies")


def _has_money(t: TableSpec, book: Rulebook) -> bool:
    if t.kind == "deals":
        return t.column("amount") is not None
    return any(book.facts[c.target].type == "money" for c in t.columns if c.target in book.facts)
