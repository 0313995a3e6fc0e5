"""The questions an account's presence pattern cannot decide (engine/undecided.py): every answer
`Undecided.prefill` writes into an account's Bounds is the one the question itself gives (None),
on the course's generated accounts, on tests/test_bounds.py's rulebook (products, division by a
range holding 0, open ranges, negative margins) and on test_boundsgen's (integer metrics rounded,
== and !=, constant arithmetic, a fact decided by its range alone, abs and max); a value outside
the range a proof assumed pre-fills nothing; and a portfolio's generated run gives the closures'
matches with the pre-filled answers."""
from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import PROPERTY, account_data, dump
from test_boundsgen import _EXTRA_VALUES, EXTRA_YAML

from kamrules.engine import bounds as kb
from kamrules.engine.bounds import Bounds, BoundsTable, table_for
from kamrules.engine.facts import build_facts
from kamrules.engine.undecided import Undecided, _arith, _may
from kamrules.language.intervals import INF
from kamrules.rulebook.model import Account, Rulebook

AS_OF = dt.date(2026, 6, 30)


def _prefilled_are_none(undecided: Undecided, bounds: Bounds | None) -> tuple[int, int]:
    """Pre-fill, then ask every question afresh: each pre-filled answer is the question's own.
    (How many were pre-filled, how many of the rest were decided.)"""
    if bounds is None:
        return 0, 0
    bounds.forget()
    undecided.prefill(bounds)
    pre = dict(bounds._decided)
    bounds.forget()
    decided = 0
    for key, c in undecided.questions.items():
        got = bounds.decide(c)
        if key in pre:
            assert got is None, (key, c, got)
        decided += got is not None
    return len(pre), decided


def test_the_course_prefills_only_what_its_questions_answer() -> None:
    from kamrules.io.account import load_account
    from kamrules.rulebook.load import load_rulebook

    course = load_rulebook("course")
    table = table_for(course)
    undecided = Undecided(table, table.candidates)
    seen = {"pre": 0, "decided": 0}

    @settings(PROPERTY, max_examples=80)
    @given(account_data(course))
    def prop(data: dict[str, Any]) -> None:
        facts = build_facts(load_account("acc.yaml", course, text=dump(data)), course, AS_OF)
        pre, decided = _prefilled_are_none(undecided, facts.bounds)
        seen["pre"] += pre
        seen["decided"] += decided

    prop()
    assert seen["pre"] > 0 and seen["decided"] > 0, seen  # neither side vacuous


def _own_table(book: Rulebook) -> BoundsTable:
    return BoundsTable(book)  # not shared with another test's generated questions


def test_the_bounds_rulebook_prefills_only_what_its_questions_answer() -> None:
    from test_bounds import VALUES, _given, book

    table = _own_table(book())
    undecided = Undecided(table, table.candidates)
    seen = {"pre": 0, "decided": 0}

    @settings(PROPERTY, max_examples=300)
    @given(VALUES)
    def prop(values: dict[str, Any]) -> None:
        env = dict(build_facts(Account("acc", "Acc", "gen", {"id": "acc", "name": "Acc", **_given(values)}),
                               book(), AS_OF).env)
        env.pop(kb.BOUNDS, None)
        pre, decided = _prefilled_are_none(undecided, Bounds(table, env, AS_OF))
        seen["pre"] += pre
        seen["decided"] += decided

    prop()
    assert seen["pre"] >= 100 and seen["decided"] >= 20, seen


def _extra_book(tmp_path: Any) -> Rulebook:
    from kamrules.rulebook.load import load_rulebook

    f = tmp_path / "boundsgen.yaml"
    f.write_text(EXTRA_YAML, encoding="utf-8")
    return load_rulebook(str(f))


