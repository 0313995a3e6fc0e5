"""The constraint algebra (kamrules.authoring.algebra): intervals, reading literals, DNF,
entailment, overlaps and band gaps — its public API on its own, and its soundness against the
reference evaluator. The lint passes built on it are tested in test_lint.py."""
from __future__ import annotations

import datetime as _dt
import itertools
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.authoring.algebra import (
    INF,
    Analysis,
    Band,
    Con,
    Interval,
    bands,
    entails,
    fmt_span,
    fold,
    gaps,
    lit_text,
    overlap,
    read_cmp,
    rule_implies,
    to_dnf,
)
from kamrules.core.errors import Location
from kamrules.engine.reference import Context, eval_cond
from kamrules.language import ir
from kamrules.rulebook.load import load_rulebook
from kamrules.rulebook.model import Origin, RuleDef, Text

DATA = Path(__file__).parent / "data" / "lint"


# --------------------------------------------------------------------------- intervals

def test_integer_intervals_are_normalised() -> None:
    assert Interval(2, False, 3, False).discrete().empty()
    assert Interval(2, False, 4, False).discrete() == Interval(3, True, 3, True)
    assert Interval(2.5, True, 7.2, True).discrete() == Interval(3, True, 7, True)


def test_interval_text() -> None:
    assert fmt_span("revenue", Interval(5e6, True, 1e7, False), "money") == "revenue in [5M, 10M)"
    assert fmt_span("rate", Interval(0.1, True, 0.1, True), "percent") == "rate = 10%"
    assert fmt_span("n", Interval(-INF, False, 3, True), "integer") == "n <= 3"


# --------------------------------------------------------------------------- soundness

BOOK = load_rulebook(str(DATA / "base.yaml"))
X = ir.Ref("revenue", "money", "fact")  # declared min 0
N = ir.Ref("service_step", "integer", "fact")  # declared 1..5
E = ir.Ref("strategic_fit", "enum", "fact", ("low", "medium", "high"))
OPS = ["<", "<=", ">", ">=", "==", "!="]
ENVS = [dict(zip(("revenue", "service_step", "strategic_fit"), combo)) for combo in itertools.product(
    [None, 0.0, 1.0, 2.0, 2.5, 3.0, 5.0, 10.0], [None, 1, 2, 3, 4, 5], [None, "low", "medium", "high"])]


def _literal() -> st.SearchStrategy[ir.Cond]:
    num = st.builds(lambda op, v: ir.Cmp(op, X, ir.Const(v, "number")), st.sampled_from(OPS),
                    st.sampled_from([0.0, 1.0, 2.0, 2.5, 3.0, 5.0, 10.0, -1.0]))
    integer = st.builds(lambda op, v: ir.Cmp(op, N, ir.Const(v, "number")), st.sampled_from(OPS),
                        st.sampled_from([0.0, 1.0, 2.0, 2.5, 3.0, 5.0, 6.0]))
    enum = st.builds(lambda op, v: ir.Cmp(op, E, ir.Const(v, "enum")), st.sampled_from(["==", "!="]),
                     st.sampled_from(["low", "medium", "high"]))
    exists = st.builds(ir.Exists, st.sampled_from([X, N, E]), st.booleans())
    truth = st.builds(ir.Truth, st.booleans())
    return st.one_of(num, integer, enum, exists, truth)


CONDS = st.recursive(_literal(), lambda inner: st.one_of(
    st.builds(lambda xs: ir.And(tuple(xs)), st.lists(inner, min_size=2, max_size=3)),
    st.builds(lambda xs: ir.Or(tuple(xs)), st.lists(inner, min_size=2, max_size=3)),
    st.builds(ir.Not, inner)), max_leaves=6)


def _rule(rid: str, cond: ir.Cond) -> RuleDef:
    loc = Location("t.yaml", 1, 1)
    return RuleDef(rid, "law.pareto", "deck", Text(), ir.show(cond), Origin("t", loc), loc, cond=cond)


def _truth(cond: ir.Cond, env: dict[str, object]) -> object:
    return eval_cond(cond, Context({k: v for k, v in env.items() if v is not None}, _dt.date(2026, 1, 1)))


