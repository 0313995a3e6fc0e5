"""What a backend produces: one Match per rule that fired, with the properties it read; and the
contract every backend keeps."""
from __future__ import annotations

from typing import Any, Mapping, Protocol

from kamrules.engine.compile import Program
from kamrules.engine.facts import Facts
from kamrules.core.record import dataclass


@dataclass(frozen=True)
class Match:
    rule: str
    stratum: int
    # property → encoded value, sorted; None when the run was not asked for
    # them (Backend.run): only the cross-checks of the engines read them (rule tests, properties)
    bindings: tuple[tuple[str, Any], ...] | None


class Resolver(Protocol):
    def __call__(self, stratum: int, matches: list[Match]) -> Mapping[str, Any]: ...


class Backend(Protocol):
    name: str

    def run(self, prog: Program, facts: Facts, after_stratum: Resolver, *, with_bindings: bool = True) -> list[Match]:
        """Every stratum's matches, in order; each stratum's list is handed to `after_stratum`
        before the next stratum runs, and the result is those lists joined. Without
        `with_bindings`, each match's bindings are None: a portfolio reads none of them, and
        building them was ≈ 7 % of its workers' time (docs/performance.md, "Matches without
        bindings")."""
        ...


def bindings(props: tuple[str, ...], fact: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(zip(props, map(fact.get, props)))  # per match of every account: no Python-level loop
