"""Running rule tests: each case's facts on every engine, the engines compared with the
reference evaluator (the oracle), the case's expectations checked, and a failing case's rules
explained."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from kamrules.advice import explain as ex
from kamrules.advice.model import Advice
from kamrules.authoring.ruletests.reader import case_account, discover, read_test_file
from kamrules.authoring.ruletests.records import (
    Case,
    CaseResult,
    Coverage,
    Expect,
    Failure,
    FileResult,
    Report,
    TestFile,
    num_text,
)
from kamrules.core.errors import EngineError, InputError, Problem
from kamrules.engine.backends import durable_available
from kamrules.engine.matches import Match
from kamrules.rulebook.model import Rulebook

MAX_EXPLAINED = 8  # rules explained under one failing case: enough to see why, short enough to read


def engine_names() -> tuple[str, ...]:
    """The reference evaluator always; durable_rules where it imports."""
    return ("reference", "durable") if durable_available() else ("reference",)


def _match_key(m: Match) -> tuple[str, int, tuple[tuple[str, Any], ...] | None]:
    return (m.rule, m.stratum, m.bindings)


def divergence(results: Mapping[str, Advice]) -> list[Failure]:
    """Where the engines disagree: a rule fired on one and not the other, or with other bindings."""
    names = list(results)
    out: list[Failure] = []
    base = names[0]
    ref = {m.rule: m for m in results[base].matches}
    for other in names[1:]:
        mine, theirs = ({(s.rule, s.by) for s in results[n].suppressed} for n in (base, other))
        for rid, by in sorted(mine ^ theirs):
            on = base if (rid, by) in mine else other
            out.append(Failure("engines", f"{rid} suppressed on both or neither", f"suppressed on {on} only",
                               f"the engines disagree: {rid} was suppressed by {', '.join(by)} on {on} only", (rid,)))
        got = {m.rule: m for m in results[other].matches}
        for rid in sorted(set(ref) | set(got)):
            a, b = ref.get(rid), got.get(rid)
            if a is None or b is None:
                on, off = (other, base) if a is None else (base, other)
                out.append(Failure("engines", f"{rid} fires on both or neither", f"fired on {on} only",
                                   f"the engines disagree: {rid} fired on {on} but not on {off}", (rid,)))
            elif _match_key(a) != _match_key(b):
                diff = f"{base}: {dict(a.bindings or ())}; {other}: {dict(b.bindings or ())}"
                out.append(Failure("engines", "the same bindings", diff,
                                   f"the engines disagree on what {rid} matched: {diff}", (rid,)))
    return out


def check_expect(advice: Advice, expect: Expect) -> list[Failure]:
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
    withdrawn = {s.rule: s.by for s in advice.suppressed}
    for rid in expect.suppressed:
        if rid not in withdrawn:
            got = "it fired" if rid in fired else "it did not fire"
            out.append(Failure("suppressed", f"{rid} is suppressed", got, f"suppressed: {rid} was not suppressed "
                               f"({got})", (rid,) + tuple(book.suppressors.get(rid, ()))))
    for concept in expect.concepts:
        if not any(f.concept == concept for f in advice.findings):
            rules = tuple(r.id for r in book.rules if r.concept == concept and (r.warn or r.recommend))
            out.append(Failure("concepts", f"a finding for {concept}", "none",
                               f"concepts: no finding for {concept}", rules))
    for s in expect.scores:
        sc = advice.scores[s.score]
        if not s.holds(sc.value):
            parts = ", ".join(f"{rid} {p:+g}" for rid, p in sc.parts)
            actual = (num_text(sc.value) if sc.value is not None else "no score") + (f" ({parts})" if parts else "")
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


DEFAULT_INVARIANT_EXAMPLES = 25  # generated accounts per rulebook in every run: a smoke check, seconds


def invariant_results(tf: TestFile, n: int, engines: Sequence[str]) -> tuple[CaseResult, ...]:
    """One case per invariant of the test file's rulebook: PASS after n generated accounts, or
    FAIL with the minimal counterexample hypothesis shrank."""
    from kamrules.authoring.generate import describe
    from kamrules.authoring.ruletests.invariants import search

    out = []
    for o in search(tf.book, n, engines, as_of=tf.as_of):
        inv = o.invariant
        name = f"invariant {inv.id} ({o.examples} generated accounts)"
        if o.ok:
            out.append(CaseResult(tf.file, name, inv.origin.location, "PASS", engines=tuple(engines)))
            continue
        v = o.violation
        assert v is not None
        facts = describe(o.counterexample) if o.counterexample is not None else "(not shrunk)"
        failure = Failure(f"invariant.{inv.id}", "holds on every account",
                          f"broken on {o.engine}", f"{v.message} — minimal counterexample ({o.engine}): "
                          + facts.replace("\n", "; "), v.rules)
        out.append(CaseResult(tf.file, name, inv.origin.location, "FAIL", failures=(failure,),
                              engines=tuple(engines)))
    return tuple(out)


def run(paths: Sequence[str], *, lang: str | None = None, engines: Sequence[str] | None = None,
        invariants: int = DEFAULT_INVARIANT_EXAMPLES, coverage: bool = True) -> Report:
    """Every case of every test file; and each rulebook's invariants (once per effective
    rulebook) on `invariants` generated accounts. `coverage=False`: the report's coverage stays
    empty (judging every condition of every rule on every case is a third of the run)."""
    files = discover(paths)
    cov = Coverage()
    out: list[FileResult] = []
    checked: set[str] = set()  # rulebook digests whose invariants ran
    names = tuple(engines or engine_names())
    for f in files:
        try:
            tf = read_test_file(f)
        except InputError as e:
            out.append(FileResult(f, "", e.problems, ()))
            continue
        if coverage:
            cov.add_book(tf.book)
        results = tuple(run_case(tf, c, lang=lang, coverage=cov if coverage else None, engines=engines)
                        for c in tf.cases)
        if invariants > 0 and tf.book.invariants and tf.book.digest not in checked:
            checked.add(tf.book.digest)
            results += invariant_results(tf, invariants, names)
        out.append(FileResult(f, tf.book.id, (), results))
    return Report(tuple(out), tuple(engines or engine_names()), cov)