@settings(max_examples=150, deadline=None)
@given(CONDS, CONDS)
def test_analysis_is_sound(a_cond: ir.Cond, b_cond: ir.Cond) -> None:
    """'never fires' and 'A implies B' must hold on every account the reference evaluator sees."""
    an = Analysis(BOOK)
    a, b = _rule("a", a_cond), _rule("b", b_cond)
    never = an.dnf(a) == []
    implies = rule_implies(an, a, b)
    for env in ENVS:
        if _truth(a_cond, env) is True:
            assert not never, f"'{ir.show(a_cond)}' said never to fire, but fires on {env}"
            if implies:
                assert _truth(b_cond, env) is True, f"'{ir.show(a_cond)}' ⇒ '{ir.show(b_cond)}' fails on {env}"


def test_analysis_proves_what_it_should() -> None:
    """The other direction, on hand-picked cases: the analysis is not vacuous."""
    an = Analysis(BOOK)
    gt5 = ir.Cmp(">", X, ir.Const(5.0, "number"))
    gt2 = ir.Cmp(">", X, ir.Const(2.0, "number"))
    lt1 = ir.Cmp("<", X, ir.Const(1.0, "number"))
    assert rule_implies(an, _rule("a", gt5), _rule("b", gt2))
    assert not rule_implies(an, _rule("b", gt2), _rule("a", gt5))
    assert an.dnf(_rule("c", ir.And((gt5, lt1)))) == []
    assert an.dnf(_rule("d", ir.Or((ir.And((gt5, lt1)), gt2)))) == [[gt2]]
    step3 = ir.Cmp("==", N, ir.Const(3.0, "number"))
    between = ir.And((ir.Cmp(">", N, ir.Const(2.0, "number")), ir.Cmp("<", N, ir.Const(4.0, "number"))))
    assert rule_implies(an, _rule("e", between), _rule("f", step3))  # integers: 2 < n < 4 means n == 3


# --------------------------------------------------------------------------- the API piece by piece

def num(v: float) -> ir.Const:
    return ir.Const(v, "number")


def test_interval_operations() -> None:
    a, b = Interval(0, True, 10, False), Interval(5, False, INF, False)
    assert a.meet(b) == Interval(5, False, 10, False)
    assert Interval(6, True, 7, True).within(a.meet(b))
    assert not Interval(5, True, 7, True).within(a.meet(b))  # 5 itself is outside (5, 10)
    assert a.contains(0) and not a.contains(10)
    assert Interval(3, True, 3, False).empty() and not Interval(3, True, 3, True).empty()


def test_constraints_meet_and_empty() -> None:
    high, low = Con(False, eq=("high",)), Con(False, eq=("low",))
    assert high.meet(low).empty()
    assert not high.meet(Con(False, ne=frozenset({"low"}))).empty()
    enum = Con(False, values=("low", "high"))
    assert enum.meet(Con(False, ne=frozenset({"low"}))).allowed() == {"high"}
    assert enum.meet(Con(False, ne=frozenset({"low", "high"}))).empty()
    assert Con(True, span=Interval(3, True, 3, True), ne=frozenset({3.0})).empty()


def test_read_cmp_puts_the_term_left_and_folds_parameters() -> None:
    # 5M < revenue reads as revenue > 5M
    read = read_cmp(ir.Cmp("<", num(5e6), X))
    assert isinstance(read, tuple)
    term, con = read
    assert term == X and con.span == Interval(5e6, False, INF, False)
    half = ir.Arith("/", ir.Const(1e7, "money", param="big"), num(2), "money")
    assert fold(half) == ir.Const(5e6, "money")
    read = read_cmp(ir.Cmp("<=", X, half))
    assert isinstance(read, tuple)
    assert read[1].span == Interval(-INF, False, 5e6, True)
    assert read_cmp(ir.Cmp(">", num(2), num(1))) is True
    assert read_cmp(ir.Cmp(">", X, N)) is None  # fact against fact: opaque
    assert lit_text(ir.Cmp(">", X, ir.Const(1e7, "money", param="big"))) == "revenue > params.big (10M)"


def test_to_dnf_pushes_not_and_expands_and_over_or() -> None:
    a, b, c = (ir.Cmp(">", X, num(v)) for v in (1, 2, 3))
    assert to_dnf(ir.And((ir.Or((a, b)), c))) == [[a, c], [b, c]]
    assert to_dnf(ir.Not(ir.Or((a, b)))) == [[ir.Cmp("<=", X, num(1)), ir.Cmp("<=", X, num(2))]]
    assert to_dnf(ir.Truth(True)) == [[]]
    wide = ir.And(tuple(ir.Or((ir.Cmp(">", X, num(i)), ir.Cmp("<", X, num(-i)))) for i in range(10)))
    assert to_dnf(wide) is None  # 1024 alternatives > DNF_LIMIT
    assert to_dnf(wide, limit=2048) is not None


