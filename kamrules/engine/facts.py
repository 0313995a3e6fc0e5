"""Account → the typed fact environment rules match on: declared facts plus derived metrics.

No engine import here. Metrics are computed in dependency order by the reference term
evaluator; a metric whose inputs are missing (or that divides by zero) is missing too.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Mapping

from kamrules.engine.reference import compile_term
from kamrules.rulebook.model import Account, Rulebook


@dataclass(frozen=True)
class Facts:
    account: Account
    env: Mapping[str, Any]  # fact and metric name → value (absent = missing)
    as_of: _dt.date


_METRICS: dict[str, tuple[tuple[str, str, Any], ...]] = {}  # rulebook digest → compiled metrics


def _compiled_metrics(book: Rulebook) -> tuple[tuple[str, str, Any], ...]:
    if book.digest not in _METRICS:
        _METRICS[book.digest] = tuple((n, book.metrics[n].type, compile_term(book.metrics[n].term))
                                      for n in book.metric_order)
    return _METRICS[book.digest]


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
    return Facts(account, env, as_of)
