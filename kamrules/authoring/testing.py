"""Rule tests: `*.test.yaml` files that pin what a rulebook concludes for given facts.

A test file names its rulebook and lists cases; each case gives facts (inline, from an
account file, or both) and expects classifications, rules that fire or not, concepts with a
finding, and score ranges (format: docs/rulebook-language.md, "Rule tests"). Every case runs
on every available engine and fails when they disagree, so the rule tests double as the
oracle check of the durable_rules backend against the reference evaluator.

Three kinds of outcome, as in OPA and pytest: PASS, FAIL (an expectation or the engines'
agreement did not hold: exit 1), ERROR (the test cannot run: a malformed test file, facts that
do not validate, a rulebook that does not load: exit 2). Facts go through the same account
validation as `advise`, with every problem pointing into the test file (or the account file a
case reads).
"""
from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from kamrules.advice import explain as ex
from kamrules.core import textsafe, yamlio
from kamrules.core.errors import (
    Collector,
    EngineError,
    InputError,
    Location,
    Problem,
    UsageError,
    suggest,
)
from kamrules.core.values import ValueProblem, parse_amount, parse_date, parse_enum
from kamrules.core.yamlio import Doc, format_path
from kamrules.core.yamlio import Path as YPath
from kamrules.engine.backends import durable_available
from kamrules.engine.matches import Match
from kamrules.io.account import account_from_doc
from kamrules.rulebook.model import Rulebook

SUFFIX = ".test.yaml"
TOP_KEYS = ("rulebook", "as_of", "base", "cases", "description")
CASE_KEYS = ("name", "given", "given_file", "expect")
EXPECT_KEYS = ("classification", "fires", "not_fires", "concepts", "scores")
SKIP_DIRS = frozenset({"node_modules", "__pycache__", "venv", "site-packages"})
MAX_EXPLAINED = 8  # rules explained under one failing case: enough to see why, short enough to read


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
            return _num(self.low)
        return f"[{_num(self.low)}, {_num(self.high)}]"


@dataclass(frozen=True)
class Expect:
    classification: tuple[tuple[str, str | None], ...] = ()
    fires: tuple[str, ...] = ()
    not_fires: tuple[str, ...] = ()
    concepts: tuple[str, ...] = ()
    scores: tuple[ScoreExpect, ...] = ()


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
            if r.cond is None:
                continue
            for i, u in enumerate(ex.units(r.cond)):
                self.units[book.digest][(r.id, i)] = (ex.unit_text(u), set())

    def record(self, advice: Any, matches: Iterable[Match]) -> None:
        d = advice.book.digest
        self.add_book(advice.book)
        self.fired[d].update(m.rule for m in matches)
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


# ----------------------------------------------------------------------------- discovery

def discover(paths: Sequence[str]) -> list[str]:
    """Test files under the paths (a file is taken as given; folders are searched for *.test.yaml)."""
    found: list[str] = []
    problems = []
    for p in paths or ["."]:
        path = Path(p)
        if path.is_file():
            found.append(str(path))
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
                found.extend(str(Path(root) / f) for f in sorted(files) if f.endswith(SUFFIX))
        else:
            problems.append(Problem("cli.path", f"no such file or folder: {p}", Location(p),
                                    hint="give test files (*.test.yaml) or folders that hold them"))
    if problems:
        raise UsageError(problems)
    if not found:
        where = ", ".join(paths) if paths else "the current folder"
        raise UsageError([Problem("test.none-found", f"no rule tests (*{SUFFIX}) under {where}",
                                  Location(paths[0] if paths else "."),
                                  hint="name test files <rulebook>.test.yaml (see docs/rulebook-language.md)")])
    out: list[str] = []
    for f in found:  # a file named twice runs once
        if f not in out:
            out.append(f)
    return out


# ----------------------------------------------------------------------------- reading

