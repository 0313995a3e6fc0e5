"""`kamrules explain` and the `advise --explain` appendix: outcomes, nearest misses, phrasing."""
from __future__ import annotations

import datetime as _dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.advice.explain import explain, explain_all, pretty_report
from kamrules.cli import main
from kamrules.core import yamlio
from kamrules.io.account import account_from_doc
from kamrules.pipeline import evaluate
from kamrules.rulebook.load import load_rulebook

DATA = Path(__file__).parent / "data" / "ruletests"
BOOK = str(DATA / "shop.yaml")
AS_OF = _dt.date(2026, 6, 30)

# gold (revenue 12M), discount 12% (< 15% ceiling), margin 18% (> 10% floor), one coach,
# and no last visit or listing on file
ACCOUNT = """\
id: a1
name: 测试客户
revenue: 12M
discount_rate: 12%
gross_margin: 18%
contacts:
  - {name: 李工, role: coach}
"""


@pytest.fixture(scope="module")
def book():
    return load_rulebook(BOOK)


def advice_for(book, text: str, lang: str = "en", engine: str = "reference"):
    account = account_from_doc(yamlio.load("acc.yaml", text=text), book)
    return evaluate(account, book, as_of=AS_OF, lang=lang, engine=engine)


def by_rule(explanations):
    return {e.rule: e for e in explanations}


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write_account(tmp_path: Path, text: str = ACCOUNT) -> str:
    p = tmp_path / "acc.yaml"
    p.write_text(text, encoding="utf-8")
    return str(p)


# ----------------------------------------------------------------------------- ordering

def test_fired_first_then_nearest_misses(book):
    out = explain(advice_for(book, ACCOUNT))
    assert [e.rule for e in out if e.fired] == ["gold"]
    # silver: 12M vs 10M (gap 1/6) · over: 12% vs 15% (gap 0.2) · thin-margin: 18% vs 10% (0.44) ·
    # then one condition with gap 1 each (coach count 1 vs 0, two unknowns), in rulebook order
    assert [e.rule for e in out if not e.fired] == ["silver", "over", "thin-margin", "listed-ref", "nocoach", "stale"]
    misses = [e for e in out if not e.fired]
    assert [e.failing for e in misses] == [1, 1, 1, 1, 1, 1]
    assert [round(e.gap, 3) for e in misses] == [0.167, 0.2, 0.444, 1.0, 1.0, 1.0]


def test_fewer_failing_conditions_come_before_a_smaller_gap(book):
    # 5M: over needs two changes (tier and discount); thin-margin needs one (the margin)
    out = explain(advice_for(book, ACCOUNT.replace("12M", "5M").replace("18%", "30%")))
    order = [e.rule for e in out if not e.fired]
    assert order.index("thin-margin") < order.index("over")
    assert by_rule(out)["over"].failing == 2


def test_why_not_leaves_out_the_rules_that_fired(book):
    out = explain(advice_for(book, ACCOUNT), why_not=True)
    assert "gold" not in by_rule(out)
    assert out[0].rule == "silver"


def test_rules_filter_keeps_only_the_named_rules(book):
    out = explain(advice_for(book, ACCOUNT), rules=["stale", "gold"])
    assert [e.rule for e in out] == ["gold", "stale"]


# ----------------------------------------------------------------------------- phrasing

def test_english_nearest_miss_phrase(book):
    over = by_rule(explain(advice_for(book, ACCOUNT)))["over"]
    assert over.why == ("would fire if discount_rate > 15% (params.max_discount): it is 12%",)
    assert over.summary == "did not fire: 1 condition away"
    tier, discount = over.checks
    assert (tier.outcome, tier.value, tier.against) == (True, "gold", "gold")
    assert (discount.outcome, discount.value, discount.against, discount.param) == (False, 0.12, 0.15, "max_discount")
    assert discount.role == "fix" and tier.role == ""


def test_chinese_nearest_miss_phrase_uses_labels(book):
    over = by_rule(explain(advice_for(book, ACCOUNT, lang="zh")))["over"]
    assert over.why == ("若 折扣率 > 15%（折扣上限）则触发：当前为 12%",)
    assert over.summary == "未触发：差 1 个条件"
    assert over.checks[0].phrase == "层级 = 金卡：当前为 金卡"


def test_fired_rule_shows_the_conditions_that_held(book):
    out = by_rule(explain(advice_for(book, ACCOUNT.replace("12%", "22%"))))
    assert out["over"].fired
    assert out["over"].why == ("tier == gold: it is gold", "discount_rate > 15% (params.max_discount): it is 22%")


