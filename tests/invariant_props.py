"""Property-test helpers for advice invariants: point them at a rulebook.

    from invariant_props import assert_invariants
    def test_course_invariants() -> None:
        assert_invariants(load_rulebook("course"), accounts=5000)

`assert_invariants` checks every invariant of the rulebook on `accounts` generated accounts on
the reference evaluator, and on `durable_accounts` of them on durable_rules where it imports
(it costs ~20 ms an account against ~3 ms; the engines' agreement is the rule tests' and
test_engine's business, so the bulk runs on the oracle). It fails with one paragraph per broken
invariant: the rules, and the minimal counterexample hypothesis shrank.
"""
from __future__ import annotations

from kamrules.authoring.generate import describe
from kamrules.authoring.ruletests.invariants import Outcome, search
from kamrules.engine.backends import durable_available
from kamrules.rulebook.model import Rulebook


def broken(book: Rulebook, *, accounts: int, durable_accounts: int = 0) -> list[Outcome]:
    out = [o for o in search(book, accounts, ("reference",)) if not o.ok]
    if durable_accounts and durable_available():
        seen = {o.invariant.id for o in out}
        out += [o for o in search(book, durable_accounts, ("durable",)) if not o.ok and o.invariant.id not in seen]
    return out


def report(outcomes: list[Outcome]) -> str:
    parts = []
    for o in outcomes:
        assert o.violation is not None
        facts = describe(o.counterexample) if o.counterexample is not None else "(not shrunk)"
        parts.append(f"{o.violation.message}\n  on {o.engine}, minimal counterexample:\n    "
                     + facts.replace("\n", "\n    "))
    return "\n".join(parts)


def assert_invariants(book: Rulebook, *, accounts: int = 5000, durable_accounts: int = 300) -> None:
    found = broken(book, accounts=accounts, durable_accounts=durable_accounts)
    assert not found, f"{len(found)} invariant(s) broken:\n" + report(found)


def minimal_counterexample(book: Rulebook, invariant: str, *, accounts: int = 2000) -> dict[str, object]:
    """The shrunk account (its facts) that breaks one invariant — for a test that pins why a
    guard or a suppression is needed (run it on a rulebook without the guard)."""
    for o in search(book, accounts, ("reference",)):
        if o.invariant.id == invariant:
            assert o.counterexample is not None, f"{invariant} holds on {accounts} accounts"
            return {k: v for k, v in o.counterexample.values.items() if k not in ("id", "name")}
    raise KeyError(invariant)
