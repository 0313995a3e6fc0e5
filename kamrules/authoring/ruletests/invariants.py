"""Invariants checked on generated accounts: the dynamic half of `invariants:` (the static half
is authoring/invariants.py, run by `kamrules check`).

`search` runs N accounts from authoring/generate.py on every engine and checks each Advice with
advice/invariants.py. Each invariant that breaks is then searched for alone, so hypothesis
shrinks a counterexample for that invariant (fewest facts, simplest values) instead of for
whichever broke first. Runs are derandomized: the same rulebook and N give the same accounts,
the same verdicts and the same counterexamples.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Sequence

from hypothesis import HealthCheck, Phase, given, settings

from kamrules.advice import invariants as inv
from kamrules.authoring import generate
from kamrules.rulebook.model import Account, InvariantDef, Rulebook


@dataclass(frozen=True)
class Outcome:
    invariant: InvariantDef
    examples: int  # accounts checked
    violation: inv.Violation | None = None  # on the minimal counterexample
    engine: str = ""  # the engine it was seen on
    counterexample: Account | None = None

    @property
    def ok(self) -> bool:
        return self.violation is None


def _settings(n: int, shrink: bool) -> settings:
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])
    return settings(max_examples=n, deadline=None, derandomize=True, database=None, phases=phases,
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False, print_blob=False)


class _Broke(Exception):
    pass


def _violations(book: Rulebook, account: Account, engines: Sequence[str], only: tuple[InvariantDef, ...] | None,
                as_of: _dt.date) -> list[tuple[str, inv.Violation]]:
    from kamrules.pipeline import evaluate

    out = []
    for e in engines:
        advice = evaluate(account, book, as_of=as_of, engine=e)
        out += [(e, v) for v in inv.check(advice, only)]
    return out


def search(book: Rulebook, n: int, engines: Sequence[str], *, as_of: _dt.date | None = None) -> list[Outcome]:
    """Every invariant of the rulebook, checked on n generated accounts (and shrunk when broken)."""
    if not book.invariants or n <= 0:
        return []
    day = as_of or generate.AS_OF
    strategy = generate.accounts(book, day)
    broken: dict[str, int] = {}  # invariant → how many accounts broke it in the first pass
    target: list[InvariantDef] = []  # empty: the scan; one invariant: its counterexample search
    last: list[tuple[Account, str, inv.Violation]] = []

    # One function for both passes: derandomized hypothesis seeds from the test function, so the
    # targeted pass meets the same accounts as the scan and finds what the scan saw.
    def probe(account: Account) -> None:
        if not target:
            for _, v in _violations(book, account, engines, None, day):
                broken[v.invariant] = broken.get(v.invariant, 0) + 1
            return
        found = _violations(book, account, engines, tuple(target), day)
        if found:
            last.append((account, *found[0]))
            raise _Broke()

    _settings(n, False)(given(strategy)(probe))()
    out: list[Outcome] = []
    for invariant in book.invariants:
        if invariant.id not in broken:
            out.append(Outcome(invariant, n))
            continue
        target[:] = [invariant]
        last.clear()
        try:
            _settings(n, True)(given(strategy)(probe))()
        except _Broke:
            pass
        if last:  # hypothesis replays the minimal example last
            account, engine, violation = last[-1]
            out.append(Outcome(invariant, n, violation, engine, account))
        else:  # seen in the scan but not again alone: report what the scan saw, unshrunk
            out.append(Outcome(invariant, n, inv.Violation(invariant.id, invariant.kind, (),
                                                           f"{invariant.id}: broken on {broken[invariant.id]} "
                                                           "generated account(s)"), engines[0], None))
    return out