def test_money_is_formatted_by_language(book):
    en = by_rule(explain(advice_for(book, ACCOUNT)))["silver"]
    zh = by_rule(explain(advice_for(book, ACCOUNT, lang="zh")))["silver"]
    assert en.why == ("would fire if revenue < 10M: it is 12M",)
    assert zh.why == ("若 年交易额 < 1000万 则触发：当前为 1200万",)


def test_missing_fact_is_listed_as_needed(book):
    stale = by_rule(explain(advice_for(book, ACCOUNT)))["stale"]
    assert stale.why == ("needs last_visit to decide days_since(last_visit) > 60",)
    assert stale.needs == ("last_visit",)
    assert stale.summary == "did not fire: 1 condition away (needs last_visit)"
    zh = by_rule(explain(advice_for(book, ACCOUNT, lang="zh")))["stale"]
    assert zh.why == ("需要 最近拜访（last_visit）才能判断：距最近拜访天数 > 60",)


def test_a_missing_metric_names_the_facts_it_is_made_of(book):
    # margin = revenue * gross_margin: without gross_margin the user must fill in gross_margin
    text = ACCOUNT.replace("gross_margin: 18%\n", "")
    e = by_rule(explain(advice_for(book, text)))["listed-ref"]
    assert e.failing == 2
    assert e.needs == ("listed", "gross_margin")
    assert "needs gross_margin to decide margin > 1M" in e.why


def test_in_list_is_one_condition(book):
    thin = by_rule(explain(advice_for(book, ACCOUNT)))["thin-margin"]
    assert [c.text for c in thin.checks] == ["tier in [gold, silver]", "gross_margin < params.min_margin"]
    assert thin.checks[0].outcome is True
    zh = by_rule(explain(advice_for(book, ACCOUNT, lang="zh")))["thin-margin"]
    assert zh.checks[0].condition == "层级 属于 [金卡、银卡]"


def test_booleans_read_as_words(book):
    e = by_rule(explain(advice_for(book, ACCOUNT + "listed: false\n")))["listed-ref"]
    assert e.why == ("would fire if listed is true: it is false",)


def test_explain_all_is_json_ready_and_deterministic(book):
    advice = advice_for(book, ACCOUNT)
    first = json.dumps(explain_all(advice), ensure_ascii=False, sort_keys=True)
    assert first == json.dumps(explain_all(advice_for(book, ACCOUNT)), ensure_ascii=False, sort_keys=True)
    data = json.loads(first)
    assert [d["rule"] for d in data][:2] == ["gold", "silver"]
    over = next(d for d in data if d["rule"] == "over")
    assert over["distance"] == {"failing": 1, "gap": 0.2}
    assert over["checks"][1]["outcome"] == "false" and over["checks"][1]["value_text"] == "12%"


def test_pretty_report_groups_fired_and_missed(book):
    text = pretty_report(advice_for(book, ACCOUNT), explain(advice_for(book, ACCOUNT)))
    assert "Rules that fired (1)\n  ✓ gold — fired\n      revenue >= 10M: it is 12M" in text
    assert "Rules that did not fire, nearest misses first (6)\n  ✗ silver — did not fire: 1 condition away" in text
    # every condition, not only the deciding one
    assert "      ✓ tier == gold: it is gold" in text


_amounts = st.sampled_from(["0", "500k", "1M", "5M", "9.99M", "10M", "12M", "50M"])
_percents = st.sampled_from(["0%", "5%", "10%", "14.9%", "15%", "15.1%", "22%", "60%"])


@settings(max_examples=40, deadline=None)
@given(revenue=st.one_of(st.none(), _amounts), discount=st.one_of(st.none(), _percents),
       margin=st.one_of(st.none(), _percents), listed=st.one_of(st.none(), st.booleans()))
def test_explanation_agrees_with_the_engine(book, revenue, discount, margin, listed):
    lines = ["id: h", "name: h"]
    for key, value in (("revenue", revenue), ("discount_rate", discount), ("gross_margin", margin),
                       ("listed", listed)):
        if value is not None:
            lines.append(f"{key}: {str(value).lower()}")
    advice = advice_for(book, "\n".join(lines) + "\n")
    fired = {m.rule for m in advice.matches}
    for e in explain(advice):
        assert e.fired == (e.rule in fired)
        if e.fired:
            assert all(c.outcome is True for c in e.checks if c.role == "because")
            assert e.why
        else:
            # what the explanation says must change is exactly the conditions that are not true
            fixes = [c for c in e.checks if c.role == "fix"]
            assert len(fixes) == e.failing >= 1
            assert all(c.outcome is not True for c in fixes)
            assert all(c.needs for c in fixes if c.outcome is None)


