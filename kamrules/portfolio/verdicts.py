"""Verdicts in words on the portfolio metrics: what a sales director should conclude, not only
the numbers. Each verdict is a frozen dataclass (a stable code, a level, the catalogue key of
its sentence and typed arguments); `text` renders it in zh or en from core/catalogue.py.

Where verdicts change is the rulebook's `playbook.portfolio.verdicts` (course defaults):
- the 80/20 law holds when the top 20 % of accounts bring ≥ 70 % of the revenue; below 50 % the
  portfolio is flat (value spread thin: choosing key accounts by size discriminates little);
- concentration by the Herfindahl–Hirschman index (US DOJ/FTC 2010 bands, as a share: below
  0.15 unconcentrated, 0.15–0.25 moderate, above 0.25 high), and dependence on one account when
  the largest is at or above the major-customer share (10 %, the ASC 280 disclosure line);
- one class: a classification dimension with ≥ 90 % of the accounts in one value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from kamrules.core.i18n import t
from kamrules.core.values import format_money, format_percent
from kamrules.portfolio import metrics
from kamrules.rulebook.model import PortfolioDef

# (name, kind, value): kind says how to write the value in a language
Arg = tuple[str, str, Any]


@dataclass(frozen=True)
class Verdict:
    topic: str  # pareto, concentration, dependence, whale, one_class, managers, key_without_profit, data_checks
    code: str  # stable, for scripts: e.g. flat
    level: str  # ok | note | warn
    key: str  # catalogue key of the sentence
    args: tuple[Arg, ...] = ()

    def arg(self, name: str) -> Any:
        return next(v for n, k, v in self.args if n == name)


def _fmt(kind: str, value: Any, lang: str, label: Callable[[str, str], str] | None) -> str:
    if kind == "pct":
        return format_percent(float(value))
    if kind == "money":
        return format_money(float(value), lang)
    if kind == "hhi":  # the index on its usual 0–10,000 scale
        return f"{round(float(value) * 10000):,}"
    if kind == "dim" and label is not None:  # a dimension, or dimension:value, by its label
        dim, _, val = str(value).partition(":")
        return label(dim, val)
    return str(value)


def text(v: Verdict, lang: str, label: Callable[[str, str], str] | None = None) -> str:
    """The verdict's sentence. `label(dimension, value)` names a dimension ("" value) or a value."""
    return t(v.key, lang, **{n: _fmt(k, x, lang, label) for n, k, x in v.args})


def pareto(c: metrics.Concentration | None, pf: PortfolioDef) -> Verdict | None:
    if c is None:
        return None
    args: tuple[Arg, ...] = (("accounts", "pct", c.accounts_share), ("k", "int", c.top_share_accounts),
                             ("n", "int", c.accounts), ("share", "pct", c.top_share))
    if c.accounts < 2:
        return None
    if c.top_share >= pf.pareto_holds:
        return Verdict("pareto", "holds", "ok", "portfolio.pareto_holds", args)
    if c.top_share < pf.pareto_flat:
        return Verdict("pareto", "flat", "warn", "portfolio.pareto_flat", args)
    return Verdict("pareto", "between", "note", "portfolio.pareto_between", args)


def concentration(c: metrics.Concentration | None, pf: PortfolioDef) -> Verdict | None:
    if c is None or c.accounts < 2:
        return None
    args: tuple[Arg, ...] = (("hhi", "hhi", c.hhi), ("top1", "pct", c.top1), ("top5", "pct", c.top5),
                             ("few", "int", min(metrics.TOP_FEW, c.accounts)))
    if c.hhi >= pf.hhi_high:
        return Verdict("concentration", "high", "warn", "portfolio.hhi_high", args)
    if c.hhi >= pf.hhi_moderate:
        return Verdict("concentration", "moderate", "note", "portfolio.hhi_moderate", args)
    return Verdict("concentration", "low", "ok", "portfolio.hhi_low", args)


def dependence(c: metrics.Concentration | None, major: float) -> Verdict | None:
    if c is None or c.accounts < 2 or c.top1 < major:
        return None
    return Verdict("dependence", "one_account", "warn", "portfolio.dependence",
                   (("id", "str", c.top1_id), ("share", "pct", c.top1), ("major", "pct", major)))


def whale(w: metrics.Whale | None, profit_declared: bool) -> Verdict | None:
    if w is None:
        return Verdict("whale", "unknown", "note", "portfolio.whale_unknown") if profit_declared else None
    base: tuple[Arg, ...] = (("total", "money", w.total), ("peak", "money", w.peak), ("rank", "int", w.peak_rank),
                             ("n", "int", len(w.ids)))
    if not w.destroyers:
        return Verdict("whale", "no_destroyers", "ok", "portfolio.whale_none", base)
    args = (*base, ("k", "int", len(w.destroyers)), ("lost", "money", -w.destroyed))
    if w.total <= 0:
        return Verdict("whale", "book_loses", "warn", "portfolio.whale_loss", args)
    return Verdict("whale", "destroyers", "warn", "portfolio.whale_destroyers",
                   (*args, ("peak_share", "pct", w.peak_share or 0.0)))


def one_class(s: metrics.Spread, pf: PortfolioDef, can_calibrate: bool) -> Verdict | None:
    if not s.one_class(pf.one_class):
        return None
    args: tuple[Arg, ...] = (("dimension", "dim", s.dimension), ("value", "dim", f"{s.dimension}:{s.dominant}"),
                             ("share", "pct", s.dominant_share), ("n", "int", s.classified))
    if s.dominant_share >= 1:
        key = "portfolio.one_class_all_calibrate" if can_calibrate else "portfolio.one_class_all"
    else:
        key = "portfolio.one_class_calibrate" if can_calibrate else "portfolio.one_class"
    return Verdict("one_class", s.dimension, "warn", key, args)


def managers(m: metrics.Managers) -> Verdict | None:
    if not m.loads:
        return None
    top = m.loads[0]
    args: tuple[Arg, ...] = (("managers", "int", len(m.loads)), ("mean", "str", f"{m.mean_accounts or 0:.1f}"),
                             ("top", "str", top.manager), ("top_n", "int", top.accounts),
                             ("top_key", "int", top.key_accounts), ("unassigned", "int", m.unassigned))
    key = "portfolio.managers_unassigned" if m.unassigned else "portfolio.managers"
    return Verdict("managers", "load", "note" if m.unassigned else "ok", key, args)


def key_without_profit(flagged: tuple[metrics.Flagged, ...]) -> Verdict | None:
    if not flagged:
        return None
    return Verdict("key_without_profit", "some", "warn", "portfolio.key_without_profit", (("n", "int", len(flagged)),))


def data_checks(checks: tuple[metrics.Check, ...]) -> Verdict | None:
    if not checks:
        return None
    accounts = len({c.id for c in checks})
    return Verdict("data_checks", "some", "warn", "portfolio.data_checks",
                   (("n", "int", accounts), ("k", "int", len(checks))))