class _Reader:
    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.out = Collector()

    def err(self, code: str, msg: str, path: YPath, expected: str = "", hint: str = "", value: bool = False) -> None:
        loc = self.doc.value_loc(path) if value else self.doc.loc(path)
        self.out.add(code, msg, loc, format_path(path), expected, hint)

    def keys(self, m: Mapping[str, Any], allowed: Sequence[str], path: YPath, what: str) -> None:
        for k in m:
            if k not in allowed:
                self.err("test.unknown-key", f"unknown key '{k}' in {what}", path + (k,),
                         "one of " + ", ".join(allowed), suggest(str(k), allowed))

    def mapping(self, value: Any, path: YPath, what: str, example: str) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.err("test.type", f"{what} must be a mapping", path, example, value=True)
            return None
        return value

    def ids(self, value: Any, path: YPath, what: str) -> list[tuple[str, YPath]]:
        if value is None:
            return []
        if isinstance(value, str):
            return [(value, path)]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.err("test.type", f"{what} must be a list of names", path, f"{path[-1]}: [a, b]", value=True)
            return []
        return [(v, path + (i,)) for i, v in enumerate(value)]


def _rulebook_ref(r: _Reader, data: Mapping[str, Any], file: str) -> str | None:
    from kamrules.rulebook.load import resolve_ref

    ref = data.get("rulebook")
    if ref is None:
        sibling = Path(file).with_name(Path(file).name[: -len(SUFFIX)] + ".yaml") if file.endswith(SUFFIX) else None
        if sibling is not None and sibling.is_file():
            return str(sibling)
        r.err("test.rulebook", "the test file does not say which rulebook it tests", (),
              "rulebook: course  (a built-in id, or a path relative to this file)",
              "add a 'rulebook:' key" + (f", or put the rulebook beside it as {sibling.name}" if sibling else ""))
        return None
    if not isinstance(ref, str) or not ref.strip():
        r.err("test.type", "rulebook must be a built-in id or a path", ("rulebook",), "rulebook: course", value=True)
        return None
    path = resolve_ref(ref, file)
    if path is None:
        from kamrules.core.resources import builtin_rulebooks

        is_path = ref.endswith((".yaml", ".yml", ".json")) or "/" in ref
        r.err("test.rulebook", f"cannot find the rulebook '{ref}'", ("rulebook",),
              "a built-in id or a path relative to this test file",
              ("paths are relative to the test file" if is_path else suggest(ref, builtin_rulebooks())), value=True)
        return None
    is_builtin = not (ref.endswith((".yaml", ".yml", ".json")) or "/" in ref or "\\" in ref)
    return ref if is_builtin else str(path)


def read_test_file(file: str) -> TestFile:
    """Parse and validate a test file against its rulebook. Raises InputError with every problem."""
    from kamrules.pipeline import rulebook as load_book

    doc = yamlio.load(file)
    r = _Reader(doc)
    data = doc.data
    if data is None:
        r.err("test.empty", "the test file is empty", (), "rulebook: …, cases: [ … ]",
              "see 'Rule tests' in docs/rulebook-language.md")
        r.out.raise_if_any()
    if not isinstance(data, dict):
        r.err("test.not-mapping", "a test file is a mapping with 'rulebook' and 'cases'", (),
              "rulebook: …\ncases:\n  - name: …", value=True)
        r.out.raise_if_any()
    r.keys(data, TOP_KEYS, (), "a test file")
    ref = _rulebook_ref(r, data, file)
    as_of = None
    if data.get("as_of") is not None:
        try:
            as_of = parse_date(data["as_of"])
        except ValueProblem as e:
            r.err("test.value", e.message, ("as_of",), e.expected, value=True)
    r.mapping(data.get("base"), ("base",), "base", "base: {id: t, name: 测试客户}")
    book = None
    if ref is not None:
        try:
            book = load_book(ref)
        except InputError as e:
            r.err("test.rulebook", f"the rulebook '{data.get('rulebook', ref)}' does not load "
                  f"({len(e.problems)} problem{'s' if len(e.problems) != 1 else ''})",
                  ("rulebook",) if "rulebook" in data else (), hint="run 'kamrules check' on it", value=True)
            r.out.extend(e.problems)
    cases = _cases(r, data, book)
    r.out.raise_if_any()
    assert book is not None and ref is not None
    return TestFile(file, doc, book, ref, as_of, tuple(cases))


