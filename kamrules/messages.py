"""Bilingual rule messages: Jinja text rendered with the facts that triggered the rule.

One small environment with StrictUndefined and a sandbox (messages come from rulebooks,
which companies share). Variables are checked at load time against the declared names.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Mapping

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import Collector, suggest
from .model import RuleDef
from .typecheck import Scope
from .values import format_money, format_number, format_percent


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


def make_env(lang: str, labels: Mapping[str, Mapping[str, str]] | None = None) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["pct"] = _pct
    env.filters["money"] = lambda x: "—" if x is None else format_money(float(x), lang)
    env.filters["num"] = _num
    env.filters["days"] = _days
    env.filters["date"] = _date
    table = labels or {}
    env.filters["label"] = lambda x: table.get(str(x), {}).get(lang, str(x)) if x is not None else "—"
    return env


_CHECK_ENV = make_env("en")


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
                    if not s:
                        continue
                    where = f"rules[{r.id}].then.{kind}.{field}.{lang}"
                    try:
                        ast = _CHECK_ENV.parse(s)
                    except TemplateSyntaxError as e:
                        out.add("rulebook.message-syntax", f"rule '{r.id}': template error: {e.message}",
                                r.origin.location, where, hint="check {{ … }} and {% … %} pairs")
                        continue
                    for var in sorted(meta.find_undeclared_variables(ast)):
                        if var not in allowed:
                            out.add("rulebook.message-var", f"rule '{r.id}': the message uses '{var}', which is not declared",
                                    r.origin.location, where, hint=suggest(var, allowed) or "use a fact, metric or params.<name>")
                    _check_filters(ast, r, where, out)


def _check_filters(ast: Any, r: RuleDef, where: str, out: Collector) -> None:
    from jinja2 import nodes

    for f in ast.find_all(nodes.Filter):
        if f.name not in _CHECK_ENV.filters:
            out.add("rulebook.message-filter", f"rule '{r.id}': unknown filter '{f.name}'", r.origin.location, where,
                    hint=suggest(f.name, ["pct", "money", "num", "days", "date", "label"]) or "filters: pct, money, num, days, date, label")
