"""The records of rule tests: what a test file says (Case, Expect, …) and what a run found
(Failure, CaseResult, FileResult, Report), plus the Coverage tally a run fills in."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from kamrules.advice import explain as ex
from kamrules.advice.model import Advice
from kamrules.core.errors import Location, Problem
from kamrules.core.yamlio import Doc
from kamrules.engine.matches import Match
from kamrules.rulebook.model import Rulebook

# ----------------------------------------------------------------------------- the format

@dataclass(frozen=True)
class ScoreExpect:
    score: str
    low: float | None  # None with high None: "no rule scored it"
    high: float | None

    def holds(self, value: float | None) -> bool:
        if self.low is None and self.high is None:
            return value is None
        if value is None:
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def text(self) -> str:
        if self.low is None and self.high is None:
            return "no score"
        if self.low == self.high:
            return num_text(self.low)
        return f"[{num_text(self.low)}, {num_text(self.high)}]"


@dataclass(frozen=True)
class Expect:
    classification: tuple[tuple[str, str | None], ...] = ()
    fires: tuple[str, ...] = ()
    not_fires: tuple[str, ...] = ()
    concepts: tuple[str, ...] = ()
    scores: tuple[ScoreExpect, ...] = ()
    suppressed: tuple[str, ...] = ()  # rules whose condition holds but whose outputs another rule withdraws


@dataclass(frozen=True)
class Case:
    index: int
    name: str
    location: Location
    given: Mapping[str, Any]
    given_file: str  # as written ('' when none)
    expect: Expect


@dataclass(frozen=True)
class TestFile:
    file: str
    doc: Doc
    book: Rulebook
    rulebook_ref: str
    as_of: _dt.date | None
    cases: tuple[Case, ...]



# ----------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Failure:
    check: str  # e.g. "classification.tier", "fires", "scores.health", "engines"
    expected: str
    actual: str
    message: str  # the line a reader sees
    rules: tuple[str, ...] = ()  # the rules whose explanation helps


@dataclass(frozen=True)
class CaseResult:
    file: str
    name: str
    location: Location
    status: str  # PASS | FAIL | ERROR
    failures: tuple[Failure, ...] = ()
    problems: tuple[Problem, ...] = ()
    explanations: tuple[ex.RuleExplanation, ...] = ()
    engines: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "file": self.location.file, "line": self.location.line, "status": self.status,
            "failures": [{"check": f.check, "expected": f.expected, "actual": f.actual, "message": f.message,
                          "rules": list(f.rules)}
                         for f in self.failures],
            "problems": [p.as_dict() for p in self.problems],
            "explain": [e.as_dict() for e in self.explanations],
            "engines": list(self.engines),
        }


@dataclass
class Coverage:
    """What the tests exercised, per effective rulebook (keyed by digest)."""

    books: dict[str, Rulebook] = field(default_factory=dict)
    fired: dict[str, set[str]] = field(default_factory=dict)
    units: dict[str, dict[tuple[str, int], tuple[str, set[str]]]] = field(default_factory=dict)
    values: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    def add_book(self, book: Rulebook) -> None:
        if book.digest in self.books:
            return
        self.books[book.digest] = book
        self.fired[book.digest] = set()
        self.values[book.digest] = {d: set() for d in book.dimensions}
        self.units[book.digest] = {}
        for r in book.rules:
            for i, u in enumerate(ex.units(r.cond)):
                self.units[book.digest][(r.id, i)] = (ex.unit_text(u), set())

    def record(self, advice: Advice, matches: Iterable[Match]) -> None:
        d = advice.book.digest
        self.add_book(advice.book)
        self.fired[d].update(m.rule for m in matches)
        # a suppressed rule fired (its condition held on the engines) and its withdrawal was seen
        self.fired[d].update(s.rule for s in advice.suppressed)
        for dim, c in advice.classification.items():
            if c.value is not None:
                self.values[d].setdefault(dim, set()).add(c.value)
        for r in advice.book.rules:
            for i, (_, outcome) in enumerate(ex.unit_outcomes(r, advice.env, advice.as_of)):
                self.units[d][(r.id, i)][1].add(ex._outcome_name(outcome))

    def _merged(self) -> tuple[dict[tuple[str, str], bool], dict[tuple[tuple[str, str], int], set[str]],
                               dict[tuple[str, str, str], bool]]:
        """Rules, conditions and dimension values across every rulebook tested, each counted once
        where it is defined: an overlay's tests and the base's tests cover the same base rule."""
        rules: dict[tuple[str, str], bool] = {}
        conds: dict[tuple[tuple[str, str], int], set[str]] = {}
        values: dict[tuple[str, str, str], bool] = {}
        for d, book in self.books.items():
            for r in book.rules:
                key = (r.id, str(r.origin.location))
                rules[key] = rules.get(key, False) or r.id in self.fired[d]
            keys = {r.id: (r.id, str(r.origin.location)) for r in book.rules}
            for (rid, i), (_, seen) in self.units[d].items():
                conds.setdefault((keys[rid], i), set()).update(seen)
            for dim, dd in book.dimensions.items():
                for v, _ in dd.values:
                    vk = (dim, str(dd.origin.location), v)
                    values[vk] = values.get(vk, False) or v in self.values[d].get(dim, set())
        return rules, conds, values

    def rule_percent(self) -> float:
        rules, _, _ = self._merged()
        return 100.0 * sum(rules.values()) / len(rules) if rules else 0.0

    def as_dict(self) -> dict[str, Any]:
        books = []
        for d, book in self.books.items():
            ids = [r.id for r in book.rules]
            never = [r for r in book.rules if r.id not in self.fired[d]]
            partial = [{"rule": rid, "index": i, "condition": text, "seen": sorted(seen)}
                       for (rid, i), (text, seen) in self.units[d].items() if not {"true", "false"} <= seen]
            n_units = len(self.units[d])
            missing_values = [{"dimension": dim, "value": v} for dim, dd in book.dimensions.items()
                              for v, _ in dd.values if v not in self.values[d].get(dim, set())]
            n_values = sum(len(dd.values) for dd in book.dimensions.values())
            books.append({
                "rulebook": {"id": book.id, "version": book.version, "digest": d},
                "rules": _ratio(len(ids) - len(never), len(ids)) | {
                    "never_fired": [{"rule": r.id, "at": str(r.origin.location)} for r in never]},
                "conditions": _ratio(n_units - len(partial), n_units) | {"not_both": partial},
                "dimension_values": _ratio(n_values - len(missing_values), n_values) | {
                    "never_produced": missing_values},
            })
        rules, conds, values = self._merged()
        return {
            "rules": _ratio(sum(rules.values()), len(rules)),
            "conditions": _ratio(sum(1 for seen in conds.values() if {"true", "false"} <= seen), len(conds)),
            "dimension_values": _ratio(sum(values.values()), len(values)),
            "rulebooks": books,
        }


def _ratio(covered: int, total: int) -> dict[str, Any]:
    return {"covered": covered, "total": total, "percent": round(100.0 * covered / total, 1) if total else 0.0}


@dataclass(frozen=True)
class FileResult:
    file: str
    rulebook: str
    problems: tuple[Problem, ...]  # the file could not be used at all
    cases: tuple[CaseResult, ...]


@dataclass(frozen=True)
class Report:
    files: tuple[FileResult, ...]
    engines: tuple[str, ...]
    coverage: Coverage

    @property
    def cases(self) -> list[CaseResult]:
        return [c for f in self.files for c in f.cases]

    def counts(self) -> dict[str, int]:
        cs = self.cases
        return {"cases": len(cs), "passed": sum(c.status == "PASS" for c in cs),
                "failed": sum(c.status == "FAIL" for c in cs), "errors": sum(c.status == "ERROR" for c in cs),
                "file_errors": sum(1 for f in self.files if f.problems)}

    def exit_code(self, min_coverage: float | None = None) -> int:
        n = self.counts()
        if n["errors"] or n["file_errors"]:
            return 2
        if n["failed"]:
            return 1
        if min_coverage is not None and self.coverage.rule_percent() < min_coverage:
            return 1
        return 0


def num_text(x: float | None) -> str:
    """A score or bound as a test author wrote it: 50, 12.5 ('—' for none)."""
    if x is None:
        return "—"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
