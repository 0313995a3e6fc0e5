"""Selectors, relations and invariants: how a rulebook speaks about families of rules.

A selector names rules by what they are, not by listing ids:

    tag:<tag>             the rules that carry the tag (tags: [invest, ladder_up])
    rule:<id>             one rule
    concept:<family.name> the rules of a concept
    <dimension>=<value>   the rules that classify the dimension as the value

`suppresses:` and `invariants:` use them. This module resolves selectors against the effective
rules and checks what the grammar cannot: every selector selects something (a typo would make a
suppression or an invariant silently empty), a rule does not suppress itself, an owner fact and a
cause are declared, a company-level action has a company-level owner, and an invariant's
condition checks. What suppression does at run time is advice/resolve.py; the order it imposes
is rulebook/strata.py.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from kamrules.core.errors import Collector, Location, suggest
from kamrules.language.parser import ParseError
from kamrules.language.typecheck import Scope, check_condition
from kamrules.rulebook.model import CauseDef, DimensionDef, FactDef, InvariantDef, RuleDef, replaced
from kamrules.rulebook.selectors import matches, parse, selects_some
from kamrules.rulebook.vocabulary import COMPANY_ROLES, OWNER_ROLES

SELECTOR_EXPECTED = "tag:<tag>, rule:<rule id>, concept:<family.name> or <dimension>=<value>"
COMPANY_TAG = "company"  # a change to the company (pay, targets, prices, structure), not to the account


def _check_selector(sel: str, rules: Sequence[RuleDef], dims: Mapping[str, DimensionDef], where: str,
                    loc: Location, owner: str, out: Collector) -> bool:
    kind, name, value = parse(sel)
    if kind == "class":
        d = dims.get(name)
        if d is None:
            out.add("rulebook.selector", f"{owner}: '{sel}' names the dimension '{name}', which is not declared",
                    loc, where, "<dimension>=<value>", suggest(name, dims))
            return False
        values = [v for v, _ in d.values]
        if value not in values:
            out.add("rulebook.selector", f"{owner}: '{value}' is not a value of {name}", loc, where,
                    "one of " + ", ".join(values), suggest(value, values))
            return False
    if not selects_some(sel, rules):
        pool = {"tag": {f"tag:{t}" for r in rules for t in r.tags}, "rule": {f"rule:{r.id}" for r in rules},
                "concept": {f"concept:{r.concept}" for r in rules}, "class": set()}[kind]
        out.add("rulebook.selector", f"{owner}: '{sel}' selects no rule", loc, where, SELECTOR_EXPECTED,
                suggest(sel, pool) or "check the spelling; a tag is selected only when a rule carries it")
        return False
    return True


def check_rules(rules: Sequence[RuleDef], *, facts: Mapping[str, FactDef], causes: Mapping[str, CauseDef],
                dims: Mapping[str, DimensionDef], out: Collector) -> None:
    """Owners, causes and suppressions of every rule (names, and the company-level rule)."""
    for r in rules:
        at = r.origin.location
        for kind, msg in (("warn", r.warn), ("recommend", r.recommend)):
            if msg is None:
                continue
            where = f"rules[{r.id}].then.{kind}"
            if msg.owner and msg.owner not in facts:
                out.add("rulebook.owner", f"rule '{r.id}': the owner '{msg.owner}' is neither a role nor a declared "
                        "fact", at, where + ".owner", " | ".join(OWNER_ROLES) + ", or a fact such as team.account_manager",
                        suggest(msg.owner, list(facts) + list(OWNER_ROLES)) or "")
            if msg.cause and msg.cause not in causes:
                out.add("rulebook.unknown-cause", f"rule '{r.id}' names the cause '{msg.cause}', which is not declared",
                        at, where + ".cause", hint=suggest(msg.cause, causes) or "declare it under causes:")
            if COMPANY_TAG in r.tags and msg.role not in COMPANY_ROLES:
                out.add("rulebook.company-owner",
                        f"rule '{r.id}' is tagged {COMPANY_TAG}: a change to the company is never the rep's, "
                        f"but its owner is {msg.role or 'not said (the rep)'}", at, where + ".owner",
                        " | ".join(COMPANY_ROLES), "name sales_management, leadership or finance")
        for sel in r.suppresses:
            if not _check_selector(sel, rules, dims, f"rules[{r.id}].suppresses", at, f"rule '{r.id}'", out):
                continue
            if matches(sel, r):
                out.add("rulebook.selector", f"rule '{r.id}' suppresses itself ('{sel}' selects it)", at,
                        f"rules[{r.id}].suppresses", hint="a rule cannot withdraw its own outputs; narrow the selector")


def check_invariants(invariants: Sequence[InvariantDef], rules: Sequence[RuleDef], scope: Scope,
                     dims: Mapping[str, DimensionDef], out: Collector) -> list[InvariantDef]:
    """Every selector selects a rule; an only_if condition parses and type-checks."""
    kept: list[InvariantDef] = []
    for inv in invariants:
        at = inv.origin.location
        ok = all([_check_selector(s, rules, dims, f"invariants[{inv.id}]", at, f"invariant '{inv.id}'", out)
                  for s in inv.selectors])
        if inv.kind == "only_if":
            try:
                inv = replaced(inv, cond=check_condition(inv.when, scope))
            except ParseError as e:
                out.add("rulebook.condition", f"invariant '{inv.id}': {e.message}", inv.when_location or at,
                        f"invariants[{inv.id}].only_if.when", hint=e.hint)
                ok = False
        if ok:
            kept.append(inv)
    return kept
