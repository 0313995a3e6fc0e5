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

`read(node, value, path, ctx)` checks a parsed YAML value against a node and returns it with
Text nodes turned into model Text values; a node that fails returns INVALID and reports why.
`json_schema(node)` returns the draft 2020-12 schema of the same node. The vocabulary is the
pre-commit/cfgv idea (schemas are data, errors read as a path down to the bad key), written
for our needs: error codes per domain (`rulebook.unknown-key`), bilingual text, and shape-based
alternatives.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Union

from kamrules.core.errors import Collector, Location, suggest
from kamrules.core.i18n import LANGS
from kamrules.core.i18n import Text as BiText
from kamrules.core.yamlio import Doc, format_path
from kamrules.core.yamlio import Path as YPath


class _Invalid:
    """The value of a node that failed (its problems are already reported)."""

    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:  # `section or []` skips a section that failed
        return False


INVALID: Any = _Invalid()

# A message may name its subject: "{what}" (the node's description) and "{owner}" (the enclosing
# item, e.g. "rule 'over'") are filled in; "{value}" is the offending value, repr'ed.


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Text:
    """Bilingual text: a string (the same in both languages) or {zh: …, en: …}."""

    desc: str = ""
    what: str = "text"


@dataclass(frozen=True)
class Field:
    key: str
    node: "Node"
    required: bool = False
    missing: str = ""  # message when it is missing; may use {owner}; default "{key} is required"
    missing_code: str = "missing"
    expected: str = ""  # shown with a missing-key error
    hint: str = ""
    default: Any = None


@dataclass(frozen=True)
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

    def field(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)


@dataclass(frozen=True)
class Key:
    """How a Table's keys are checked: a pattern, and names that are reserved."""

    pattern: str = ""
    what: str = "name"
    code: str = "bad-name"
    expected: str = ""
    reserved: frozenset[str] = frozenset()
    reserved_code: str = "reserved-name"


@dataclass(frozen=True)
class Table:
    """A mapping whose keys the user chooses: name → value."""

    value: "Node"
    desc: str = ""
    key: Key = Key()
    what: str = "mapping"
    nullable: bool = True


@dataclass(frozen=True)
class Seq:
    item: "Node"
    desc: str = ""
    what: str = "list"
    single: bool = False  # a single item may be written without the list
    nullable: bool = True
    expected: str = "- item"
    schema_extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Either:
    """Alternatives chosen by the value's YAML shape: the first whose shape fits is used."""

    options: tuple["Node", ...]
    desc: str = ""
    what: str = "value"
    expected: str = ""


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class Anything:
    """Any value at all, kept as written (an example value, free notes)."""

    desc: str = ""


Node = Union[Scalar, Text, Map, Table, Seq, Either, Ref, Anything]


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
    if isinstance(node, (Map, Table)):
        return "a mapping"
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
    node = g.resolve(node)
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
    if isinstance(node, Anything):
        return value
    raise TypeError(node)  # pragma: no cover - Ref is resolved above


def _scalar(node: Scalar, value: Any, path: YPath, ctx: Ctx) -> Any:
    if value is None:
        return None
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
    if node.pattern and (text is None or not re.fullmatch(node.pattern, text)):
        message = node.message or "{what} {value} is not valid"
        ctx.error(node.code or "value", _fmt(message, ctx, node.what, value), path, node.expected, node.hint)
        return INVALID
    return value


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
    if value is None and (node.nullable or path):
        return None if node.nullable else {}
    if not isinstance(value, dict):
        message = node.type_message or "{what} must be a mapping"
        ctx.error(node.type_code, _fmt(message, ctx, node.what or "it"), path, node.expected)
        return INVALID
    inner = ctx
    if node.owner is not None:
        inner = Ctx(ctx.doc, ctx.out, ctx.domain, node.owner(value))
    keys = [f.key for f in node.fields]
    out: dict[str, Any] = {}
    for k, v in value.items():
        f = node.field(k)
        if f is None:
            if node.closed:
                where = node.what or "this mapping"
                inner.error("unknown-key", f"unknown key '{k}' in {where}", path + (k,), "one of " + ", ".join(keys),
                            suggest(str(k), keys) or node.unknown_hint, value=False)
            else:
                out[k] = v
            continue
        out[k] = read(g, f.node, v, path + (k,), inner)
    if node.nonempty and not value:
        inner.error("missing", _fmt(node.nonempty, inner, node.what), path, node.expected)
    for f in node.fields:
        if f.required and value.get(f.key) is None:
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
        if key.pattern and (not re.fullmatch(key.pattern, name) or any(p.startswith("__") for p in name.split("."))):
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
        return {"$ref": f"#/$defs/{node.name}"}
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
        body["properties"] = {f.key: _schema(g, f.node, defs) for f in node.fields}
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
    raise TypeError(node)  # pragma: no cover
