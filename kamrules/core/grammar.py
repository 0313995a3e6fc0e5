"""File grammars declared as data: one declaration gives validation (every problem, with
file:line:col, the path to the bad key, what was expected and a "did you mean" hint) and the
JSON Schema that editors use. A grammar is a tree of small frozen nodes:

    Map     a mapping with known keys (Field), closed unless it says otherwise
    Table   a mapping whose keys the user names (facts, parameters, rules overridden …)
    Seq     a list (optionally: a single item written alone)
    Either  alternatives chosen by the YAML shape of the value (text, number, mapping, list)
    Scalar  text, a whole number, a number, a boolean or any single value; with a pattern or choices
    Text    bilingual text: a string, or {zh: …, en: …}
    Ref     a named node, for recursion (list items of a fact are facts)
    Friendly  one value of a declared type written the friendly way (core/values.py): 18%, 1.2M,
            120万, 90天, 是/否, an enum value by name or label; within a range; with its unit
    Facts   a vocabulary of named values (an account file): a dotted name is written nested
            (team: {account_manager: …}) or flat (team.account_manager: …), any name also by
            its aliases (labels), any key in any letter case; read to {dotted name: value}

A Field may have aliases (alternative keys) and a Map may match keys in any letter case.

`read(node, value, path, ctx)` checks a parsed YAML value against a node and returns it with
Text nodes turned into model Text values; a node that fails returns INVALID and reports why.
`json_schema(node)` returns the draft 2020-12 schema of the same node. The vocabulary is the
pre-commit/cfgv idea (schemas are data, errors read as a path down to the bad key), written
for our needs: error codes per domain (`rulebook.unknown-key`), bilingual text, and shape-based
alternatives.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import field
from typing import Any, Callable, Mapping, Union

from kamrules.core import textsafe
from kamrules.core.errors import Collector, Location, did_you_mean, suggest
from kamrules.core.i18n import LANGS, is_chinese, t
from kamrules.core.i18n import Text as BiText
from kamrules.core.record import record
from kamrules.core.values import RangeProblem, ValueProblem, format_value, parse_scalar
from kamrules.core.yamlio import Doc, format_path
from kamrules.core.yamlio import Path as YPath
from kamrules.core.record import dataclass


class _Invalid:
    """The value of a node that failed (its problems are already reported)."""

    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:  # `section or []` skips a section that failed
        return False


INVALID: Any = _Invalid()

# A message may name its subject: "{what}" (the node's description) and "{owner}" (the enclosing
# item, e.g. "rule 'over'") are filled in; "{value}" is the offending value, repr'ed.


@record
class Ctx:
    doc: Doc
    out: Collector
    domain: str  # error-code prefix: "rulebook", "account", "test", "mapping"
    owner: str = ""  # the enclosing item, for messages ("rule 'over'")

    def code(self, code: str) -> str:
        return code if "." in code else f"{self.domain}.{code}"

    def at(self, path: YPath, *, value: bool = True) -> Location:
        return self.doc.value_loc(path) if value else self.doc.loc(path)

    def error(self, code: str, message: str, path: YPath, expected: str = "", hint: str = "", *,
              value: bool = True, at: YPath | None = None) -> None:
        where = path if at is None else at
        self.out.add(self.code(code), message, self.at(where, value=value), format_path(path), expected, hint)


@record
class Scalar:
    """One value. kind: str | int | number | bool | any (any single value: text, number, bool, date)."""

    kind: str = "str"
    desc: str = ""
    pattern: str = ""  # a full-match regular expression for text
    choices: tuple[str, ...] = ()  # the allowed words
    what: str = "value"  # how messages name it
    code: str = ""  # error code for a bad value (default: "<domain>.type" or ".value")
    message: str = ""  # message for a bad value; may use {what}, {owner}, {value}
    expected: str = ""
    hint: str = ""
    nullable: bool = False
    schema_extra: Mapping[str, Any] = field(default_factory=dict)


@record
class Text:
    """Bilingual text: a string (the same in both languages) or {zh: …, en: …}."""

    desc: str = ""
    what: str = "text"


@record
class Field:
    key: str
    node: "Node"
    required: bool = False
    missing: str = ""  # message when it is missing; may use {owner}; default "{key} is required"
    missing_code: str = "missing"
    expected: str = ""  # shown with a missing-key error
    hint: str = ""
    default: Any = None
    aliases: tuple[str, ...] = ()  # other keys that name the same field (labels): first one given wins


@record
class Map:
    name: str  # $defs name in the JSON Schema ("" = inline)
    fields: tuple[Field, ...]
    desc: str = ""
    what: str = ""  # how messages name it ("a rule", "the rulebook")
    owner: Callable[[Mapping[str, Any]], str] | None = None  # names the item for messages below it
    closed: bool = True
    nullable: bool = False
    expected: str = "key: value pairs"
    type_code: str = "type"
    type_message: str = ""  # default "{what} must be a mapping"
    unknown_hint: str = ""  # used when no key is close to the unknown one
    nonempty: str = ""  # when set, an empty mapping is an error with this message (may use {owner})
    schema_extra: Mapping[str, Any] = field(default_factory=dict)
    fold_case: bool = False  # keys (and aliases) match in any letter case
    unknown: str = ""  # message for an unknown key; may use {key}, {what}; default "unknown key '{key}' in {what}"
    unknown_expected: str = ""  # default "one of <keys>"
    allow_none: bool = True  # False: null is a type error (a list item that must be a mapping)
    keys: Mapping[str, Field] = field(init=False, repr=False, compare=False)  # every accepted key → its field
    needed: tuple[Field, ...] = field(init=False, repr=False, compare=False)  # the required fields, in order

    def __post_init__(self) -> None:
        keys: dict[str, Field] = {}
        for f in self.fields:
            keys[f.key] = f
        for f in self.fields:
            for alt in f.aliases:
                keys.setdefault(alt, f)
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "needed", tuple(f for f in self.fields if f.required))

    def field(self, key: str) -> Field | None:
        f = self.keys.get(key)
        if f is None and self.fold_case:
            low = key.lower()
            f = next((v for k, v in self.keys.items() if k.lower() == low), None)
        return f


@record
class Key:
    """How a Table's keys are checked: a pattern, and names that are reserved."""

    pattern: str = ""
    what: str = "name"
    code: str = "bad-name"
    expected: str = ""
    reserved: frozenset[str] = frozenset()
    reserved_code: str = "reserved-name"


