"""Base rulebooks ← overlays, parents first, with provenance for every element.

Overlays carry no defaults: an overlay's partial parameter or rule override is merged onto
what it changes, and defaults are applied only once, after every layer (pre-commit's rule).
"""
from __future__ import annotations

from dataclasses import field
from typing import Any

from kamrules.core.errors import Collector, Location, Problem, suggest
from kamrules.core.values import SCALAR_TYPES, ValueProblem, parse_scalar
from kamrules.core.record import dataclass
from kamrules.rulebook.model import (
    CauseDef,
    Disabled,
    InvariantDef,
    Message,
    Origin,
    ParamDef,
    RuleDef,
    TableDef,
    Text,
    replaced,
)
from kamrules.rulebook.read import RawBook, owner_parts


@dataclass
class Layered:
    facts: dict[str, Any] = field(default_factory=dict)
    params: dict[str, ParamDef] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    derived: dict[str, Any] = field(default_factory=dict)
    dimensions: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    rules: list[RuleDef] = field(default_factory=list)
    disabled: list[Disabled] = field(default_factory=list)
    locked: dict[str, str] = field(default_factory=dict)  # rule id → rulebook that locked it
    tables: dict[str, TableDef] = field(default_factory=dict)
    causes: dict[str, CauseDef] = field(default_factory=dict)
    invariants: dict[str, InvariantDef] = field(default_factory=dict)


def _define(table: dict[str, Any], book: RawBook, items: dict[str, Any], kind: str, out: Collector) -> None:
    for name, d in items.items():
        if name in table and table[name].origin.rulebook != book.id:
            prev = table[name].origin
            out.add("rulebook.redefined", f"{kind} '{name}' is already defined by {prev.rulebook} ({prev.location})",
                    d.origin.location, f"{kind}s.{name}",
                    hint="an overlay can add new names; to change a threshold use parameters:")
            continue
        table[name] = d


def layer(chain: list[RawBook], out: Collector) -> Layered:
    lay = Layered()
    raw_params: dict[str, tuple[dict[str, Any], Origin]] = {}
    for book in chain:
        _define(lay.facts, book, book.facts, "fact", out)
        _define(lay.metrics, book, book.metrics, "metric", out)
        _define(lay.derived, book, book.derived, "derived fact", out)
        _define(lay.dimensions, book, book.dimensions, "dimension", out)
        _define(lay.scores, book, book.scores, "score", out)
        _define(lay.causes, book, book.causes, "cause", out)
        for inv in book.invariants:
            prev = lay.invariants.get(inv.id)
            if prev is not None:
                out.add("rulebook.duplicate-invariant",
                        f"invariant id '{inv.id}' is already used in {prev.origin.rulebook} ({prev.origin.location})",
                        inv.origin.location, f"invariants[{inv.id}]",
                        hint="invariant ids must be unique; an overlay can add invariants, not change them")
                continue
            lay.invariants[inv.id] = inv
        for name, spec in book.params.items():
            loc = book.param_locs[name]
            if name in raw_params:
                merged, _ = raw_params[name]
                if "type" in spec and "type" in merged and spec["type"] != merged["type"]:
                    out.add("rulebook.param-type",
                            f"parameter '{name}' cannot change type from {merged['type']} to {spec['type']}",
                            loc, f"parameters.{name}.type")
                raw_params[name] = ({**merged, **spec}, Origin(book.id, loc))
            else:
                raw_params[name] = (dict(spec), Origin(book.id, loc))
        refused = _tables(lay, book, out)
        _rules(lay, book, out, refused)
    for name, (spec, origin) in raw_params.items():
        p = _param(name, spec, origin, out)
        if p:
            lay.params[name] = p
    return lay


