"""The layered rulebook → the effective, checked Rulebook: one namespace, every expression parsed
and type-checked, message variables checked, metrics ordered, rules stratified, and a digest."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, TypeVar

from jinja2 import TemplateSyntaxError

from kamrules.core.errors import Collector, Location, suggest
from kamrules.core.values import (
    NUMERIC_TYPES,
    ValueProblem,
    parse_scalar,
)
from kamrules.language import ir
from kamrules.language.messages import CHECK_ENV, FILTERS
from kamrules.language.parser import ParseError
from kamrules.language.templatenames import if_names, plain_names, undeclared
from kamrules.language.typecheck import Scope, check_condition, check_term
from kamrules.rulebook.model import (
    DerivedDef,
    DimensionDef,
    FactDef,
    MetricDef,
    Origin,
    ParamDef,
    Rulebook,
    RuleDef,
    ScoreDef,
    TableDef,
    Text,
    replaced,
)
from kamrules.rulebook import playbook
from kamrules.rulebook.read import RawBook


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


_T = TypeVar("_T")


class _Once:
    """Conditions and terms parsed and type-checked once per distinct text within one check: the
    course's 210 rules have 196 distinct conditions, and their 59 score terms 15 distinct texts.
    The answer depends on the text and the scope alone, and IR nodes are frozen, so rules with
    the same text share one; an error is raised afresh for each rule that has it (each reports
    it at its own location, as before)."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.conds: dict[str, ir.Cond | ParseError] = {}
        self.terms: dict[str, ir.Term | ParseError] = {}

    def cond(self, src: str) -> ir.Cond:
        return self._once(self.conds, check_condition, src)

    def term(self, src: str) -> ir.Term:
        return self._once(self.terms, check_term, src)

    def _once(self, memo: dict[str, _T | ParseError], check: Callable[[str, Scope], _T], src: str) -> _T:
        hit = memo.get(src)
        if hit is None:
            try:
                hit = check(src, self.scope)
            except ParseError as e:
                hit = e
            memo[src] = hit
        if isinstance(hit, ParseError):
            raise ParseError(hit.message, hit.pos, hit.hint)
        return hit


def _expr_loc(base: Location, pos: int, src: str) -> Location:
    # Conditions are usually on one line; block scalars start on the next line.
    if "\n" in src.rstrip("\n"):
        before = src[:pos]
        return Location(base.file, base.line + before.count("\n") + 1, len(before) - before.rfind("\n"))
    return Location(base.file, base.line, base.col + pos)


def _table_cond(t: TableDef, once: _Once) -> ir.Cond:
    """A table's shared precondition, checked (a mistake in it is reported on every row)."""
    if not t.when.strip():
        return ir.Truth(True)
    try:
        return once.cond(t.when)
    except ParseError:
        return ir.Truth(True)


def _condition_loc(r: RuleDef, pos: int) -> Location:
    """Where a condition error is: in a table row, the cell (or precondition) that holds the offset."""
    if r.cells:
        for start, end, loc in r.cells:
            if start <= pos <= end:
                return loc
        return r.cells[0][2]
    return _expr_loc(r.when_location, pos, r.when)


