"""Root causes, owners and horizons, the meeting brief and the walk-away price (issue 11), on a
small rulebook (tests/data/plan) whose numbers are worked by hand in the account file."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from kamrules.advice import plan
from kamrules.advice.context import context, first_sentence
from kamrules.advice.render import render
from kamrules.cli import main
from kamrules.core.resources import schemas_dir
from kamrules.pipeline import advise, evaluate
from kamrules.rulebook.load import load_rulebook
from kamrules.rulebook.model import Account

DATA = Path(__file__).parent / "data" / "plan"
BOOK, ACC = str(DATA / "plan.yaml"), str(DATA / "acc.yaml")
AS_OF = dt.date(2026, 6, 30)


def run(lang: str = "zh", **changes: Any) -> Any:
    base = advise(ACC, BOOK, as_of=AS_OF, lang=lang, engine="reference")
    if not changes:
        return base
    values = {k: v for k, v in {**base.account.values, **changes}.items() if v is not None}
    acc = Account(base.account.id, base.account.name, base.account.file, values)
    return evaluate(acc, base.book, as_of=AS_OF, lang=lang, engine="reference")


def test_walk_away_by_hand() -> None:
    wa = plan.walk_away(run())
    assert wa is not None
    # cost of goods 10M × 75% = 7.5M; + 0.5M + 0.3M + 0.7M = 9.0M; list revenue 10M / 0.8 = 12.5M
    assert wa.floor_revenue == pytest.approx(9.0e6)
    assert wa.max_discount == pytest.approx(0.28)
    assert wa.room == pytest.approx(0.08)
    assert wa.margin_after_cts == pytest.approx(1.0e6)  # 2.5M gross profit − 1.5M
    text = context(run()).brief.walk_away
    assert text is not None and text.text.startswith("平均折扣最多 28%（今天 20%，还有 8 个百分点的余地）")
    assert "不能低于 900万（今天 1000万）" in text.text and not text.crossed


def test_walk_away_past_it_and_beyond_list_price() -> None:
    crossed = context(run(cost_to_serve=2.0e6)).brief.walk_away  # floor 10.3M: max 1 − 10.3/12.5 = 17.6%
    assert crossed is not None and crossed.crossed and crossed.max_discount == "17.6%"
    assert "今天已经是 20%（超出 2.4 个百分点）" in crossed.text
    none = context(run(cost_to_serve=6.0e6)).brief.walk_away  # floor 14.3M > list revenue 12.5M
    assert none is not None and none.text.startswith("即使不打折也不能覆盖服务成本")
    assert plan.walk_away(run(rebates=None)) is None  # a figure missing: no price is shown
    assert context(run(rebates=None)).brief.walk_away is None
    assert "底线价格" not in render(run(rebates=None), "md")


def test_findings_sharing_a_cause_are_said_once_with_their_symptoms() -> None:
    advice = run(lang="en")
    causes = plan.root_causes(advice)
    assert [(c.cause.id, [f.rule for f in c.findings]) for c in causes] == [
        ("revenue_only_incentives", ["deep-discount", "pay-on-revenue"])]
    md = render(advice, "md")
    assert md.count("### 1. The team is paid on revenue only") == 1  # said once, its symptoms under it
    assert md.count("Paid on revenue, the team buys volume with discounts.") == 1
    assert md.index("## Root causes") < md.index("#### Discount too deep") < md.index("## Other warnings")
    assert md.count("#### Discount too deep") == 1  # not repeated among the other warnings
    assert "Every warning is listed under a root cause above." in md


def test_owners_horizons_and_due_dates() -> None:
    ctx = context(run(lang="en"))
    by = {a.rule: a for a in ctx.action_plan}
    assert (by["deep-discount"].role, by["deep-discount"].owner, by["deep-discount"].due,
            by["deep-discount"].horizon_label) == ("rep", "李明", "2026-07-30", "this month")  # 30 days
    # company-level: leadership, named by a fact the account does not give — never the rep
    assert (by["pay-on-revenue"].role, by["pay-on-revenue"].owner, by["pay-on-revenue"].due) == \
        ("leadership", "Company leadership (to be named)", "2026-12-29")  # this_half: 182 days
    assert (by["ask-for-volume"].role, by["ask-for-volume"].owner, by["ask-for-volume"].horizon) == \
        ("finance", "Finance", "")
    assert by["ask-for-volume"].due == "2026-12-27"  # no horizon: info → due_days 180
    assert [(g.role, g.company, [a.rule for a in g.actions]) for g in ctx.action_plan_by_owner] == [
        ("rep", False, ["deep-discount"]), ("leadership", True, ["pay-on-revenue"]),
        ("finance", True, ["ask-for-volume"])]
    md = render(run(lang="en"), "md")
    assert "### Company leadership (company level)" in md and "### Account manager\n" in md


def test_the_verdict_is_the_tagged_finding_and_the_rest_of_the_brief() -> None:
    loss = run(cost_to_serve=2.0e6, gross_margin=0.1)  # 1M gross profit − 2.8M: a loss
    b = context(loss).brief
    assert b.verdict_rule == "loss" and b.verdict == "服务成本后亏损：服务成本后亏损。"
    assert [(p.name, p.role_label, p.stance_label, p.say) for p in b.room] == [
        ("王总", "决策者", "中立者", "讲经营结果。"), ("小周", "内线", "支持者", "坦诚交流。")]
    assert b.asks == ("请客户承诺年度采购量",) and [(c.names, c.ask) for c in b.contact_asks] == [
        ("王总", "请他明确成功标准。"), ("小周", "请他指点决策链。")]
    quiet = context(run()).brief
    assert quiet.verdict_rule == "" and quiet.verdict == "尚未分类；最需要处理的是：折扣过深。"
    assert first_sentence("It loses money. Do not invest.") == "It loses money."


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_advise_brief_alone_is_short(lang: str) -> None:
    r = CliRunner().invoke(main, ["advise", ACC, "-r", BOOK, "--as-of", "2026-06-30", "--brief", "--lang", lang])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert len(lines) <= 40
    assert ("## 会前简报" if lang == "zh" else "## Meeting brief") in r.output
    assert ("底线价格" if lang == "zh" else "Walk-away price") in r.output
    assert "## 摘要" not in r.output and "## Summary" not in r.output
    full = CliRunner().invoke(main, ["advise", ACC, "-r", BOOK, "--as-of", "2026-06-30", "--lang", lang])
    assert full.output.index("## " + ("会前简报" if lang == "zh" else "Meeting brief")) < \
        full.output.index("## " + ("摘要" if lang == "zh" else "Summary"))  # the playbook opens with it


def test_every_bundled_example_has_a_short_brief() -> None:
    for f in sorted((Path(__file__).parent.parent / "examples" / "accounts").glob("*.yaml")):
        for lang in ("zh", "en"):
            r = CliRunner().invoke(main, ["advise", str(f), "--brief", "--lang", lang, "--as-of", "2026-06-30"])
            assert r.exit_code == 0 and len(r.output.splitlines()) <= 40, (f.name, lang, len(r.output.splitlines()))


@pytest.mark.parametrize("extra", [["-f", "html"], ["-f", "json"], ["--explain"]])
def test_brief_is_markdown_only(extra: list[str]) -> None:
    r = CliRunner().invoke(main, ["advise", ACC, "-r", BOOK, "--brief", *extra])
    assert r.exit_code == 2 and "cli.brief-format" in r.output and "Traceback" not in r.output


def test_json_carries_causes_actions_and_the_walk_away() -> None:
    data = json.loads(render(run(lang="en"), "json"))
    jsonschema.validate(data, json.loads((Path(schemas_dir()) / "output.schema.json").read_text(encoding="utf-8")))
    assert data["causes"] == [{"id": "revenue_only_incentives", "title": "The team is paid on revenue only",
                               "explanation": "Paid on revenue, the team buys volume with discounts.",
                               "symptoms": ["deep-discount", "pay-on-revenue"]}]
    by = {f["rule"]: f for f in data["findings"]}
    assert by["pay-on-revenue"]["action"] == {"owner_role": "leadership", "owner": None, "horizon": "this_half",
                                              "due": "2026-12-29"}
    assert by["pay-on-revenue"]["cause"] == "revenue_only_incentives"
    assert data["walk_away"]["max_discount"] == pytest.approx(0.28)
    loss = json.loads(render(run(lang="en", cost_to_serve=2.0e6, gross_margin=0.1), "json"))
    f = next(f for f in loss["findings"] if f["rule"] == "loss")
    assert f["words"] == "大客户要利润" and f["threshold"] == "recon"


def test_provenance_says_idea_unless_the_course_is_quoted() -> None:
    md = render(run(lang="zh", cost_to_serve=2.0e6, gross_margin=0.1), "md")
    assert "> 课程原文：「大客户要利润」" in md
    assert "来源：课程原文 · 阈值与做法：重构（课程未明说） · `loss`" in md
    en = render(run(lang="en", cost_to_serve=2.0e6, gross_margin=0.1), "md")
    assert "Source: the course's words · threshold and prescription: reconstruction" in en
