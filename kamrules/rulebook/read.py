"""One rulebook file → a RawBook.

The file's structure is checked against the declared grammar (grammar.py: unknown keys, shapes,
ids, words — every problem collected with file:line:col, the path to the bad key and a hint).
This module turns what the grammar accepted into model objects and checks what depends on
values: a fact's range against its type, the kamrules version a rulebook requires, an enum
without values, a disable entry without a reason.
"""
from __future__ import annotations

import re
from dataclasses import field
from pathlib import Path
from typing import Any, Mapping

from kamrules.core.errors import Collector, Location
from kamrules.core.grammar import INVALID, read_doc
from kamrules.core.values import ValueProblem, parse_scalar
from kamrules.core.yamlio import Doc, format_path
from kamrules.core.yamlio import Path as YPath
from kamrules.core.record import dataclass
from kamrules.rulebook.grammar import GRAMMAR, ID_PATTERN, REQUIRES_PATTERN
from kamrules.rulebook.model import (
    CauseDef,
    DerivedDef,
    DimensionDef,
    FactDef,
    InvariantDef,
    Message,
    MetricDef,
    Origin,
    RuleDef,
    ScoreDef,
    TableDef,
    Text,
)
from kamrules.rulebook.tables import ExpandedRow, expand
from kamrules.rulebook.vocabulary import OWNER_ROLES


@dataclass
class RawBook:
    id: str
    file: str
    doc: Doc
    version: str = "0"
    title: Text = Text()
    lang: str = ""
    currency: str = ""
    extends: list[tuple[str, Location]] = field(default_factory=list)
    facts: dict[str, FactDef] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # partial: overlays may set only value
    param_locs: dict[str, Location] = field(default_factory=dict)
    metrics: dict[str, MetricDef] = field(default_factory=dict)
    derived: dict[str, DerivedDef] = field(default_factory=dict)
    dimensions: dict[str, DimensionDef] = field(default_factory=dict)
    scores: dict[str, ScoreDef] = field(default_factory=dict)
    rules: list[tuple[RuleDef, bool]] = field(default_factory=list)  # (rule, replace)
    real: str = ""  # the file's real path (doc.file is its display name)
    disable: list[tuple[str, str, Location]] = field(default_factory=list)
    override: list[tuple[str, dict[str, Any], Location]] = field(default_factory=list)
    lock: list[tuple[str, Location]] = field(default_factory=list)
    templates: str = ""  # the `templates:` setting as written
    tables: list[tuple[TableDef, bool]] = field(default_factory=list)  # (table, replace)
    playbook: dict[str, Any] = field(default_factory=dict)  # section → what the grammar read
    playbook_locs: dict[str, Location] = field(default_factory=dict)
    causes: dict[str, CauseDef] = field(default_factory=dict)
    invariants: list[InvariantDef] = field(default_factory=list)


def _ok(v: Any) -> bool:
    return v is not None and v is not INVALID


def _items(table: Any) -> list[tuple[str, Any]]:
    """The valid entries of a Table the grammar read (failed ones are already reported)."""
    return [(k, v) for k, v in table.items() if _ok(v)] if isinstance(table, dict) else []


def _text(v: Any) -> Text:
    return v if isinstance(v, Text) else Text()


