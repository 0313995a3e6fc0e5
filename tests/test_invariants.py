"""Advice invariants (issue 11): what breaks one on an Advice, the generated accounts that search
for a break, the minimal counterexamples they shrink to, and `kamrules test --invariants`."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from invariant_props import assert_invariants, broken, minimal_counterexample

from kamrules.advice import invariants as inv
from kamrules.authoring import generate
from kamrules.cli import main
from kamrules.engine.backends import durable_available
from kamrules.pipeline import evaluate
from kamrules.rulebook.load import load_rulebook
from kamrules.rulebook.model import Account

DATA = Path(__file__).parent / "data" / "invariants"
SHOP, FIXED = str(DATA / "shop.yaml"), str(DATA / "fixed.yaml")
ENGINES = ("durable", "reference") if durable_available() else ("reference",)
AS_OF = dt.date(2026, 6, 30)


def account(**values: object) -> Account:
    return Account("a", "A", "<test>", {"id": "a", "name": "A", **values}, as_of=AS_OF)


@pytest.mark.parametrize("engine", ENGINES)
def test_never_breaks_when_both_stand_and_not_when_one_is_suppressed(engine: str) -> None:
    loser = account(revenue=20e6, gross_margin=0.06, cost_to_serve=2e6, contacts=({"role": "coach"},))
    found = inv.check(evaluate(loser, load_rulebook(SHOP), engine=engine))
    assert [(v.invariant, v.rules) for v in found] == [("loss-never-invest", ("loss", "invest"))]
    fixed = evaluate(loser, load_rulebook(FIXED), engine=engine)
    assert [s.rule for s in fixed.suppressed] == ["invest"]  # thin (< 5%) does not fire
    assert inv.check(fixed) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_only_if_breaks_when_the_condition_is_false_or_unknown(engine: str) -> None:
    book = load_rulebook(SHOP)
    no_coach = inv.check(evaluate(account(revenue=1e6, contacts=()), book, engine=engine))
    assert [v.invariant for v in no_coach] == ["coach-advice-needs-a-coach"]
    unknown = inv.check(evaluate(account(revenue=6e6), book, engine=engine))  # contacts not given
    assert [v.invariant for v in unknown] == ["coach-advice-needs-a-coach"]
    coached = inv.check(evaluate(account(revenue=6e6, contacts=({"role": "coach"},)), book, engine=engine))
    assert coached == []


def test_a_classification_selector_speaks_only_for_the_resolved_value(tmp_path: Path) -> None:
    f = tmp_path / "cls.yaml"
    f.write_text(f"""rulebook: cls
extends: [{DATA.parent / 'core' / 'core.yaml'}]
invariants:
  - {{id: gold-not-silver, source: recon, never: [tier=gold, rule:silver]}}
  - {{id: gold-needs-coach, source: recon, only_if: {{advice: tier=gold, when: "coaches >= 1"}}}}
