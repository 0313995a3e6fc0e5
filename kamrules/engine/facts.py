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
    out = []
    for name, low, high in _plausible(book):
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


def build_facts(account: Account, book: Rulebook, as_of: _dt.date) -> Facts:
    env: dict[str, Any] = dict(account.values)
    if None in env.values():  # rare: a loader keeps no missing value
        env = {k: v for k, v in env.items() if v is not None}
    for name, type_, term in _compiled_metrics(book):
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
    return Facts(account, env, as_of, data_checks(env, book))