def check(name: str, chain: list[RawBook], layered: "Any", out: Collector) -> Rulebook:
    from kamrules.rulebook.strata import stratify
    from kamrules.rulebook.templates import chain_folders

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
    once = _Once(scope)
    # metrics: formulas, then a topological order
    checked_metrics: dict[str, MetricDef] = {}
    for m in metrics.values():
        try:
            term = once.term(m.formula)
        except ParseError as e:
            out.add("rulebook.formula", f"metric '{m.name}': {e.message}",
                    _expr_loc(m.origin.location, e.pos, m.formula), f"metrics.{m.name}.formula", hint=e.hint)
            continue
        checked_metrics[m.name] = replaced(m, term=term)
    order = _metric_order(checked_metrics, out)
    rules: list[RuleDef] = []
    for r in layered.rules:
        rules.append(_check_rule(r, once, layered, out))
    check_message_vars(rules, scope, out)
    from kamrules.rulebook import relations

    relations.check_rules(rules, facts=facts, causes=layered.causes, dims=dims, out=out)
    invariants = relations.check_invariants(list(layered.invariants.values()), rules, scope, dims, out)
    kept = {r.id for r in rules}  # a table's rows without the disabled ones
    from kamrules.rulebook.selectors import suppressors

    suppressed_by = suppressors(rules)
    strata = stratify(rules, out, suppressed_by)
    sections, where = playbook.merge((b.playbook, b.playbook_locs) for b in chain)
    guide = playbook.build(sections)
    playbook.check_names(guide, where, values=set(facts) | set(metrics) | set(derived), dimensions=set(dims),
                         scores=set(scores), params=set(params), out=out, facts=facts,
                         param_types={n: p.type for n, p in params.items()}, raw=sections,
                         dimension_values={n: [v for v, _ in d.values] for n, d in dims.items()})
    for rid in guide.portfolio.checks:
        if rid not in kept and rid not in {d.rule for d in layered.disabled}:
            out.add("rulebook.playbook-name", f"the playbook's portfolio checks name the rule '{rid}', which is not "
                    "declared", where.get("portfolio", Location("playbook")), "playbook.portfolio.checks",
                    hint=suggest(rid, kept) or "name a rule of the rulebook")
    lang = next((b.lang for b in reversed(chain) if b.lang), "zh")
    currency = next((b.currency for b in reversed(chain) if b.currency), "")  # the nearest overlay's
    top = chain[-1] if chain else None
    book = Rulebook(
        id=top.id if top else name, version=top.version if top else "0",
        title=next((b.title for b in reversed(chain) if b.title.zh or b.title.en), Text(zh=name, en=name)),
        lang=lang, currency=currency, files=tuple(b.file for b in chain), facts=dict(facts), params=dict(params),
        metrics=checked_metrics, derived=dict(derived), dimensions=dict(dims), scores=dict(scores),
        rules=tuple(sorted(rules, key=lambda r: (strata.get(r.id, 0), -r.priority, r.id))),
        disabled=tuple(layered.disabled), metric_order=tuple(order),
        templates=chain_folders(chain, out),
        chain=tuple(b.id for b in chain), strata=strata,
        tables={k: replaced(v, rows=tuple(r for r in v.rows if r in kept), cond=_table_cond(v, once))
                for k, v in layered.tables.items()},
        playbook=guide, causes=dict(layered.causes), invariants=tuple(invariants), suppressors=suppressed_by)
    return replaced(book, digest=digest(book))


def _check_rule(r: RuleDef, once: _Once, layered: Any, out: Collector) -> RuleDef:
    cond = ir.NEVER  # a placeholder when `when` does not check: lint skips the rule
    try:
        cond = once.cond(r.when)
    except ParseError as e:
        out.add("rulebook.condition", f"rule '{r.id}': {e.message}", _condition_loc(r, e.pos),
                f"rules[{r.id}].when", hint=e.hint)
    terms = []
    for sname, text in r.score:
        if sname not in layered.scores:
            out.add("rulebook.unknown-score", f"rule '{r.id}' scores '{sname}', which is not declared", r.origin.location,
                    f"rules[{r.id}].then.score.{sname}", hint=suggest(sname, layered.scores) or "declare it under scores:")
            continue
        try:
            t = once.term(text)
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
    return replaced(r, cond=cond, score_terms=tuple(terms), derive=tuple(derive))


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


_NOT_DIGESTED = frozenset({"origin", "when_location", "cond", "score_terms", "term", "location", "table", "cells"})


_SCALARS = frozenset({str, int, float, bool, type(None)})  # exactly these types, not their subclasses


def digest(book: Rulebook) -> str:
    """Content digest of the effective rulebook: independent of file paths and line numbers."""
    fields: dict[type, Any] = {}  # type → the digested fields of a dataclass, or False for any other type
    scalars = _SCALARS

    def clean(x: Any) -> Any:
        t = type(x)
        if t in scalars:
            return x  # most values: no attribute lookup that fails (hasattr on a str raises inside)
        names: Any = fields.get(t)
        if names is None:  # in sorted order, as json.dumps(sort_keys=True) wrote them
            names = fields[t] = tuple(sorted(k for k in x.__dataclass_fields__ if k not in _NOT_DIGESTED)) \
                if hasattr(x, "__dataclass_fields__") else False
        # a scalar field or item is taken as it is here, without a call of clean (most of them)
        if names is not False:
            out: dict[str, Any] = {}
            for k in names:
                v = getattr(x, k)
                tv = type(v)
                if tv in scalars:
                    out[k] = v
                elif tv is tuple:  # (a third of the values: pairs, lists of words, most of them empty)
                    out[k] = [w if type(w) in scalars else clean(w) for w in v] if v else []
                else:
                    out[k] = clean(v)
            return out
        if t is tuple or t is list:
            return [v if type(v) in scalars else clean(v) for v in x]
        if isinstance(x, dict):
            out = {str(k): v if type(v) in scalars else clean(v) for k, v in sorted(x.items())}
            return out if all(type(k) is str for k in x) else dict(sorted(out.items()))
        if isinstance(x, (list, tuple)):
            return [v if type(v) in scalars else clean(v) for v in x]
        if isinstance(x, (str, int, float, bool)) or x is None:
            return x
        return str(x)

    # tables are how rules were written, not what they decide: their rows are in `rules`
    payload = {k: clean(getattr(book, k)) for k in sorted(("facts", "params", "metrics", "derived", "dimensions",
                                                            "scores", "rules", "disabled", "playbook", "causes",
                                                            "invariants"))}
    # every mapping is built with its keys in order, so the text is what sort_keys=True writes,
    # without json sorting ~1,900 mappings again (tests/test_cache.py compares the two)
    blob = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- message templates

