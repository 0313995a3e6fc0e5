"""The bounds' generated questions (engine/boundsgen.py) against their definition: the compiled
deciders Bounds.decide runs (engine/bounds.py) and the tree form Bounds.decide_tree. The same
decision for every comparison and the same intervals remembered for the missing metrics, on the
course's generated accounts (missing facts included), on the bounds rulebook of
tests/test_bounds.py (abs, min, division, products, a metric of a metric) and on one with integer
metrics, == and != and constant arithmetic; the four spelled-out tests of `metric <op> constant`;
nothing a rulebook says in the generated source; and the generated strata asking them."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any, Callable

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import PROPERTY, account_data, dump

from kamrules.engine import bounds as kb
from kamrules.engine.bounds import Bounds, BoundsTable, table_for
from kamrules.engine.boundsgen import _POINT_TESTS, generate_questions
from kamrules.engine.facts import build_facts
from kamrules.language import ir
from kamrules.language.intervals import INF, closed
from kamrules.rulebook.model import Account, Rulebook

AS_OF = dt.date(2026, 6, 30)


def _same_answers(bounds: Bounds | None, ask: Callable[[ir.Cmp], Any], asked: list[ir.Cmp]) -> int:
    """Each comparison asked by its generated question, then (everything forgotten) by
    Bounds.decide and by decide_tree: the same decisions, and the same metric intervals remembered
    on the way. How many were decided."""
    if bounds is None:
        return 0
    generated = [ask(c)(bounds) for c in asked]
    ivs, decided = dict(bounds._ivs), dict(bounds._decided)
    bounds.forget()
    compiled = [bounds.decide(c) for c in asked]
    tree = [bounds.decide_tree(c) for c in asked]
    assert generated == compiled == tree, [(ir.show(c), g, k, t) for c, g, k, t in zip(asked, generated, compiled, tree)
                                           if not g == k == t]
    assert ivs == bounds._ivs and decided == bounds._decided
    for name, ends in ivs.items():  # and each interval is the tree's
        iv = bounds.metric(name)
        assert (ends is None and iv is None) or (ends is not None and iv == closed(*ends)), (name, ends, iv)
    return sum(g is not None for g in generated)


def test_the_course_questions_answer_as_the_closures_and_the_tree() -> None:
    """Generated accounts of the course (optional facts often missing): every candidate comparison,
    in the rulebook's order and then reversed (a metric first computed by another question)."""
    from kamrules.io.account import load_account
    from kamrules.rulebook.load import load_rulebook

    course = load_rulebook("course")
    table = table_for(course)
    text, ask = generate_questions(table, table.candidates)
    assert all(ask(c) is not None for c in table.candidates)
    total = 0

    @settings(PROPERTY, max_examples=80)
    @given(account_data(course), st.booleans())
    def prop(data: dict[str, Any], backwards: bool) -> None:
        nonlocal total
        facts = build_facts(load_account("acc.yaml", course, text=dump(data)), course, AS_OF)
        order = list(table.candidates)
        total += _same_answers(facts.bounds, ask, order[::-1] if backwards else order)

    prop()
    assert total > 0  # not vacuous: some comparisons were decided from bounds


def _bounds_book() -> Rulebook:
    from test_bounds import book

    return book()


def test_the_bounds_rulebook_questions_answer_as_the_closures_and_the_tree() -> None:
    """tests/test_bounds.py's rulebook: metrics of metrics, abs and min (their closures called),
    products, division by a range holding 0, open ranges; every fact given or missing."""
    from test_bounds import VALUES, _given

    book = _bounds_book()
    table = BoundsTable(book)  # a table of its own: not generated before by another test
    _, ask = generate_questions(table, table.candidates)
    seen = {"decided": 0}

    @settings(PROPERTY, max_examples=150)
    @given(VALUES, st.booleans())
    def prop(values: dict[str, Any], backwards: bool) -> None:
        env = dict(build_facts(Account("acc", "Acc", "gen", {"id": "acc", "name": "Acc", **_given(values)}), book,
                               AS_OF).env)
        env.pop(kb.BOUNDS, None)
        order = list(table.candidates)
        seen["decided"] += _same_answers(Bounds(table, env, AS_OF), ask, order[::-1] if backwards else order)

    prop()
    assert seen["decided"] >= 20, seen


