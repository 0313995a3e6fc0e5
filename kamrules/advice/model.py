"""What an evaluation concludes: findings, classifications, scores, blocked analyses, and the
Advice that carries them with the account, the rulebook and the facts they came from."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Mapping

from kamrules.engine.facts import Facts
from kamrules.engine.matches import Match
from kamrules.rulebook.model import SEVERITIES, Account, Rulebook


@dataclass(frozen=True)
class Because:
    fact: str
    value: Any
    op: str
    against: Any
    text: str
    param: str = ""
    type: str = "number"


@dataclass(frozen=True)
class Finding:
    rule: str
    concept: str
    kind: str  # warning | recommendation | conflict
    severity: str
    priority: int
    title: str
    message: str
    remedy: str
    owner: str
    because: tuple[Because, ...]
    source: str
    at: str
    rulebook: str

    def sort_key(self) -> tuple[int, int, str, str]:
        return (SEVERITIES.index(self.severity), -self.priority, self.rule, self.kind)


@dataclass(frozen=True)
class Classification:
    dimension: str
    value: str | None
    rules: tuple[str, ...]  # the rules that gave the winning value
    candidates: tuple[tuple[str, str], ...]  # every (rule, value) that matched


@dataclass(frozen=True)
class Score:
    name: str
    value: float | None
    parts: tuple[tuple[str, float], ...]  # (rule, points)


@dataclass(frozen=True)
class Blocked:
    rule: str
    concept: str
    missing: tuple[str, ...]  # facts that would let the rule be decided


@dataclass(frozen=True)
class Advice:
    account: Account
    book: Rulebook
    facts: Facts
    engine: str
    lang: str
    classification: Mapping[str, Classification]
    scores: Mapping[str, Score]
    findings: tuple[Finding, ...]
    blocked: tuple[Blocked, ...]
    matches: tuple[Match, ...]
    env: Mapping[str, Any]  # facts, metrics and everything the rules decided

    @property
    def as_of(self) -> _dt.date:
        return self.facts.as_of