def _param(name: str, spec: dict[str, Any], origin: Origin, out: Collector) -> ParamDef | None:
    value = spec.get("value")
    if value is None:
        out.add("rulebook.missing", f"parameter '{name}' has no value", origin.location, f"parameters.{name}",
                "value: …")
        return None
    type_ = spec.get("type") or ("percent" if isinstance(value, str) and value.strip().endswith("%") else
                                 "bool" if isinstance(value, bool) else
                                 "string" if isinstance(value, str) and not any(c.isdigit() for c in value) else "number")
    if type_ not in SCALAR_TYPES:
        return None
    try:
        # the same parse for every caller: `check` and `advise` load parameters here, and both
        # refuse a bare 15 for a percent ("did you mean 15%?") instead of reading 1500%
        parsed = parse_scalar(value, type_, setting=True)
    except ValueProblem as e:
        out.add("rulebook.value", f"parameter '{name}': {e.message}", origin.location, f"parameters.{name}.value",
                e.expected, e.hint)
        try:  # the load fails either way; keeping the value as read spares every rule that uses the
            parsed = parse_scalar(value, type_)  # parameter an 'unknown parameter' error on top
        except ValueProblem:
            return None
    source = str(spec.get("source") or "")
    if not source:
        out.problems.append(Problem("lint.param-no-source", f"parameter '{name}' has no source", origin.location,
                                    f"parameters.{name}", "source: deck | lit:<name> | recon | company:<who>",
                                    "say where the number comes from", severity="warning"))
    raw_label, raw_help = spec.get("label"), spec.get("help")
    label = raw_label if isinstance(raw_label, Text) else Text(zh=name, en=name)
    help_ = raw_help if isinstance(raw_help, Text) else Text()
    return ParamDef(name, type_, parsed, source, label, origin, help_, str(spec.get("unit") or ""))


def _tables(lay: Layered, book: RawBook, out: Collector) -> set[str]:
    """A table id is defined once; an overlay replaces a whole table (all its rows) with
    `replace: true`. Its rows are rules, added with the book's other rules. Returns the tables
    refused (their rows are not added: the table's error says it all)."""
    refused: set[str] = set()
    for table, is_replace in book.tables:
        prev = lay.tables.get(table.id)
        if prev is not None and prev.origin.rulebook == book.id:
            out.add("rulebook.duplicate-table", f"table id '{table.id}' is used twice (first at {prev.origin.location})",
                    table.origin.location, f"tables[{table.id}]", hint="table ids must be unique")
            continue
        if prev is not None and not is_replace:
            out.add("rulebook.duplicate-table",
                    f"table '{table.id}' already exists in {prev.origin.rulebook} ({prev.origin.location})",
                    table.origin.location, f"tables[{table.id}]",
                    hint="add 'replace: true' to replace the whole table, or use override: to change one row")
            refused.add(table.id)
            continue
        if prev is None and is_replace:
            out.add("rulebook.unknown-table", f"table '{table.id}' says replace: true, but no earlier rulebook has it",
                    table.origin.location, f"tables[{table.id}]", hint=suggest(table.id, lay.tables) or "remove 'replace'")
        if prev is not None:
            locked = [r for r in prev.rows if r in lay.locked]
            if locked:
                out.add("rulebook.locked", f"table '{table.id}' has rows locked by {lay.locked[locked[0]]} "
                        f"({', '.join(locked)}) and cannot be replaced", table.origin.location, f"tables[{table.id}]")
                refused.add(table.id)
                continue
            gone = set(prev.rows)
            lay.rules = [r for r in lay.rules if r.id not in gone]
        lay.tables[table.id] = table
    return refused