@record
class Table:
    """A mapping whose keys the user chooses: name → value."""

    value: "Node"
    desc: str = ""
    key: Key = Key()
    what: str = "mapping"
    nullable: bool = True


@record
class Seq:
    item: "Node"
    desc: str = ""
    what: str = "list"
    single: bool = False  # a single item may be written without the list
    nullable: bool = True
    expected: str = "- item"
    schema_extra: Mapping[str, Any] = field(default_factory=dict)
    max_items: Callable[[], int] | None = None  # read when a list is read (a setting, or patched in tests)


@record
class Either:
    """Alternatives chosen by the value's YAML shape: the first whose shape fits is used."""

    options: tuple["Node", ...]
    desc: str = ""
    what: str = "value"
    expected: str = ""


@record
class Ref:
    name: str


@record
class Anything:
    """Any value at all, kept as written (an example value, free notes)."""

    desc: str = ""


@record
class Check:
    """A further condition on a value a Friendly node has read: a full-match pattern."""

    pattern: str
    code: str
    message: str  # may use {value} (repr'ed)
    expected: str = ""
    hint: str = ""
    at_key: bool = False  # point at the key rather than at the value


@record
class Friendly:
    """One value of a declared type (core/values.SCALAR_TYPES), written the friendly way:
    percents as 18% or 0.18, amounts as 1,200,000 / 1.2M / 120万, a count or score with the
    fact's unit (90天, 68分, 第二台阶), yes/no as true/是, an enum value by its name or its zh/en
    label, dates as 2026-03-01 or 2026年3月1日. Messages name the value by its path."""

    type: str
    unit: str = ""
    choices: tuple[tuple[str, BiText], ...] = ()  # an enum's values with their labels
    min: float | None = None
    max: float | None = None
    checks: tuple[Check, ...] = ()
    nullable: bool = True  # null means "not known" (the schema says so too)
    title: str = ""
    desc: str = ""
    examples: tuple[Any, ...] = ()
    max_text: int = 2000  # the longest text value
    # the other enum fields beside this one (an item's, or the account's): (key as written, its
    # label, its values). A value that belongs to one of them (态度: 教练, a buying role) is told so.
    elsewhere: tuple[tuple[str, BiText, tuple[tuple[str, BiText], ...]], ...] = field(default=(), repr=False)
    enum: Mapping[str, BiText] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "enum", dict(self.choices))