def top_names(scope: Scope) -> set[str]:
    names = {n.split(".")[0] for n in scope.names}
    return names | {"params", "account"}


def check_message_vars(rules: list[RuleDef], scope: Scope, out: Collector) -> None:
    allowed = top_names(scope)
    for r in rules:
        for kind, msg in (("warn", r.warn), ("recommend", r.recommend)):
            if msg is None:
                continue
            for field, text in (("message", msg.message), ("remedy", msg.remedy)):
                for lang, s in (("zh", text.zh), ("en", text.en)):
                    if not s or "{" not in s:
                        continue  # no {{ }}, {% %} or {# #}: plain text, nothing to check
                    where = f"rules[{r.id}].then.{kind}.{field}.{lang}"
                    at = msg.location or r.origin.location
                    names = plain_names(s, CHECK_ENV)  # most messages: no parse needed
                    if names is None:
                        names = if_names(s, CHECK_ENV)  # most others: if blocks over simple expressions
                    if names is None:
                        names = _jinja_names(s, r, where, at, out)
                        if names is None:
                            continue  # reported
                    for var in sorted(names):
                        if var not in allowed:
                            out.add("rulebook.message-var", f"rule '{r.id}': the message uses '{var}', which is not declared",
                                    at, where, hint=suggest(var, allowed) or "use a fact, metric or params.<name>")


def _jinja_names(s: str, r: RuleDef, where: str, at: Any, out: Collector) -> set[str] | None:
    """The names a message reads, by Jinja's parser; None after reporting why it cannot be read."""
    try:
        ast = CHECK_ENV.parse(s)
    except TemplateSyntaxError as e:
        out.add("rulebook.message-syntax", f"rule '{r.id}': template error: {e.message}",
                at, where, hint="check {{ … }} and {% … %} pairs")
        return None
    except RecursionError:
        out.add("rulebook.message-syntax", f"rule '{r.id}': the message is nested too deeply to read",
                at, where, hint="flatten the nesting")
        return None
    if _check_filters(ast, r, where, at, out):
        return None  # compiling for the variable check would fail on the unknown filter
    try:
        names = undeclared(ast, CHECK_ENV)
    except TemplateSyntaxError as e:
        out.add("rulebook.message-syntax", f"rule '{r.id}': template error: {e.message}",
                at, where)
        return None
    except RecursionError:
        out.add("rulebook.message-syntax", f"rule '{r.id}': the message is nested too deeply to read",
                at, where, hint="flatten the nesting")
        return None
    return names


def _check_filters(ast: Any, r: RuleDef, where: str, at: Any, out: Collector) -> bool:
    """Report unknown filters and tests and unsafe attributes; True when there was one."""
    from jinja2 import nodes

    bad = False
    # one walk, then the reports in their usual order (imports, attributes, tests, filters)
    found: dict[type, list[Any]] = {nodes.Template: [], nodes.Getattr: [], nodes.Test: [], nodes.Filter: []}
    for n in ast.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport, nodes.Getattr,
                           nodes.Test, nodes.Filter)):
        found[type(n) if type(n) in found else nodes.Template].append(n)
    for _ in found[nodes.Template]:
        bad = True
        out.add("rulebook.message-unsafe", f"rule '{r.id}': a message cannot extend, include or import templates",
                at, where, hint="write the text into the message itself")
    for g in found[nodes.Getattr]:
        if g.attr.startswith("_"):
            bad = True
            out.add("rulebook.message-unsafe", f"rule '{r.id}': the message reads '.{g.attr}', which is never allowed",
                    at, where, hint="messages may use facts, metrics, params.<name> and account.id/name only")
    for t in found[nodes.Test]:
        if t.name not in CHECK_ENV.tests:
            bad = True
            out.add("rulebook.message-test", f"rule '{r.id}': unknown test '{t.name}'", at, where,
                    hint=suggest(t.name, CHECK_ENV.tests) or "use 'is none', 'is defined', 'is number'")
    for f in found[nodes.Filter]:
        if f.name not in CHECK_ENV.filters:
            bad = True
            out.add("rulebook.message-filter", f"rule '{r.id}': unknown filter '{f.name}'", at, where,
                    hint=suggest(f.name, FILTERS) or "filters: " + ", ".join(FILTERS))
    return bad
