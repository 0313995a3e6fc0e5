"""What the advice asks people to do, and why: owners, horizons and due dates of actions, root
causes with their symptoms, the verdict, and the walk-away price. Read by the playbook context
(advice/context.py) and the JSON output (advice/render.py), so both say the same thing.

- **Owner.** A warning's or recommendation's `owner:` gives a role (vocabulary.OWNER_ROLES) and
  perhaps the fact that names the person. No role said → the rep. A company-level role (sales
  management, leadership, finance) is never shown as the rep: when its person is not named, the
  role itself is the owner.
- **Due.** as_of + the rule's horizon in days (the playbook section's `horizons:`; the built-in
  days when the section does not say), or, without a horizon, the severity's `due_days`.
- **Root causes.** Findings that declare the same `cause:` are symptoms of it; causes are ordered
  by their most severe symptom, then by how many symptoms they have, then by id.
- **Walk-away price.** From the account's own figures (the facts `playbook.brief.walk_away`
  names): revenue R at average discount d, gross margin g, rebates B, free services F, cost to
  serve S. Cost of goods C = R·(1 − g) does not move with price; list-price revenue L = R/(1 − d).
  The margin after cost to serve at discount x is L·(1 − x) − C − B − F − S, which is ≥ 0 while
  x ≤ 1 − (C + B + F + S)/L: that is the largest discount (the walk-away); the lowest revenue
  at today's volume is C + B + F + S. Rebates and free services are taken as fixed amounts.
  Shown only when all six figures are known and revenue and d < 1 make it defined.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any

from kamrules.advice.model import Advice, Finding
from kamrules.rulebook.model import SEVERITIES, CauseDef, Message
from kamrules.rulebook.vocabulary import COMPANY_ROLES, HORIZON_DAYS
from kamrules.core.record import dataclass

DEFAULT_DUE_DAYS = {"critical": 14, "high": 30, "medium": 90, "low": 180, "info": 180}  # without due_days


@dataclass(frozen=True)
class Action:
    finding: Finding
    text: str  # the remedy, or a recommendation's message
    role: str  # vocabulary.OWNER_ROLES
    name: str  # the person, when the rule names the fact and the account gives it ("" otherwise)
    name_fact: str  # the fact that would name them ("" when the rule names none)
    horizon: str  # vocabulary.HORIZONS, or "" (the severity's default)
    due: _dt.date


@dataclass(frozen=True)
class RootCause:
    cause: CauseDef
    findings: tuple[Finding, ...]  # its symptoms, most severe first


@dataclass(frozen=True)
class WalkAway:
    revenue: float
    discount: float  # today's average discount
    max_discount: float  # the largest discount that still covers the cost to serve (may be < 0)
    floor_revenue: float  # the lowest revenue at today's volume that covers it
    margin_after_cts: float  # today

    @property
    def room(self) -> float:
        """Discount points left before the account stops covering its cost to serve (< 0: past it)."""
        return self.max_discount - self.discount


def message_of(advice: Advice, f: Finding) -> Message | None:
    rule = advice.book.rule(f.rule)
    if rule is None:
        return None
    return rule.warn if f.kind == "warning" else rule.recommend if f.kind == "recommendation" else None


def cause_of(advice: Advice, f: Finding) -> str:
    msg = message_of(advice, f)
    return msg.cause if msg is not None and msg.cause in advice.book.causes else ""


def action(advice: Advice, f: Finding) -> Action | None:
    """The action a finding asks for (None: a finding that asks nothing, or a conflict)."""
    text = f.remedy or (f.message if f.kind == "recommendation" else "")
    if not text or f.kind == "conflict":
        return None
    msg = message_of(advice, f)
    role = (msg.role if msg is not None and msg.role else "rep")
    name_fact = msg.owner if msg is not None else ""
    if not name_fact and role == "rep" and "team.account_manager" in advice.book.facts:
        name_fact = "team.account_manager"  # the rep is the account's manager unless the rule says
    name = advice.env.get(name_fact) if name_fact else None
    horizon = msg.horizon if msg is not None else ""
    pb = advice.book.playbook
    if horizon:
        h = pb.horizons.get(horizon)
        days = h.days if h is not None else HORIZON_DAYS[horizon]
    else:
        days = pb.due_days.get(f.severity, DEFAULT_DUE_DAYS[f.severity])
    return Action(f, text, role, str(name) if name else "", name_fact, horizon,
                  advice.as_of + _dt.timedelta(days=days))


def actions(advice: Advice) -> list[Action]:
    return [a for a in (action(advice, f) for f in advice.findings) if a is not None]


def is_company(role: str) -> bool:
    return role in COMPANY_ROLES


def root_causes(advice: Advice) -> list[RootCause]:
    by: dict[str, list[Finding]] = {}
    for f in advice.findings:
        c = cause_of(advice, f)
        if c:
            by.setdefault(c, []).append(f)
    causes = [RootCause(advice.book.causes[c], tuple(fs)) for c, fs in by.items()]
    return sorted(causes, key=lambda rc: (min(SEVERITIES.index(f.severity) for f in rc.findings),
                                          -len(rc.findings), rc.cause.id))


def tagged(advice: Advice, tags: tuple[str, ...]) -> list[Finding]:
    """Findings (in the advice, most severe first) of rules carrying any of the tags."""
    out = []
    for f in advice.findings:
        rule = advice.book.rule(f.rule)
        if rule is not None and any(t in rule.tags for t in tags):
            out.append(f)
    return out


def verdict(advice: Advice) -> Finding | None:
    found = tagged(advice, advice.book.playbook.brief.verdict_tags)
    return found[0] if found else None


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def walk_away(advice: Advice) -> WalkAway | None:
    names = advice.book.playbook.brief.walk_away
    if not all(k in names for k in ("revenue", "gross_margin", "discount", "rebates", "free_services",
                                    "cost_to_serve")):
        return None
    vals = {k: _num(advice.env.get(n)) for k, n in names.items()}
    if any(vals.get(k) is None for k in ("revenue", "gross_margin", "discount", "rebates", "free_services",
                                         "cost_to_serve")):
        return None
    r, g, d = vals["revenue"], vals["gross_margin"], vals["discount"]
    b, fr, s = vals["rebates"], vals["free_services"], vals["cost_to_serve"]
    assert r is not None and g is not None and d is not None and b is not None and fr is not None and s is not None
    if r <= 0 or not 0 <= d < 1:
        return None
    cogs = r * (1 - g)
    floor = cogs + b + fr + s
    list_revenue = r / (1 - d)
    return WalkAway(revenue=r, discount=d, max_discount=1 - floor / list_revenue, floor_revenue=floor,
                    margin_after_cts=r * g - b - fr - s)
