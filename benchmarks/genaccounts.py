"""Seeded generator of realistic key accounts for the throughput benchmark.

Only the facts the rulebook declares are generated, so the same generator serves the course
and the small fallback rulebook. Facts of the course vocabulary (DESIGN §4) get correlated,
plausible values for a B2B supplier's customers (revenue 200k–80M CNY, margins around 20 %,
collection around 60 days …) so that every kind of rule fires on some accounts and not on
others; any other declared fact falls back to a value drawn from its type and declared range.
About one optional fact in ten is left out, because missing facts are normal in the field and
exercise the 'unknown' paths of both backends; 5 % of accounts are new and barely known (most
facts missing) and 4 % are one big project (one to three orders, a short relationship).

Each account is drawn from its own `random.Random(f"{seed}:{i}")`, so account i is the same in
a --quick run and a full run.
"""
from __future__ import annotations

import datetime as _dt
import math
import random
from typing import Any, Callable, Mapping

import yaml

from kamrules.io.account import load_account
from kamrules.rulebook.model import Account, FactDef, Rulebook

AS_OF = _dt.date(2026, 6, 30)
SEED = 20260630
P_MISSING = 0.1  # share of optional facts left out

Core = dict[str, Any]
Sampler = Callable[[random.Random, Core], Any]


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return 10 ** rng.uniform(math.log10(lo), math.log10(hi))


def _clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def _money(x: float) -> float:
    return float(round(x))


def _pct(x: float) -> float:
    return round(x, 4)


def _core(rng: random.Random) -> Core:
    """The few quantities the others correlate with: size, margin, growth, health."""
    revenue = _log_uniform(rng, 2e5, 8e7)
    growth = _clamp(rng.gauss(0.08, 0.22), -0.6, 1.5)
    # most accounts are ongoing business; a few are one big project, a few are new and barely known
    kind = rng.choices(("ongoing", "one_deal", "sparse"), (91, 4, 5))[0]
    return {
        "kind": kind,
        "revenue": revenue,
        "growth": growth,
        "margin": _clamp(rng.gauss(0.20, 0.09), -0.15, 0.6),
        "wallet_share": _clamp(rng.betavariate(2, 5), 0.02, 0.95),
        "health": rng.random(),  # 0 = troubled account, 1 = thriving
        "orders": rng.randint(1, 3) if kind == "one_deal" else max(1, int(revenue / _log_uniform(rng, 3e4, 2e6))),
        "discount": _clamp(rng.gauss(0.12, 0.07), 0.0, 0.45),
    }


def _date_back(rng: random.Random, max_days: int) -> _dt.date:
    return AS_OF - _dt.timedelta(days=rng.randint(0, max_days))


_NAMES = ("王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴")
_OURS = ("李明", "张工", "赵敏", "孙伟", "周强")


def _contacts(rng: random.Random, core: Core) -> tuple[dict[str, Any], ...]:
    n = rng.choice((0, 1, 2, 3, 3, 4, 5, 6, 8))
    out = []
    for k in range(n):
        support = rng.choices(("mentor", "supporter", "neutral", "non_supporter", "enemy"),
                              (1, 4 + 4 * core["health"], 4, 2, 1))[0]
        rating = {"mentor": 4, "supporter": 2, "neutral": 0, "non_supporter": -2, "enemy": -4}[support]
        out.append({
            "name": f"{rng.choice(_NAMES)}{k}",
            "title": rng.choice(("CEO", "CFO", "采购经理", "总工程师", "生产经理", "采购专员")),
            "role": rng.choices(("economic_buyer", "user_buyer", "technical_buyer", "coach", "procurement"),
                                (2, 3, 2, 1, 3))[0],
            "level": rng.choices(("executive", "manager", "staff"), (2, 4, 3))[0],
            "support": support,
            "rating": int(_clamp(rating + rng.randint(-1, 1), -5, 5)),
            "new_in_role": rng.random() < 0.12,
        })
        if rng.random() < 0.8:  # else nobody on our side holds this contact
            out[-1]["covered_by"] = rng.choice(_OURS)
    return tuple(out)


def _opportunities(rng: random.Random, core: Core) -> tuple[dict[str, Any], ...]:
    return tuple({
        "name": f"项目{k + 1}",
        "value": _money(core["revenue"] * rng.uniform(0.05, 0.6)),
        "stage": rng.choices(("early", "mid", "late", "won", "lost"), (3, 3, 2, 1, 1))[0],
        "last_activity_days": rng.choice((3, 7, 14, 30, 45, 60, 90, 150)),
    } for k in range(rng.choice((0, 1, 1, 2, 3, 4))))


def _tier(rng: random.Random, core: Core, values: tuple[str, ...]) -> str:
    # low / medium / high leaning with the account's health
    h = core["health"] + rng.uniform(-0.3, 0.3)
    return values[min(len(values) - 1, max(0, int(h * len(values))))]