""", encoding="utf-8")
    book = load_rulebook(str(f))
    big = evaluate(account(revenue=12e6, contacts=()), book, engine="reference")
    assert [v.invariant for v in inv.check(big)] == ["gold-needs-coach"]
    small = evaluate(account(revenue=1e6), book, engine="reference")
    assert inv.check(small) == []  # silver speaks, gold is not the value


def test_generated_accounts_are_valid_typed_and_in_range() -> None:
    book = load_rulebook("course")
    seen: list[Account] = []

    @settings(max_examples=150, deadline=None, derandomize=True, database=None)
    @given(generate.accounts(book))
    def check(a: Account) -> None:
        seen.append(a)
        for name, v in a.values.items():
            f = book.facts[name]
            if f.type in ("money", "percent", "number", "integer"):
                assert isinstance(v, (int, float)) and not isinstance(v, bool), (name, v)
                assert (f.min is None or v >= f.min) and (f.max is None or v <= f.max), (name, v)
            elif f.type == "enum":
                assert v in f.value_names, (name, v)
            elif f.type == "date":
                assert isinstance(v, dt.date) and v <= AS_OF
            elif f.type == "list" and f.items:
                fields = {i.name: i for i in f.items}
                for item in v:
                    for k, x in item.items():
                        if fields[k].type == "enum":
                            assert x in fields[k].value_names

    check()
    # facts are sometimes missing and sometimes given; numbers land on both sides of thresholds
    given_share = sum("revenue" in a.values for a in seen) / len(seen)
    assert 0.4 < given_share < 0.9, given_share
    revenues = [a.values["revenue"] for a in seen if "revenue" in a.values]
    key_min = book.params["key_revenue_min"].value
    assert any(r >= key_min for r in revenues) and any(r < key_min for r in revenues)
    assert any(len(a.values.get("contacts", ())) >= 2 for a in seen)


def test_the_search_shrinks_each_broken_invariant_to_a_minimal_counterexample() -> None:
    assert minimal_counterexample(load_rulebook(SHOP), "loss-never-invest", accounts=200) == {
        "revenue": 10e6, "gross_margin": 0.0}  # thin (< 5%) and invest (>= 10M), at the thresholds
    only = minimal_counterexample(load_rulebook(SHOP), "coach-advice-needs-a-coach", accounts=200)
    assert set(only) == {"revenue"} and only["revenue"] > 5e6  # contacts missing: 'coaches >= 1' is unknown


def test_the_helper_passes_a_sound_rulebook_and_explains_a_broken_one() -> None:
    assert_invariants(load_rulebook(FIXED), accounts=300, durable_accounts=30)
    with pytest.raises(AssertionError) as e:
        assert_invariants(load_rulebook(SHOP), accounts=100, durable_accounts=0)
    text = str(e.value)
    assert "2 invariant(s) broken" in text and "minimal counterexample" in text and "revenue: 10000000.0" in text
    assert [o.invariant.id for o in broken(load_rulebook(SHOP), accounts=100)] == [
        "loss-never-invest", "coach-advice-needs-a-coach"]


def test_kamrules_test_reports_each_invariant_as_a_case() -> None:
    r = CliRunner().invoke(main, ["test", str(DATA / "shop.test.yaml"), "--invariants", "60"])
    assert r.exit_code == 1, r.output
    assert "PASS" in r.output and "invariant loss-never-invest (60 generated accounts)" in r.output
    assert "FAIL  tests/data/invariants/shop.yaml:" in r.output
    assert "minimal counterexample" in r.output and "(reference): revenue: 10000000.0; gross_margin: 0.0\n" in r.output
    again = CliRunner().invoke(main, ["test", str(DATA / "shop.test.yaml"), "--invariants", "60"])
    assert again.output == r.output  # derandomized: the same accounts, the same counterexamples
    ok = CliRunner().invoke(main, ["test", str(DATA / "fixed.test.yaml"), "--invariants", "100", "-f", "json"])
    assert ok.exit_code == 0, ok.output
    cases = json.loads(ok.output)["files"][0]["cases"]
    assert [c["status"] for c in cases] == ["PASS"] * 3
    off = CliRunner().invoke(main, ["test", str(DATA / "shop.test.yaml"), "--invariants", "0"])
    assert off.exit_code == 0 and "generated accounts" not in off.output


def test_a_default_run_checks_invariants_on_a_few_accounts() -> None:
    r = CliRunner().invoke(main, ["test", str(DATA / "shop.test.yaml")])
    assert r.exit_code == 1 and "(25 generated accounts)" in r.output


def test_an_invariant_check_proves_broken_is_refused_by_advise_too(tmp_path: Path) -> None:
    acc = tmp_path / "a.yaml"
    acc.write_text("id: a\nname: A\nrevenue: 7M\nstrategic_fit: high\n", encoding="utf-8")
    bad = str(Path(__file__).parent / "data" / "lint" / "invariant.bad.yaml")
    r = CliRunner().invoke(main, ["advise", str(acc), "-r", bad])
    assert r.exit_code == 2 and "lint.invariant" in r.output and "small-never-gold" in r.output, r.output
    good = str(Path(__file__).parent / "data" / "lint" / "invariant.good.yaml")
    ok = CliRunner().invoke(main, ["advise", str(acc), "-r", good])
    assert ok.exit_code == 0, ok.output
