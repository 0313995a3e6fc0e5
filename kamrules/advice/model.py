"""What an evaluation concludes: findings, classifications, scores, blocked analyses, and the
Advice that carries them with the account, the rulebook and the facts they came from.

Classifications and scores are resolved while the engine runs. Findings (rendered messages,
evidence) and blocked analyses are materialised on first use: a portfolio of thousands of
accounts reads only classes, scores and finding headlines, a playbook reads everything.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import field
from typing import Any, Callable, Generic, Mapping, Protocol, TypeVar, overload

from kamrules.engine.facts import Facts
from kamrules.engine.matches import Match
from kamrules.engine.reference import Literal
from kamrules.rulebook.model import SEVERITIES, Account, Rulebook, RuleDef
from kamrules.core.record import dataclass


@dataclass(frozen=True)
class Because:
    fact: str
    value: Any
    op: str
    against: Any
    text: str
    param: str = ""
    type: str = "number"
    # decided by bounds (engine/bounds.py): a side is missing, yet every value it may take gives
    # the same outcome; `interval` is where the left side lies ([lo, hi], None for an open end)
    bounded: bool = False
    interval: tuple[float | None, float | None] | None = None
    against_interval: tuple[float | None, float | None] | None = None


_T = TypeVar("_T")


class _once(Generic[_T]):
    """functools.cached_property without its lock: on Python 3.11 its first read of an instance
    takes a class-wide RLock (a portfolio reads `headlines` once per account: ≈ 5 % of what the
    headlines cost). The value goes into the instance's __dict__, which later reads find first;
    two threads reading at once would both compute it, and the two values are equal."""

    def __init__(self, fn: Callable[[Any], _T]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    @overload
    def __get__(self, obj: None, cls: type | None = None) -> _once[_T]: ...

    @overload
    def __get__(self, obj: object, cls: type | None = None) -> _T: ...

    def __get__(self, obj: object | None, cls: type | None = None) -> _T | _once[_T]:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


def _sort_key(severity: str, priority: int, rule: str, kind: str) -> tuple[int, int, str, str]:
    return (SEVERITIES.index(severity), -priority, rule, kind)


@dataclass(frozen=True)
class Headline:
    """A finding without its rendered message and evidence: enough to count, order and name it
    (what a portfolio row shows). `Advice.headlines` lists them in `Advice.findings`' order."""

    rule: str
    concept: str
    kind: str  # warning | recommendation | conflict
    severity: str
    priority: int
    title: str

    def sort_key(self) -> tuple[int, int, str, str]:
        return _sort_key(self.severity, self.priority, self.rule, self.kind)


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
    suppressed_by: str = ""  # the rule that withdrew it ("" = in the advice)

    def sort_key(self) -> tuple[int, int, str, str]:
        return _sort_key(self.severity, self.priority, self.rule, self.kind)

    def headline(self) -> Headline:
        return Headline(self.rule, self.concept, self.kind, self.severity, self.priority, self.title)


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
class Suppressed:
    """A rule that fired but whose outputs a suppressing rule withdrew (rulebook `suppresses:`):
    what it would have concluded, and which rules withdrew it (those that fired, in rule order)."""

    rule: str
    concept: str
    by: tuple[str, ...]
    classify: tuple[tuple[str, str], ...] = ()  # (dimension, value) withdrawn
    score: tuple[tuple[str, float], ...] = ()  # (score, points) withdrawn
    derive: tuple[tuple[str, Any], ...] = ()  # (derived fact, value) withdrawn


@dataclass(frozen=True)
class Blocked:
    rule: str
    concept: str
    missing: tuple[str, ...]  # facts that would let the rule be decided


class Details(Protocol):
    """What an Advice materialises on first use (advice/resolve.py implements it)."""

    def evidence(self, rule: RuleDef) -> tuple[Literal, ...]: ...

    def headlines(self) -> tuple[Headline, ...]: ...

    def findings(self) -> tuple[Finding, ...]: ...

    def blocked(self) -> tuple[Blocked, ...]: ...

    def suppressed_findings(self) -> tuple[Finding, ...]: ...


@dataclass(frozen=True)
class Advice:
    account: Account
    book: Rulebook
    facts: Facts
    engine: str
    lang: str
    classification: Mapping[str, Classification]
    scores: Mapping[str, Score]
    matches: tuple[Match, ...]
    env: Mapping[str, Any]  # facts, metrics and everything the rules decided
    details: Details = field(repr=False, compare=False)
    suppressed: tuple[Suppressed, ...] = ()  # rules that fired and were withdrawn, in firing order

    @property
    def as_of(self) -> _dt.date:
        return self.facts.as_of

    @_once
    def findings(self) -> tuple[Finding, ...]:
        """Warnings, recommendations and hit-policy conflicts with their messages (in `lang`) and
        evidence, most severe first. Rendered on first use, once."""
        return self.details.findings()

    @_once
    def headlines(self) -> tuple[Headline, ...]:
        """The findings without messages or evidence, in the same order (cheap)."""
        if "findings" in self.__dict__:  # already rendered: no second pass
            return tuple(f.headline() for f in self.findings)
        return self.details.headlines()

    @_once
    def suppressed_findings(self) -> tuple[Finding, ...]:
        """The warnings and recommendations of suppressed rules, rendered, each with the rule that
        withdrew it (`suppressed_by`). Not advice: explain and the JSON show them."""
        return self.details.suppressed_findings()

    @_once
    def blocked(self) -> tuple[Blocked, ...]:
        """Rules that missing facts left undecided, with the facts to fill in."""
        return self.details.blocked()