def _cases(r: _Reader, data: Mapping[str, Any], book: Rulebook | None) -> list[Case]:
    raw = data.get("cases")
    if not isinstance(raw, list) or not raw:
        r.err("test.no-cases", "the test file has no cases" if raw in (None, []) else "cases must be a list",
              ("cases",) if "cases" in data else (), "cases:\n  - name: …\n    given: {…}\n    expect: {…}",
              value="cases" in data)
        return []
    out: list[Case] = []
    names: dict[str, int] = {}
    for i, spec in enumerate(raw):
        path: YPath = ("cases", i)
        if not isinstance(spec, dict):
            r.err("test.type", "each case must be a mapping", path, "- name: …\n  given: {…}\n  expect: {…}",
                  value=True)
            continue
        r.keys(spec, CASE_KEYS, path, "a case")
        name = spec.get("name")
        if name is None:
            name = f"case {i + 1}"
        elif not isinstance(name, str) or not name.strip():
            r.err("test.type", "a case name must be text", path + ("name",), value=True)
            name = f"case {i + 1}"
        if name in names:
            r.err("test.duplicate-case", f"two cases are named '{name}' (the first is case {names[name] + 1})",
                  path + ("name",), hint="give every case its own name, so a failure says which one")
        names.setdefault(name, i)
        given = r.mapping(spec.get("given"), path + ("given",), "given", "given: {revenue: 12M, gross_margin: 18%}")
        gfile = spec.get("given_file")
        if gfile is not None and (not isinstance(gfile, str) or not gfile.strip()):
            r.err("test.type", "given_file must be a path", path + ("given_file",),
                  "given_file: ../accounts/huaxin-steel.yaml", value=True)
            gfile = None
        expect = _expect(r, spec.get("expect"), path + ("expect",), book, "expect" in spec)
        out.append(Case(i, name, r.doc.value_loc(path), given or {}, gfile or "", expect))
    return out


def _expect(r: _Reader, raw: Any, path: YPath, book: Rulebook | None, present: bool) -> Expect:
    if raw is None or raw == {}:
        r.err("test.no-expectations", "the case expects nothing, so it cannot fail", path if present else path[:-1],
              "expect: {fires: [rule-id]} (or classification, not_fires, concepts, scores)",
              "say what the rulebook should conclude for these facts")
        return Expect()
    m = r.mapping(raw, path, "expect", "expect: {fires: [rule-id]}")
    if m is None:
        return Expect()
    r.keys(m, EXPECT_KEYS, path, "expect")
    if book is None:  # names cannot be checked without the rulebook; its problems are reported
        return Expect()
    rule_ids = [x.id for x in book.rules]
    disabled = {d.rule: d for d in book.disabled}
    fires = _rule_ids(r, m.get("fires"), path + ("fires",), rule_ids, disabled, True, book.id)
    not_fires = _rule_ids(r, m.get("not_fires"), path + ("not_fires",), rule_ids, disabled, False, book.id)
    for rid in sorted(set(fires) & set(not_fires)):
        r.err("test.conflict", f"rule '{rid}' is expected both to fire and not to fire", path,
              hint="keep it in one of fires / not_fires")
    concepts_known = sorted({x.concept for x in book.rules})
    concepts = []
    for c, p in r.ids(m.get("concepts"), path + ("concepts",), "concepts"):
        if c not in concepts_known:
            r.err("test.unknown-concept", f"no rule of '{book.id}' has the concept '{c}'", p,
                  "a concept key such as misconception.over_concession", suggest(c, concepts_known), value=True)
        concepts.append(c)
    return Expect(_classification(r, m.get("classification"), path + ("classification",), book),
                  tuple(fires), tuple(not_fires), tuple(concepts),
                  _scores(r, m.get("scores"), path + ("scores",), book))