# Integer metrics (rounded ends), == and !=, `metric <op> arithmetic on constants`, a fact against
# a constant (decided by its range alone), max, an integer fact dividing
EXTRA_YAML = """\
rulebook: boundsgen
version: 0.0.1
lang: en
facts:
  id: {type: string, required: true}
  name: {type: string, required: true}
  revenue: {type: money, min: 0, label: {en: Revenue, zh: 年交易额}}
  gm: {type: percent, min: -1000%, max: 100%, label: {en: Gross margin, zh: 毛利率}}
  rebates: {type: money, min: 0, label: {en: Rebates, zh: 返利}}
  orders: {type: integer, min: 0, max: 1000, label: {en: Orders, zh: 订单数}}
metrics:
  net: {type: money, formula: revenue * gm - rebates, label: {en: Net, zh: 净额}}
  whole: {type: integer, formula: net / 7, label: {en: Sevenths, zh: 七分之一}}
  per_order: {type: money, formula: revenue / orders, label: {en: Per order, zh: 单均}}
rules:
""" + "".join(f"  - id: x{i}\n    concept: standard.pyramid\n    source: deck\n    when: {when}\n"
              f"    then: {{warn: {{severity: low, message: {{en: \"x{i}\", zh: \"x{i}\"}}}}}}\n"
              for i, when in enumerate((
                  "whole >= 100", "whole < -5", "whole <= 0", "whole == 3", "whole != 2", "net != 5", "net == 0",
                  "net <= 0 - 1000", "whole > 10 * 3", "rebates > 0 - 5", "orders >= 0 - 1", "per_order > 1000",
                  "abs(net) > 10", "max(net, revenue) >= 0", "net * 2 < revenue", "gm < 0.5", "gm >= -20")))

_EXTRA_VALUES = st.fixed_dictionaries({
    "revenue": st.one_of(st.none(), st.sampled_from([0.0, 7.0, 1_000_000.0]), st.floats(0, 5e7).map(lambda x: round(x, 2))),
    "gm": st.one_of(st.none(), st.sampled_from([-1.16, 0.0, 0.3]), st.floats(-10, 1).map(lambda x: round(x, 4))),
    "rebates": st.one_of(st.none(), st.floats(0, 5e7).map(lambda x: round(x, 2))),
    "orders": st.one_of(st.none(), st.integers(0, 1000)),
})


def test_integer_metrics_and_constant_arithmetic_answer_as_the_closures_and_the_tree(tmp_path: Any) -> None:
    from kamrules.rulebook.load import load_rulebook

    f = tmp_path / "boundsgen.yaml"
    f.write_text(EXTRA_YAML, encoding="utf-8")
    book = load_rulebook(str(f))
    table = BoundsTable(book)
    assert len(table.candidates) >= 14, [ir.show(c) for c in table.candidates]
    _, ask = generate_questions(table, table.candidates)
    seen = {"decided": 0, "rounded": 0}

    @settings(PROPERTY, max_examples=150)
    @given(_EXTRA_VALUES, st.booleans())
    def prop(values: dict[str, Any], backwards: bool) -> None:
        given_ = {k: v for k, v in values.items() if v is not None}
        env = {k: v for k, v in build_facts(Account("acc", "Acc", "gen", {"id": "acc", "name": "Acc", **given_}), book,
                                            AS_OF).env.items() if k != kb.BOUNDS}
        bounds = Bounds(table, env, AS_OF)
        order = list(table.candidates)
        seen["decided"] += _same_answers(bounds, ask, order[::-1] if backwards else order)
        ends = bounds._ivs.get("whole")
        seen["rounded"] += ends is not None and any(x - x == 0 and x != 0 for x in ends)

    prop()
    assert seen["decided"] >= 20 and seen["rounded"] >= 5, seen


class _Account:
    """What a question reads of an account's Bounds: its facts, and the two memos."""

    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env
        self._decided: dict[int, Any] = {}
        self._ivs: dict[str, Any] = {}


_LOOSE = st.one_of(st.sampled_from([-INF, INF, 0.0, -0.0, 1.0, -1.0, 0.15, float("nan")]), st.floats(-10, 10))