# ----------------------------------------------------------------------------- the command

def test_cli_pretty(tmp_path):
    r = cli("explain", write_account(tmp_path), "-r", BOOK, "--as-of", "2026-06-30", "--lang", "en")
    assert r.exit_code == 0, r.output
    assert "would fire if discount_rate > 15% (params.max_discount): it is 12%" in r.output
    assert "as of 2026-06-30" in r.output


def test_cli_rule_with_a_typo_suggests_the_id(tmp_path):
    r = cli("explain", write_account(tmp_path), "-r", BOOK, "--rule", "listed_ref")
    assert r.exit_code == 2
    assert "the rulebook 'shop' has no rule 'listed_ref'" in r.stderr
    assert "did you mean 'listed-ref'?" in r.stderr


def test_cli_rule_limits_the_output(tmp_path):
    r = cli("explain", write_account(tmp_path), "-r", BOOK, "--as-of", "2026-06-30", "--rule", "over")
    assert r.exit_code == 0, r.output
    assert "✗ over Discount too deep — did not fire" in r.output
    assert "silver" not in r.output and "Rules that fired" not in r.output


def test_cli_why_not_shows_only_misses_nearest_first(tmp_path):
    r = cli("explain", write_account(tmp_path), "-r", BOOK, "--as-of", "2026-06-30", "--why-not", "--brief")
    assert r.exit_code == 0, r.output
    assert "✓" not in r.output and "gold — fired" not in r.output
    rules = [line.split()[1] for line in r.output.splitlines() if line.startswith("  ✗ ")]
    assert rules == ["silver", "over", "thin-margin", "listed-ref", "nocoach", "stale"]


def test_cli_json(tmp_path):
    r = cli("explain", write_account(tmp_path), "-r", BOOK, "--as-of", "2026-06-30", "-f", "json", "--lang", "zh")
    data = json.loads(r.output)
    assert data["as_of"] == "2026-06-30" and data["lang"] == "zh"
    over = next(d for d in data["rules"] if d["rule"] == "over")
    assert over["why"] == ["若 折扣率 > 15%（折扣上限）则触发：当前为 12%"]


def test_both_engines_explain_the_same(book):
    from kamrules.engine.backends import durable_available

    engines = ["reference", "durable"] if durable_available() else ["reference"]
    outs = [explain_all(advice_for(book, ACCOUNT, engine=e)) for e in engines]
    assert all(o == outs[0] for o in outs)


def test_advise_explain_appends_the_appendix(tmp_path):
    acc = write_account(tmp_path)
    md = cli("advise", acc, "-r", BOOK, "--as-of", "2026-06-30", "--explain", "--lang", "en")
    assert md.exit_code == 0, md.output
    appendix = md.output[md.output.index("## Appendix: rule explanations"):]
    assert "- ✗ `over` Discount too deep — did not fire: 1 condition away" in appendix
    assert "  - would fire if discount_rate > 15% (params.max_discount): it is 12%" in appendix
    html = cli("advise", acc, "-r", BOOK, "--as-of", "2026-06-30", "--explain", "-f", "html", "--lang", "zh")
    assert "<h2>附录：规则解释</h2>" in html.output
    assert "<li>若 折扣率 &gt; 15%（折扣上限）则触发：当前为 12%</li>" in html.output
    plain = cli("advise", acc, "-r", BOOK, "--as-of", "2026-06-30")
    assert "rule explanations" not in plain.output


def test_explain_help_has_an_example():
    r = cli("explain", "--help")
    assert any(line.strip().startswith("kamrules explain ") for line in r.output.splitlines())


def test_disabled_rules_are_listed_last_with_the_reason(tmp_path):
    shutil.copy(BOOK, tmp_path / "shop.yaml")
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("rulebook: acme\nversion: 1.0.0\nextends: [shop.yaml]\n"
                       "disable:\n  - {rule: stale, reason: We visit every week anyway}\n", encoding="utf-8")
    acc = write_account(tmp_path)
    r = cli("explain", acc, "-r", str(overlay), "--as-of", "2026-06-30", "--brief")
    assert r.exit_code == 0, r.output
    assert r.output.endswith("Disabled rules (1)\n  – stale — disabled by acme: We visit every week anyway\n")
    only = cli("explain", acc, "-r", str(overlay), "--rule", "stale", "-f", "json")
    assert [(d["rule"], d["status"]) for d in json.loads(only.output)["rules"]] == [("stale", "disabled")]
