"""The rivals of the throughput benchmark: raw durable_rules and GoRules' zen-engine, each on
the same conditions as the rulebook, fed the same precomputed facts.

The conditions are written directly in each engine's own language by the translation below,
which is independent of kamrules/compile.py (a rulebook of 160 rules that is still being
edited cannot be kept in sync by hand; a translation can, and the equivalence check in
run.py proves the three agree rule for rule on every account).

What a rival gets for free: the *flat facts*. Derived metrics, list aggregates, day counts
and the values earlier strata decide (classifications, scores, derived facts) are computed
beforehand, outside the timed loop, from a reference evaluation. So the rivals measure pure
condition matching, the least a user of either engine would have to pay; kamrules pays for
its own fact encoding on top, inside the timer.

Raw durable_rules follows DESIGN §3: a Host subclass with `_run` a no-op (no background
dispatch threads), facts with an explicit `id`, one `sid` per account asserted stratum by
stratum (the shape forward chaining needs), a catch-all rule so that no fact is ever
unhandled (deleting the state of a session whose fact went unhandled segfaults), and
`delete_state` after each account (a ruleset holds ~1024 live sessions).
"""
from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from kamrules.engine.bounds import table_for
from kamrules.engine.reference import BOUNDS, Context, eval_term
from kamrules.language import ir
from kamrules.rulebook.model import Rulebook

