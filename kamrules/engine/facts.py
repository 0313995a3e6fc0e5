"""Account → the typed fact environment rules match on: declared facts plus derived metrics.

No engine import here. Metrics are computed in dependency order by the reference term
evaluator; a metric whose inputs are missing (or that divides by zero) is missing too. An
account that misses a value some comparison could be decided without gets its bounds
(engine/bounds.py) in the environment, under `BOUNDS`. A value outside its fact's plausible
range is kept (it was possible: inside the hard range the loader checked) and noted as a data
check.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Mapping

from kamrules.engine.bounds import Bounds, bounds_of, table_for
from kamrules.engine.formulas import compile_formula
from kamrules.engine.reference import BOUNDS
from kamrules.language import ir
from kamrules.rulebook.model import Account, Rulebook
from kamrules.core.record import dataclass


@dataclass(frozen=True)
class DataCheck:
    """A given value outside its fact's plausible range: evaluated as given, worth a second look."""

    fact: str
    value: float
    low: float | None  # the plausible range (None: open on that side)
    high: float | None


@dataclass(frozen=True)
class Facts:
    account: Account
    env: Mapping[str, Any]  # fact and metric name → value (absent = missing); BOUNDS → the account's Bounds
    as_of: _dt.date
    checks: tuple[DataCheck, ...] = ()  # values outside their plausible range, in declaration order

    @property
    def bounds(self) -> Bounds | None:
        return bounds_of(self.env)


_METRICS: dict[str, tuple[tuple[str, str, Any], ...]] = {}  # rulebook digest → compiled metrics
_PLAUSIBLE: dict[str, tuple[tuple[str, float | None, float | None], ...]] = {}  # digest → (fact, low, high)


def _plausible(book: Rulebook) -> tuple[tuple[str, float | None, float | None], ...]:
    table = _PLAUSIBLE.get(book.digest)
    if table is None:
        table = _PLAUSIBLE[book.digest] = tuple((n, f.plausible[0], f.plausible[1]) for n, f in book.facts.items()
                                                if f.plausible)
    return table


def data_checks(env: Mapping[str, Any], book: Rulebook) -> tuple[DataCheck, ...]:
    return _outside(env, _plausible(book))


def _outside(env: Mapping[str, Any], table: tuple[tuple[str, float | None, float | None], ...]
             ) -> tuple[DataCheck, ...]:
    """The facts of `table` (fact, low, high) whose number lies outside its plausible range."""
    out = []
    for name, low, high in table:
        v = env.get(name)
        if (type(v) is float or type(v) is int) and ((low is not None and v < low) or (high is not None and v > high)):
            out.append(DataCheck(name, float(v), low, high))
    return tuple(out)


def _compiled_metrics(book: Rulebook) -> tuple[tuple[str, str, Any], ...]:
    if book.digest not in _METRICS:
        _METRICS[book.digest] = tuple((n, book.metrics[n].type, compile_formula(book.metrics[n].term))
                                      for n in book.metric_order)
    return _METRICS[book.digest]


_SOME: dict[tuple[str, tuple[str, ...]], tuple[tuple[str, str, Any], ...]] = {}  # (digest, names) → metrics


def _metrics_for(book: Rulebook, names: tuple[str, ...]) -> tuple[tuple[str, str, Any], ...]:
    """The compiled metrics `names` need (themselves and the metrics their formulas read), in
    build_facts' order."""
    key = (book.digest, names)
    hit = _SOME.get(key)
    if hit is None:
        from kamrules.language import ir

        need: set[str] = set()
        todo = [n for n in names if n in book.metrics]
        while todo:
            n = todo.pop()
            if n not in need:
                need.add(n)
                todo.extend(r.name for r in ir.refs(book.metrics[n].term) if r.name in book.metrics)
        hit = _SOME[key] = tuple(m for m in _compiled_metrics(book) if m[0] in need)
    return hit


def some_values(account: Account, book: Rulebook, as_of: _dt.date, names: tuple[str, ...]) -> dict[str, Any]:
    """The account's facts with the metrics `names` need, each as build_facts computes it (the same
    values in the same order: a metric reads only the facts and the metrics before it), and
    nothing else — no bounds, no data checks: the first pass of a ranked run needs a few measures."""
    env: dict[str, Any] = dict(account.values)
    if None in env.values():
        env = {k: v for k, v in env.items() if v is not None}
    for name, type_, term in _metrics_for(book, names):
        value = term(env, as_of, None)
        if type(value) is float and value - value != 0:
            value = None
        if value is not None:
            if type_ == "integer" and isinstance(value, float):
                value = round(value)
            env[name] = value
    return env