class Reader:
    """What the grammar accepted → model objects, for one file."""

    def __init__(self, doc: Doc, out: Collector) -> None:
        self.doc = doc
        self.out = out
        self.book_id = "?"

    def loc(self, path: YPath) -> Location:
        return self.doc.loc(path)

    def err(self, code: str, msg: str, path: YPath, expected: str = "", hint: str = "", value: bool = False) -> None:
        loc = self.doc.value_loc(path) if value else self.doc.loc(path)
        self.out.add(code, msg, loc, format_path(path), expected, hint)

    def origin(self, path: YPath) -> Origin:
        return Origin(self.book_id, self.loc(path))

    def read(self) -> RawBook:
        data = read_doc(GRAMMAR, self.doc, self.out, "rulebook")
        if not isinstance(data, dict):
            return RawBook(id="?", file=self.doc.file, doc=self.doc)
        rid = data.get("rulebook")
        if not isinstance(rid, str) or not re.fullmatch(ID_PATTERN, rid):
            rid = Path(self.doc.file).stem  # reported by the grammar; go on to find more problems
        self.book_id = rid
        book = RawBook(id=rid, file=self.doc.file, doc=self.doc)
        if _ok(data.get("version")):
            book.version = str(data["version"])
        book.title = _text(data.get("title"))
        book.lang = data["lang"] if _ok(data.get("lang")) else ""
        book.currency = data["currency"] if _ok(data.get("currency")) else ""
        self.requires(data.get("requires"))
        for i, e in enumerate(data.get("extends") or []):
            if _ok(e):
                at = ("extends", i) if isinstance(self.doc.data.get("extends"), list) else ("extends",)
                book.extends.append((e, self.doc.value_loc(at)))
        for name, spec in _items(data.get("facts")):
            f = self.fact(name, spec, ("facts", name))
            if f:
                book.facts[name] = f
        for name, spec in _items(data.get("parameters")):
            self.parameter(book, name, spec)
        for name, spec in _items(data.get("metrics")):
            self.metric(book, name, spec)
        for name, spec in _items(data.get("derived")):
            path: YPath = ("derived", name)
            book.derived[name] = DerivedDef(name, spec.get("type") or "bool", _text(spec.get("label")),
                                            self.origin(path), self.values(spec.get("values"), path + ("values",)))
        for name, spec in _items(data.get("dimensions")):
            self.dimension(book, name, spec)
        for name, spec in _items(data.get("scores")):
            path = ("scores", name)
            mn = self.number(spec.get("min", 0), path + ("min",))
            mx = self.number(spec.get("max", 100), path + ("max",))
            book.scores[name] = ScoreDef(name, _text(spec.get("label")), self.origin(path), mn or 0.0,
                                         100.0 if mx is None else mx)
        for i, r in enumerate(data.get("rules") or []):
            if isinstance(r, dict):
                rule = self.rule(r, ("rules", i))
                if rule:
                    book.rules.append(rule)
        for i, tbl in enumerate(data.get("tables") or []):
            if isinstance(tbl, dict) and isinstance(tbl.get("table"), str):
                self.table(book, tbl, ("tables", i))
        for cid, spec in _items(data.get("causes")):
            book.causes[cid] = CauseDef(cid, _text(spec.get("title")), self.origin(("causes", cid)),
                                        _text(spec.get("explanation")), str(spec.get("source") or ""))
        for i, inv in enumerate(data.get("invariants") or []):
            if isinstance(inv, dict):
                self.invariant(book, inv, ("invariants", i))
        if isinstance(data.get("playbook"), dict):
            book.playbook = {k: v for k, v in data["playbook"].items() if _ok(v)}
            book.playbook_locs = {k: self.loc(("playbook", k)) for k in book.playbook}
        self.overlay_parts(book, data)
        t = data.get("templates")
        if isinstance(t, str):
            book.templates = t  # as written: rulebook/templates.py confines it to the overlay's folder
        return book

    # -- values the grammar cannot judge

    def requires(self, req: Any) -> None:
        if not isinstance(req, dict) or not _ok(req.get("kamrules")):
            return
        from kamrules import __version__

        spec = req["kamrules"]
        m = re.fullmatch(REQUIRES_PATTERN, spec)
        assert m is not None  # the grammar checked the pattern
        need = tuple(int(x) for x in m[1].split("."))
        have = tuple(int(x) for x in __version__.split("."))
        if have < need:
            self.err("rulebook.requires", f"this rulebook needs kamrules {spec}; this is {__version__}",
                     ("requires", "kamrules"), hint="upgrade kamrules", value=True)

    def number(self, value: Any, path: YPath, type_: str = "number") -> float | None:
        if not _ok(value):
            return None
        try:
            t = "percent" if type_ == "percent" else "number"
            # a bound is set by the rulebook, like a parameter: a bare 100 for a percent is refused
            # ("did you mean 100%?"), never read as 10000%
            return float(parse_scalar(value, t, setting=True))
        except ValueProblem as e:
            self.err("rulebook.value", e.message, path, e.expected, e.hint, value=True)
            return None

    def values(self, value: Any, path: YPath) -> tuple[tuple[str, Text], ...]:
        if isinstance(value, list):
            return tuple((str(v), Text()) for v in value if _ok(v))
        if isinstance(value, dict):
            return tuple((str(k), _text(v)) for k, v in value.items())
        return ()

    # -- sections

    def fact(self, name: str, spec: Any, path: YPath) -> FactDef | None:
        if isinstance(spec, str):  # a list item's field written as its type alone
            spec = {"type": spec}
        type_ = spec.get("type")
        if not _ok(type_):
            return None
        values = self.values(spec.get("values"), path + ("values",))
        if type_ == "enum" and not values:
            self.err("rulebook.missing", f"enum fact '{name}' needs values", path, "values: [a, b, c]")
        items: tuple[FactDef, ...] = ()
        item_type = ""
        if type_ == "list":
            raw_items = spec.get("items", "string")
            if isinstance(raw_items, str):
                item_type = raw_items
            elif isinstance(raw_items, dict):
                built = [self.fact(k, v, path + ("items", k)) for k, v in _items(raw_items)]
                items = tuple(f for f in built if f is not None)
        mn = self.number(spec.get("min"), path + ("min",), type_)
        mx = self.number(spec.get("max"), path + ("max",), type_)
        if mn is not None and mx is not None and mn > mx:
            self.err("rulebook.range", f"fact '{name}': min is greater than max", path + ("min",),
                     "min <= max", value=True)
        plausible = self.plausible(name, spec.get("plausible"), path + ("plausible",), type_, mn, mx)
        aliases = [a for a in spec.get("aliases") or [] if _ok(a)] if isinstance(spec.get("aliases"), list) else []
        return FactDef(
            name=name, type=type_, label=_text(spec.get("label")), origin=self.origin(path),
            help=_text(spec.get("help")), unit=str(spec.get("unit") or ""), min=mn, max=mx, values=values,
            aliases=tuple(str(a) for a in aliases), example=spec.get("example"),
            group=str(spec.get("group") or ""), required=spec.get("required") is True,
            items=items, item_type=item_type, supplier=str(spec.get("supplied") or ""), plausible=plausible)

    def plausible(self, name: str, raw: Any, path: YPath, type_: str, mn: float | None,
                  mx: float | None) -> tuple[float | None, float | None] | tuple[()]:
        """`plausible: [lo, hi]`: numbers of the fact's type, lo <= hi, inside the hard range."""
        if raw is None or raw is INVALID:
            return ()
        expected = "plausible: [lo, hi], e.g. [-50%, 80%] (~ for no bound on that side)"
        if type_ not in ("number", "integer", "money", "percent"):
            self.err("rulebook.plausible", f"fact '{name}' is of type {type_}: only numbers have a plausible range",
                     path, "a number, integer, money or percent fact")
            return ()
        if not isinstance(raw, list) or len(raw) != 2:
            self.err("rulebook.plausible", f"fact '{name}': plausible must be a list of two bounds", path, expected,
                     value=True)
            return ()
        lo = self.number(raw[0], path + (0,), type_) if raw[0] is not None else None
        hi = self.number(raw[1], path + (1,), type_) if raw[1] is not None else None
        if (raw[0] is not None and lo is None) or (raw[1] is not None and hi is None):
            return ()  # reported by number()
        if lo is None and hi is None:
            self.err("rulebook.plausible", f"fact '{name}': a plausible range needs at least one bound", path, expected,
                     value=True)
            return ()
        if lo is not None and hi is not None and lo > hi:
            self.err("rulebook.plausible", f"fact '{name}': the plausible range starts above where it ends", path,
                     expected, value=True)
            return ()
        outside = (lo is not None and ((mn is not None and lo < mn) or (mx is not None and lo > mx))) or \
                  (hi is not None and ((mx is not None and hi > mx) or (mn is not None and hi < mn)))
        if outside:
            self.err("rulebook.plausible", f"fact '{name}': the plausible range reaches outside min/max, the values "
                     "that are possible at all", path, "a plausible range inside [min, max]",
                     hint="min/max say what is impossible (an error); plausible says what is usual (a data check)",
                     value=True)
            return ()
        return (lo, hi)

    def parameter(self, book: RawBook, name: str, spec: Any) -> None:
        path: YPath = ("parameters", name)
        if not isinstance(spec, dict):
            spec = {"value": spec}  # shorthand in overlays: name: 12%
        if any(v is INVALID for k, v in spec.items() if k in ("type", "source")):
            return
        entry = {k: v for k, v in spec.items() if v is not INVALID and v is not None}
        book.params[name] = entry
        book.param_locs[name] = self.loc(path)

    def metric(self, book: RawBook, name: str, spec: Any) -> None:
        path: YPath = ("metrics", name)
        if isinstance(spec, str):
            spec = {"formula": spec}
            at: YPath = path
        else:
            at = path + ("formula",)
        formula, type_ = spec.get("formula"), spec.get("type", "number")
        if not _ok(formula) or not _ok(type_):
            return
        if not formula.strip():
            self.err("rulebook.missing", f"metric '{name}' needs a formula", path, "formula: revenue * gross_margin")
            return
        book.metrics[name] = MetricDef(name, type_, formula, _text(spec.get("label")),
                                       Origin(self.book_id, self.doc.value_loc(at)), _text(spec.get("help")),
                                       str(spec.get("unit") or ""))

    def dimension(self, book: RawBook, name: str, spec: Mapping[str, Any]) -> None:
        path: YPath = ("dimensions", name)
        hp = spec.get("hit_policy", "priority")
        if not _ok(hp):
            return
        values = self.values(spec.get("values"), path + ("values",))
        if not values:
            if _ok(spec.get("values")):
                self.err("rulebook.missing", f"dimension '{name}' needs values", path, "values: {key: …, medium: …}")
            return
        book.dimensions[name] = DimensionDef(name, _text(spec.get("label")), hp, values, self.origin(path))

    def message(self, spec: Any, path: YPath, kind: str) -> Message | None:
        if not isinstance(spec, dict):
            return None
        sev = spec.get("severity")
        if not isinstance(sev, str):
            sev = "medium" if kind == "warn" else "info"
        name, role = owner_parts(spec.get("owner"))
        # every field by position (severity, message, remedy, owner, location, role, horizon, cause): a
        # record's keyword call is checked name by name (~0.8 M instructions for the course's 129 messages)
        return Message(sev, _text(spec.get("message")), _text(spec.get("remedy")), name,
                       self.doc.value_loc(path + ("message",)) if "message" in spec else self.loc(path),
                       role, _str(spec.get("horizon")), _str(spec.get("cause")))

    def invariant(self, book: RawBook, spec: Mapping[str, Any], path: YPath) -> None:
        iid = spec.get("id")
        if not isinstance(iid, str) or not _ok(spec.get("source")):
            return  # reported by the grammar
        never, only_if = spec.get("never"), spec.get("only_if")
        if (never is None) == (only_if is None):
            self.err("rulebook.invariant", f"invariant '{iid}' needs exactly one of never: or only_if:", path,
                     "never: [tag:loss, tag:invest]  or  only_if: {advice: tag:ladder_up, when: …}")
            return
        title, desc, source = _text(spec.get("title")), _text(spec.get("description")), str(spec["source"])
        if isinstance(never, list):
            sels = tuple(x for x in never if _ok(x))
            if len(sels) != len(never):
                return
            if len(sels) < 2:
                self.err("rulebook.invariant", f"invariant '{iid}': never: needs at least two selectors",
                         path + ("never",), "never: [tag:loss, tag:invest]")
                return
            book.invariants.append(InvariantDef(iid, "never", sels, source, self.origin(path), title, desc))
        elif isinstance(only_if, dict) and _ok(only_if.get("advice")) and _ok(only_if.get("when")):
            when = only_if["when"]
            when = ("true" if when else "false") if isinstance(when, bool) else str(when)
            sels = tuple(x for x in only_if["advice"] if _ok(x))
            book.invariants.append(InvariantDef(iid, "only_if", sels, source, self.origin(path), title, desc,
                                                when, self.doc.value_loc(path + ("only_if", "when"))))

    def rule(self, spec: Mapping[str, Any], path: YPath) -> tuple[RuleDef, bool] | None:
        rid = spec.get("id")
        if not isinstance(rid, str):
            return None
        when = spec.get("when")
        if isinstance(when, bool):
            when = "true" if when else "false"
        if not _ok(when) or not str(when).strip():
            if _ok(when):
                self.err("rulebook.missing", f"rule '{rid}' needs a condition", path + ("when",),
                         "when: revenue > 1000万")
            when = "false"
        then: Mapping[str, Any] = spec["then"] if isinstance(spec.get("then"), dict) else {}
        tpath = path + ("then",)
        warn = self.message(then.get("warn"), tpath + ("warn",), "warn")
        rec = self.message(then.get("recommend"), tpath + ("recommend",), "recommend")
        prio = spec.get("priority")
        rule = RuleDef(
            id=rid, concept=str(spec.get("concept") if _ok(spec.get("concept")) else ""),
            source=str(spec.get("source") if _ok(spec.get("source")) else ""),
            title=_text(spec.get("title")), when=str(when), origin=self.origin(path),
            when_location=self.doc.value_loc(path + ("when",)), priority=prio if isinstance(prio, int) else 0,
            classify=tuple((k, _word(v)) for k, v in _items(then.get("classify"))),
            score=tuple((k, _word(v)) for k, v in _items(then.get("score"))),
            derive=tuple(_items(then.get("derive"))), warn=warn, recommend=rec, **_provenance(spec))
        return rule, spec.get("replace") is True

    def table(self, book: RawBook, spec: Mapping[str, Any], path: YPath) -> None:
        """A decision table: each row becomes an ordinary rule (tables.py)."""
        tid = spec["table"]
        outputs = [o for o in spec.get("outputs") or [] if isinstance(o, str)]
        rows = expand(spec, path, self.doc, self.out)
        for row in rows:
            book.rules.append((self.row_rule(spec, row, outputs), False))
        policy = spec["hit_policy"] if isinstance(spec.get("hit_policy"), str) else "unique"
        table = TableDef(tid, policy, tuple(i for i in spec.get("inputs") or [] if isinstance(i, str)),
                         tuple(outputs), tuple(r.id for r in rows), self.origin(path),
                         spec.get("complete") is True, _text(spec.get("title")),
                         pre if isinstance(pre := spec.get("when"), str) else "")
        book.tables.append((table, spec.get("replace") is True))

    def row_rule(self, table: Mapping[str, Any], row: ExpandedRow, outputs: list[str]) -> RuleDef:
        spec = row.spec

        def own(key: str) -> Any:
            v = spec.get(key)
            return v if _ok(v) else table.get(key) if _ok(table.get(key)) else None

        classify, score, derive = [], [], []
        for col, value in zip(outputs, spec["then"]):
            kind, _, name = col.partition(".")
            if not _ok(value):
                continue
            if kind == "classify":
                classify.append((name, _word(value)))
            elif kind == "score":
                score.append((name, _word(value)))
            else:
                derive.append((name, value))
        prio = own("priority")
        row_title = _text(spec.get("title"))
        return RuleDef(
            id=row.id, concept=str(own("concept") or ""), source=str(own("source") or ""),
            title=row_title if (row_title.zh or row_title.en) else _text(table.get("title")), when=row.when,
            origin=self.origin(row.path),
            when_location=row.spans[0][2] if row.spans else self.doc.value_loc(row.path + ("when",)),
            priority=prio if isinstance(prio, int) else 0, classify=tuple(classify), score=tuple(score),
            derive=tuple(derive), warn=self.message(spec.get("warn"), row.path + ("warn",), "warn"),
            recommend=self.message(spec.get("recommend"), row.path + ("recommend",), "recommend"),
            table=table["table"], cells=row.spans, **_provenance(spec, table))

    def overlay_parts(self, book: RawBook, data: Mapping[str, Any]) -> None:
        for i, d in enumerate(data.get("disable") or []):
            p: YPath = ("disable", i)
            if isinstance(d, str):
                self.err("rulebook.missing", f"disabling '{d}' needs a reason", p,
                         "- {rule: " + d + ", reason: why}", "the reason is shown in every playbook's provenance")
                continue
            if not isinstance(d, dict) or not _ok(d.get("rule")) or not _ok(d.get("reason")):
                continue
            if not str(d["reason"]).strip():
                self.err("rulebook.missing", "a disable entry needs rule and reason", p, "{rule: id, reason: why}")
                continue
            book.disable.append((d["rule"], str(d["reason"]), self.loc(p)))
        for rid, spec in _items(data.get("override")):
            p = ("override", rid)
            if any(v is INVALID for v in spec.values()):
                continue
            spec = {k: v for k, v in spec.items() if v is not None}
            for k in ("classify", "score"):
                if k in spec:
                    spec[k] = {name: _word(v) for name, v in spec[k].items() if _ok(v)}
            if "when" in spec:
                if isinstance(spec["when"], bool):
                    spec["when"] = "true" if spec["when"] else "false"
                spec["when_location"] = self.doc.value_loc(p + ("when",))
            book.override.append((rid, spec, self.loc(p)))
        for i, rid in enumerate(data.get("lock") or []):
            if _ok(rid):
                book.lock.append((str(rid), self.doc.value_loc(("lock", i))))


