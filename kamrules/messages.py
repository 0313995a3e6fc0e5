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
                    at = msg.location or r.origin.location
                    try:
                        ast = _CHECK_ENV.parse(s)
                    except TemplateSyntaxError as e:
                        out.add("rulebook.message-syntax", f"rule '{r.id}': template error: {e.message}",
                                at, where, hint="check {{ … }} and {% … %} pairs")
                        continue
                    if _check_filters(ast, r, where, at, out):
                        continue  # compiling for the variable check would fail on the unknown filter
                    try:
                        names = meta.find_undeclared_variables(ast)
                    except TemplateSyntaxError as e:
                        out.add("rulebook.message-syntax", f"rule '{r.id}': template error: {e.message}",
                                at, where)
                        continue
                    for var in sorted(names):
                        if var not in allowed:
                            out.add("rulebook.message-var", f"rule '{r.id}': the message uses '{var}', which is not declared",
                                    at, where, hint=suggest(var, allowed) or "use a fact, metric or params.<name>")


def _check_filters(ast: Any, r: RuleDef, where: str, at: Any, out: Collector) -> bool:
    """Report unknown filters and tests and unsafe attributes; True when there was one."""
    from jinja2 import nodes

    bad = False
    for g in ast.find_all(nodes.Getattr):
        if g.attr.startswith("_"):
            bad = True
            out.add("rulebook.message-unsafe", f"rule '{r.id}': the message reads '.{g.attr}', which is never allowed",
                    at, where, hint="messages may use facts, metrics, params.<name> and account.id/name only")
    for t in ast.find_all(nodes.Test):
        if t.name not in _CHECK_ENV.tests:
            bad = True
            out.add("rulebook.message-test", f"rule '{r.id}': unknown test '{t.name}'", at, where,
                    hint=suggest(t.name, _CHECK_ENV.tests) or "use 'is none', 'is defined', 'is number'")
    for f in ast.find_all(nodes.Filter):
        if f.name not in _CHECK_ENV.filters:
            bad = True
            out.add("rulebook.message-filter", f"rule '{r.id}': unknown filter '{f.name}'", at, where,
                    hint=suggest(f.name, ["pct", "money", "num", "days", "date", "label"]) or "filters: pct, money, num, days, date, label")
    return bad
