"""build_facts computes only the metrics an account's facts can give (engine/facts.py `lead`,
`_plan`): a metric one of whose leads is missing is None whatever the values, so leaving it out
changes nothing. Held to compile_formula on generated terms, and to every metric computed (the
loop build_facts had) on the course's generated accounts and on a CRM export's rows."""
from __future__ import annotations

import datetime as dt
import math
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import ITEMS, ITEM_TAG, NUMERIC_REFS, PROPERTY, account_data, dump, fact_values, numeric_terms

from kamrules.engine import facts as facts_mod
from kamrules.engine.facts import build_facts, data_checks, lead
from kamrules.engine.formulas import compile_formula
from kamrules.engine.reference import BOUNDS
from kamrules.io import csvio
from kamrules.io.account import load_account
from kamrules.language import ir
from kamrules.rulebook.load import load_rulebook
from kamrules.rulebook.model import Account, Rulebook

AS_OF = dt.date(2026, 6, 30)

_AS_METRIC = {n: ir.Ref(n, r.type, "metric") for n, r in NUMERIC_REFS.items()}


def _some_metric_refs(t: ir.Term, flip: bool) -> ir.Term:
    match t:
        case ir.Ref() if flip and t.name in NUMERIC_REFS:
            return _AS_METRIC[t.name]
        case ir.Arith():
            return ir.Arith(t.op, _some_metric_refs(t.left, not flip), _some_metric_refs(t.right, flip), t.type)
        case ir.Fn():
            return ir.Fn(t.name, tuple(_some_metric_refs(a, flip) for a in t.args), t.type)
        case _:
            return t


_COUNTS = st.sampled_from((
    ir.Agg("count", ITEMS, None, "integer"),
    ir.Agg("count", ITEMS, ir.Cmp("==", ITEM_TAG, ir.Const("x", "enum")), "integer"),
    ir.Agg("count", ITEMS, ir.Or((ir.Cmp("==", ITEM_TAG, ir.Const("x", "enum")),
                                  ir.Cmp(">", ir.Ref("v", "number", "item"), ir.Const(1, "number")))), "integer"),
))
_TERMS = st.one_of(
    st.tuples(numeric_terms(3), st.booleans()).map(lambda tf: _some_metric_refs(*tf)),
    st.builds(lambda op, a, b: ir.Arith(op, a, b, "number"), st.sampled_from("+-*/"), _COUNTS | numeric_terms(1),
              _COUNTS | numeric_terms(1)),
    st.builds(lambda f, a, b: ir.Fn(f, (a, b), "number"), st.sampled_from(("min", "max")), _COUNTS,
              numeric_terms(0)),
)


def test_a_missing_lead_makes_the_formula_none_at_once() -> None:
    seen = {"led": 0, "none": 0}

    @settings(max_examples=600, deadline=None, derandomize=True)
    @given(term=_TERMS, values=fact_values())
    def prop(term: ir.Term, values: dict[str, Any]) -> None:
        f = compile_formula(term)
        names = lead(term)
        seen["led"] += bool(names)
        for name in names:
            env = {k: v for k, v in values.items() if k != name}
            try:
                got = f(env, AS_OF, None)
            except Exception as e:  # pragma: no cover - the failure the analysis must rule out
                raise AssertionError((ir.show(term), name, env, e)) from e
            assert got is None, (ir.show(term), name, env, got)
            seen["none"] += 1

    prop()
    assert seen["led"] > 150 and seen["none"] > 150, seen  # not vacuous (214 and 219 when written)


def test_leads_of_the_forms() -> None:
    n, m, k = NUMERIC_REFS["n"], NUMERIC_REFS["m"], NUMERIC_REFS["k"]
    one = ir.Const(1.0, "number")
    assert lead(ir.Arith("/", n, m, "number")) == {"n", "m"}
    assert lead(ir.Arith("+", ir.Fn("abs", (n,), "number"), m, "number")) == frozenset()  # abs: not listed
    inner = ir.Arith("-", n, k, "number")
    assert lead(ir.Arith("*", inner, m, "number")) == {"n", "k"}  # m is read after a formula
    assert lead(ir.Arith("*", m, inner, "number")) == {"m", "n", "k"}
    assert lead(ir.Fn("min", (n, one), "number")) == {"n"}
    # both evaluated: m missing still evaluates the formula first; the formula's names missing, m is read
    assert lead(ir.Fn("max", (inner, m), "number")) == {"n", "k"}
    assert lead(ir.Agg("count", ITEMS, None, "integer")) == {"items"}
    assert lead(ir.Agg("sum", ITEMS, ir.Ref("v", "number", "item"), "number")) == frozenset()
    assert lead(ir.Ref("v", "number", "item")) == frozenset()


# --------------------------------------------------------------------------- build_facts

def _every_metric(account: Account, book: Rulebook) -> tuple[list[tuple[str, Any, type]], Any]:
    """build_facts' environment the way it was computed before plans: every metric, in order."""
    env = facts_mod.some_values(account, book, AS_OF, tuple(book.metrics))  # no plan: every metric
    return [(k, v, type(v)) for k, v in env.items()], data_checks(env, book)


def _same_facts(account: Account, book: Rulebook) -> tuple[int, int]:
    """build_facts against every metric computed; (metrics left out, metrics computed)."""
    got = build_facts(account, book, AS_OF)
    expected, checks = _every_metric(account, book)
    env = [(k, v, type(v)) for k, v in got.env.items() if k != BOUNDS]
    assert len(env) == len(expected) and all(
        a[0] == b[0] and a[2] is b[2] and (a[1] == b[1] or (isinstance(a[1], float) and math.isnan(a[1])
                                                             and math.isnan(b[1])))
        for a, b in zip(env, expected)), (account.id, env, expected)
    assert got.checks == checks
    names = {k for k, _, _ in expected}
    watched = facts_mod.table_for(book).watched
    assert (BOUNDS in got.env) == any(n not in names for n in watched)
    plan = facts_mod._PLANS[(book.digest, tuple(k for k, v in account.values.items() if v is not None))]
    return len(book.metrics) - len(plan.metrics), len(plan.metrics)


def test_build_facts_gives_every_metric_on_generated_accounts() -> None:
    course = load_rulebook("course")
    seen = [0, 0]

    @settings(PROPERTY, max_examples=150)
    @given(account_data(course))
    def prop(data: dict[str, Any]) -> None:
        account = load_account("acc.yaml", course, text=dump(data))
        out, kept = _same_facts(account, course)
        seen[0] += out
        seen[1] += kept

    prop()
    assert seen[0] > 100 and seen[1] > 100, seen  # metrics both left out and computed


def test_build_facts_gives_every_metric_on_a_crm_export(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    import portfolio as bench  # the benchmark's CRM-style export: missing values, free text in numbers

    course = load_rulebook("course")
    file = bench.accounts_csv(tmp_path / "export.csv", 400)
    accounts = [r.account for r in csvio.read_accounts(str(file), course).rows if r.account is not None]
    assert len(accounts) > 350
    out = [_same_facts(a, course) for a in accounts]
    assert sum(o for o, _ in out) > 30 * len(accounts) and sum(k for _, k in out) > 0


def test_a_metric_reading_a_computed_metric_is_kept() -> None:
    course = load_rulebook("course")
    plan = facts_mod._plan(course, ("id", "name", "revenue", "rebates", "free_services_cost"))
    kept = [n for n, _, _ in plan.metrics]
    assert "concession_total" in kept and "concession_rate" in kept  # concession_rate reads concession_total
    assert "average_order" not in kept and "roles_covered" not in kept
