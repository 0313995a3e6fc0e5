"""Advice invariants checked statically by `kamrules check` (the dynamic half, on generated
accounts, is authoring/ruletests/invariants.py; what "breaks" means is advice/invariants.py).

With the constraint algebra (authoring/algebra.py), for each invariant:

- `never: [A, B, …]`: every pair of rules a (selected by one selector) and b (by another) whose
  conditions can hold together *outside* every suppression of either — the region
  `a.when and b.when and not s1.when and not s2.when …` (s: the rules that suppress a or b) —
  is reported with a witness, the values of that region in words;
- `only_if: {advice: A, when: c}`: every rule selected by A whose condition can hold with `c`
  false outside its suppressions.

The algebra proves a region empty, never guesses: a region with no contradiction is reported.
It is an error (`lint.invariant`) when the witness speaks only of facts compared with constants
— independent inputs, so an account with those values exists — and a warning
(`lint.invariant-possible`) when it reads computed values (metrics, classifications, scores,
fact against fact), which may or may not be reachable together: `kamrules test --invariants`
settles those with a concrete account. Not modelled: a suppressor that is itself suppressed
(counted as suppressing), and a classifying rule that loses under its hit policy (counted as
speaking) — both make the check report more, never less.
"""
from __future__ import annotations

from typing import Sequence

from kamrules.authoring.algebra import DNF, Analysis, Conj, describe, to_dnf
from kamrules.core.errors import Problem
from kamrules.language import ir
from kamrules.rulebook.model import InvariantDef, Rulebook, RuleDef
from kamrules.rulebook.selectors import select


def _region(an: Analysis, parts: Sequence[ir.Cond]) -> tuple[Conj, DNF] | None | bool:
    """The first disjunct of `and(parts)` that may hold (with its literals); False when the
    algebra proves none can; None when the condition is too large to analyse."""
    dnf = to_dnf(ir.And(tuple(parts)))
    if dnf is None:
        return None
    for lits in dnf:
        c = an.conj(lits)
        if not c.conflict:
            return c, [lits]
    return False


def _proved(c: Conj) -> bool:
    """Every constraint is on a fact compared with constants: independent inputs."""
    if c.opaque:
        return False
    terms = list(c.cons) + list(c.absent) + list(c.present)
    return all(isinstance(t, ir.Ref) and t.kind == "fact" for t in terms)


def _suppressing(book: Rulebook, *rules: RuleDef) -> list[RuleDef]:
    ids = dict.fromkeys(s for r in rules for s in book.suppressors.get(r.id, ()))
    return [r for r in (book.rule(i) for i in ids) if r is not None]


def _problem(inv: InvariantDef, c: Conj, what: str, path: str) -> Problem:
    witness = describe(c)
    if _proved(c):
        hint = ("suppress one from the other (suppresses:), or narrow a condition so they cannot hold together"
                if inv.kind == "never" else "add the invariant's condition to the rule's when:, or suppress the rule "
                                            "where it does not hold")
        return Problem("lint.invariant", f"invariant '{inv.id}' is broken: {what.format(can='can')}, e.g. where "
                       f"{witness}", inv.origin.location, path, "", hint, "error")
    return Problem("lint.invariant-possible", f"invariant '{inv.id}' may be broken: {what.format(can='may')} where "
                   f"{witness} (not proved: that reads computed values)", inv.origin.location, path, "",
                   "kamrules test --invariants N looks for a concrete account; suppress or narrow if it finds one",
                   "warning")


def check(book: Rulebook, skip: frozenset[str] = frozenset()) -> list[Problem]:
    an = Analysis(book)
    rules = [r for r in book.rules if r.id not in skip]
    out: list[Problem] = []
    for inv in book.invariants:
        path = f"invariants[{inv.id}]"
        if inv.kind == "never":
            groups = [select(s, rules) for s in inv.selectors]
            seen: set[tuple[str, str]] = set()
            for i, ga in enumerate(groups):
                for gb in groups[i + 1:]:
                    for a in ga:
                        for b in gb:
                            key = (min(a.id, b.id), max(a.id, b.id))
                            if a.id == b.id or key in seen:
                                continue
                            seen.add(key)
                            sups = _suppressing(book, a, b)
                            found = _region(an, [a.cond, b.cond, *(ir.Not(s.cond) for s in sups)])
                            if isinstance(found, tuple):
                                out.append(_problem(inv, found[0], f"rules '{a.id}' and '{b.id}' {{can}} both "
                                                    "stand", path))
        else:
            for a in dict.fromkeys(r for s in inv.selectors for r in select(s, rules)):
                sups = _suppressing(book, a)
                found = _region(an, [a.cond, ir.Not(inv.cond), *(ir.Not(s.cond) for s in sups)])
                if isinstance(found, tuple):
                    out.append(_problem(inv, found[0], f"rule '{a.id}' {{can}} stand while '{inv.when}' "
                                        "does not hold",
                                        path))
    return out