@settings(PROPERTY, max_examples=400)
@given(st.sampled_from(sorted(_POINT_TESTS)), st.tuples(_LOOSE, _LOOSE), st.one_of(st.sampled_from([0.0, -0.0, 1.0, 0.15]),
                                                                                  st.floats(-10, 10)),
       st.booleans(), st.booleans())
def test_a_metric_against_a_constant_decides_as_the_closures(op: str, ends: tuple[float, float], c: float,
                                                            known: bool, none: bool) -> None:
    """The four spelled-out questions of `metric <op> c` (c finite) against bounds._DECIDE_OPS on
    the metric's interval (empty, infinite, NaN ends included) and [c, c]; None when the metric has
    a value or no interval; the answer remembered, and asked again from the memo."""
    answer = None if known or none else kb._DECIDE_OPS[op](ends, (c, c))
    calls = []

    def metric(bounds: Any) -> tuple[float, float] | None:
        calls.append(1)
        return None if none else ends

    question = _POINT_TESTS[op](7, "m", metric, c)
    account = _Account({"m": 1.0} if known else {})
    assert question(account) is answer  # type: ignore[arg-type]
    assert account._decided == {7: answer}
    account._decided[7] = "remembered"
    assert question(account) == "remembered"  # type: ignore[arg-type]
    assert len(calls) == (0 if known else 1)


# ----------------------------------------------------------------------------- nothing from the rulebook

_HOSTILE = ("x'); __import__('os').system('echo pwned'); ('", 'a"b\\nc', "line\nbreak", "__import__", "k0", "env",
            "中文", "\u202etxet", "'''", "#", "B._decided[0] = True", "\\", "None", "ivs")


