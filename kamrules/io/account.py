"""Account files → a validated Account, against the facts the rulebook declares.

The account file's grammar is built from the effective rulebook's facts, and one declaration
(core/grammar.py nodes) gives both this loader's validation — every problem with file:line, the
path to the key, what was expected and a hint in the language of the input — and `kamrules
schema account`, the JSON Schema editors use:

- every fact is a name in a `Facts` node, with its Chinese and English labels and its aliases
  as alternative keys, in any letter case; a dotted fact (team.account_manager) is written
  nested (team: {account_manager: …}) or flat;
- a fact's value is a `Friendly` node: its type, unit, enum values with their labels, range;
  a list fact is a `Seq` of such values, or of `Map`s of its item fields (labels as aliases);
- `notes`, `extra` and `as_of` are accepted at the top and are not facts; `company:` may name
  a company profile file instead (read first, relative to the account file).

A company overlay's own facts are part of its grammar like the course's. CSV rows and CRM
exports become the same documents (io/csvio.py, io/crm/) and go through the same grammar.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from kamrules.core import settings, yamlio
from kamrules.core.errors import AccountError, Collector, InputError, Location
from kamrules.core.grammar import (
    Anything,
    Check,
    Ctx,
    Facts,
    FactsIndex,
    Field,
    GROUP,
    INVALID,
    Found,
    Friendly,
    Grammar,
    Map,
    Node,
    Ref,
    Seq,
    plain,
    read,
)
from kamrules.core.lazyre import LazyPattern
from kamrules.core.values import SHIFTS, named_currency, plain_amount
from kamrules.core.yamlio import Doc, format_path
from kamrules.core.yamlio import Path as YPath
from kamrules.rulebook.model import Account, FactDef, Places, Rulebook

# --------------------------------------------------------------------------- the grammar

ID_RE = re.compile(r"^[\w][\w.\-]{0,63}$", re.UNICODE)
FREE_KEYS = ("notes", "extra", "as_of")  # accepted at the top level, not facts
MAX_LIST_ITEMS = 100_000  # the longest list a fact may hold (read when a list is read)
UNKNOWN_EXPECTED = "a fact the rulebook declares (see 'kamrules rules --facts')"
COMPANY_FILE = "a company profile file, relative to this one"

ID_CHECK = Check(ID_RE.pattern, "bad-id", "the id {value} cannot be used as an account id",
                 "letters, digits, - _ . (at most 64), no spaces, slashes or line breaks",
                 "ids name output files; write e.g. huaxin-steel", at_key=True)


def aliases(f: FactDef) -> tuple[str, ...]:
    """The other keys that name a fact: its Chinese label, its English label, its aliases."""
    out: list[str] = []
    for alt in (f.label.zh, f.label.en, *f.aliases):
        if alt and alt != f.name.split(".")[-1] and alt not in out:
            out.append(alt)
    return tuple(out)


def title(f: FactDef) -> str:
    zh, en = f.label.zh, f.label.en
    if zh and en and zh != en:
        return f"{zh} ({en})"
    return zh or en or f.name


def description(f: FactDef) -> str:
    parts = [t for t in (f.help.zh, f.help.en) if t]
    if len(parts) == 2 and parts[0] == parts[1]:
        parts = parts[:1]
    kind = f.type + (f" ({f.unit})" if f.unit else "")
    if f.type == "enum":
        kind += ": " + ", ".join(f"{v} = {t.zh or t.en}" if (t.zh or t.en) else v for v, t in f.values)
    parts.append(kind)
    if f.required:
        parts.append("required")
    return " · ".join(parts)


def _examples(f: FactDef) -> tuple[Any, ...]:
    return () if f.example is None else (plain(f.example),)


def value_node(f: FactDef, type_: str | None = None, *, annotated: bool = True,
               beside: tuple[FactDef, ...] = ()) -> Friendly:
    """A fact's value (or, with type_, one item of a list fact of that item type). beside: the
    other fields of the same record (an enum value of one of them written here is told so)."""
    elsewhere = tuple((o.name, o.label, o.values) for o in beside if o is not f and o.type == "enum" and o.values) \
        if f.type == "enum" else ()
    return Friendly(type_ or f.type, unit=f.unit, choices=f.values, min=f.min, max=f.max,
                    checks=(ID_CHECK,) if f.name == "id" and f.type == "string" else (),
                    nullable=annotated, title=title(f) if annotated else "", desc=description(f) if annotated else "",
                    examples=_examples(f) if annotated else (), elsewhere=elsewhere)


def _max_items() -> int:
    return MAX_LIST_ITEMS


def fact_node(f: FactDef, beside: tuple[FactDef, ...] = ()) -> Node:
    """A fact's node; beside: the account's other facts (see value_node)."""
    if f.type != "list":
        return value_node(f, beside=beside)
    if f.items:
        names = [i.name for i in f.items]
        item: Node = Map("", tuple(Field(i.name, value_node(i, beside=f.items), aliases=aliases(i)) for i in f.items),
                         what=f"each item of '{f.name}'", expected=", ".join(names), allow_none=False,
                         unknown="unknown field '{key}' in " + f.name, unknown_expected="one of " + ", ".join(names))
    else:
        item = value_node(f, f.item_type or "string", annotated=False)
    extra: dict[str, Any] = {"title": title(f)}
    if f.example is not None:
        extra["examples"] = [plain(f.example)]
    return Seq(item, desc=description(f), what=f"'{f.name}'", expected="- item\n- item", schema_extra=extra,
               max_items=_max_items)


def _missing(f: FactDef) -> str:
    label = f.label.zh or f.label.en
    named = f"'{f.name}' ({label})" if label and label != f.name else f"'{f.name}'"
    return f"{named} is required"


def account_grammar(book: Rulebook) -> Grammar:
    """The grammar of an account file for this rulebook (built once per rulebook: an export of
    100,000 rows reads them all against the same grammar)."""
    hit = _CACHE.get(id(book))
    if hit is not None and hit[0] is book:  # the book is kept, so its id is not reused meanwhile
        return hit[1]
    if len(_CACHE) > 8:
        _CACHE.clear()
    g = _build(book)
    _CACHE[id(book)] = (book, g)
    return g


_CACHE: dict[int, tuple[Rulebook, Grammar]] = {}


def _build(book: Rulebook) -> Grammar:
    defs: dict[str, Node] = {}
    fields = []
    enums = tuple(f for f in book.facts.values() if f.type == "enum" and not f.supplied)
    for f in book.facts.values():
        defs[f.name] = fact_node(f, enums)
        # the example is the example company's value: shown as such, so that nobody copies it
        # into a new account as if it were the expected value
        expected = f"a {'text' if f.type == 'string' else f.type} value for {f.name}" + \
            (f" (the example company's: {f.name}: {f.example})" if f.example is not None else "")
        fields.append(Field(f.name, Ref(f.name), required=f.required, missing=_missing(f),
                            expected=expected, aliases=aliases(f)))
    free = (
        Field("notes", Anything("Free notes (not read by rules)")),
        Field("extra", Anything("Anything else you want to keep with the account (not read by rules)")),
        Field("as_of", Friendly("date", desc="Evaluation date for this account (YYYY-MM-DD)")),
    )
    root = Facts(tuple(fields), free, files={"company": COMPANY_FILE} if "company.revenue" in book.facts else {},
                 what="an account", unknown_expected=UNKNOWN_EXPECTED)
    return Grammar(root=root, defs=defs, title=f"kamrules account ({book.id} {book.version})",
                   desc=f"An account file for the rulebook '{book.id}'. Keys are fact names, their Chinese or "
                        "English labels, or aliases. Generated by `kamrules schema account`.")


KeyIndex = FactsIndex  # which keys name which fact, at each level (CSV headers and CRM mappings use it too)


def key_index(book: Rulebook) -> FactsIndex:
    """The rulebook's key index (the account grammar's)."""
    root = account_grammar(book).root
    assert isinstance(root, Facts)
    return root.index


# --------------------------------------------------------------------------- loading

def load_account(file: str, book: Rulebook, *, text: str | None = None) -> Account:
    """Read and validate an account file ('-' with text=stdin). Raises AccountError."""
    try:
        doc = yamlio.load(file, text=text) if text is not None else yamlio.load(file)
    except InputError as e:
        raise AccountError(e.problems) from None
    return account_from_doc(doc, book)


def account_from_doc(doc: Doc, book: Rulebook) -> Account:
    """Validate a document (an account file, a CSV row, a rule test's facts) against the
    rulebook's account grammar. Raises AccountError with every problem."""
    out = Collector(hint_limit=settings.max_problems())
    data = doc.data
    if data is None:
        out.add("account.empty", "the account file is empty", Location(doc.file, 1, 1),
                expected="a mapping with at least id and name", hint="run 'kamrules init account' for a template")
        raise AccountError(out.problems)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({str(data)[:40]!r})"
        out.add("account.not-mapping", f"the account file holds {kind}, not a mapping", doc.value_loc(()),
                expected="key: value pairs such as 'revenue: 1200万'",
                hint="a portfolio of accounts goes in separate files")
        raise AccountError(out.problems)
    grammar = account_grammar(book)
    root = grammar.root
    assert isinstance(root, Facts)
    for group in root.files:
        if isinstance(data.get(group), str):
            data = dict(data)
            data[group] = _company_file(doc, group, data[group], out)
    found = read(grammar, root, data, (), Ctx(doc, out, "account"))
    if book.currency and isinstance(found, Found):
        for name, p in found.paths.items():
            fd = book.facts.get(name)
            raw = _at(data, p)
            if fd is not None and fd.type == "money" and isinstance(raw, str):
                _same_currency(doc, raw, book, p, out)
    out.raise_if_any(AccountError)
    assert isinstance(found, Found)
    values = {name: _typed(v) for name, v in found.items() if name not in FREE_KEYS}
    locations = {name: doc.loc(p) for name, p in found.paths.items() if name not in FREE_KEYS}
    return Account(id=str(values.get("id", Path(doc.file).stem)), name=str(values.get("name", values.get("id", ""))),
                   file=doc.file, values=values, locations=locations, as_of=found.get("as_of"))


def _at(data: Any, path: YPath) -> Any:
    for key in path:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def _same_currency(doc: Doc, raw: str, book: Rulebook, path: YPath, out: Collector) -> None:
    """An amount that names another currency than the rulebook's is refused, never compared as
    if it were in the rulebook's (a mapping's rates convert exports: --mapping)."""
    code = named_currency(raw)
    if not code or code == book.currency:
        return
    out.add("account.currency", f"'{format_path(path)}' is in {code}, but the rulebook '{book.id}' counts money in "
            f"{book.currency}", doc.value_loc(path), format_path(path), f"an amount in {book.currency}",
            f"convert it to {book.currency}, or read the export with --mapping and give the rate there: "
            f"rates: {{{code}: <{book.currency} per {code}>}}")


def _typed(value: Any) -> Any:
    """A list fact as a tuple, without the items and item fields written as null."""
    if not isinstance(value, list):
        return value
    return tuple({k: x for k, x in item.items() if x is not None} if isinstance(item, dict) else item
                 for item in value if item is not None)


def _company_file(doc: Doc, group: str, ref: str, out: Collector) -> Any:
    path = Path(doc.file).parent / ref
    try:
        sub = yamlio.load(str(path))
    except InputError as e:
        out.extend(e.problems)
        return None
    if not isinstance(sub.data, dict):
        out.add("account.company-file", "the company profile must be a mapping", doc.value_loc((group,)), group)
        return None
    return sub.data


# --------------------------------------------------------------------------- flat documents, read fast
#
# A CSV export is read row by row, twice in a ranked portfolio run (measure, then evaluate): walking
# the account grammar per row (a Doc with its marks, the Facts node's key lookups, a Collector) cost
# more than parsing the cells. The keys of every row of one export are its header's, so what the
# grammar would do with them is worked out once per header; each row then parses its cells with the
# facts' own nodes. A row that anything could be said about (a bad cell, a missing required fact, a
# foreign currency) is not judged here: `FlatReader.read` answers None and the caller reads the row
# with account_from_doc, which reports the problems — so the problems, hints and file:line of a bad
# row are the grammar's by construction, and a good row gives the same Account either way
# (tests/test_csv.py holds the two to that).


_MONEY, _WHOLE, _NUMBER = 1, 2, 3
_FAST = {"money": _MONEY, "integer": _WHOLE, "number": _NUMBER}
_MEMO_TYPES = frozenset({"enum", "bool", "string"})
# A cell a CSV column's unit applies to (csvio: "1200" under 年交易额(万元) is 1200万), and a
# number core/values.plain_amount reads with the unit as its only multiplier.
# Both compiled on first use (core/lazyre.py): only CSV exports and mapped rows read cells.
_BARE_NUMBER = LazyPattern(r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
_SIMPLE_AMOUNT = LazyPattern(r"(-?)([0-9]{1,15})(?:\.([0-9]{1,12}))?")
# per key of a row: (cell index, unit, fast kind, the unit's power of ten, low, high, memo, text
# checks, key) — see FlatReader.plan
RowPlan = tuple[tuple[int, str, int, int, Any, Any, dict[str, Any] | None,
                      tuple[int, tuple[re.Pattern[str], ...]] | None, int], ...]
_MEMO = 512


def with_unit(text: str, unit: str) -> str:
    """A cell's text as the grammar reads it: a bare number under a header's unit gets the unit
    ("1200" under 年交易额(万元) is 1200万); any other text is left as it is."""
    return text + unit if unit and _BARE_NUMBER().match(text) else text


class _Bail(Exception):
    """A cell the grammar would report: the row goes the full way."""


class _BailCtx(Ctx):
    def error(self, code: str, message: str, path: YPath, expected: str = "", hint: str = "", *,
              value: bool = True, at: YPath | None = None) -> None:
        raise _Bail


class FlatReader:
    """account_from_doc for flat documents whose keys are known in advance: {key: text}, one level,
    the keys in a fixed order (a CSV header's columns). Built by `flat_reader`."""

    def __init__(self, book: Rulebook, grammar: Grammar, fields: tuple[tuple[str, str, Node, bool], ...]) -> None:
        self.book = book
        self.grammar = grammar
        self.fields = fields  # per key: (key, fact name, its resolved node, a money fact)
        root = grammar.root
        assert isinstance(root, Facts)
        self.required = tuple(f.key for f in root.fields if f.required)
        self.ctx = _BailCtx(Doc(file="", data={}), Collector(), "account")
        # per key: how _friendly reads a plain number there (core/values.py plain_amount, plain_count),
        # or 0: the grammar reads every cell. A range check follows; anything else is the grammar's.
        self.fast = tuple((_FAST.get(node.type, 0), node.min, node.max) if isinstance(node, Friendly) else (0, None, None)
                          for _, _, node, _ in fields)
        # per key of an enum, yes/no or text fact: the values its cells were read as, by text. What
        # the grammar makes of a cell depends on the cell's text and the fact alone, and such columns
        # repeat a few texts (高/中/低, 是/否, regions, industries, managers); at most _MEMO each
        # per key of a text fact: (its longest text, its checks' patterns), or None. A name or an
        # id is a new text on every row (no memo helps): _friendly's reading of a text cell is the
        # cell itself when it passes these; one that does not goes the grammar's way, which says why
        self.texts: tuple[tuple[int, tuple[re.Pattern[str], ...]] | None, ...] = tuple(
            (node.max_text, tuple(re.compile(c.pattern) for c in node.checks))
            if isinstance(node, Friendly) and node.type == "string" and not money else None
            for _, _, node, money in fields)
        self.memo: tuple[dict[str, Any] | None, ...] = tuple(
            {} if isinstance(node, Friendly) and node.type in _MEMO_TYPES and not money else None
            for _, _, node, money in fields)

    def plan(self, at: Sequence[tuple[int, int, str]]) -> RowPlan:
        """How `read_row` reads a row: per key with a cell, (key, the cell's index in the row, the
        unit appended to a bare number there: 万 under 年交易额(万元)), in key order. Once per header."""
        out = []
        for i, index, suffix in at:
            kind, lo, hi = self.fast[i]
            # a money cell that is a simple number reads as one (see read_row), the unit as its shift
            shift = SHIFTS.get(suffix or None, -1) if kind == _MONEY else (0 if not suffix else -1)
            if shift < 0:  # a unit no fast reading knows (a header never gives one): the grammar reads it
                kind = 0
            out.append((index, suffix, kind, shift, lo, hi, self.memo[i], self.texts[i], i))
        return tuple(out)

    def read(self, file: str, cells: list[tuple[int, str, int, int]]) -> Account | None:
        """read_row for a document given as (index into the keys, text, line, column) of each key
        with a value, in key order, a unit already appended."""
        return self.read_row(file, [(text, line, col) for _, text, line, col in cells],
                             self.plan([(i, k, "") for k, (i, _, _, _) in enumerate(cells)]))

    def read_row(self, file: str, cells: Sequence[tuple[str, int, int]], plan: RowPlan) -> Account | None:
        """The account of one row — `cells`: (text, line, column) of each cell, `plan`: self.plan(…)
        for the row's header — or None when the full reading has something to say."""
        g, ctx, fields, currency = self.grammar, self.ctx, self.fields, self.book.currency
        values: dict[str, Any] = {}
        locations: dict[str, tuple[int, int]] = {}  # Places: a Location made only if one is read
        n = len(cells)
        simple_amount = _SIMPLE_AMOUNT()
        try:
            for index, suffix, kind, shift, lo, hi, memo, plain, i in plan:
                if index >= n:
                    continue
                text, line, col = cells[index]
                if not text:
                    continue
                key, name, node, money = fields[i]
                if kind:  # a plain number (most cells of an export): the grammar's reading, without its steps
                    if kind == _MONEY:
                        # core/values.plain_amount(text + suffix) for a bare number: one match, no
                        # second pattern for the unit (tests/test_csv_portfolio.py holds the two equal)
                        m = simple_amount.fullmatch(text)
                        if m is not None:
                            sign, whole, frac = m.groups()
                            value = float(f"{sign}{whole}.{frac or '0'}e{shift}") + 0.0 \
                                if len(whole) + shift <= 15 else None
                            text += suffix  # the text the grammar reads if this is out of range
                        else:
                            text = with_unit(text, suffix)
                            value = plain_amount(text)
                    elif text.isdigit() and text.isascii() and len(text) <= 15:  # plain_count's [0-9]{1,15}
                        value = int(text) if kind == _WHOLE else float(text) + 0.0
                    else:
                        value = None
                    if value is not None and (lo is None or value >= lo) and (hi is None or value <= hi):
                        values[name] = value  # digits name no currency
                        locations[name] = (line, col)
                        continue
                elif suffix:
                    text = with_unit(text, suffix)
                if memo is not None:
                    value = memo.get(text)
                    if value is not None:
                        values[name] = value
                        locations[name] = (line, col)
                        continue
                if plain is not None and "\x00" not in text and len(text) <= plain[0] and (
                        not plain[1] or all(p.fullmatch(text) for p in plain[1])):
                    if memo is not None and len(memo) < _MEMO:
                        memo[text] = text
                    values[name] = text
                    locations[name] = (line, col)
                    continue
                value = read(g, node, text, (key,), ctx)
                if value is None or value is INVALID:  # pragma: no cover - INVALID comes with an error
                    return None
                if memo is not None and len(memo) < _MEMO:
                    memo[text] = value
                if money and currency:
                    code = named_currency(text)
                    if code and code != currency:
                        return None
                values[name] = value
                locations[name] = (line, col)
        except _Bail:
            return None
        for name in self.required:
            if name not in values:
                return None
        ident = values["id"] if "id" in values else Path(file).stem
        # by position: Account's generated __init__ takes keywords the slow way (core/record.py)
        return Account(str(ident), str(values.get("name", values.get("id", ""))), file, values,
                       Places(file, locations), None)


_FLAT: dict[tuple[int, tuple[str, ...]], tuple[Rulebook, FlatReader | None]] = {}


def flat_reader(book: Rulebook, keys: tuple[str, ...]) -> FlatReader | None:
    """A FlatReader for documents with these top-level keys, or None when one of them is read
    otherwise than as one plain fact (a free key such as as_of, a group, an unknown key, a list
    fact, two keys naming one fact): then every document takes the full way."""
    hit = _FLAT.get((id(book), keys))
    if hit is not None and hit[0] is book:  # the book is kept, so its id is not reused meanwhile
        return hit[1]
    if len(_FLAT) > 32:
        _FLAT.clear()
    reader = _flat_reader(book, keys)
    _FLAT[(id(book), keys)] = (book, reader)
    return reader


def _flat_reader(book: Rulebook, keys: tuple[str, ...]) -> FlatReader | None:
    g = account_grammar(book)
    root = g.root
    assert isinstance(root, Facts)
    fields: list[tuple[str, str, Node, bool]] = []
    for key in keys:
        # what _facts_level does with a top-level key, decided once
        if key in root.free_keys or key in root.files:
            return None
        target = root.index.lookup("", key)
        if target is None or target.startswith(GROUP) or any(target == f[1] for f in fields):
            return None
        fact = book.facts.get(target)
        node = g.resolve(root.index.fields[target].node)
        if fact is None or fact.type == "list" or not isinstance(node, Friendly):
            return None
        fields.append((key, target, node, fact.type == "money"))
    return FlatReader(book, g, tuple(fields))