def test_integer_metrics_and_constant_arithmetic_prefill_only_what_the_questions_answer(tmp_path: Any) -> None:
    book = _extra_book(tmp_path)
    table = _own_table(book)
    undecided = Undecided(table, table.candidates)
    seen = {"pre": 0, "decided": 0}

    @settings(PROPERTY, max_examples=300)
    @given(_EXTRA_VALUES)
    def prop(values: dict[str, Any]) -> None:
        given_ = {k: v for k, v in values.items() if v is not None}
        env = {k: v for k, v in build_facts(Account("acc", "Acc", "gen", {"id": "acc", "name": "Acc", **given_}), book,
                                            AS_OF).env.items() if k != kb.BOUNDS}
        pre, decided = _prefilled_are_none(undecided, Bounds(table, env, AS_OF))
        seen["pre"] += pre
        seen["decided"] += decided

    prop()
    assert seen["pre"] >= 100 and seen["decided"] >= 20, seen


def test_a_value_outside_the_range_a_proof_assumed_prefills_nothing(tmp_path: Any) -> None:
    """`rebates > 0 - 5` and `net <= 0 - 1000` and the like are proven for accounts with a revenue
    in its declared range (min 0); an account built by hand with a negative revenue is not one of
    them: nothing is pre-filled, and its questions answer for themselves."""
    book = _extra_book(tmp_path)
    table = _own_table(book)
    undecided = Undecided(table, table.candidates)
    env = {"id": "acc", "name": "Acc", "revenue": 1000.0, "gm": 0.3}
    inside = Bounds(table, dict(env), AS_OF)
    undecided.prefill(inside)
    checks, none = undecided._proofs[next(iter(undecided._proofs))]
    assert none and ("revenue", 0.0, 1.7976931348623157e308) in checks, checks
    outside = Bounds(table, {**env, "revenue": -1000.0}, AS_OF)
    undecided.prefill(outside)
    assert outside._decided == {}


def test_the_abstract_arithmetic_holds_every_concrete_result() -> None:
    """Each operation over the ranges of the ends holds what bounds.ARITH gives for ends drawn
    inside them (the corners' argument, with ∞, 0 and the open divisors)."""
    ends = st.sampled_from([-INF, -1e300, -7.5, -1.0, -5e-324, 0.0, 5e-324, 0.3, 2.0, 1e15, 1e300, INF])

    @settings(PROPERTY, max_examples=600)
    @given(st.sampled_from("+-*/"), st.lists(ends, min_size=8, max_size=8))
    def prop(op: str, xs: list[float]) -> None:
        a0, a1, b0, b1 = sorted(xs[0:2]), sorted(xs[2:4]), sorted(xs[4:6]), sorted(xs[6:8])
        try:
            abstract = _arith(op, (a0[0], a0[1], a1[0], a1[1]), (b0[0], b0[1], b1[0], b1[1]))
        except Exception:  # _Never: no account of the box has an interval
            abstract = None
        for x0 in a0:
            for x1 in a1:
                for y0 in b0:
                    for y1 in b1:
                        try:
                            got = kb.ARITH[op](x0, x1, y0, y1)
                        except ZeroDivisionError:  # an empty divisor ending at 0, as the engine raises
                            continue
                        if got is None:
                            continue
                        assert abstract is not None, (op, x0, x1, y0, y1, got)
                        lo, hi = got
                        assert abstract[0] <= lo <= abstract[1] and abstract[2] <= hi <= abstract[3], \
                            (op, (a0, a1, b0, b1), (x0, x1, y0, y1), got, abstract)

    prop()


def test_may_is_the_decisions_reach() -> None:
    point = (0.0, 0.0, 0.0, 0.0)
    below = (-INF, -INF, -2.0, -1.0)  # (−∞, hi], hi in [−2, −1]: always < 0
    assert _may("<", below, point) == (True, False)
    assert _may(">=", below, point) == (False, True)
    loss = (-INF, -INF, 0.0, 5.0)  # (−∞, hi], hi ≥ 0: never < 0, never ≥ 0 for all values
    assert _may("<", loss, point) == (False, False)
    assert _may("<=", loss, point) == (True, False)  # hi = 0 is ≤ 0 throughout
    assert _may("==", loss, point) == (True, True)
