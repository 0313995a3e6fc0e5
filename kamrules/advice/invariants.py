"""Advice invariants, checked on one resolved Advice (the dynamic half: `kamrules test
--invariants`, the property tests; the static half is authoring/invariants.py).

What "in the advice" means for a rule, so both halves agree:
- it fired and no rule suppressed it (Advice.matches already leaves suppressed rules out), and
- it concluded something that stands: a warning or recommendation, score points or a derived
  fact — or, for a rule that only classifies, at least one of its classifications is the
  dimension's resolved value (a rule that lost under the hit policy said nothing).
A `<dimension>=<value>` selector is in the advice when the resolved classification has that value.

`never: [a, b, …]` is violated when two different selectors are both in the advice.
`only_if: {advice: [a …], when: c}` is violated when advice matching a selector stands and `c`
is not true on the account (unknown counts as not true: the advice needs the condition shown).
"""
from __future__ import annotations

from dataclasses import dataclass

from kamrules.advice.model import Advice
from kamrules.engine.reference import Context, eval_cond
from kamrules.rulebook.model import InvariantDef, RuleDef
from kamrules.rulebook.selectors import matches, parse


@dataclass(frozen=True)
class Violation:
    invariant: str
    kind: str  # never | only_if
    rules: tuple[str, ...]  # the rules (or dimension=value) that make it
    message: str


def _speaks(advice: Advice, rule: RuleDef) -> bool:
    if rule.warn or rule.recommend or rule.score or rule.derive:
        return True
    return any(advice.classification[d].value == v for d, v in rule.classify if d in advice.classification)


def standing(advice: Advice, selector: str) -> tuple[str, ...]:
    """What in the advice the selector names: rule ids, or 'dimension=value'."""
    kind, name, value = parse(selector)
    if kind == "class":
        c = advice.classification.get(name)
        return (selector,) if c is not None and c.value == value else ()
    out = []
    for m in advice.matches:
        rule = advice.book.rule(m.rule)
        if rule is not None and matches(selector, rule) and _speaks(advice, rule) and rule.id not in out:
            out.append(rule.id)
    return tuple(out)


def check(advice: Advice, invariants: tuple[InvariantDef, ...] | None = None) -> list[Violation]:
    """The invariants (default: the rulebook's) this Advice breaks."""
    out: list[Violation] = []
    for inv in advice.book.invariants if invariants is None else invariants:
        if inv.kind == "never":
            present = [(s, standing(advice, s)) for s in inv.selectors]
            hit = [(s, r) for s, r in present if r]
            if len(hit) >= 2:
                rules = tuple(dict.fromkeys(x for _, r in hit for x in r))
                said = "; ".join(f"{s}: {', '.join(r)}" for s, r in hit)
                out.append(Violation(inv.id, "never", rules, f"{inv.id}: never together, but the advice has {said}"))
        else:
            rules = tuple(dict.fromkeys(x for s in inv.selectors for x in standing(advice, s)))
            if rules and eval_cond(inv.cond, Context(advice.env, advice.as_of)) is not True:
                out.append(Violation(inv.id, "only_if", rules,
                                     f"{inv.id}: {', '.join(rules)} stands but '{inv.when}' does not hold"))
    return out