def lead(t: ir.Term) -> frozenset[str]:
    """Names that, when the environment lacks them, make compile_formula(t) answer None before it
    evaluates anything that could raise: an operand is read first and a missing one ends the
    formula (engine/formulas.py `_arith`, `_names`, `_min_max`; reference.py `_compile_agg`'s
    count and size). Conservative: a form not listed leads with nothing, so it is always computed.
    tests/test_facts_lead.py holds each form to compile_formula."""
    match t:
        case ir.Ref() if t.kind != "item":
            return frozenset((t.name,))
        case ir.Arith():  # the left operand first; the right one only after a left that cannot raise
            return lead(t.left) | lead(t.right) if _plain(t.left) else lead(t.left)
        case ir.Fn() if t.name in ("min", "max") and len(t.args) == 2:  # both evaluated, then None
            a, b = t.args
            return (lead(a) if _plain(b) else frozenset()) | (lead(b) if _plain(a) else frozenset())
        case ir.Agg() if t.list.kind != "item" and (t.body is None or t.func == "count"):
            return frozenset((t.list.name,))  # the list is read first: missing, the count is None
        case _:
            return frozenset()


def _plain(t: ir.Term) -> bool:
    """A leaf: its reading (a constant, env.get) cannot raise."""
    return isinstance(t, ir.Const) or (isinstance(t, ir.Ref) and t.kind != "item")


@dataclass(frozen=True)
class _Plan:
    """What build_facts computes for accounts that give these facts (a presence pattern): the
    metrics whose inputs can all be there, and the plausible ranges of the facts given."""

    metrics: tuple[tuple[str, str, Any], ...]
    plausible: tuple[tuple[str, float | None, float | None], ...]


_LEADS: dict[str, tuple[tuple[str, str, Any, frozenset[str]], ...]] = {}  # digest → metrics with their leads
_PLANS: dict[tuple[str, tuple[str, ...]], _Plan] = {}  # (digest, the names an account gives) → its plan
_PLANS_KEPT = 4096  # presence patterns remembered (a CSV export has a few; YAML accounts may have many)


def _plan(book: Rulebook, given: tuple[str, ...]) -> _Plan:
    """A metric one of whose leads the account lacks (a fact it does not give, or a metric left
    out before it) is None for every account giving these names: it is left out, as build_facts
    would have left out its None. A CSV export of a dozen columns needs ≈ 3 of the course's 38."""
    leads = _LEADS.get(book.digest)
    if leads is None:
        leads = _LEADS[book.digest] = tuple((n, ty, f, lead(book.metrics[n].term))
                                            for n, ty, f in _compiled_metrics(book))
    have = set(given)
    kept = []
    for name, type_, term, needs in leads:
        if needs <= have:
            kept.append((name, type_, term))
            have.add(name)  # maybe computed: a later metric reading it is kept too
    if len(_PLANS) >= _PLANS_KEPT:
        _PLANS.clear()
    plan = _PLANS[(book.digest, given)] = _Plan(tuple(kept), tuple(p for p in _plausible(book) if p[0] in given))
    return plan


def build_facts(account: Account, book: Rulebook, as_of: _dt.date) -> Facts:
    env: dict[str, Any] = dict(account.values)
    if None in env.values():  # rare: a loader keeps no missing value
        env = {k: v for k, v in env.items() if v is not None}
    given = tuple(env)
    plan = _PLANS.get((book.digest, given))
    if plan is None:
        plan = _plan(book, given)
    for name, type_, term in plan.metrics:
        value = term(env, as_of, None)
        if type(value) is float and value - value != 0:  # NaN or ±infinity: missing
            value = None
        if value is not None:
            if type_ == "integer" and isinstance(value, float):
                value = round(value)
            env[name] = value
    table = table_for(book)
    for name in table.watched:  # a few names: complete accounts pay for nothing else
        if name not in env:
            env[BOUNDS] = Bounds(table, env, as_of)
            break
    # data_checks(env, book) over the facts given: the plausible ranges are of facts
    return Facts(account, env, as_of, _outside(env, plan.plausible))