# The course vocabulary (DESIGN §4). A sampler may return None: the fact is then absent.
COURSE: dict[str, Sampler] = {
    "currency": lambda r, c: "CNY",
    "industry": lambda r, c: r.choice(("steel", "chemicals", "machinery", "power", "automotive", "electronics")),
    "region": lambda r, c: r.choice(("East China", "North China", "South China", "Central China", "West China")),
    "revenue": lambda r, c: _money(c["revenue"]),
    "revenue_last_year": lambda r, c: _money(c["revenue"] / (1 + c["growth"] * r.uniform(0.6, 1.4))),
    "gross_margin": lambda r, c: _pct(c["margin"]),
    "transactions": lambda r, c: c["orders"],
    "largest_order": lambda r, c: _money(c["revenue"] * r.uniform(0.55, 1.0) if c["kind"] == "one_deal"
                                         else min(c["revenue"], c["revenue"] / c["orders"] * r.uniform(1, 6))),
    "returns_amount": lambda r, c: _money(c["revenue"] * r.uniform(0, 0.04)),
    "returns_count": lambda r, c: r.randint(0, 8),
    "relationship_years": lambda r, c: round(r.uniform(0.3, 2) if c["kind"] == "one_deal" else r.uniform(0.3, 20), 1),
    "order_cycle_days": lambda r, c: r.randint(3, 120),
    "forecast_revenue": lambda r, c: _money(c["revenue"] * (1 + c["growth"] * r.uniform(0.5, 1.5))),
    "collection_days": lambda r, c: int(_clamp(r.gauss(60 + 40 * (1 - c["health"]), 20), 5, 400)),
    "receivables": lambda r, c: _money(c["revenue"] * r.uniform(0.05, 0.4)),
    "overdue_ratio": lambda r, c: _pct(_clamp(r.gauss(0.15 * (1 - c["health"]), 0.08), 0, 0.9)),
    "open_tasks": lambda r, c: r.randint(0, 12),
    "active_projects": lambda r, c: r.randint(0, 5),
    "praise_ratio": lambda r, c: _pct(r.uniform(0, 0.3) * c["health"]),
    "complaint_ratio": lambda r, c: _pct(r.uniform(0, 0.15) * (1 - c["health"])),
    "suggestion_ratio": lambda r, c: _pct(r.uniform(0, 0.12)),
    "employees": lambda r, c: int(_log_uniform(r, 50, 60000)),
    "registered_capital": lambda r, c: _money(_log_uniform(r, 1e6, 5e9)),
    "customer_annual_sales": lambda r, c: _money(c["revenue"] / c["wallet_share"] * _log_uniform(r, 10, 300)),
    "listed": lambda r, c: r.random() < 0.3,
    "discount_rate": lambda r, c: _pct(c["discount"]),
    "discount_rate_last_year": lambda r, c: _pct(_clamp(c["discount"] - r.gauss(0.02, 0.04), 0, 0.45)),
    "rebates": lambda r, c: _money(c["revenue"] * r.uniform(0, 0.04)),
    "free_services_cost": lambda r, c: _money(c["revenue"] * r.uniform(0, 0.03)),
    "payment_terms_days": lambda r, c: r.choice((0, 30, 45, 60, 90, 120, 180)),
    "cost_to_serve": lambda r, c: _money(c["revenue"] * _clamp(r.gauss(0.06, 0.04), 0.005, 0.3)),
    "category_spend": lambda r, c: _money(c["revenue"] / c["wallet_share"]),
    "growth_rate": lambda r, c: _pct(_clamp(r.gauss(0.08, 0.12), -0.5, 1.0)),
    "service_step": lambda r, c: int(_clamp(round(1 + 4 * c["health"] + r.uniform(-1, 1)), 1, 5)),
    "satisfaction": lambda r, c: float(int(_clamp(r.gauss(50 + 40 * c["health"], 12), 0, 100))),
    "delivery_issues": lambda r, c: r.choice((0, 0, 1, 2, 3, 5, 8)),
    "delivery_issue_owner": lambda r, c: r.random() < 0.5,
    "contacts": _contacts,
    "opportunities": _opportunities,
    "team.account_manager": lambda r, c: r.choice(_OURS),
    "team.members": lambda r, c: tuple(r.sample(_OURS, r.randint(1, 4))),
    "team.executive_sponsor": lambda r, c: r.choice(("陈总", "刘总")) if r.random() < 0.5 else None,
    "team.accounts_per_manager": lambda r, c: r.randint(1, 25),
    "team.account_plan": lambda r, c: r.random() < 0.6,
    "team.plan_reviewed": lambda r, c: _date_back(r, 600),
    "analyses.industry": lambda r, c: _date_back(r, 900),
    "analyses.competition": lambda r, c: _date_back(r, 900),
    "analyses.needs": lambda r, c: _date_back(r, 900),
    "analyses.solution": lambda r, c: _date_back(r, 900),
    "analyses.service_capability": lambda r, c: _date_back(r, 900),
    "analyses.planning": lambda r, c: _date_back(r, 900),
    "competition.in_tender": lambda r, c: r.random() < 0.35,
    "competition.competitors": lambda r, c: tuple(r.sample(("宝钢供应链", "鞍钢贸易", "沙钢", "Acme", "Valdorf"),
                                                            r.randint(0, 3))),
    "company.revenue": lambda r, c: 300_000_000.0,
    "company.average_margin": lambda r, c: 0.24,
    "company.average_collection_days": lambda r, c: 45,
}
NO_MISSING = frozenset({"revenue", "company.revenue", "company.average_margin", "company.average_collection_days"})


