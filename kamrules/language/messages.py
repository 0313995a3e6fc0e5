"""Bilingual rule messages: Jinja text rendered with the facts that triggered the rule.

One small environment with StrictUndefined and a sandbox (messages come from rulebooks,
which companies share). Variables are checked at load time against the declared names.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Mapping

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from kamrules.core.values import format_money, format_number, format_percent


def _pct(x: Any) -> str:
    return "—" if x is None else format_percent(float(x))


def _num(x: Any) -> str:
    return "—" if x is None else format_number(float(x))


def _days(x: Any) -> str:
    return "—" if x is None else f"{int(x)}"


def _date(x: Any) -> str:
    if isinstance(x, _dt.date):
        return x.isoformat()
    return "—" if x is None else str(x)


Labels = Mapping[str, Mapping[str, Mapping[str, str]]]  # fact/dimension → value → {zh, en}


def make_env(lang: str, labels: Labels | None = None) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["pct"] = _pct
    env.filters["money"] = lambda x: "—" if x is None else format_money(float(x), lang)
    env.filters["num"] = _num
    env.filters["days"] = _days
    env.filters["date"] = _date
    by_name = labels or {}
    # Without a name, a value's label is used only when every enum that has the value agrees
    # on it: 'medium' is 中客户 for the class but 中 for price pressure.
    seen: dict[str, set[str]] = {}
    for table in by_name.values():
        for value, texts in table.items():
            seen.setdefault(value, set()).add(texts.get(lang, value))
    unique = {v: next(iter(ls)) for v, ls in seen.items() if len(ls) == 1}

    def label(x: Any, name: str | None = None) -> str:
        if x is None:
            return "—"
        if name is not None:
            return str(by_name.get(name, {}).get(str(x), {}).get(lang, x))
        return unique.get(str(x), str(x))

    env.filters["label"] = label
    return env


CHECK_ENV = make_env("en")  # parses message text at load time; filters and tests as at run time
FILTERS = ("pct", "money", "num", "days", "date", "label")
