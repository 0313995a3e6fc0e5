"""Rulebook files → one effective, checked Rulebook.

Three passes, each collecting every problem before it stops:
1. read each file of the `extends` graph and validate its structure (unknown keys, types);
2. layer them, parents first (layering.py);
3. check the effective rulebook: names, types, expressions, message variables, strata.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import ir
from .errors import Collector, Location, RulebookError, suggest
from .expr import ParseError
from .model import (HIT_POLICIES, LANGS, SEVERITIES, DerivedDef, DimensionDef, FactDef, Message,
                    MetricDef, Origin, ParamDef, RuleDef, Rulebook, ScoreDef, Text)
from .resources import builtin_rulebook_path
from .typecheck import Scope, check_condition, check_term
from .values import ALL_TYPES, NUMERIC_TYPES, SCALAR_TYPES, ValueProblem, parse_scalar
from .errors import InputError
from .yamlio import Doc, Path as YPath, format_path
from . import yamlio

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,80}$")
RULE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,80}$")
NAME_RE = re.compile(r"^[^\W\d][\w]*(\.[^\W\d][\w]*)*$")
SOURCE_RE = re.compile(r"^(deck|recon|lit:.+|company:.+)$")
CONCEPT_RE = re.compile(r"^[a-z_]+\.[a-z_]+$")
RESERVED = {"params", "account", "and", "or", "not", "in", "true", "false", "it", "classification", "score", "scores"}

TOP_KEYS = ("rulebook", "version", "title", "description", "lang", "requires", "extends", "facts",
            "parameters", "metrics", "derived", "dimensions", "scores", "rules", "disable", "override",
            "lock", "templates")
FACT_KEYS = ("type", "unit", "min", "max", "values", "label", "help", "aliases", "example", "group",
             "required", "items")
PARAM_KEYS = ("type", "value", "source", "label", "help")
METRIC_KEYS = ("type", "formula", "label", "help")
DERIVED_KEYS = ("type", "values", "label", "help")
DIM_KEYS = ("label", "hit_policy", "values", "help")
SCORE_KEYS = ("label", "min", "max", "help")
RULE_KEYS = ("id", "concept", "source", "priority", "title", "when", "then", "replace", "description")
THEN_KEYS = ("classify", "score", "derive", "warn", "recommend")
MSG_KEYS = ("severity", "message", "remedy", "owner")
OVERRIDE_KEYS = ("when", "priority", "title", "severity", "message", "remedy", "classify", "score", "source")


# --------------------------------------------------------------------------- raw per file

@dataclass
class RawBook:
    id: str
    file: str
    doc: Doc
    version: str = "0"
    title: Text = Text()
    lang: str = ""
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
    templates: str = ""


class _Reader:
    """Structural validation of one rulebook file."""

    def __init__(self, doc: Doc, out: Collector) -> None:
        self.doc = doc
        self.out = out
        self.book_id = "?"

    def loc(self, path: YPath) -> Location:
        return self.doc.loc(path)

    def err(self, code: str, msg: str, path: YPath, expected: str = "", hint: str = "", value: bool = False) -> None:
        loc = self.doc.value_loc(path) if value else self.doc.loc(path)
        self.out.add(code, msg, loc, format_path(path), expected, hint)

    def mapping(self, value: Any, path: YPath, what: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.err("rulebook.type", f"{what} must be a mapping", path, "key: value pairs", value=True)
            return {}
        return value

    def keys(self, m: dict[str, Any], allowed: tuple[str, ...], path: YPath, what: str) -> None:
        for k in m:
            if k not in allowed:
                self.err("rulebook.unknown-key", f"unknown key '{k}' in {what}", path + (k,),
                         "one of " + ", ".join(allowed), suggest(k, allowed))

    def text(self, value: Any, path: YPath, what: str, required: bool = False) -> Text:
        if value is None:
            if required:
                self.err("rulebook.missing", f"{what} is required", path, "{zh: …, en: …}")
            return Text()
        if isinstance(value, str):
            return Text(zh=value, en=value)
        if not isinstance(value, dict):
            self.err("rulebook.type", f"{what} must be text or {{zh: …, en: …}}", path, value=True)
            return Text()
        for k in value:
            if k not in LANGS:
                # the usual cause: `{en: Size, lower end}` — in a flow mapping a comma ends the text
                self.err("rulebook.unknown-key", f"unknown key '{k}' in {what}", path + (k,), "one of zh, en",
                         suggest(k, LANGS) or "inside {zh: …, en: …} a comma or colon ends the text: put it in quotes")
        for k, v in value.items():
            if k in LANGS and not isinstance(v, str):
                self.err("rulebook.type", f"{what}.{k} must be text", path + (k,), value=True)
        return Text(zh=str(value.get("zh") or ""), en=str(value.get("en") or ""))

    def name_ok(self, name: str, path: YPath, what: str) -> bool:
        if not NAME_RE.match(name) or any(p.startswith("__") for p in name.split(".")):
            self.err("rulebook.bad-name", f"'{name}' is not a valid {what} name", path,
                     "letters, digits and _, dotted for nested facts (team.accounts_per_manager)")
            return False
        if name.split(".")[0] in RESERVED:
            self.err("rulebook.reserved-name", f"'{name}' is reserved", path, hint="pick another name")
            return False
        return True

    def origin(self, path: YPath) -> Origin:
        return Origin(self.book_id, self.loc(path))

    def number(self, value: Any, path: YPath, type_: str = "number") -> float | None:
        try:
            t = "percent" if type_ == "percent" else "number"
            return float(parse_scalar(value, t))
        except ValueProblem as e:
            self.err("rulebook.value", e.message, path, e.expected, e.hint, value=True)
            return None

    def values(self, value: Any, path: YPath) -> tuple[tuple[str, Text], ...]:
        if isinstance(value, list):
            out = []
            for i, v in enumerate(value):
                if not isinstance(v, (str, int)) or isinstance(v, bool):
                    self.err("rulebook.type", "enum values must be words", path + (i,), value=True)
                    continue
                out.append((str(v), Text()))
            return tuple(out)
        if isinstance(value, dict):
            return tuple((str(k), self.text(v, path + (k,), f"label of '{k}'")) for k, v in value.items())
        self.err("rulebook.type", "values must be a list or a mapping of value → label", path,
                 "[low, medium, high] or {low: {zh: 低, en: low}}", value=True)
        return ()

    # -- sections
    def fact(self, name: str, spec: Any, path: YPath, in_list: bool = False) -> FactDef | None:
        if isinstance(spec, str) and in_list:
            spec = {"type": spec}
        spec = self.mapping(spec, path, f"fact '{name}'")
        self.keys(spec, FACT_KEYS, path, f"fact '{name}'")
        type_ = spec.get("type")
        if type_ not in ALL_TYPES:
            self.err("rulebook.fact-type", f"fact '{name}' has type {type_!r}", path + ("type",),
                     "one of " + ", ".join(ALL_TYPES), suggest(str(type_), ALL_TYPES), value="type" in spec)
            return None
        values = self.values(spec["values"], path + ("values",)) if "values" in spec else ()
        if type_ == "enum" and not values:
            self.err("rulebook.missing", f"enum fact '{name}' needs values", path, "values: [a, b, c]")
        items: tuple[FactDef, ...] = ()
        item_type = ""
        if type_ == "list":
            raw_items = spec.get("items", "string")
            if isinstance(raw_items, str):
                if raw_items not in SCALAR_TYPES:
                    self.err("rulebook.fact-type", f"list items of '{name}' have type {raw_items!r}", path + ("items",),
                             "a scalar type or a mapping of fields", suggest(raw_items, SCALAR_TYPES), value=True)
                item_type = raw_items
            else:
                fields = self.mapping(raw_items, path + ("items",), "items")
                built = [self.fact(k, v, path + ("items", k), in_list=True) for k, v in fields.items()]
                items = tuple(f for f in built if f is not None)
        mn = self.number(spec["min"], path + ("min",), type_) if "min" in spec else None
        mx = self.number(spec["max"], path + ("max",), type_) if "max" in spec else None
        aliases = spec.get("aliases") or []
        if not isinstance(aliases, list):
            self.err("rulebook.type", "aliases must be a list", path + ("aliases",), value=True)
            aliases = []
        return FactDef(
            name=name, type=type_, label=self.text(spec.get("label"), path + ("label",), "label"),
            origin=self.origin(path), help=self.text(spec.get("help"), path + ("help",), "help"),
            unit=str(spec.get("unit") or ""), min=mn, max=mx, values=values,
            aliases=tuple(str(a) for a in aliases), example=spec.get("example"),
            group=str(spec.get("group") or ""), required=bool(spec.get("required", False)),
            items=items, item_type=item_type)

    def read(self) -> RawBook:
        data = self.doc.data
        if not isinstance(data, dict):
            self.err("rulebook.not-mapping", "a rulebook must be a YAML mapping", (),
                     "rulebook: <id>, rules: […]", value=True)
            return RawBook(id="?", file=self.doc.file, doc=self.doc)
        self.keys(data, TOP_KEYS, (), "the rulebook")
        rid = data.get("rulebook")
        if not isinstance(rid, str) or not ID_RE.match(rid):
            self.err("rulebook.id", "the rulebook needs an id: 'rulebook: <id>'", ("rulebook",),
                     "lowercase letters, digits, . _ -", value="rulebook" in data)
            rid = Path(self.doc.file).stem
        self.book_id = rid
        book = RawBook(id=rid, file=self.doc.file, doc=self.doc)
        book.version = str(data.get("version", "0"))
        book.title = self.text(data.get("title"), ("title",), "title")
        lang = data.get("lang", "")
        if lang and lang not in LANGS:
            self.err("rulebook.lang", f"lang {lang!r} is not supported", ("lang",), "zh or en", value=True)
        book.lang = lang if lang in LANGS else ""
        self.requires(data.get("requires"))
        ext = data.get("extends", [])
        if isinstance(ext, str):
            ext = [ext]
        if not isinstance(ext, list):
            self.err("rulebook.type", "extends must be a list", ("extends",), value=True)
            ext = []
        for i, e in enumerate(ext):
            if not isinstance(e, str):
                self.err("rulebook.type", "each extends entry is a rulebook id or a path", ("extends", i), value=True)
                continue
            book.extends.append((e, self.doc.value_loc(("extends", i))))
        for name, spec in self.mapping(data.get("facts"), ("facts",), "facts").items():
            if self.name_ok(name, ("facts", name), "fact"):
                f = self.fact(name, spec, ("facts", name))
                if f:
                    book.facts[name] = f
        self.parameters(book, data)
        self.metrics(book, data)
        self.derived(book, data)
        self.dimensions(book, data)
        self.scores(book, data)
        rules = data.get("rules", [])
        if rules is None:
            rules = []
        if not isinstance(rules, list):
            self.err("rulebook.type", "rules must be a list", ("rules",), "- id: …", value=True)
            rules = []
        for i, r in enumerate(rules):
            rule = self.rule(r, ("rules", i))
            if rule:
                book.rules.append(rule)
        self.overlay_parts(book, data)
        t = data.get("templates")
        if t is not None:
            if not isinstance(t, str):
                self.err("rulebook.type", "templates must be a folder path", ("templates",), value=True)
            else:
                book.templates = str((Path(self.doc.file).parent / t).resolve())
        return book

    def requires(self, req: Any) -> None:
        if req is None:
            return
        req = self.mapping(req, ("requires",), "requires")
        spec = req.get("kamrules")
        if spec is None:
            return
        from . import __version__

        m = re.fullmatch(r"\s*>=\s*(\d+(?:\.\d+)*)\s*", str(spec))
        if not m:
            self.err("rulebook.requires", f"cannot read the version requirement {spec!r}", ("requires", "kamrules"),
                     "\">=0.1\"", value=True)
            return
        need = tuple(int(x) for x in m[1].split("."))
        have = tuple(int(x) for x in __version__.split("."))
        if have < need:
            self.err("rulebook.requires", f"this rulebook needs kamrules {spec}; this is {__version__}",
                     ("requires", "kamrules"), hint="upgrade kamrules", value=True)

    def parameters(self, book: RawBook, data: dict[str, Any]) -> None:
        for name, spec in self.mapping(data.get("parameters"), ("parameters",), "parameters").items():
            path: YPath = ("parameters", name)
            if not self.name_ok(name, path, "parameter"):
                continue
            if not isinstance(spec, dict):
                spec = {"value": spec}  # shorthand in overlays: name: 12%
            self.keys(spec, PARAM_KEYS, path, f"parameter '{name}'")
            if "type" in spec and spec["type"] not in SCALAR_TYPES:
                self.err("rulebook.param-type", f"parameter '{name}' has type {spec['type']!r}", path + ("type",),
                         "one of " + ", ".join(SCALAR_TYPES), suggest(str(spec["type"]), SCALAR_TYPES), value=True)
                continue
            if "source" in spec and (not isinstance(spec["source"], str) or not SOURCE_RE.match(spec["source"])):
                self.err("rulebook.source", f"source {spec['source']!r} is not recognised", path + ("source",),
                         "deck, recon, lit:<name> or company:<who>", value=True)
            entry = dict(spec)
            for k in ("label", "help"):
                if k in entry:
                    entry[k] = self.text(entry[k], path + (k,), k)
            book.params[name] = entry
            book.param_locs[name] = self.loc(path)

    def metrics(self, book: RawBook, data: dict[str, Any]) -> None:
        for name, spec in self.mapping(data.get("metrics"), ("metrics",), "metrics").items():
            path: YPath = ("metrics", name)
            if not self.name_ok(name, path, "metric"):
                continue
            if isinstance(spec, str):
                spec = {"formula": spec}
            spec = self.mapping(spec, path, f"metric '{name}'")
            self.keys(spec, METRIC_KEYS, path, f"metric '{name}'")
            formula = spec.get("formula")
            if not isinstance(formula, str) or not formula.strip():
                self.err("rulebook.missing", f"metric '{name}' needs a formula", path, "formula: revenue * gross_margin")
                continue
            type_ = spec.get("type", "number")
            if type_ not in NUMERIC_TYPES | {"bool"}:
                self.err("rulebook.metric-type", f"metric '{name}' has type {type_!r}", path + ("type",),
                         "number, integer, money, percent or bool", value=True)
                continue
            book.metrics[name] = MetricDef(name, type_, formula, self.text(spec.get("label"), path + ("label",), "label"),
                                           Origin(self.book_id, self.doc.value_loc(path + ("formula",))),
                                           self.text(spec.get("help"), path + ("help",), "help"))

    def derived(self, book: RawBook, data: dict[str, Any]) -> None:
        for name, spec in self.mapping(data.get("derived"), ("derived",), "derived").items():
            path: YPath = ("derived", name)
            if not self.name_ok(name, path, "derived fact"):
                continue
            spec = self.mapping(spec, path, f"derived fact '{name}'")
            self.keys(spec, DERIVED_KEYS, path, f"derived fact '{name}'")
            type_ = spec.get("type", "bool")
            if type_ not in SCALAR_TYPES or type_ == "date":
                self.err("rulebook.derived-type", f"derived fact '{name}' has type {type_!r}", path + ("type",),
                         "bool, number, money, percent, integer, enum or string", value=True)
                continue
            values = self.values(spec["values"], path + ("values",)) if "values" in spec else ()
            book.derived[name] = DerivedDef(name, type_, self.text(spec.get("label"), path + ("label",), "label"),
                                            self.origin(path), values)

    def dimensions(self, book: RawBook, data: dict[str, Any]) -> None:
        for name, spec in self.mapping(data.get("dimensions"), ("dimensions",), "dimensions").items():
            path: YPath = ("dimensions", name)
            if not self.name_ok(name, path, "dimension"):
                continue
            spec = self.mapping(spec, path, f"dimension '{name}'")
            self.keys(spec, DIM_KEYS, path, f"dimension '{name}'")
            hp = spec.get("hit_policy", "priority")
            if hp not in HIT_POLICIES:
                self.err("rulebook.hit-policy", f"hit policy {hp!r} is not known", path + ("hit_policy",),
                         "one of " + ", ".join(HIT_POLICIES), suggest(str(hp), HIT_POLICIES), value=True)
                continue
            values = self.values(spec.get("values"), path + ("values",))
            if not values:
                self.err("rulebook.missing", f"dimension '{name}' needs values", path, "values: {key: …, medium: …}")
                continue
            book.dimensions[name] = DimensionDef(name, self.text(spec.get("label"), path + ("label",), "label"),
                                                 hp, values, self.origin(path))

    def scores(self, book: RawBook, data: dict[str, Any]) -> None:
        for name, spec in self.mapping(data.get("scores"), ("scores",), "scores").items():
            path: YPath = ("scores", name)
            if not self.name_ok(name, path, "score"):
                continue
            spec = self.mapping(spec, path, f"score '{name}'")
            self.keys(spec, SCORE_KEYS, path, f"score '{name}'")
            mn = self.number(spec.get("min", 0), path + ("min",)) or 0.0
            mx = self.number(spec.get("max", 100), path + ("max",))
            book.scores[name] = ScoreDef(name, self.text(spec.get("label"), path + ("label",), "label"),
                                         self.origin(path), mn, 100.0 if mx is None else mx)

    def message(self, spec: Any, path: YPath, kind: str) -> Message | None:
        spec = self.mapping(spec, path, kind)
        self.keys(spec, MSG_KEYS, path, kind)
        sev = spec.get("severity", "medium" if kind == "warn" else "info")
        if sev not in SEVERITIES:
            self.err("rulebook.severity", f"severity {sev!r} is not known", path + ("severity",),
                     "one of " + ", ".join(SEVERITIES), suggest(str(sev), SEVERITIES), value=True)
            sev = "medium"
        if "message" not in spec:
            self.err("rulebook.missing", f"{kind} needs a message", path, "message: {zh: …, en: …}")
        return Message(sev, self.text(spec.get("message"), path + ("message",), "message"),
                       self.text(spec.get("remedy"), path + ("remedy",), "remedy"), str(spec.get("owner") or ""),
                       self.doc.value_loc(path + ("message",)) if "message" in spec else self.loc(path))

    def rule(self, spec: Any, path: YPath) -> tuple[RuleDef, bool] | None:
        if not isinstance(spec, dict):
            self.err("rulebook.type", "each rule must be a mapping", path, "- id: …\n  when: …\n  then: …", value=True)
            return None
        self.keys(spec, RULE_KEYS, path, "a rule")
        rid = spec.get("id")
        if not isinstance(rid, str) or not RULE_ID_RE.match(rid):
            self.err("rulebook.rule-id", "a rule needs an id", path + ("id",) if "id" in spec else path,
                     "letters, digits, - _ .", value="id" in spec)
            return None
        concept = spec.get("concept", "")
        if not isinstance(concept, str) or not CONCEPT_RE.match(concept):
            self.err("rulebook.concept", f"rule '{rid}' needs a concept key like misconception.over_concession",
                     path + ("concept",) if "concept" in spec else path, "family.name", value="concept" in spec)
        source = spec.get("source", "")
        if not isinstance(source, str) or not SOURCE_RE.match(source):
            self.err("rulebook.source", f"rule '{rid}' needs a source", path + ("source",) if "source" in spec else path,
                     "deck, recon, lit:<name> or company:<who>", value="source" in spec)
        prio = spec.get("priority", 0)
        if not isinstance(prio, int) or isinstance(prio, bool):
            self.err("rulebook.type", "priority must be a whole number", path + ("priority",), value=True)
            prio = 0
        when = spec.get("when")
        if isinstance(when, bool):
            when = "true" if when else "false"
        if not isinstance(when, str) or not when.strip():
            self.err("rulebook.missing", f"rule '{rid}' needs a condition", path + ("when",) if "when" in spec else path,
                     "when: revenue > 1000万")
            when = "false"
        then = self.mapping(spec.get("then"), path + ("then",), "then")
        self.keys(then, THEN_KEYS, path + ("then",), "then")
        if not then:
            self.err("rulebook.missing", f"rule '{rid}' does nothing", path + ("then",) if "then" in spec else path,
                     "then: with classify, score, derive, warn or recommend")
        classify = self.pairs(then.get("classify"), path + ("then", "classify"), "classify")
        score = self.pairs(then.get("score"), path + ("then", "score"), "score")
        derive = self.pairs(then.get("derive"), path + ("then", "derive"), "derive", raw=True)
        warn = self.message(then["warn"], path + ("then", "warn"), "warn") if "warn" in then else None
        rec = self.message(then["recommend"], path + ("then", "recommend"), "recommend") if "recommend" in then else None
        rule = RuleDef(
            id=rid, concept=str(concept), source=str(source),
            title=self.text(spec.get("title"), path + ("title",), "title"), when=when,
            origin=self.origin(path), when_location=self.doc.value_loc(path + ("when",)),
            priority=prio, classify=tuple((k, str(v)) for k, v in classify),
            score=tuple((k, str(v)) for k, v in score), derive=tuple(derive), warn=warn, recommend=rec)
        return rule, bool(spec.get("replace", False))

    def pairs(self, value: Any, path: YPath, what: str, raw: bool = False) -> list[tuple[str, Any]]:
        if value is None:
            return []
        m = self.mapping(value, path, what)
        out = []
        for k, v in m.items():
            if isinstance(v, (dict, list)) or v is None:
                self.err("rulebook.type", f"{what}.{k} must be a single value", path + (k,), value=True)
                continue
            out.append((k, v if raw else (str(v).lower() if isinstance(v, bool) else v)))
        return out

    def overlay_parts(self, book: RawBook, data: dict[str, Any]) -> None:
        dis = data.get("disable") or []
        if not isinstance(dis, list):
            self.err("rulebook.type", "disable must be a list", ("disable",), "- {rule: id, reason: why}", value=True)
            dis = []
        for i, d in enumerate(dis):
            p: YPath = ("disable", i)
            if isinstance(d, str):
                self.err("rulebook.missing", f"disabling '{d}' needs a reason", p,
                         "- {rule: " + d + ", reason: why}", "the reason is shown in every playbook's provenance")
                continue
            d = self.mapping(d, p, "disable entry")
            self.keys(d, ("rule", "reason"), p, "disable entry")
            if not isinstance(d.get("rule"), str) or not str(d.get("reason") or "").strip():
                self.err("rulebook.missing", "a disable entry needs rule and reason", p, "{rule: id, reason: why}")
                continue
            book.disable.append((d["rule"], str(d["reason"]), self.loc(p)))
        ov = self.mapping(data.get("override"), ("override",), "override")
        for rid, spec in ov.items():
            p = ("override", rid)
            spec = self.mapping(spec, p, f"override of '{rid}'")
            self.keys(spec, OVERRIDE_KEYS, p, f"override of '{rid}'")
            if "severity" in spec and spec["severity"] not in SEVERITIES:
                self.err("rulebook.severity", f"severity {spec['severity']!r} is not known", p + ("severity",),
                         "one of " + ", ".join(SEVERITIES), suggest(str(spec["severity"]), SEVERITIES), value=True)
                continue
            for k in ("message", "remedy", "title"):
                if k in spec:
                    spec[k] = self.text(spec[k], p + (k,), k)
            if "when" in spec:
                spec["when_location"] = self.doc.value_loc(p + ("when",))
            book.override.append((rid, spec, self.loc(p)))
        lock = data.get("lock") or []
        if not isinstance(lock, list):
            self.err("rulebook.type", "lock must be a list of rule ids", ("lock",), value=True)
            lock = []
        for i, rid in enumerate(lock):
            book.lock.append((str(rid), self.doc.value_loc(("lock", i))))


# --------------------------------------------------------------------------- the extends graph

def resolve_ref(ref: str, from_file: str | None) -> Path | None:
    if ref.endswith((".yaml", ".yml", ".json")) or "/" in ref or "\\" in ref:
        base = Path(from_file).parent if from_file else Path.cwd()
        p = (base / ref)
        return p if p.is_file() else None
    return builtin_rulebook_path(ref)


def display_path(path: Path) -> str:
    """Stable names in messages and outputs: rules/course/x.yaml for built-ins, else relative to cwd."""
    from .resources import rules_dir

    p = path.resolve()
    for base, prefix in ((rules_dir().resolve(), "rules"), (Path.cwd().resolve(), "")):
        try:
            rel = p.relative_to(base)
        except ValueError:
            continue
        return f"{prefix}/{rel.as_posix()}" if prefix else rel.as_posix()
    return str(path)


def read_chain(ref: str, out: Collector) -> list[RawBook]:
    """Every rulebook of the extends graph, parents before children, each once."""
    order: list[RawBook] = []
    seen: dict[str, RawBook] = {}
    stack: list[str] = []

    def visit(path: Path, via: Location | None) -> RawBook | None:
        key = str(path.resolve())
        if key in seen:
            return seen[key]
        if key in stack:
            cycle = " → ".join(Path(s).name for s in stack[stack.index(key):] + [key])
            out.add("rulebook.extends-cycle", f"rulebooks extend each other in a cycle: {cycle}",
                    via or Location(str(path)), hint="remove one of the extends")
            return None
        stack.append(key)
        try:
            # open the real path; name the document by its stable display path
            text, encoding = yamlio.read_text(str(path))
            doc = yamlio.load(display_path(path), text=text, encoding=encoding)
        except InputError as e:
            out.extend(e.problems)
            stack.pop()
            return None
        book = _Reader(doc, out).read()
        book.real = str(path)
        for parent_ref, loc in book.extends:
            p = resolve_ref(parent_ref, str(path))
            if p is None:
                from .resources import builtin_rulebooks

                out.add("rulebook.extends-missing", f"cannot find the rulebook '{parent_ref}'", loc,
                        f"extends[{parent_ref}]", "a built-in id or a path relative to this file",
                        suggest(parent_ref, builtin_rulebooks()))
                continue
            visit(p, loc)
        stack.pop()
        seen[key] = book
        order.append(book)
        return book

    path = resolve_ref(ref, None)
    if path is None:
        from .resources import builtin_rulebooks

        out.add("rulebook.not-found", f"no rulebook file or built-in rulebook named '{ref}'", Location(ref),
                hint=suggest(ref, builtin_rulebooks()) or "built-in: " + ", ".join(builtin_rulebooks()))
        return []
    visit(path, None)
    return order


# --------------------------------------------------------------------------- check

def _scope(facts: dict[str, FactDef], params: dict[str, ParamDef], metrics: dict[str, MetricDef],
           derived: dict[str, DerivedDef], dims: dict[str, DimensionDef], scores: dict[str, ScoreDef]) -> Scope:
    names: dict[str, ir.Ref] = {}
    list_items: dict[str, dict[str, ir.Ref]] = {}
    list_scalar: dict[str, str] = {}
    for f in facts.values():
        names[f.name] = ir.Ref(f.name, f.type, "fact", f.value_names)
        if f.type == "list":
            if f.items:
                list_items[f.name] = {i.name: ir.Ref(i.name, i.type, "item", i.value_names) for i in f.items}
            else:
                list_scalar[f.name] = f.item_type or "string"
    for m in metrics.values():
        names[m.name] = ir.Ref(m.name, m.type, "metric")
    for d in derived.values():
        names[d.name] = ir.Ref(d.name, d.type, "derived", tuple(v for v, _ in d.values))
    for dim in dims.values():
        names[dim.name] = ir.Ref(dim.name, "enum", "dimension", tuple(v for v, _ in dim.values))
    for s in scores.values():
        names[s.name] = ir.Ref(s.name, "number", "score")
    return Scope(names, {p.name: (p.type, p.value) for p in params.values()}, list_items, list_scalar)


def _expr_loc(base: Location, pos: int, src: str) -> Location:
    # Conditions are usually on one line; block scalars start on the next line.
    if "\n" in src.rstrip("\n"):
        before = src[:pos]
        return Location(base.file, base.line + before.count("\n") + 1, len(before) - before.rfind("\n"))
    return Location(base.file, base.line, base.col + pos)


def check(name: str, chain: list[RawBook], layered: "Any", out: Collector) -> Rulebook:
    from .messages import check_message_vars
    from .strata import stratify

    facts, params, metrics = layered.facts, layered.params, layered.metrics
    derived, dims, scores = layered.derived, layered.dimensions, layered.scores
    # one namespace for everything a condition can name
    seen: dict[str, Origin] = {}
    for kind, table in (("fact", facts), ("metric", metrics), ("derived fact", derived),
                        ("dimension", dims), ("score", scores)):
        for n, d in table.items():
            if n in seen:
                out.add("rulebook.name-clash", f"'{n}' is declared twice (as a {kind} here, and at {seen[n]})",
                        d.origin.location, n, hint="rename one of them")
            seen[n] = d.origin
    scope = _scope(facts, params, metrics, derived, dims, scores)
    # metrics: formulas, then a topological order
    checked_metrics: dict[str, MetricDef] = {}
    for m in metrics.values():
        try:
            term = check_term(m.formula, scope)
        except ParseError as e:
            out.add("rulebook.formula", f"metric '{m.name}': {e.message}",
                    _expr_loc(m.origin.location, e.pos, m.formula), f"metrics.{m.name}.formula", hint=e.hint)
            continue
        checked_metrics[m.name] = replace(m, term=term)
    order = _metric_order(checked_metrics, out)
    rules: list[RuleDef] = []
    for r in layered.rules:
        rules.append(_check_rule(r, scope, layered, out))
    check_message_vars(rules, scope, out)
    strata = stratify(rules, out)
    lang = next((b.lang for b in reversed(chain) if b.lang), "zh")
    top = chain[-1] if chain else None
    book = Rulebook(
        id=top.id if top else name, version=top.version if top else "0",
        title=next((b.title for b in reversed(chain) if b.title.zh or b.title.en), Text(zh=name, en=name)),
        lang=lang, files=tuple(b.file for b in chain), facts=dict(facts), params=dict(params),
        metrics=checked_metrics, derived=dict(derived), dimensions=dict(dims), scores=dict(scores),
        rules=tuple(sorted(rules, key=lambda r: (strata.get(r.id, 0), -r.priority, r.id))),
        disabled=tuple(layered.disabled), metric_order=tuple(order),
        templates=tuple(b.templates for b in reversed(chain) if b.templates),
        chain=tuple(b.id for b in chain), strata=strata)
    return replace(book, digest=digest(book))


def _check_rule(r: RuleDef, scope: Scope, layered: Any, out: Collector) -> RuleDef:
    cond: ir.Cond = ir.Truth(False)
    try:
        cond = check_condition(r.when, scope)
    except ParseError as e:
        out.add("rulebook.condition", f"rule '{r.id}': {e.message}", _expr_loc(r.when_location, e.pos, r.when),
                f"rules[{r.id}].when", hint=e.hint)
    terms = []
    for sname, text in r.score:
        if sname not in layered.scores:
            out.add("rulebook.unknown-score", f"rule '{r.id}' scores '{sname}', which is not declared", r.origin.location,
                    f"rules[{r.id}].then.score.{sname}", hint=suggest(sname, layered.scores) or "declare it under scores:")
            continue
        try:
            t = check_term(text, scope)
        except ParseError as e:
            out.add("rulebook.score", f"rule '{r.id}', score '{sname}': {e.message}", r.origin.location,
                    f"rules[{r.id}].then.score.{sname}", hint=e.hint)
            continue
        if t.type not in NUMERIC_TYPES:
            out.add("rulebook.score", f"rule '{r.id}' adds {t.type} to score '{sname}'", r.origin.location,
                    f"rules[{r.id}].then.score.{sname}", "a number")
            continue
        terms.append((sname, t))
    for dim, value in r.classify:
        d = layered.dimensions.get(dim)
        if d is None:
            out.add("rulebook.unknown-dimension", f"rule '{r.id}' classifies '{dim}', which is not declared",
                    r.origin.location, f"rules[{r.id}].then.classify.{dim}",
                    hint=suggest(dim, layered.dimensions) or "declare it under dimensions:")
        elif value not in [v for v, _ in d.values]:
            out.add("rulebook.unknown-value", f"rule '{r.id}': '{value}' is not a value of {dim}", r.origin.location,
                    f"rules[{r.id}].then.classify.{dim}", "one of " + ", ".join(v for v, _ in d.values),
                    suggest(value, [v for v, _ in d.values]))
    derive = []
    for name, value in r.derive:
        dd = layered.derived.get(name)
        if dd is None:
            out.add("rulebook.unknown-derived", f"rule '{r.id}' derives '{name}', which is not declared",
                    r.origin.location, f"rules[{r.id}].then.derive.{name}",
                    hint=suggest(name, layered.derived) or "declare it under derived:")
            continue
        try:
            derive.append((name, parse_scalar(value, dd.type, dict(dd.values))))
        except ValueProblem as e:
            out.add("rulebook.value", f"rule '{r.id}' derives {name} = {value!r}: {e.message}", r.origin.location,
                    f"rules[{r.id}].then.derive.{name}", e.expected, e.hint)
    return replace(r, cond=cond, score_terms=tuple(terms), derive=tuple(derive))


def _metric_order(metrics: dict[str, MetricDef], out: Collector) -> list[str]:
    deps = {n: sorted({r.name for r in ir.refs(m.term) if r.kind == "metric"}) for n, m in metrics.items()}
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str, trail: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            cyc = trail[trail.index(n):] + [n]
            out.add("rulebook.metric-cycle", "metrics depend on each other in a cycle: " + " → ".join(cyc),
                    metrics[n].origin.location, f"metrics.{n}", hint="one of them must use facts only")
            return
        state[n] = 1
        for d in deps.get(n, []):
            if d in metrics:
                visit(d, trail + [n])
        state[n] = 2
        order.append(n)

    for n in sorted(metrics):
        visit(n, [])
    return order


def digest(book: Rulebook) -> str:
    """Content digest of the effective rulebook: independent of file paths and line numbers."""
    def clean(x: Any) -> Any:
        if hasattr(x, "__dataclass_fields__"):
            return {k: clean(getattr(x, k)) for k in x.__dataclass_fields__
                    if k not in ("origin", "when_location", "cond", "score_terms", "term", "location")}
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in sorted(x.items())}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if isinstance(x, (str, int, float, bool)) or x is None:
            return x
        return str(x)

    payload = {k: clean(getattr(book, k)) for k in ("facts", "params", "metrics", "derived", "dimensions",
                                                     "scores", "rules", "disabled")}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def load_rulebook(ref: str = "course") -> Rulebook:
    """Load, layer and check a rulebook by built-in id or path. Raises RulebookError.

    A checked rulebook is cached on disk, keyed by the reference and validated against the
    content hash of every file of its extends graph (cache.py)."""
    from . import cache

    ck = cache.key("rulebook", ref, str(Path.cwd()))
    hit = cache.get("rulebook", ck)
    if hit is not None:
        files, book = hit
        try:
            if all(cache.file_hash(f) == h for f, h in files):
                return book  # type: ignore[no-any-return]
        except OSError:
            pass
    book, chain = _load_fresh(ref)
    cache.put("rulebook", ck, ([(b.real, cache.file_hash(b.real)) for b in chain], book))
    return book


def _load_fresh(ref: str) -> tuple[Rulebook, list[RawBook]]:
    from .layering import layer

    out = Collector()
    chain = read_chain(ref, out)
    if out:
        raise RulebookError(out.problems)
    layered = layer(chain, out)
    book = check(ref, chain, layered, out)
    errors = [p for p in out.problems if p.severity == "error"]
    if errors:
        raise RulebookError(errors)
    return book, chain