def _word(v: Any) -> str:
    """An assignment's value as written: true/false in lower case, numbers as they read."""
    return str(v).lower() if isinstance(v, bool) else str(v)


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _list(v: Any) -> tuple[str, ...]:
    return tuple(x for x in v if isinstance(x, str)) if isinstance(v, list) else ()


def owner_parts(owner: Any) -> tuple[str, str]:
    """An owner as written → (the fact naming the person, the role). A role word is the role; any
    other word is the fact that names the rep (the form older rulebooks use); a mapping gives both.
    Whether the fact is declared is checked with the other names (check.py)."""
    if isinstance(owner, str):
        return ("", owner) if owner in OWNER_ROLES else (owner, "rep")
    if isinstance(owner, dict) and isinstance(owner.get("role"), str):
        return _str(owner.get("name")), owner["role"]
    return "", ""


def _provenance(spec: Mapping[str, Any], table: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A rule's tags, relations, quote and threshold source. A table row adds its own tags and
    suppressions to the table's, and its own words or threshold replace the table's."""
    t = table or {}

    def own(key: str) -> Any:
        v = spec.get(key)
        return v if _ok(v) else t.get(key) if _ok(t.get(key)) else None

    return {"tags": tuple(dict.fromkeys(_list(t.get("tags")) + _list(spec.get("tags")))),
            "suppresses": tuple(dict.fromkeys(_list(t.get("suppresses")) + _list(spec.get("suppresses")))),
            "words": _text(own("words")), "threshold": _str(own("threshold"))}
