"""The reference engine's generated strata (engine/generate.py) against their definition, the
closures (reference.compile_cond / compile_fires / compile_stratum / fires_of and
ReferenceBackend.run): the same rules fire, in the same order, with the same bindings, and the
same rule is named when a condition fails. And nothing a rulebook says is written into the
generated source."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import PROPERTY, account_data, conditions, dump, fact_values

from kamrules.core.errors import EngineError
from kamrules.engine import backends
from kamrules.engine.generate import generate_stratum
from kamrules.engine.reference import BOUNDS, compile_cond, compile_stratum, fires_of
from kamrules.language import ir

AS_OF = dt.date(2026, 6, 30)
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "accounts" / "huaxin-steel.yaml"


class _Oracle:
    """Stands in for an account's Bounds: decides a comparison true, false or not at all by a
    seeded hash of its text (the generated code must ask exactly what the closures ask)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.asked: list[str] = []

    def decide(self, c: Any) -> bool | None:
        self.asked.append(ir.show(c))
        return (None, True, False)[zlib.crc32(f"{self.seed}:{ir.show(c)}".encode()) % 3]


# Values of the wrong type: arithmetic on text, a date minus a number, the size of a number —
# the closures raise on some of them, and the generated code must fail on the same condition.
_POISON = st.sampled_from(("x", "", 5, 2.5, True, dt.date(2020, 1, 1), ("a",), {"v": 1.0}))
_NAMES = ("n", "m", "p", "k", "e", "e2", "b", "d", "s", "items", "items", "d", "n")  # the last, twice as often


_N = ir.Ref("n", "number", "fact")
_TRAP = ir.Cmp(">", ir.Arith("+", _N, ir.Const(1.0, "number"), "number"), ir.Const(0.0, "number"))


def _closure_run(conds: list[ir.Cond], may_bound: Any, env: dict[str, Any]) -> tuple[list[int], int, Any]:
    """What ReferenceBackend.run does with a stratum, by fires_of: the conditions that fire until
    one raises, and that one's index and exception."""
    stratum = compile_stratum(conds, may_bound)
    memo: list[bool | None] = [None] * len(stratum.tests)
    fired = []
    for i in range(len(conds)):
        try:
            if fires_of(stratum, i, env, AS_OF, memo):
                fired.append(i)
        except Exception as e:
            return fired, i, e
    return fired, -1, None


def test_a_generated_stratum_fires_what_the_closures_fire() -> None:
    """Generated conditions sharing tests (each a conjunction of a few drawn from a small pool, so
    tests recur), deeper junctions, bounds deciding by a hash, some values of the wrong type: the
    same conditions fire, the same one fails with the same exception, the bounds are asked the
    same questions in the same order, and each firing one is compile_cond(...) is True.
    (≈ 3 s, most of it Hypothesis drawing nested conditions: the generated engine's definition.)"""
    seen = {"fired": 0, "failed": 0, "asked": 0}
    junctions = st.lists(conditions(4), min_size=2, max_size=4).flatmap(
        lambda xs: st.sampled_from((ir.And(tuple(xs)), ir.Or(tuple(xs)))))

    @settings(max_examples=100, deadline=None, derandomize=True)
    @given(pool=st.lists(st.one_of(conditions(3), junctions), min_size=2, max_size=4), picks=st.lists(
        st.lists(st.integers(0, 3), min_size=1, max_size=3), min_size=1, max_size=6),
        values=fact_values(), seed=st.integers(0, 2**16), bounds=st.sampled_from((True, True, False)),
        which=st.integers(0, 2**16), poison=st.dictionaries(st.sampled_from(_NAMES), _POISON, max_size=3),
        trap=st.integers(-24, 7))
    def prop(pool: list[Any], picks: list[list[int]], values: dict[str, Any], seed: int, bounds: bool,
             which: int, poison: dict[str, Any], trap: int) -> None:
        def may_bound(c: Any) -> bool:
            return zlib.crc32(f"{which}:{ir.show(c)}".encode()) % 2 == 0

        conds = [pool[ks[0] % len(pool)] if len(ks) == 1 else ir.And(tuple(pool[k % len(pool)] for k in ks))
                 for ks in picks]
        env: dict[str, Any] = {**values, **poison}
        if 0 <= trap <= len(conds):  # `n + 1 > 0` with n a text: float() raises there, if nothing before did
            conds.insert(trap, _TRAP)
            env["n"] = "x"
        oracles = (_Oracle(seed), _Oracle(seed))
        if bounds:
            env[BOUNDS] = oracles[0]
        expected, failed, error = _closure_run(conds, may_bound, env)
        if bounds:
            env[BOUNDS] = oracles[1]
        _, stratum = generate_stratum(conds, may_bound)
        got, got_failed, got_error = stratum(env, AS_OF)
        assert (got, got_failed) == (expected, failed)
        assert type(got_error) is type(error) and str(got_error) == str(error)
        assert oracles[1].asked == oracles[0].asked
        for i in got:
            assert compile_cond(conds[i], may_bound)(env, AS_OF, None) is True
        seen["fired"] += len(got)
        seen["failed"] += error is not None
        seen["asked"] += bool(oracles[0].asked)

    prop()
    # not vacuous (the counts depend on Hypothesis' version: a bar, not a target)
    assert seen["fired"] >= 40 and seen["failed"] >= 20 and seen["asked"] >= 10, seen