@record
class Facts:
    """A vocabulary of named values: an account file. Each field's key is a dotted name; a name
    with dots may be written nested (team: {account_manager: …}) or flat
    (team.account_manager: …), and its aliases are accepted at its own level and, flat, at the
    top. Keys match in any letter case. `free` keys are accepted at the top and read as they
    are (notes, as_of); `files` are groups that may be given as a file name instead (the
    loader reads the file first). Reads to {dotted name: value} (a Found, which also knows the
    path each name was read from); a name given twice, under two of its keys, is an error."""

    fields: tuple[Field, ...]
    free: tuple[Field, ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)  # group → what the schema says of the file form
    what: str = "a mapping"  # "an account"
    unknown_expected: str = ""
    duplicate: str = "'{name}' is given twice (also as another key or label)"
    schema_extra: Mapping[str, Any] = field(default_factory=dict)
    index: "FactsIndex" = field(init=False, repr=False, compare=False)

    free_keys: Mapping[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", FactsIndex(self.fields, tuple(f.key for f in self.free)))
        object.__setattr__(self, "free_keys", {f.key: f for f in self.free})


GROUP = "prefix:"  # an index entry for a group of names (team:), not a name


class FactsIndex:
    """Which keys a Facts node accepts at each nesting level, and which name (or group) each
    one means. The name itself wins over another name's alias; among aliases, the first given."""

    def __init__(self, fields: tuple[Field, ...], free: tuple[str, ...] = ()) -> None:
        self.free = free
        self.fields = {f.key: f for f in fields}
        self.levels: dict[str, dict[str, str]] = {"": {}}  # group → key → dotted name, or GROUP + group
        self.leaves: dict[str, list[str]] = {}  # last part of a dotted name (lowercase) → the names
        for f in fields:
            parts = f.key.split(".")
            for i in range(len(parts) - 1):
                prefix = ".".join(parts[:i])
                sub = ".".join(parts[: i + 1])
                self.levels.setdefault(prefix, {})[parts[i]] = GROUP + sub
                self.levels.setdefault(sub, {})
            prefix = ".".join(parts[:-1])
            level = self.levels.setdefault(prefix, {})
            level[parts[-1]] = f.key
            self.leaves.setdefault(parts[-1].lower(), []).append(f.key)
            for alt in f.aliases:
                if alt and alt not in level:
                    level[alt] = f.key
                # aliases also work at the top level, flat (年交易额: … or 每位经理负责大客户数: …)
                if alt and prefix and alt not in self.levels[""]:
                    self.levels[""][alt] = f.key
            if prefix and f.key not in self.levels[""]:
                self.levels[""][f.key] = f.key  # flat dotted key: team.accounts_per_manager: 3
        # any letter case: the first key of each spelling, in the order above
        self.folded: dict[str, dict[str, str]] = {}
        for prefix, level in self.levels.items():
            folded: dict[str, str] = {}
            for k, v in level.items():
                folded.setdefault(k.lower(), v)
            self.folded[prefix] = folded

    def lookup(self, prefix: str, key: str) -> str | None:
        level = self.levels.get(prefix, {})
        if key in level:
            return level[key]
        return self.folded.get(prefix, {}).get(key.lower())

    def choices(self, prefix: str = "") -> list[str]:
        """The keys worth suggesting at a level: ASCII ones (names, English labels), and the
        free keys at the top."""
        return [k for k in self.levels.get(prefix, {}) if k.isascii()] + (list(self.free) if not prefix else [])

    def names(self, prefix: str = "") -> list[str]:
        """The names (and groups) at a level, without aliases: suggested first."""
        out = []
        for k, v in self.levels.get(prefix, {}).items():
            target = v[len(GROUP):] if v.startswith(GROUP) else v
            if target.split(".")[-1] == k or (not prefix and target == k):
                out.append(k)
        return out + (list(self.free) if not prefix else [])

    def hint(self, prefix: str, key: str) -> str:
        """'Did you mean' for an unknown key, in the key's language: a name that belongs at
        another level first (account_manager: → team.account_manager), then a close name, then
        a close label (Chinese labels for a Chinese key)."""
        elsewhere = [n for n in self.leaves.get(key.lower(), []) if n.rpartition(".")[0] != prefix]
        if len(elsewhere) > 1 and prefix and key.lower() in self.leaves and any("." not in n for n in elsewhere):
            elsewhere = [n for n in elsewhere if "." not in n]  # revenue under team: the top-level revenue
        if len(elsewhere) == 1:
            name = elsewhere[0]
            group = name.rpartition(".")[0]
            zh = is_chinese(key)
            if group:
                where = f"它属于 {group}: 之下" if zh else f"it belongs under {group}:"
            else:
                where = f"它在顶层，不在 {prefix}: 之下" if zh else f"it belongs at the top level, not under {prefix}:"
            return f"{did_you_mean(key, name)} ({where})"
        if is_chinese(key):
            pool = [k for k in self.levels.get(prefix, {}) if is_chinese(k)]
            return suggest(key, pool)
        return suggest(key, self.names(prefix)) or suggest(key, self.choices(prefix))


class Found(dict[str, Any]):
    """What a Facts node read: {dotted name: value}, and where each name was written (its key's
    path; a name written as null has a path and no value)."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: dict[str, YPath] = {}
        self.given: set[str] = set()  # names written with a value (good or bad)


Node = Union[Scalar, Text, Map, Table, Seq, Either, Ref, Anything, Friendly, Facts]


@dataclass
class Grammar:
    """A named set of nodes (for Ref and $defs) and its root."""

    root: Node
    defs: dict[str, Node] = field(default_factory=dict)
    title: str = ""
    desc: str = ""
    id: str = ""

    def resolve(self, node: Node) -> Node:
        while isinstance(node, Ref):
            node = self.defs[node.name]
        return node


# --------------------------------------------------------------------------- reading

_SHAPES = {"str": (str,), "int": (int,), "number": (int, float), "bool": (bool,)}


def _fits(g: Grammar, node: Node, value: Any) -> bool:
    """Whether a value has the YAML shape a node reads (for choosing among alternatives)."""
    node = g.resolve(node)
    if isinstance(node, Either):
        return any(_fits(g, o, value) for o in node.options)
    if isinstance(node, (Map, Table)):
        return isinstance(value, dict)
    if isinstance(node, Seq):
        return isinstance(value, list)
    if isinstance(node, Text):
        return isinstance(value, (str, dict))
    if isinstance(node, Friendly):
        return not isinstance(value, (dict, list))
    if isinstance(node, Facts):
        return isinstance(value, dict)
    if isinstance(node, Scalar):
        if isinstance(value, (dict, list)):
            return False
        if node.kind == "any":
            return True
        if node.kind == "bool":
            return isinstance(value, bool)
        if node.kind in ("int", "number"):
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        return isinstance(value, str)
    return isinstance(node, Anything)


def _shape_word(g: Grammar, node: Node) -> str:
    node = g.resolve(node)
    if isinstance(node, (Map, Table, Facts)):
        return "a mapping"
    if isinstance(node, Friendly):
        return "a single value"
    if isinstance(node, Seq):
        return "a list"
    if isinstance(node, Text):
        return "text"
    if isinstance(node, Scalar):
        return {"str": "text", "int": "a whole number", "number": "a number", "bool": "true or false"}.get(
            node.kind, "a single value")
    return "a value"  # pragma: no cover


def _fmt(template: str, ctx: Ctx, what: str, value: Any = None) -> str:
    return template.format(what=what, owner=ctx.owner or what, value=repr(value) if value is not None else "")


def read(g: Grammar, node: Node, value: Any, path: YPath, ctx: Ctx) -> Any:
    # by exact type first (an `is` per kind, where isinstance is a call): ~5,800 reads for the
    # course's files; a subclass of a node kind is read by the isinstance chain below
    while type(node) is Ref:
        node = g.defs[node.name]
    kind = type(node)
    if kind is Friendly:  # first: an account export reads millions of these
        return _friendly(node, value, path, ctx)  # type: ignore[arg-type]
    if kind is Scalar:
        return _scalar(node, value, path, ctx)  # type: ignore[arg-type]
    if kind is Map:
        return _map(g, node, value, path, ctx)  # type: ignore[arg-type]
    if kind is Text:
        return _text(node, value, path, ctx)  # type: ignore[arg-type]
    if kind is Seq:
        return _seq(g, node, value, path, ctx)  # type: ignore[arg-type]
    return _read_any(g, node, value, path, ctx)


def _read_any(g: Grammar, node: Node, value: Any, path: YPath, ctx: Ctx) -> Any:
    node = g.resolve(node)
    if isinstance(node, Friendly):  # first: an account export reads millions of these
        return _friendly(node, value, path, ctx)
    if isinstance(node, Scalar):
        return _scalar(node, value, path, ctx)
    if isinstance(node, Text):
        return _text(node, value, path, ctx)
    if isinstance(node, Map):
        return _map(g, node, value, path, ctx)
    if isinstance(node, Table):
        return _table(g, node, value, path, ctx)
    if isinstance(node, Seq):
        return _seq(g, node, value, path, ctx)
    if isinstance(node, Either):
        return _either(g, node, value, path, ctx)
    if isinstance(node, Facts):
        return _facts(g, node, value, path, ctx)
    if isinstance(node, Anything):
        return value
    raise TypeError(node)  # pragma: no cover - Ref is resolved above


def _fine_text(node: Scalar, value: str) -> bool:
    """Whether _scalar accepts this text as it is (then it returns it unchanged): a text or any
    value, one of the choices if there are any, matching the pattern if there is one."""
    return ((node.kind == "str" or node.kind == "any") and (not node.choices or value in node.choices)
            and (not node.pattern or _fullmatch(node.pattern)(value) is not None))


def _text_leaf(node: Node, value: str) -> Any:
    """What reading a text value with this node gives when that cannot fail (a Scalar that
    accepts it as it is; a Text), else None (read it)."""
    kind = type(node)
    if kind is Scalar:
        return value if _fine_text(node, value) else None  # type: ignore[arg-type]
    if kind is Text:
        return BiText(zh=value, en=value)
    return None


def _scalar(node: Scalar, value: Any, path: YPath, ctx: Ctx) -> Any:
    if value is None:
        return None
    if type(value) is str and _fine_text(node, value):
        return value  # most values: what the checks below return for it
    ok = isinstance(value, (str, int, float, bool)) or (node.kind == "any" and not isinstance(value, (dict, list)))
    if node.kind in _SHAPES:
        ok = isinstance(value, _SHAPES[node.kind]) and not (node.kind in ("int", "number") and isinstance(value, bool))
    if node.kind == "int" and isinstance(value, float) and value.is_integer():
        ok = False
    if not ok:
        message = node.message or _SCALAR_MESSAGE.get(node.kind, "{what} must be a single value")
        ctx.error(node.code or "type", _fmt(message, ctx, node.what, value), path,
                  node.expected or _SCALAR_EXPECTED.get(node.kind, ""), node.hint)
        return INVALID
    text = value if isinstance(value, str) else None
    if node.choices and (text is None or text not in node.choices):
        message = node.message or "{what} {value} is not known"
        ctx.error(node.code or "value", _fmt(message, ctx, node.what, value), path,
                  node.expected or "one of " + ", ".join(node.choices),
                  suggest(str(value), node.choices) or node.hint)
        return INVALID
    if node.pattern and (text is None or not _fullmatch(node.pattern)(text)):
        message = node.message or "{what} {value} is not valid"
        ctx.error(node.code or "value", _fmt(message, ctx, node.what, value), path, node.expected, node.hint)
        return INVALID
    return value


_FULLMATCH: dict[str, Callable[[str], re.Match[str] | None]] = {}


def _fullmatch(pattern: str) -> Callable[[str], re.Match[str] | None]:
    """`re.fullmatch(pattern, …)` without the re module's cache lookup per call (~1,300 calls for
    the course's files). Compiled on first use, as re.fullmatch compiles it."""
    f = _FULLMATCH.get(pattern)
    if f is None:
        f = _FULLMATCH[pattern] = re.compile(pattern).fullmatch
    return f


_SCALAR_MESSAGE = {"str": "{what} must be text", "int": "{what} must be a whole number",
                   "number": "{what} must be a number", "bool": "{what} must be true or false"}
_SCALAR_EXPECTED = {"int": "a whole number", "number": "a number", "bool": "true or false"}


def _text(node: Text, value: Any, path: YPath, ctx: Ctx) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return BiText(zh=value, en=value)
    if not isinstance(value, dict):
        ctx.error("type", f"{node.what} must be text or {{zh: …, en: …}}", path)
        return INVALID
    bad = False
    for k, v in value.items():
        if k not in LANGS:
            # the usual cause: `{en: Size, lower end}` — in a flow mapping a comma ends the text
            ctx.error("unknown-key", f"unknown key '{k}' in {node.what}", path + (k,), "one of zh, en",
                      suggest(str(k), LANGS) or "inside {zh: …, en: …} a comma or colon ends the text: "
                      "put it in quotes", value=False)
            bad = True
        elif not isinstance(v, str):
            if v is not None:
                ctx.error("type", f"{node.what}.{k} must be text", path + (k,))
                bad = True
    if bad:
        return INVALID
    return BiText(zh=str(value.get("zh") or ""), en=str(value.get("en") or ""))


def _map(g: Grammar, node: Map, value: Any, path: YPath, ctx: Ctx) -> Any:
    if value is None and (node.nullable or path) and node.allow_none:
        return None if node.nullable else {}
    if not isinstance(value, dict):
        message = node.type_message or "{what} must be a mapping"
        ctx.error(node.type_code, _fmt(message, ctx, node.what or "it"), path, node.expected)
        return INVALID
    inner = ctx
    if node.owner is not None:
        inner = Ctx(ctx.doc, ctx.out, ctx.domain, node.owner(value))
    out: dict[str, Any] = {}
    by_key = node.keys
    for k, v in value.items():
        f = by_key.get(k) if type(k) is str else None
        if f is None:
            f = node.field(str(k))
        if f is None:
            if node.closed:
                keys = [f.key for f in node.fields]
                where = node.what or "this mapping"
                message = (node.unknown or "unknown key '{key}' in {what}").format(key=k, what=where)
                # in the key's language: a Chinese key is compared with the Chinese labels
                pool = [a for f in node.fields for a in f.aliases if is_chinese(a)] if is_chinese(str(k)) else keys
                hint = (suggest(str(k), pool) or node.unknown_hint) if ctx.out.worth_a_hint() else ""
                inner.error("unknown-key", message, path + (k,), node.unknown_expected or "one of " + ", ".join(keys),
                            hint, value=False)
            else:
                out[k] = v
            continue
        if f.key in out:  # the same field under two of its keys (its name and a label): the first counts
            continue
        if type(v) is str:
            # text where text is read (most values): what _scalar or _text returns for it, without
            # read's dispatch and the path (a sixth of reading the course's files, callgrind)
            leaf = _text_leaf(f.node, v)
            if leaf is not None:
                out[f.key] = leaf
                continue
        out[f.key] = read(g, f.node, v, path + (k,), inner)
    if node.nonempty and not value:
        inner.error("missing", _fmt(node.nonempty, inner, node.what), path, node.expected)
    for f in node.needed:  # the required fields (most fields have nothing to ask)
        given = value.get(f.key) is not None or (
            (f.aliases or node.fold_case) and any(v is not None and node.field(str(k)) is f for k, v in value.items()))
        if not given:
            message = f.missing or f"{f.key} is required"
            inner.error(f.missing_code, _fmt(message, inner, node.what), path + ((f.key,) if f.key in value else ()),
                        f.expected, f.hint, value=f.key in value)
            out[f.key] = INVALID
    return out


def _table(g: Grammar, node: Table, value: Any, path: YPath, ctx: Ctx) -> Any:
    if value is None:
        return {} if node.nullable else INVALID
    if not isinstance(value, dict):
        ctx.error("type", f"{node.what} must be a mapping", path, "name: …")
        return INVALID
    out: dict[str, Any] = {}
    key = node.key
    for k, v in value.items():
        name = str(k)
        kp = path + (k,)
        if key.pattern and (not _fullmatch(key.pattern)(name) or any(p.startswith("__") for p in name.split("."))):
            ctx.error(key.code, f"'{name}' is not a valid {key.what} name", kp, key.expected, value=False)
            out[name] = INVALID
            continue
        if name.split(".")[0] in key.reserved:
            ctx.error(key.reserved_code, f"'{name}' is reserved", kp, hint="pick another name", value=False)
            out[name] = INVALID
            continue
        out[name] = read(g, node.value, v, kp, ctx)
    return out


def _seq(g: Grammar, node: Seq, value: Any, path: YPath, ctx: Ctx) -> Any:
    if value is None:
        return [] if node.nullable else INVALID
    if not isinstance(value, list):
        if node.single and _fits(g, node.item, value):
            return [read(g, node.item, value, path, ctx)]
        ctx.error("type", f"{node.what} must be a list", path, node.expected)
        return INVALID
    if node.max_items is not None:
        limit = node.max_items()
        if len(value) > limit:
            ctx.error("too-long", f"{node.what} has {len(value):,} items; the limit is {limit:,}", path)
            return INVALID
    return [read(g, node.item, v, path + (i,), ctx) for i, v in enumerate(value)]


def _either(g: Grammar, node: Either, value: Any, path: YPath, ctx: Ctx) -> Any:
    if value is None:
        return read(g, node.options[0], value, path, ctx)
    for option in node.options:
        if _fits(g, option, value):
            return read(g, option, value, path, ctx)
    kinds = " or ".join(dict.fromkeys(_shape_word(g, o) for o in node.options))
    ctx.error("type", f"{node.what} must be {kinds}", path, node.expected)
    return INVALID


_TYPE_EXPECTED = {"money": "an amount such as 1200000, 1.2M or 120万", "percent": "a percent such as 18% or 0.18",
                  "integer": "a whole number", "number": "a number", "bool": "true or false",
                  "date": "a date like 2026-03-01", "string": "text"}


def friendly_expected(node: Friendly) -> str:
    """What a value of the node looks like, for 'expected:' lines."""
    if node.type == "enum":
        return "one of " + ", ".join(node.enum)
    return _TYPE_EXPECTED.get(node.type, node.type)


def friendly_range(node: Friendly) -> str:
    lo = format_value(node.min, node.type, "en") if node.min is not None else "−∞"
    hi = format_value(node.max, node.type, "en") if node.max is not None else "∞"
    return f"[{lo}, {hi}]"


def _friendly(node: Friendly, raw: Any, path: YPath, ctx: Ctx) -> Any:
    if raw is None:
        return None
    if isinstance(raw, (dict, list)):
        shown = format_path(path)
        ctx.error("type", f"'{shown}' must be a single value, not a " + ("mapping" if isinstance(raw, dict) else "list"),
                  path, friendly_expected(node))
        return INVALID
    if isinstance(raw, float) and not math.isfinite(raw):
        ctx.error("not-finite", f"'{format_path(path)}' is {raw}, not a finite number", path, friendly_expected(node),
                  "leave the key out when the value is unknown")
        return INVALID
    try:
        value = parse_scalar(raw, node.type, node.enum, unit=node.unit)
    except ValueProblem as e:  # RangeProblem: well formed, but outside what kamrules computes with
        hint = e.hint or (_other_field(node, raw) if node.type == "enum" else "")
        ctx.error("range" if isinstance(e, RangeProblem) else "value", f"'{format_path(path)}': {e.message}", path,
                  e.expected or friendly_expected(node), hint)
        return INVALID
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if (node.min is not None and value < node.min) or (node.max is not None and value > node.max):
            rng = friendly_range(node)
            lang = "zh" if is_chinese(str(raw)) else "en"
            hint = ""
            bare = _bare_number(raw)
            if node.type == "percent" and bare is not None and 1 < abs(bare) <= 100:
                # a YAML number, or a CSV cell with no % sign (a CRM's column of percentages)
                hint = t("value.bare_percent", lang, raw=str(raw).strip())
            elif node.min is not None and value < node.min:
                # the real bound, not a rule of thumb: a margin may be negative, down to its min;
                # in the language of the input (第六台阶 gets a Chinese hint)
                hint = t("value.at_least_not_negative" if node.min == 0 else "value.at_least", lang,
                         name=format_path(path), bound=format_value(node.min, node.type, "en"))
            elif node.max is not None and value > node.max:
                hint = t("value.at_most", lang, name=format_path(path), bound=format_value(node.max, node.type, "en"))
            text = format_value(value, node.type, "en")
            if str(raw).strip() != text:
                text = f"{raw} (= {text})"
            ctx.error("range", f"'{format_path(path)}' is {text}, outside {rng}", path, rng, hint)
            return INVALID
    if node.type == "string" and ("\x00" in value or len(value) > node.max_text):
        ctx.error("value", f"'{format_path(path)}' is not usable text", path, f"text up to {node.max_text} characters")
        return INVALID
    for check in node.checks:
        if isinstance(value, str) and not re.fullmatch(check.pattern, value):
            ctx.error(check.code, check.message.format(value=repr(value)), path, check.expected, check.hint,
                      value=not check.at_key)
            return INVALID
    return value


_BARE = re.compile(r"[+-]?\d+(?:\.\d+)?")


def _bare_number(raw: Any) -> float | None:
    """A number as written: a YAML number, or text that is only digits (a CSV cell)."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str) and _BARE.fullmatch(raw.strip()):
        return float(raw)
    return None


def _other_field(node: Friendly, raw: Any) -> str:
    """'教练' under 态度 is a buying role (内线/教练): the field it belongs to, when exactly one
    other enum field beside this one has it as a value or a label (or a part of one: 内线/教练)."""
    text = str(raw).strip()
    low = text.lower()
    found = []
    for key, label, choices in node.elsewhere:
        for name, vlabel in choices:
            forms = {name, vlabel.zh or "", vlabel.en or ""} | set(re.split(r"[/／、]", vlabel.zh or ""))
            if low in {f.lower() for f in forms if f}:
                found.append((key, label, name, vlabel))
                break
    if len(found) != 1:
        return ""
    key, label, name, vlabel = found[0]
    lang = "zh" if is_chinese(text) else "en"
    shown = label.zh if lang == "zh" and label.zh else label.en or key
    choice = f"{vlabel.zh} ({name})" if lang == "zh" and vlabel.zh else name
    return t("value.other_field", lang, value=text, field=shown, name=key, choice=choice)


def _facts(g: Grammar, node: Facts, value: Any, path: YPath, ctx: Ctx) -> Any:
    if not isinstance(value, dict):
        ctx.error("type", f"{node.what} must be a mapping", path, "key: value pairs")
        return INVALID
    found = Found()
    _facts_level(g, node, value, path, "", ctx, found)
    for f in node.fields:
        if f.required and found.get(f.key) is None and f.key not in found.given:  # a bad value is reported already
            # a missing name has no place of its own: the top of the file (a CSV row or a rule
            # test case moves it to the row or the case)
            message = f.missing or f"'{f.key}' is required"
            written = found.paths.get(f.key)
            if written is not None:  # written and left empty (as `init account` writes id: and name:)
                ctx.out.add(ctx.code(f.missing_code), f"{message} and is empty here", ctx.at(written, value=False),
                            f.key, f.expected, "fill it in")
                continue
            ctx.out.add(ctx.code(f.missing_code), message, Location(ctx.doc.file, 1, 1), f.key, f.expected, f.hint)
    return found


def _facts_level(g: Grammar, node: Facts, data: Mapping[str, Any], path: YPath, prefix: str, ctx: Ctx,
                 found: Found) -> None:
    index = node.index
    for key, raw in data.items():
        kpath = path + (key,)
        name = str(key)
        free = node.free_keys.get(name) if not prefix else None
        if free is not None:
            found.paths[name] = kpath
            value = read(g, free.node, raw, kpath, ctx)
            if value is not None and value is not INVALID:
                found[name] = value
            continue
        target = index.lookup(prefix, name)
        if target is None:
            where = f"under '{prefix}'" if prefix else f"in {node.what}"
            ctx.error("unknown-key", f"unknown key '{name}' {where}", kpath, node.unknown_expected,
                      index.hint(prefix, name) if ctx.out.worth_a_hint() else "", value=False)
            continue
        if target.startswith(GROUP):
            if raw is None:
                continue
            if not isinstance(raw, dict):
                ctx.error("type", f"'{name}' must be a mapping", kpath, f"{name}:\n  <field>: <value>")
                continue
            _facts_level(g, node, raw, kpath, target[len(GROUP):], ctx, found)
            continue
        if target in found:
            ctx.error("duplicate-fact", node.duplicate.format(name=target), kpath, hint="keep one of them", value=False)
            continue
        found.paths[target] = kpath
        if raw is None:
            continue
        found.given.add(target)
        value = read(g, index.fields[target].node, raw, kpath, ctx)
        if value is not None and value is not INVALID:
            found[target] = value


def read_doc(g: Grammar, doc: Doc, out: Collector, domain: str) -> Any:
    """The whole document against the grammar's root."""
    return read(g, g.root, doc.data, (), Ctx(doc, out, domain))


# --------------------------------------------------------------------------- JSON Schema

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(g: Grammar) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    root = _schema(g, g.root, defs)
    out: dict[str, Any] = {"$schema": DRAFT}
    if g.id:
        out["$id"] = g.id
    if g.title:
        out["title"] = g.title
    if g.desc:
        out["description"] = g.desc
    out.update(root)
    if defs:
        out["$defs"] = dict(sorted(defs.items()))
    return out


def _described(s: dict[str, Any], desc: str) -> dict[str, Any]:
    return {"description": desc, **s} if desc else s


def _nullable(t: str | list[str], nullable: bool) -> str | list[str]:
    if not nullable:
        return t
    return [*([t] if isinstance(t, str) else t), "null"]


def _schema(g: Grammar, node: Node, defs: dict[str, Any]) -> dict[str, Any]:
    if isinstance(node, Ref):
        target = g.defs[node.name]
        if isinstance(target, Map) and target.name == node.name:
            return _schema(g, target, defs)  # a named Map registers itself
        if node.name not in defs:
            defs[node.name] = {}  # a placeholder first: the definition may refer to itself
            defs[node.name] = _schema(g, target, defs)
        return {"$ref": "#/$defs/" + node.name.replace("~", "~0").replace("/", "~1")}  # a JSON pointer
    if isinstance(node, Scalar):
        s: dict[str, Any]
        types = {"str": "string", "int": "integer", "number": "number", "bool": "boolean"}
        if node.choices:
            s = {"enum": [*node.choices, *([None] if node.nullable else [])]}
        elif node.kind == "any":
            s = {"type": _nullable(["string", "number", "boolean"], node.nullable)}
        else:
            s = {"type": _nullable(types[node.kind], node.nullable)}
        if node.pattern:
            s["pattern"] = f"^{node.pattern}$" if not node.pattern.startswith("^") else node.pattern
        s.update(node.schema_extra)
        return _described(s, node.desc)
    if isinstance(node, Text):
        if "text" not in defs:
            defs["text"] = {"description": "Text: the same in both languages, or {zh: …, en: …}",
                            "anyOf": [{"type": "string"},
                                      {"type": "object", "additionalProperties": False,
                                       "properties": {"zh": {"type": ["string", "null"]},
                                                      "en": {"type": ["string", "null"]}}}]}
        return _described({"$ref": "#/$defs/text"}, node.desc)
    if isinstance(node, Map):
        ref = {"$ref": f"#/$defs/{node.name}"}
        if node.name and node.name in defs:
            return ref
        if node.name:
            defs[node.name] = {}  # a placeholder first: the definition may refer to itself
        body: dict[str, Any] = {"type": _nullable("object", node.nullable)}
        if node.closed:
            body["additionalProperties"] = False
        required = [f.key for f in node.fields if f.required]
        if required:
            body["required"] = required
        if node.nonempty:
            body["minProperties"] = 1
        props: dict[str, Any] = {}
        for f in node.fields:
            sub = _schema(g, f.node, defs)
            for key in (f.key, *f.aliases):
                props.setdefault(key, sub)
        body["properties"] = props
        body.update(node.schema_extra)
        body = _described(body, node.desc)
        if not node.name:
            return body
        defs[node.name] = body
        return ref
    if isinstance(node, Table):
        t: dict[str, Any] = {"type": _nullable("object", node.nullable),
                             "additionalProperties": _schema(g, node.value, defs)}
        return _described(t, node.desc)
    if isinstance(node, Seq):
        items = _schema(g, node.item, defs)
        arr: dict[str, Any] = {"type": _nullable("array", node.nullable), "items": items, **node.schema_extra}
        if node.single:
            return _described({"anyOf": [items, arr]}, node.desc)
        return _described(arr, node.desc)
    if isinstance(node, Either):
        return _described({"anyOf": [_schema(g, o, defs) for o in node.options]}, node.desc)
    if isinstance(node, Anything):
        return _described({}, node.desc)
    if isinstance(node, Friendly):
        return _friendly_schema(node)
    if isinstance(node, Facts):
        return _facts_schema(g, node, defs)
    raise TypeError(node)  # pragma: no cover


BOOL_WORDS = ["true", "false", "yes", "no", "y", "n", "1", "0", "是", "否", "有", "无", "没有", "对", "错", "真", "假"]
AMOUNT_HELP = "a number, or a friendly amount: 1,200,000 · 1.2M · 300k · 120万 · 1.2亿"
PERCENT_HELP = "a percent such as 18% or a fraction such as 0.18"


def _bounds(node: Friendly, integer: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in (("minimum", node.min), ("maximum", node.max)):
        if v is not None:
            out[key] = int(v) if integer and float(v).is_integer() else v
    return out


def _friendly_value(node: Friendly) -> dict[str, Any]:
    """What a value of the type may look like in a JSON (or YAML) document."""
    t = node.type
    if t in ("money", "number"):
        return {"anyOf": [{"type": "number", **_bounds(node)}, {"type": "string", "description": AMOUNT_HELP}]}
    if t == "percent":
        return {"anyOf": [{"type": "number", **_bounds(node)}, {"type": "string", "description": PERCENT_HELP}]}
    if t == "integer":
        return {"anyOf": [{"type": "integer", **_bounds(node, integer=True)},
                          {"type": "string", "description": "a whole number, e.g. 8000 or 8,000"}]}
    if t == "bool":
        return {"anyOf": [{"type": "boolean"}, {"enum": BOOL_WORDS}]}
    if t == "date":
        return {"type": "string", "format": "date", "description": "a date like 2026-03-01"}
    if t == "enum":
        allowed: list[str] = []
        for v, label in node.choices:
            for alt in (v, label.zh, label.en):
                if alt and alt not in allowed:
                    allowed.append(alt)
        return {"enum": allowed}
    return {"type": ["string", "number"]}


def _friendly_schema(node: Friendly) -> dict[str, Any]:
    value = _friendly_value(node)
    s: dict[str, Any] = {}
    if node.title:
        s["title"] = node.title
    if node.desc:
        s["description"] = node.desc
    if node.nullable:
        s["anyOf"] = [*(value["anyOf"] if set(value) == {"anyOf"} else [value]), {"type": "null"}]
    else:
        s.update(value)
    if node.examples:
        s["examples"] = [plain(x) for x in node.examples]
    return s


def plain(v: Any) -> Any:
    """A value as JSON data (dates as ISO text; lists and mappings recursively)."""
    if isinstance(v, (_dt.date, _dt.datetime)):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


def _facts_schema(g: Grammar, node: Facts, defs: dict[str, Any]) -> dict[str, Any]:
    """Nested objects for the groups (team: {…}), every alias as another property, the flat
    forms of dotted names and their aliases at the top, the free keys, and each name's value
    schema once (a Ref, under $defs)."""
    tree: dict[str, Any] = {"facts": {}, "groups": {}, "path": ""}
    for f in node.fields:
        parts = f.key.split(".")
        level = tree
        for i, p in enumerate(parts[:-1]):
            level = level["groups"].setdefault(p, {"facts": {}, "groups": {}, "path": ".".join(parts[: i + 1])})
        level["facts"][parts[-1]] = f

    def obj(level: dict[str, Any], top: bool) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for leaf, f in level["facts"].items():
            sub = _schema(g, f.node, defs)
            for key in (leaf, *f.aliases):
                props.setdefault(key, sub)
        for key, child in level["groups"].items():
            s = obj(child, False)
            if top and key in node.files:
                s = {"anyOf": [s, {"type": "string", "description": node.files[key]}]}
            props.setdefault(key, s)
        if not top:
            return {"type": ["object", "null"], "title": level["path"], "properties": props,
                    "additionalProperties": False}
        for f in node.fields:
            if "." in f.key:  # flat forms: team.accounts_per_manager: 3, or a nested name's alias
                for key in (f.key, *f.aliases):
                    props.setdefault(key, _schema(g, f.node, defs))
        for f in node.free:
            props.setdefault(f.key, _schema(g, f.node, defs))
        return {"type": "object", "properties": props, "additionalProperties": False}

    out = obj(tree, True)
    required = [f for f in node.fields if f.required and "." not in f.key]
    if required:
        out["allOf"] = [{"anyOf": [{"required": [k]} for k in (f.key, *f.aliases)]} for f in required]
    out.update(node.schema_extra)
    return out


def schema_text(schema: Mapping[str, Any]) -> str:
    """A schema as the file `kamrules schema` prints (labels and help may come from an overlay)."""
    return textsafe.json_dumps(schema) + "\n"