def _generic(rng: random.Random, f: FactDef, i: int) -> Any:
    """A value from the fact's type and declared range, for facts outside the course vocabulary."""
    lo = f.min
    hi = f.max
    if f.type == "money":
        return _money(_log_uniform(rng, max(lo or 0, 1e4), min(hi or 5e7, 5e7)))
    if f.type == "percent":
        return _pct(rng.uniform(max(lo if lo is not None else -0.2, -0.2), min(hi if hi is not None else 0.6, 0.6)))
    if f.type in ("integer", "number"):
        a = int(lo) if lo is not None else 0
        b = int(hi) if hi is not None else max(a + 100, 100)
        v = rng.randint(a, min(b, a + 1000))
        return v if f.type == "integer" else float(v)
    if f.type == "bool":
        return rng.random() < 0.5
    if f.type == "enum":
        return rng.choice(f.value_names)
    if f.type == "date":
        return _date_back(rng, 900)
    if f.type == "list":
        if f.items:
            return tuple({it.name: _generic(rng, it, i) for it in f.items} for _ in range(rng.randint(0, 4)))
        return tuple(f"{f.name}-{k}" for k in range(rng.randint(0, 3)))
    return f"{f.name}-{i}"


def _conform(f: FactDef, value: Any) -> Any:
    """Keep a profile value inside whatever range and value set the rulebook declares now."""
    if f.type == "enum" and value not in f.value_names:
        return None
    if f.type == "list" and f.items and isinstance(value, tuple):
        fields = {it.name: it for it in f.items}
        return tuple({k: v for k, v in item.items() if k in fields and _conform(fields[k], v) is not None}
                     for item in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if f.min is not None and value < f.min:
            value = type(value)(f.min)
        if f.max is not None and value > f.max:
            value = type(value)(f.max)
    return value


def account(book: Rulebook, i: int, seed: int = SEED) -> Account:
    rng = random.Random(f"{seed}:{i}")
    core = _core(rng)
    values: dict[str, Any] = {"id": f"acc-{i:05d}", "name": f"客户{i:05d}"}
    for name, f in book.facts.items():
        if name in values or f.supplied:  # history facts come from the review store, not the account
            continue
        sampler = COURSE.get(name)
        if f.type == "enum" and sampler is None:
            value = _tier(rng, core, f.value_names) if set(f.value_names) >= {"low", "high"} else rng.choice(f.value_names)
        elif sampler is not None:
            value = _conform(f, sampler(rng, core))
        else:
            value = _generic(rng, f, i)
        p_missing = 0.8 if core["kind"] == "sparse" else P_MISSING
        if value is None or (not f.required and name not in NO_MISSING and rng.random() < p_missing):
            continue
        values[name] = value
    return Account(id=values["id"], name=values["name"], file=f"<generated {i}>", values=values)


def accounts(book: Rulebook, n: int, seed: int = SEED) -> list[Account]:
    return [account(book, i, seed) for i in range(n)]


# ------------------------------------------------------------------ honesty check: valid input?

def to_yaml(acc: Account) -> str:
    """The account as a file a user could have written (flat dotted keys are accepted)."""
    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return yaml.safe_dump({k: plain(v) for k, v in acc.values.items()}, allow_unicode=True, sort_keys=False)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def check_loadable(book: Rulebook, accs: list[Account]) -> None:
    """Each account, written as YAML, loads through kamrules' own validation unchanged."""
    for acc in accs:
        loaded = load_account("-", book, text=to_yaml(acc))
        if not _same(dict(loaded.values), dict(acc.values)):
            diff = sorted(k for k in set(loaded.values) | set(acc.values)
                          if not _same(loaded.values.get(k), acc.values.get(k)))
            raise AssertionError(f"generated account {acc.id} does not round-trip through load_account: {diff}")