# Fact names and constants no generator should ever copy into source text.
_HOSTILE = ("x'); __import__('os').system('echo pwned'); ('", 'a"b\\nc', "line\nbreak", "__import__",
            "k0", "env", "中文", "\u202etxet", "'''", "#", "B.decide(k0)", "\\", "None")


def _plain(text: str) -> str:
    """The text, after checking it has no string literal and no comment (so a regex reads its names)."""
    assert not any(q in text for q in "'\"#\\"), "a string, a comment or an escape in generated source"
    return text


# Every name the generator writes; nothing else may appear as a name in its text.
_VOCABULARY = {"def", "make", "K", "stratum", "env", "as_of", "g", "get", "H", "KB", "in", "B", "out", "r", "try",
               "except", "X", "as", "e", "return", "pass", "if", "elif", "else", "is", "not", "None", "True", "False", "and",
               "or", "T", "F", "S", "C", "TD", "decide", "append", "f", "D", "_decided"}


def _own_names(text: str) -> set[str]:
    """The names of the text that are not the generator's fixed vocabulary nor its numbered
    variables (k0 cells, v1 temporaries, m0 shared tests)."""
    names = set(re.findall(r"[^\W\d]\w*", _plain(text)))
    return {n for n in names if n not in _VOCABULARY and not (n[0] in "kvm" and n[1:].isdigit())}


def test_nothing_from_the_rulebook_reaches_the_source() -> None:
    """Hostile fact names and text constants (quotes, newlines, `__import__`, a cell's own name,
    unicode) decide what they should, and the source holds none of them: its names are the
    generator's own, its literals are whole numbers (rule indexes), and there is no string."""
    refs = [ir.Ref(h, "string", "fact") for h in _HOSTILE]
    nums = [ir.Ref(h + "#n", "number", "fact") for h in _HOSTILE]
    conds: list[ir.Cond] = []
    for i, (ref, num) in enumerate(zip(refs, nums)):
        text = ir.Const(_HOSTILE[-1 - i], "string")
        conds += [ir.Cmp("==", ref, text), ir.And((ir.Cmp("!=", ref, text), ir.Cmp(">", num, ir.Const(1.0, "number")))),
                  ir.Or((ir.Exists(ref, False), ir.Cmp("<=", num, ir.Const(float(i), "number"))))]
    env: dict[str, Any] = {}
    for i, h in enumerate(_HOSTILE):
        if i % 3:
            env[h] = _HOSTILE[-1 - i] if i % 2 else h
        env[h + "#n"] = float(i) if i % 4 else None
    env = {k: v for k, v in env.items() if v is not None}

    def may_bound(c: Any) -> bool:
        return False

    text, stratum = generate_stratum(conds, may_bound)
    expected = _closure_run(conds, may_bound, env)
    assert stratum(env, AS_OF) == expected
    assert expected[0] and len(expected[0]) < len(conds)  # some fire, some do not
    assert _own_names(text) == set()
    assert all(n.isdigit() for n in re.findall(r"(?<![\w.])\d[\w.]*", text))  # whole numbers only: indexes
    for h in _HOSTILE:
        if not h.isidentifier():  # 'env', 'k0', 'None', '__import__' are checked as names above
            assert h not in text


def _course() -> Any:
    from kamrules.rulebook.load import load_rulebook

    return load_rulebook("course")