def _rules(lay: Layered, book: RawBook, out: Collector, refused: frozenset[str] | set[str] = frozenset()) -> None:
    index = {r.id: i for i, r in enumerate(lay.rules)}
    for rule, is_replace in book.rules:
        if rule.table and rule.table in refused:
            continue
        if rule.id in index:
            prev = lay.rules[index[rule.id]]
            if prev.origin.rulebook == book.id:
                out.add("rulebook.duplicate-rule", f"rule id '{rule.id}' is used twice (first at {prev.origin.location})",
                        rule.origin.location, f"rules[{rule.id}]", hint="rule ids must be unique")
            elif not is_replace:
                out.add("rulebook.duplicate-rule",
                        f"rule '{rule.id}' already exists in {prev.origin.rulebook} ({prev.origin.location})",
                        rule.origin.location, f"rules[{rule.id}]",
                        hint="add 'replace: true' to replace it, or use override: to change part of it")
            elif rule.id in lay.locked:
                out.add("rulebook.locked", f"rule '{rule.id}' is locked by {lay.locked[rule.id]} and cannot be replaced",
                        rule.origin.location, f"rules[{rule.id}]")
            else:
                lay.rules[index[rule.id]] = replaced(rule, changed_by=prev.changed_by + (book.id,))
            continue
        if is_replace:
            out.add("rulebook.unknown-rule", f"rule '{rule.id}' says replace: true, but no earlier rulebook has it",
                    rule.origin.location, f"rules[{rule.id}]", hint=suggest(rule.id, index) or "remove 'replace'")
        index[rule.id] = len(lay.rules)
        lay.rules.append(rule)
    for rid, reason, loc in book.disable:
        if rid not in index:
            out.add("rulebook.unknown-rule", f"cannot disable '{rid}': no such rule", loc, f"disable[{rid}]",
                    hint=suggest(rid, index))
            continue
        if rid in lay.locked:
            out.add("rulebook.locked", f"rule '{rid}' is locked by {lay.locked[rid]} and cannot be disabled", loc,
                    f"disable[{rid}]")
            continue
        lay.disabled.append(Disabled(rid, reason, Origin(book.id, loc)))
    for rid, spec, loc in book.override:
        if rid not in index:
            out.add("rulebook.unknown-rule", f"cannot override '{rid}': no such rule", loc, f"override.{rid}",
                    hint=suggest(rid, index))
            continue
        if rid in lay.locked:
            out.add("rulebook.locked", f"rule '{rid}' is locked by {lay.locked[rid]} and cannot be overridden", loc,
                    f"override.{rid}")
            continue
        i = index[rid]
        lay.rules[i] = _override(lay.rules[i], spec, book.id, loc, out)
    for rid, loc in book.lock:
        if rid not in index:
            out.add("rulebook.unknown-rule", f"cannot lock '{rid}': no such rule", loc, f"lock[{rid}]",
                    hint=suggest(rid, index))
            continue
        lay.locked[rid] = book.id
        lay.rules[index[rid]] = replaced(lay.rules[index[rid]], locked=True)
    gone = {d.rule for d in lay.disabled}
    if gone:
        lay.rules = [r for r in lay.rules if r.id not in gone]


def _override(r: RuleDef, spec: dict[str, Any], book_id: str, loc: Location, out: Collector) -> RuleDef:
    changes: dict[str, Any] = {"changed_by": r.changed_by + (book_id,)}
    if "when" in spec:
        changes["when"] = str(spec["when"])
        changes["when_location"] = spec.get("when_location", loc)
    if "priority" in spec:
        changes["priority"] = int(spec["priority"])
    if "title" in spec:
        changes["title"] = spec["title"]
    if "source" in spec:
        changes["source"] = str(spec["source"])
    if "classify" in spec and isinstance(spec["classify"], dict):
        changes["classify"] = tuple((k, str(v)) for k, v in spec["classify"].items())
    if "score" in spec and isinstance(spec["score"], dict):
        changes["score"] = tuple((k, str(v)) for k, v in spec["score"].items())
    for k in ("tags", "suppresses"):
        if isinstance(spec.get(k), list):
            changes[k] = tuple(x for x in spec[k] if isinstance(x, str))
    if isinstance(spec.get("words"), Text):
        changes["words"] = spec["words"]
    if isinstance(spec.get("threshold"), str):
        changes["threshold"] = spec["threshold"]
    msg_fields: dict[str, Any] = {k: spec[k] for k in ("severity", "message", "remedy", "horizon", "cause")
                                  if k in spec}
    if "owner" in spec:
        msg_fields["owner"], msg_fields["role"] = owner_parts(spec["owner"])
    if msg_fields:
        target = "warn" if r.warn else "recommend" if r.recommend else ""
        if not target:
            out.add("rulebook.override", f"rule '{r.id}' has no warn or recommend to change", loc, f"override.{r.id}")
        else:
            m: Message = getattr(r, target)
            changes[target] = replaced(m, **msg_fields)
    return replaced(r, **changes)
