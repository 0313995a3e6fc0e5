"""Selectors: how relations and invariants name rules (rulebook/relations.py checks them).

    tag:<tag>             the rules that carry the tag (tags: [invest, ladder_up])
    rule:<id>             one rule
    concept:<family.name> the rules of a concept
    <dimension>=<value>   the rules that classify the dimension as the value

Kept apart from relations.py (which imports the condition checker) because resolution and the
invariant checks need them for a cached rulebook too, which never loads the checker.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from kamrules.rulebook.model import RuleDef


def parse(selector: str) -> tuple[str, str, str]:
    """'tag:invest' → ('tag', 'invest', ''); 'scorecard=invest' → ('class', 'scorecard', 'invest')."""
    kind, sep, rest = selector.partition(":")
    if sep and kind in ("tag", "rule", "concept"):
        return kind, rest, ""
    dim, _, value = selector.partition("=")
    return "class", dim, value


def matches(selector: str, rule: RuleDef) -> bool:
    return _matches(parse(selector), rule)


def _matches(parsed: tuple[str, str, str], rule: RuleDef) -> bool:
    kind, name, value = parsed
    if kind == "tag":
        return name in rule.tags
    if kind == "rule":
        return rule.id == name
    if kind == "concept":
        return rule.concept == name
    return (name, value) in rule.classify


def select(selector: str, rules: Iterable[RuleDef]) -> list[RuleDef]:
    parsed = parse(selector)
    return [r for r in rules if _matches(parsed, r)]


def selects_some(selector: str, rules: Iterable[RuleDef]) -> bool:
    """Whether the selector selects any of the rules (stops at the first)."""
    parsed = parse(selector)
    return any(_matches(parsed, r) for r in rules)


def selects_any(selectors: Sequence[str], rule: RuleDef) -> bool:
    return any(matches(s, rule) for s in selectors)


def suppressors(rules: Sequence[RuleDef]) -> dict[str, tuple[str, ...]]:
    """rule id → the ids of the rules that suppress it (in rule order)."""
    out: dict[str, list[str]] = {}
    for a in rules:
        if not a.suppresses:
            continue
        parsed = [parse(s) for s in a.suppresses]  # once per rule, not once per rule it is tried on
        for b in rules:
            if b.id != a.id and any(_matches(p, b) for p in parsed):
                out.setdefault(b.id, []).append(a.id)
    return {k: tuple(v) for k, v in out.items()}