OPS = {"==": "$eq", "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}


def encode(v: Any) -> Any:
    """A value as both engines take it: numbers as floats, dates as day numbers, lists by length."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, _dt.date):
        return float(v.toordinal())
    if isinstance(v, (tuple, list)):
        return float(len(v))
    return str(v)


@dataclass
class Flat:
    """Property names for the terms the rules compare, and the flat facts that carry them."""

    book: Rulebook
    terms: dict[str, ir.Term] = field(default_factory=dict)  # property → term
    names: dict[ir.Term, str] = field(default_factory=dict)
    conds: dict[str, ir.Cond] = field(default_factory=dict)  # rule id → NNF condition
    strata: dict[str, int] = field(default_factory=dict)
    props_of: dict[str, set[str]] = field(default_factory=dict)  # rule id → properties
    # comparisons bounds may decide on an account that misses a value (engine/bounds.py): the
    # decision is precomputed like a metric, one boolean property each, true when decided true
    decided: dict[ir.Cmp, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        table = table_for(self.book)
        for r in self.book.rules:
            self.conds[r.id] = ir.nnf(r.cond)
            self.strata[r.id] = self.book.strata.get(r.id, 0)
            props: set[str] = set()
            for lit in ir.literals(self.conds[r.id]):
                if isinstance(lit, ir.Exists):
                    props.add(self.prop(lit.ref))
                elif isinstance(lit, ir.Cmp):
                    props.update(self.prop(t) for t in (lit.left, lit.right) if not isinstance(t, ir.Const))
                    if table.candidate(lit):
                        props.add(self.decided.setdefault(lit, f"bounded_{len(self.decided)}"))
            self.props_of[r.id] = props

    def prop(self, t: ir.Term) -> str:
        if t not in self.names:
            base = re.sub(r"\W", "_", t.name.replace(".", "__"), flags=re.ASCII) if isinstance(t, ir.Ref) else "calc"
            name = base if base not in self.terms and base.isascii() and base[:1].isalpha() else f"v{len(self.terms)}_{base}"
            self.names[t] = name
            self.terms[name] = t
        return self.names[t]

    @property
    def n_strata(self) -> int:
        return max(self.strata.values(), default=0) + 1

    def facts(self, env: dict[str, Any], as_of: _dt.date) -> list[dict[str, Any]]:
        """One flat fact per stratum (only what that stratum's rules read), from the final env.

        The final env is right for every stratum: a rule reads only what lower strata write."""
        ctx = Context(env, as_of)
        values = {p: encode(eval_term(t, ctx)) for p, t in self.terms.items()}
        bounds = env.get(BOUNDS)
        for c, p in self.decided.items():
            values[p] = True if bounds is not None and bounds.decide(c) is True else None
        out: list[dict[str, Any]] = []
        for s in range(self.n_strata):
            fact: dict[str, Any] = {"stratum": s}
            for rid, props in self.props_of.items():
                if self.strata[rid] == s:
                    fact.update((p, values[p]) for p in props if values[p] is not None)
            out.append(fact)
        return out


# ----------------------------------------------------------------------------- durable_rules

def _durable_side(flat: Flat, t: ir.Term) -> tuple[bool, Any]:
    """(is_property, property name or encoded constant)."""
    if isinstance(t, ir.Const):
        return False, encode(t.value)
    return True, flat.prop(t)


def _durable_literal(flat: Flat, c: ir.Cond) -> Any:
    if isinstance(c, ir.Exists):
        return {"$ex" if c.positive else "$nex": {flat.prop(c.ref): 1}}
    assert isinstance(c, ir.Cmp)
    op = c.op
    (lp, lv), (rp, rv) = _durable_side(flat, c.left), _durable_side(flat, c.right)
    if not lp and not rp:
        from kamrules.engine.reference import compare

        return compare(op, lv, rv) is True
    if not lp:
        (lp, lv), (rp, rv), op = (rp, rv), (lp, lv), ir.FLIP[op]
    if rp:  # durable compares against a missing property as if it were there: test it exists
        expr: Any = {"$and": [{"$ex": {rv: 1}}, {OPS[op]: {lv: {"$m": rv}}}]}
    else:
        expr = {lv: rv} if op == "==" else {OPS[op]: {lv: rv}}
    decided = flat.decided.get(c)
    return expr if decided is None else {"$or": [expr, {decided: True}]}


def durable_condition(flat: Flat, c: ir.Cond) -> Any:
    """A durable expression, or True / False when the condition is constant."""
    if isinstance(c, ir.Truth):
        return c.value
    if isinstance(c, (ir.And, ir.Or)):
        is_and = isinstance(c, ir.And)
        parts = []
        for item in c.items:
            sub = durable_condition(flat, item)
            if sub is (not is_and):
                return sub
            if sub is not is_and:
                parts.append(sub)
        if not parts:
            return is_and
        return parts[0] if len(parts) == 1 else {"$and" if is_and else "$or": parts}
    return _durable_literal(flat, c)


def durable_ruleset(flat: Flat) -> dict[str, Any]:
    rules: dict[str, Any] = {"catch_all": {"all": [{"m": {"$ex": {"stratum": 1}}}]}}
    for rid, cond in flat.conds.items():
        expr = durable_condition(flat, cond)
        if expr is False:
            continue
        pattern = {"stratum": flat.strata[rid]} if expr is True else {"$and": [{"stratum": flat.strata[rid]}, expr]}
        rules[rid] = {"all": [{"m": pattern}]}
    return rules


class RawDurable:
    """durable_rules used directly, the way DESIGN §3 says it has to be used."""

    def __init__(self, flat: Flat, name: str) -> None:
        from durable import engine as d

        class QuietHost(d.Host):  # type: ignore[misc]
            def _run(self) -> None:  # no timer threads dispatching actions behind our back
                return None

        self.hits: list[str] = []
        ruleset = durable_ruleset(flat)
        for rid, definition in ruleset.items():
            definition["run"] = self._action(rid)
        self.name = name
        self.host = QuietHost()
        self.host.register_rulesets({name: ruleset})

    def _action(self, rid: str) -> Callable[[Any], None]:
        hits = self.hits
        if rid == "catch_all":
            return lambda c: None
        return lambda c: hits.append(rid)

    def run(self, accounts: Iterable[list[dict[str, Any]]]) -> list[frozenset[str]]:
        out = []
        host, name, hits = self.host, self.name, self.hits
        for i, facts in enumerate(accounts):
            sid = str(i)
            hits.clear()
            try:
                for k, fact in enumerate(facts):
                    host.assert_fact(name, {**fact, "id": k, "sid": sid})
            finally:
                host.delete_state(name, sid)
            out.append(frozenset(hits))
        return out


# ----------------------------------------------------------------------------- zen-engine

def _zen_const(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        text = repr(v)
        return text if "e" not in text and "inf" not in text else f"{v:.12f}"
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    raise TypeError(v)


def _zen_literal(flat: Flat, c: ir.Cond, subject: str | None = None) -> str:
    """A ZEN expression; with `subject`, a unary test on that column ('$')."""
    if isinstance(c, ir.Exists):
        name = "$" if subject else flat.prop(c.ref)
        return f"{name} != null" if c.positive else f"{name} == null"
    assert isinstance(c, ir.Cmp)
    op = c.op
    left, right = c.left, c.right
    if isinstance(left, ir.Const) and not isinstance(right, ir.Const):
        left, right, op = right, left, ir.FLIP[op]
    if isinstance(left, ir.Const):  # constant on both sides
        from kamrules.engine.reference import compare

        return "true" if compare(op, encode(left.value), encode(right.value)) is True else "false"
    a = "$" if subject else flat.prop(left)
    if isinstance(right, ir.Const):
        b = _zen_const(encode(right.value))
        # ZEN: 'null == x' is false but 'null != x' is true and 'null < x' is an error: guard
        return f"{a} == {b}" if op == "==" else f"{a} != null and {a} {op} {b}"
    b = flat.prop(right)
    return f"{a} != null and {b} != null and {a} {op} {b}"


def zen_expression(flat: Flat, c: ir.Cond) -> str:
    if isinstance(c, ir.Truth):
        return "true" if c.value else "false"
    if isinstance(c, (ir.And, ir.Or)):
        joiner = " and " if isinstance(c, ir.And) else " or "
        return "(" + joiner.join(zen_expression(flat, i) for i in c.items) + ")"
    decided = flat.decided.get(c) if isinstance(c, ir.Cmp) else None
    if decided is not None:
        return f"(({_zen_literal(flat, c)}) or {decided} == true)"
    return "(" + _zen_literal(flat, c) + ")"


def _unary_column(flat: Flat, c: ir.Cond) -> str | None:
    """The single property a literal tests against a constant (a decision-table column), if any."""
    if isinstance(c, ir.Exists):
        return flat.prop(c.ref)
    if isinstance(c, ir.Cmp):
        consts = [isinstance(t, ir.Const) for t in (c.left, c.right)]
        if consts.count(True) == 1:
            return flat.prop(c.right if consts[0] else c.left)
    return None


def zen_table(flat: Flat) -> dict[str, Any]:
    """A JDM graph: input → one collect-policy decision table → output.

    A rule that is a conjunction of tests of single properties against constants becomes a
    row of unary cells, one column per property, as a person would fill in the table; any
    other rule (or-groups, property against property) gets a full expression in the
    table's expression column."""
    columns: dict[str, str] = {}
    rows = []
    for rid, cond in flat.conds.items():
        if isinstance(cond, ir.Truth) and not cond.value:
            continue
        row: dict[str, str] = {"_id": rid, "out": f"'{rid}'"}
        lits = list(cond.items) if isinstance(cond, ir.And) else [cond]
        cols = [_unary_column(flat, lit) for lit in lits] if not isinstance(cond, ir.Truth) else []
        if all(col is not None and not isinstance(lit, (ir.And, ir.Or)) and lit not in flat.decided
               for col, lit in zip(cols, lits)):
            cells: dict[str, list[str]] = {}
            for col, lit in zip(cols, lits):
                assert col is not None
                cells.setdefault(col, []).append(_zen_literal(flat, lit, subject=col))
            for col, tests in cells.items():
                cid = columns.setdefault(col, f"c{len(columns)}")
                row[cid] = " and ".join(tests)
        else:
            row["expr"] = zen_expression(flat, cond)
        rows.append(row)
    inputs = [{"id": cid, "name": col, "field": col} for col, cid in columns.items()]
    inputs.append({"id": "expr", "name": "condition"})
    for row in rows:
        for inp in inputs:
            row.setdefault(inp["id"], "")
    node = lambda id_, type_, content, x: {"id": id_, "type": type_, "name": id_,  # noqa: E731
                                            "position": {"x": x, "y": 0}, "content": content}
    table = {"hitPolicy": "collect", "inputs": inputs, "outputs": [{"id": "out", "name": "rule", "field": "rule"}],
             "rules": rows, "passThrough": False, "inputField": None, "outputPath": None, "executionMode": "single"}
    return {"nodes": [node("request", "inputNode", {"schema": ""}, 0),
                      node("rules", "decisionTableNode", table, 300),
                      node("response", "outputNode", {"schema": ""}, 600)],
            "edges": [{"id": "e1", "sourceId": "request", "targetId": "rules", "type": "edge"},
                      {"id": "e2", "sourceId": "rules", "targetId": "response", "type": "edge"}]}


class Zen:
    def __init__(self, flat: Flat) -> None:
        import zen

        self.jdm = zen_table(flat)
        self.decision = zen.ZenEngine().create_decision(json.dumps(self.jdm, ensure_ascii=False))

    def run(self, inputs: Iterable[dict[str, Any]]) -> list[frozenset[str]]:
        evaluate = self.decision.evaluate
        return [frozenset(hit["rule"] for hit in evaluate(ctx)["result"]) for ctx in inputs]


def merged(facts: list[dict[str, Any]]) -> dict[str, Any]:
    """zen evaluates one flat input per account: every stratum's properties at once."""
    out: dict[str, Any] = {}
    for f in facts:
        out.update(f)
    out.pop("stratum", None)
    return out
