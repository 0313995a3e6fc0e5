"""One rulebook file → a RawBook: its structure validated (unknown keys, types), every problem
collected with file:line, the path to the bad key and a hint."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kamrules.core.errors import Collector, Location, suggest
from kamrules.core.values import (
    ALL_TYPES,
    NUMERIC_TYPES,
    SCALAR_TYPES,
    ValueProblem,
    parse_scalar,
)
from kamrules.core.yamlio import Doc, format_path
from kamrules.core.yamlio import Path as YPath
from kamrules.rulebook.model import (
    HIT_POLICIES,
    LANGS,
    SEVERITIES,
    DerivedDef,
    DimensionDef,
    FactDef,
    Message,
    MetricDef,
    Origin,
    RuleDef,
    ScoreDef,
    Text,
)

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
    templates: str = ""  # the `templates:` setting as written


class Reader:
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
                book.templates = t  # as written: rulebook/templates.py confines it to the overlay's folder
        return book

    def requires(self, req: Any) -> None:
        if req is None:
            return
        req = self.mapping(req, ("requires",), "requires")
        spec = req.get("kamrules")
        if spec is None:
            return
        from kamrules import __version__

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