def _renamed(node: Any, names: dict[str, str]) -> Any:
    """An IR tree with every fact and metric renamed."""
    if isinstance(node, ir.Ref):
        return dataclasses.replace(node, name=names.get(node.name, node.name))
    if isinstance(node, tuple):
        return tuple(_renamed(x, names) for x in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {f.name: _renamed(getattr(node, f.name), names) for f in dataclasses.fields(node)
                   if isinstance(getattr(node, f.name), (ir.Ref, ir.Const, ir.Arith, ir.Fn, ir.Agg, ir.Cmp, ir.And,
                                                          ir.Or, ir.Not, ir.Exists, tuple))}
        return dataclasses.replace(node, **changes)
    return node


# Every name the generator writes; nothing else may appear as a name in its text.
_VOCABULARY = {"def", "make", "K", "B", "d", "env", "get", "ivs", "_decided", "_ivs", "in", "is", "not", "None", "True", "False",
               "return", "if", "elif", "else", "and", "or", "T", "F", "I", "R", "PI", "NI", "P", "M", "X", "D"}


def test_nothing_from_the_rulebook_reaches_the_source() -> None:
    """The bounds rulebook with hostile fact and metric names (quotes, newlines, `__import__`, a
    cell's own name, the text's own names, right-to-left override, CJK) and constants that are no
    whole numbers (−0.0, 5e-324, 1e308): the questions decide as the closures do, and the text
    holds none of it — its names are the generator's, its only literals whole numbers (the keys)."""
    from test_bounds import VALUES, _given

    plain = _bounds_book()
    names = {n: _HOSTILE[i % len(_HOSTILE)] + f"{i}" for i, n in
             enumerate([*(n for n in plain.facts if n not in ("id", "name")), *plain.metrics])}
    extra = [ir.Cmp(op, ir.Ref("net", "money", "metric"), ir.Const(v, "money")) for op, v in
             ((">", -0.0), ("<=", 5e-324), (">=", 1e308), ("<", -1e308))]
    book = dataclasses.replace(
        plain, digest="hostile",
        facts={names.get(n, n): dataclasses.replace(f, name=names.get(n, n)) for n, f in plain.facts.items()},
        metrics={names[n]: dataclasses.replace(m, name=names[n], term=_renamed(m.term, names))
                 for n, m in plain.metrics.items()},
        metric_order=tuple(names[n] for n in plain.metric_order),
        rules=(*(dataclasses.replace(r, cond=_renamed(r.cond, names)) for r in plain.rules),
               *(dataclasses.replace(plain.rules[0], id=f"extra{i}", cond=_renamed(c, names)) for i, c in enumerate(extra))))
    table = BoundsTable(book)
    assert len(table.candidates) > len(plain.rules) // 2
    text, ask = generate_questions(table, table.candidates)
    assert not any(q in text for q in "'\"#\\"), "a string, a comment or an escape in generated source"
    own = {n for n in re.findall(r"[^\W\d]\w*", text) if n not in _VOCABULARY and not (n[0] in "kvqe" and n[1:].isdigit())}
    assert own == set()
    assert all(n.isdigit() for n in re.findall(r"(?<![\w.])\d[\w.]*", text))  # whole numbers only: the keys
    for h in _HOSTILE:
        if not h.isidentifier():  # 'env', 'k0', 'None', '__import__', 'ivs' are checked as names above
            assert h not in text
    decided = 0

    @settings(PROPERTY, max_examples=60)
    @given(VALUES)
    def prop(values: dict[str, Any]) -> None:
        nonlocal decided
        env = {names.get(k, k): v for k, v in _given(values).items()}
        facts = build_facts(Account("acc", "Acc", "gen", {"id": "acc", "name": "Acc", **env}), book, AS_OF)
        env = {k: v for k, v in facts.env.items() if k != kb.BOUNDS}
        decided += _same_answers(Bounds(table, env, AS_OF), ask, list(table.candidates))

    prop()
    assert decided > 0


def test_the_course_generates_only_its_own_names() -> None:
    from kamrules.rulebook.load import load_rulebook

    course = load_rulebook("course")
    table = table_for(course)
    text, _ = generate_questions(table, table.candidates)
    assert not any(q in text for q in "'\"#\\")
    assert {n for n in re.findall(r"[^\W\d]\w*", text)
            if n not in _VOCABULARY and not (n[0] in "kvqe" and n[1:].isdigit())} == set()


# ----------------------------------------------------------------------------- the switch

def test_generated_strata_ask_the_generated_questions() -> None:
    """A Program generated after GENERATE_AFTER accounts asks its comparisons through the
    questions (no Bounds.decide left in the course's strata), and the same matches come out as
    with the closures, the same decisions remembered (the course on generated accounts) besides
    the undecidable ones pre-filled."""
    from kamrules.advice.resolve import State
    from kamrules.engine import backends
    from kamrules.engine.compile import compile_rulebook
    from kamrules.engine.generate import generate_stratum
    from kamrules.io.account import load_account
    from kamrules.rulebook.load import load_rulebook

    course = load_rulebook("course")
    table = table_for(course)
    closures, generated = compile_rulebook(course), compile_rulebook(course)
    closures.runs = -10**9
    generated.generate()
    strata = [[r.cond for r in rules] for rules, _ in generated.fires_by_stratum]
    comparisons = [lit for conds in strata for c in conds for lit in ir.literals(c)
                   if type(lit) is ir.Cmp and table.candidate(lit)]
    _, ask = generate_questions(table, comparisons)
    for conds in strata:
        text, _ = generate_stratum(conds, table.candidate, ask)
        assert "decide" not in text
    engine = backends.ReferenceBackend()
    asked = 0

    @settings(PROPERTY, max_examples=40)
    @given(account_data(course))
    def prop(data: dict[str, Any]) -> None:
        nonlocal asked
        account = load_account("acc.yaml", course, text=dump(data))
        one, two = build_facts(account, course, AS_OF), build_facts(account, course, AS_OF)
        expected = engine.run(closures, one, State(course, one).after_stratum)
        assert engine.run(generated, two, State(course, two).after_stratum) == expected
        if one.bounds is not None:
            assert two.bounds is not None
            closed, opened = one.bounds._decided, two.bounds._decided
            # the same decision for every question the closures asked; the generated run also holds
            # the answers its presence pattern pre-filled (engine/undecided.py), each None
            assert {k: opened[k] for k in closed} == closed
            assert all(opened[k] is None for k in opened.keys() - closed.keys())
            asked += len(closed)

    prop()
    assert asked > 0