def test_the_course_generates_only_its_own_names() -> None:
    """The course's strata, generated: nothing but the generator's vocabulary, no string literal."""
    from kamrules.engine.bounds import table_for
    from kamrules.pipeline import program_for

    course = _course()
    prog = program_for(course)
    for rules, _ in prog.fires_by_stratum:
        text, _ = generate_stratum([r.cond for r in rules], table_for(course).candidate)
        assert _own_names(text) == set()
        assert all(r.id not in text for r in rules if not r.id.isidentifier())


def _programs(book: Any) -> tuple[Any, Any]:
    """The course compiled twice, not through program_for's cache: one never generated (the
    closures), one generated now."""
    from kamrules.engine.compile import compile_rulebook

    closures, generated = compile_rulebook(book), compile_rulebook(book)
    closures.runs = -10**9
    generated.generate()
    assert closures.generated is None and generated.generated is not None
    return closures, generated


def test_the_course_matches_the_same_rules_either_way() -> None:
    """Generated accounts of the course through ReferenceBackend.run, with the closures and with
    the generated strata: the same matches (rule, stratum, bindings), in the same order.
    (≈ 2 s: the course compiled twice and generated once, 40 accounts each way.)"""
    from kamrules.advice.resolve import State
    from kamrules.engine.facts import build_facts
    from kamrules.io.account import load_account

    course = _course()
    closures, generated = _programs(course)
    engine = backends.ReferenceBackend()
    fired = 0

    @settings(PROPERTY, max_examples=40)
    @given(account_data(course))
    def prop(data: dict[str, Any]) -> None:
        nonlocal fired
        facts = build_facts(load_account("acc.yaml", course, text=dump(data)), course, AS_OF)
        expected = engine.run(closures, facts, State(course, facts).after_stratum)
        assert engine.run(generated, facts, State(course, facts).after_stratum) == expected
        # without bindings (a portfolio's run): the same rules in the same order, bindings None
        bare = [(m.rule, m.stratum, None) for m in expected]
        for prog in (closures, generated):
            got = engine.run(prog, facts, State(course, facts).after_stratum, with_bindings=False)
            assert [(m.rule, m.stratum, m.bindings) for m in got] == bare
        fired += len(expected)

    prop()
    assert fired > 0


def test_a_failing_rule_is_named_the_same_either_way() -> None:
    """Each fact of an example account in turn given a value of the wrong type: where the closures
    raise an EngineError, the generated strata raise the same (same rule, same message); where
    they do not, the same matches."""
    from kamrules.advice.resolve import State
    from kamrules.engine.facts import build_facts
    from kamrules.io.account import load_account

    course = _course()
    closures, generated = _programs(course)
    engine = backends.ReferenceBackend()
    example = EXAMPLE
    facts = build_facts(load_account(str(example), course), course, AS_OF)
    failures = 0
    for name in sorted(k for k in facts.env if k != BOUNDS):
        for bad in ("x", (1.0,)):
            poisoned = dataclasses.replace(facts, env={**facts.env, name: bad})
            try:
                expected: Any = engine.run(closures, poisoned, State(course, poisoned).after_stratum)
            except EngineError as e:
                with pytest.raises(EngineError) as got:
                    engine.run(generated, poisoned, State(course, poisoned).after_stratum)
                assert (got.value.rule, str(got.value)) == (e.rule, str(e))
                assert type(got.value.__cause__) is type(e.__cause__)
                failures += 1
                continue
            assert engine.run(generated, poisoned, State(course, poisoned).after_stratum) == expected
    assert failures >= 3  # not vacuous


def test_the_strata_are_generated_after_many_accounts_only() -> None:
    """One account (`advise`) runs the closures; the program is generated on the run after
    GENERATE_AFTER accounts of it in this process, and that run already uses it."""
    from kamrules.advice.resolve import State
    from kamrules.engine.compile import compile_rulebook
    from kamrules.engine.facts import build_facts
    from kamrules.io.account import load_account

    course = _course()
    prog = compile_rulebook(course)
    example = EXAMPLE
    facts = build_facts(load_account(str(example), course), course, AS_OF)
    engine = backends.ReferenceBackend()
    first = engine.run(prog, facts, State(course, facts).after_stratum)
    assert prog.generated is None and prog.runs == 1
    prog.runs = backends.GENERATE_AFTER
    assert engine.run(prog, facts, State(course, facts).after_stratum) == first
    assert prog.generated is not None