def _rule_ids(r: _Reader, raw: Any, path: YPath, known: list[str], disabled: Mapping[str, Any],
              must_fire: bool, book_id: str) -> list[str]:
    out = []
    for rid, p in r.ids(raw, path, path[-1] if isinstance(path[-1], str) else "rules"):
        if rid in disabled:
            if must_fire:
                d = disabled[rid]
                r.err("test.disabled-rule", f"rule '{rid}' is disabled by {d.origin.rulebook} ({d.reason}), "
                      "so it can never fire", p, hint="remove it from fires, or re-enable it", value=True)
            continue
        if rid not in known:
            r.err("test.unknown-rule", f"the rulebook '{book_id}' has no rule '{rid}'", p, "a rule id",
                  suggest(rid, known) or "list the rules with 'kamrules rules'", value=True)
            continue
        out.append(rid)
    return out


def _classification(r: _Reader, raw: Any, path: YPath, book: Rulebook) -> tuple[tuple[str, str | None], ...]:
    m = r.mapping(raw, path, "classification", "classification: {tier: gold}")
    out: list[tuple[str, str | None]] = []
    for dim, value in (m or {}).items():
        p = path + (dim,)
        d = book.dimensions.get(dim)
        if d is None:
            r.err("test.unknown-dimension", f"the rulebook '{book.id}' has no dimension '{dim}'", p,
                  "one of " + ", ".join(book.dimensions), suggest(str(dim), book.dimensions))
            continue
        if value is None:
            out.append((dim, None))
            continue
        try:
            out.append((dim, parse_enum(value, {v: t.as_dict() for v, t in d.values})))
        except ValueProblem as e:
            r.err("test.unknown-value", f"'{value}' is not a value of the dimension '{dim}'", p,
                  e.expected, e.hint, value=True)
    return tuple(out)


def _scores(r: _Reader, raw: Any, path: YPath, book: Rulebook) -> tuple[ScoreExpect, ...]:
    m = r.mapping(raw, path, "scores", "scores: {health: [50, 75]}")
    out = []
    for name, spec in (m or {}).items():
        p = path + (name,)
        if name not in book.scores:
            r.err("test.unknown-score", f"the rulebook '{book.id}' has no score '{name}'", p,
                  "one of " + ", ".join(book.scores), suggest(str(name), book.scores))
            continue
        if spec is None:
            out.append(ScoreExpect(name, None, None))
            continue
        bounds = spec if isinstance(spec, list) else [spec, spec]
        try:
            if len(bounds) != 2:
                raise ValueProblem("a range has two ends")
            low, high = (parse_amount(b) for b in bounds)
        except ValueProblem as e:
            r.err("test.value", f"score '{name}': {e.message}", p, "a number, or an inclusive range [low, high]",
                  e.hint, value=True)
            continue
        if low > high:
            r.err("test.value", f"score '{name}': the range [{_num(low)}, {_num(high)}] is empty", p,
                  hint=f"write [{_num(high)}, {_num(low)}]", value=True)
            continue
        out.append(ScoreExpect(name, low, high))
    return tuple(out)


def _num(x: float | None) -> str:
    if x is None:
        return "—"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# ----------------------------------------------------------------------------- facts

@dataclass
class _MergedDoc(Doc):
    """Facts merged from base, given_file and given, each path remembering the file and line
    it came from, so account validation points into the right file."""

    origins: dict[YPath, tuple[Doc, YPath]] = field(default_factory=dict)
    fallback: Location = Location("")

    def loc(self, path: YPath, *, key: bool = True) -> Location:
        p = tuple(path)
        while p:
            src = self.origins.get(p)
            if src is not None:
                doc, prefix = src
                return doc.loc(prefix + tuple(path), key=key)
            p = p[:-1]
        return self.fallback


def _merge(target: dict[str, Any], origins: dict[YPath, tuple[Doc, YPath]], data: Mapping[str, Any],
           doc: Doc, prefix: YPath, path: YPath = ()) -> None:
    for k, v in data.items():
        kp = path + (k,)
        if isinstance(v, dict) and isinstance(target.get(k), dict):
            origins.setdefault(kp, (doc, prefix))
            _merge(target[k], origins, v, doc, prefix, kp)
            continue
        target[k] = _copy(v)
        for sub in [p for p in origins if p[: len(kp)] == kp]:
            del origins[sub]  # the value is replaced: so are the marks below it
        origins[kp] = (doc, prefix)
        if isinstance(v, dict):
            _mark(origins, v, doc, prefix, kp)