def test_conjunctions_say_why_they_cannot_hold() -> None:
    an = Analysis(BOOK)
    c = an.conj([ir.Cmp(">", X, ir.Const(1e7, "money")), ir.Cmp("<", X, ir.Const(5e6, "money"))])
    assert c.conflict == "revenue > 10M and revenue < 5M cannot both hold"
    c = an.conj([ir.Exists(X, False), ir.Cmp(">", X, num(1))])
    assert c.conflict.startswith("missing(revenue) and revenue > 1")
    assert an.conj([ir.Cmp("<", N, num(1))]).conflict == \
        "service_step is declared within [1, 5] and service_step < 1 cannot both hold"
    assert an.conj([ir.Cmp(">", X, num(1))]).conflict == ""


def test_entails() -> None:
    an = Analysis(BOOK)
    c = an.conj([ir.Cmp(">", X, num(5)), ir.Cmp("==", E, ir.Const("high", "enum"))])
    assert entails(c, ir.Cmp(">=", X, num(5)))
    assert entails(c, ir.Exists(X))
    assert entails(c, ir.Cmp("!=", E, ir.Const("low", "enum")))
    assert not entails(c, ir.Cmp(">", X, num(6)))
    assert not entails(c, ir.Exists(N))


def test_overlap_names_the_shared_values() -> None:
    an = Analysis(BOOK)
    small = _rule("small", ir.Cmp("<", X, ir.Const(1e7, "money")))
    large = _rule("large", ir.Cmp(">", X, ir.Const(5e6, "money")))
    assert overlap(an, small, large) == "revenue in (5M, 10M)"
    apart = _rule("apart", ir.Cmp(">=", X, ir.Const(1e7, "money")))
    assert overlap(an, small, apart) is None
    other_term = _rule("fit", ir.Cmp("==", E, ir.Const("high", "enum")))
    assert overlap(an, small, other_term) is None  # nothing shared: not proved
    both_fit = _rule("fit2", ir.Cmp("!=", E, ir.Const("low", "enum")))
    assert overlap(an, other_term, both_fit) == "strategic_fit == high"


def test_bands_read_a_rule_of_bounds_on_one_term() -> None:
    an = Analysis(BOOK)
    r = _rule("r", ir.Or((ir.Cmp("<", X, num(1)), ir.Cmp(">=", X, num(5)))))
    assert bands(an, r) == (X, [Interval(0, True, 1, False), Interval(5, True, INF, False)])  # revenue >= 0
    assert bands(an, _rule("two", ir.And((ir.Cmp("<", X, num(1)), ir.Cmp("<", N, num(3)))))) is None
    assert bands(an, _rule("eq", ir.Cmp("==", E, ir.Const("high", "enum")))) is None


def test_gaps_between_bands() -> None:
    found = [Band("low", Interval(0, True, 5, False)), Band("high", Interval(10, True, INF, False)),
             Band("mid", Interval(5, True, 8, True))]
    (g,) = gaps(found)
    assert (g.span, g.below.owner, g.above.owner) == (Interval(8, False, 10, False), "mid", "high")
    assert gaps([Band("a", Interval(0, True, 3, True)), Band("b", Interval(4, True, 9, True))], integer=True) == []
    assert [g.span for g in gaps([Band("a", Interval(0, True, 3, True)), Band("b", Interval(4, True, 9, True))])] \
        == [Interval(3, False, 4, False)]
    assert gaps([]) == []


SPANS = st.builds(lambda lo, w, lo_in, hi_in: Interval(lo, lo_in, lo + w, hi_in),
                  st.integers(-5, 5), st.integers(0, 4), st.booleans(), st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(SPANS, min_size=1, max_size=4))
def test_gaps_are_exactly_the_uncovered_points(spans: list[Interval]) -> None:
    found = [Band(i, s) for i, s in enumerate(spans) if not s.empty()]
    holes = gaps(found)
    if not found:
        return
    lo = min(b.span.lo for b in found)
    hi = max(b.span.hi for b in found)
    for v in [x / 2 for x in range(-24, 25)]:
        covered = any(b.span.contains(v) for b in found)
        in_gap = any(g.span.contains(v) for g in holes)
        assert not (covered and in_gap), (v, spans, holes)
        if lo < v < hi:
            assert covered or in_gap, (v, spans, holes)