def _mark(origins: dict[YPath, tuple[Doc, YPath]], data: Mapping[str, Any], doc: Doc, prefix: YPath,
          path: YPath) -> None:
    for k, v in data.items():
        origins[path + (k,)] = (doc, prefix)
        if isinstance(v, dict):
            _mark(origins, v, doc, prefix, path + (k,))


def _copy(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


def case_doc(tf: TestFile, case: Case) -> Doc:
    """The case's facts as one document: base, under given_file, under given."""
    data: dict[str, Any] = {}
    origins: dict[YPath, tuple[Doc, YPath]] = {}
    raw = tf.doc.data
    if isinstance(raw.get("base"), dict):
        _merge(data, origins, raw["base"], tf.doc, ("base",))
    if case.given_file:
        path = Path(tf.file).parent / case.given_file
        if not path.is_file():
            raise InputError([Problem("test.given-file", f"cannot find the account file '{case.given_file}'",
                                      tf.doc.value_loc(("cases", case.index, "given_file")),
                                      f"cases[{case.index}].given_file", "a path relative to this test file",
                                      "paths are relative to the test file, not to where kamrules runs")])
        gdoc = yamlio.load(str(path))
        if not isinstance(gdoc.data, dict):
            raise InputError([Problem("test.given-file", f"'{case.given_file}' does not hold an account (a mapping)",
                                      gdoc.value_loc(()), hint="given_file must be an account file")])
        gdata = dict(gdoc.data)
        if isinstance(gdata.get("company"), str):  # its company profile is relative to that file, not to the test
            gdata["company"] = str((path.parent / gdata["company"]).resolve())
        _merge(data, origins, gdata, gdoc, ())
    _merge(data, origins, case.given, tf.doc, ("cases", case.index, "given"))
    return _MergedDoc(file=tf.file, data=data, origins=origins, fallback=case.location)


def case_account(tf: TestFile, case: Case) -> Any:
    """Validated like any account; problems without a place of their own point at the case."""
    doc = case_doc(tf, case)
    try:
        return account_from_doc(doc, tf.book)
    except InputError as e:
        top = Location(tf.file, 1, 1)
        fixed = [Problem(p.code, p.message, case.location, p.path, p.expected, p.hint, p.severity)
                 if p.location == top else p for p in e.problems]
        raise InputError(fixed) from None


# ----------------------------------------------------------------------------- running

def engine_names() -> tuple[str, ...]:
    """The reference evaluator always; durable_rules where it imports."""
    return ("reference", "durable") if durable_available() else ("reference",)


def _match_key(m: Match) -> tuple[str, int, tuple[tuple[str, Any], ...]]:
    return (m.rule, m.stratum, m.bindings)


def divergence(results: Mapping[str, Any]) -> list[Failure]:
    """Where the engines disagree: a rule fired on one and not the other, or with other bindings."""
    names = list(results)
    out: list[Failure] = []
    base = names[0]
    ref = {m.rule: m for m in results[base].matches}
    for other in names[1:]:
        got = {m.rule: m for m in results[other].matches}
        for rid in sorted(set(ref) | set(got)):
            a, b = ref.get(rid), got.get(rid)
            if a is None or b is None:
                on, off = (other, base) if a is None else (base, other)
                out.append(Failure("engines", f"{rid} fires on both or neither", f"fired on {on} only",
                                   f"the engines disagree: {rid} fired on {on} but not on {off}", (rid,)))
            elif _match_key(a) != _match_key(b):
                diff = f"{base}: {dict(a.bindings)}; {other}: {dict(b.bindings)}"
                out.append(Failure("engines", "the same bindings", diff,
                                   f"the engines disagree on what {rid} matched: {diff}", (rid,)))
    return out


def check_expect(advice: Any, expect: Expect) -> list[Failure]:
    book: Rulebook = advice.book
    fired = {m.rule for m in advice.matches}
    out: list[Failure] = []
    for dim, want in expect.classification:
        c = advice.classification[dim]
        if c.value != want:
            involved = list(c.rules) + [r.id for r in book.rules if (dim, want) in r.classify and r.id not in c.rules]
            exp, got = want or "no value", c.value or "no value"
            out.append(Failure(f"classification.{dim}", exp, got, f"classification.{dim}: expected {exp}, got {got}",
                               tuple(involved)))
    for rid in expect.fires:
        if rid not in fired:
            out.append(Failure("fires", f"{rid} fires", "it did not fire", f"fires: {rid} did not fire", (rid,)))
    for rid in expect.not_fires:
        if rid in fired:
            out.append(Failure("not_fires", f"{rid} does not fire", "it fired", f"not_fires: {rid} fired", (rid,)))
    for concept in expect.concepts:
        if not any(f.concept == concept for f in advice.findings):
            rules = tuple(r.id for r in book.rules if r.concept == concept and (r.warn or r.recommend))
            out.append(Failure("concepts", f"a finding for {concept}", "none",
                               f"concepts: no finding for {concept}", rules))
    for s in expect.scores:
        sc = advice.scores[s.score]
        if not s.holds(sc.value):
            parts = ", ".join(f"{rid} {p:+g}" for rid, p in sc.parts)
            actual = (_num(sc.value) if sc.value is not None else "no score") + (f" ({parts})" if parts else "")
            rules = tuple(r.id for r in book.rules if any(n == s.score for n, _ in r.score))
            out.append(Failure(f"scores.{s.score}", s.text(), actual,
                               f"scores.{s.score}: expected {s.text()}, got {actual}", rules))
    return out


def run_case(tf: TestFile, case: Case, *, lang: str | None = None, coverage: Coverage | None = None,
             engines: Sequence[str] | None = None) -> CaseResult:
    """Validate the case's facts, evaluate them on every engine, compare the engines, check the case."""
    from kamrules.pipeline import evaluate

    names = tuple(engines or engine_names())

    def result(status: str, **kw: Any) -> CaseResult:
        return CaseResult(file=tf.file, name=case.name, location=case.location, status=status, engines=names, **kw)

    try:
        account = case_account(tf, case)
        results = {e: evaluate(account, tf.book, as_of=tf.as_of, lang=lang, engine=e) for e in names}
    except InputError as e:
        return result("ERROR", problems=e.problems)
    except EngineError as e:
        return result("ERROR", problems=(Problem("test.engine", f"rule evaluation failed: {e}", case.location,
                                                 hint="a fault in a rule's action or message (the rule is named)"),))
    advice = results[names[0]]  # the reference evaluator: the oracle
    if coverage is not None:  # conditions are judged on the oracle's facts; firing counts on any engine
        coverage.record(advice, [m for a in results.values() for m in a.matches])
    failures = divergence(results) + check_expect(advice, case.expect)
    if not failures:
        return result("PASS")
    involved: list[str] = []
    for f in failures:
        involved.extend(r for r in f.rules if r not in involved)
    explanations = tuple(ex.explain(advice, rules=involved, include_disabled=False)[:MAX_EXPLAINED])
    return result("FAIL", failures=tuple(failures), explanations=explanations)


def run(paths: Sequence[str], *, lang: str | None = None, engines: Sequence[str] | None = None) -> Report:
    files = discover(paths)
    coverage = Coverage()
    out: list[FileResult] = []
    for f in files:
        try:
            tf = read_test_file(f)
        except InputError as e:
            out.append(FileResult(f, "", e.problems, ()))
            continue
        coverage.add_book(tf.book)
        results = tuple(run_case(tf, c, lang=lang, coverage=coverage, engines=engines) for c in tf.cases)
        out.append(FileResult(f, tf.book.id, (), results))
    return Report(tuple(out), tuple(engines or engine_names()), coverage)


# ----------------------------------------------------------------------------- reports

def pretty(report: Report, *, coverage: bool = False, min_coverage: float | None = None) -> str:
    lines: list[str] = []
    for f in report.files:
        if f.problems:
            lines.append(textsafe.line(f"ERROR {f.file}: the test file cannot be used"))
            lines += ["      " + line for p in f.problems for line in p.render().splitlines()]
        for c in f.cases:
            lines.append(textsafe.line(f"{c.status:<5} {c.location.file}:{c.location.line}  {c.name}"))
            lines += _case_details(c)
    n = report.counts()
    summary = (f"{n['cases']} case{'s' if n['cases'] != 1 else ''}: {n['passed']} passed, {n['failed']} failed, "
               f"{n['errors']} error{'s' if n['errors'] != 1 else ''}")
    if n["file_errors"]:
        summary += f"; {n['file_errors']} test file{'s' if n['file_errors'] != 1 else ''} unusable"
    lines += ["", f"{summary} (engines: {', '.join(report.engines)})"]
    if coverage or min_coverage is not None:
        lines += [""] + coverage_lines(report.coverage, detailed=coverage)
    if min_coverage is not None:
        pct = report.coverage.rule_percent()
        verdict = "ok" if pct >= min_coverage else "FAIL"
        lines.append(f"rule coverage {pct:.1f}% (minimum {min_coverage:g}%): {verdict}")
    return "\n".join(lines) + "\n"


def _case_details(c: CaseResult) -> list[str]:
    pad = "      "
    lines: list[str] = []
    for f in c.failures:
        lines.append(textsafe.line(f"{pad}{f.message}"))  # case names and values are input: one line each
    for p in c.problems:
        lines += [pad + line for line in p.render().splitlines()]
    if c.explanations:
        lines.append(f"{pad}explanation:")
        lines += ex.pretty_lines(c.explanations, indent=pad + "  ")
    return lines


def coverage_lines(cov: Coverage, *, detailed: bool = True) -> list[str]:
    data = cov.as_dict()
    lines = []
    for b in data["rulebooks"]:
        rb = b["rulebook"]
        lines.append(f"coverage of rulebook {rb['id']} {rb['version']}:")
        r, c, v = b["rules"], b["conditions"], b["dimension_values"]
        lines.append(f"  rules fired in some test: {r['covered']}/{r['total']} ({r['percent']:g}%)")
        if detailed:
            lines += [f"    never fired: {x['rule']} ({x['at']})" for x in r["never_fired"]]
        lines.append(f"  conditions seen both true and false: {c['covered']}/{c['total']} ({c['percent']:g}%)")
        if detailed:
            lines += [f"    {x['rule']}: {x['condition']} (seen: {', '.join(x['seen']) or 'never evaluated'})"
                      for x in c["not_both"]]
        lines.append(f"  dimension values produced: {v['covered']}/{v['total']} ({v['percent']:g}%)")
        if detailed:
            lines += [f"    {x['dimension']}: never {x['value']}" for x in v["never_produced"]]
    if len(data["rulebooks"]) > 1:
        r, c, v = data["rules"], data["conditions"], data["dimension_values"]
        lines.append(f"all rulebooks (each rule counted once, where it is defined): rules {r['covered']}/{r['total']} "
                     f"({r['percent']:g}%), conditions {c['covered']}/{c['total']} ({c['percent']:g}%), "
                     f"dimension values {v['covered']}/{v['total']} ({v['percent']:g}%)")
    return lines


def to_json(report: Report, *, coverage: bool = False, min_coverage: float | None = None) -> dict[str, Any]:
    from kamrules import __version__

    out: dict[str, Any] = {
        "kamrules": __version__,
        "engines": list(report.engines),
        "summary": report.counts(),
        "files": [{"file": f.file, "rulebook": f.rulebook, "problems": [p.as_dict() for p in f.problems],
                   "cases": [c.as_dict() for c in f.cases]} for f in report.files],
    }
    if coverage or min_coverage is not None:
        out["coverage"] = report.coverage.as_dict()
    if min_coverage is not None:
        out["min_coverage"] = {"minimum": min_coverage, "rules_percent": round(report.coverage.rule_percent(), 1),
                               "ok": report.coverage.rule_percent() >= min_coverage}
    out["exit_code"] = report.exit_code(min_coverage)
    return out
