"""Issue 11's language: tags, suppression, owners, horizons, causes, invariants, provenance keys —
how they read, what `check` refuses, and (further down) what they do on both engines."""
from __future__ import annotations

from pathlib import Path

import pytest

from kamrules.core.errors import RulebookError
from kamrules.rulebook.load import load_rulebook

DATA = Path(__file__).parent / "data"
CORE = DATA / "core" / "core.yaml"

CAUSES = """
causes:
  cheap:
    title: {zh: 折扣失控, en: Discounts out of control}
    explanation: {en: Nobody owns the price}
"""


def overlay(tmp_path: Path, body: str, name: str = "o.yaml") -> str:
    f = tmp_path / name
    f.write_text(f"rulebook: {Path(name).stem}\nextends: [{CORE}]\n" + body, encoding="utf-8")
    return str(f)


def problems(path: str) -> list[tuple[str, str]]:
    with pytest.raises(RulebookError) as e:
        load_rulebook(path)
    return [(p.code, p.message) for p in e.value.problems]


def test_the_new_keys_read_into_the_model(tmp_path: Path) -> None:
    book = load_rulebook(overlay(tmp_path, CAUSE_RULES))
    loss = book.rule("loss")
    assert loss is not None and loss.tags == ("loss", "verdict")
    assert loss.suppresses == ("tag:invest", "tier=gold")
    assert loss.words.zh == "大客户要利润" and loss.threshold == "recon"
    assert loss.warn is not None and (loss.warn.role, loss.warn.owner, loss.warn.horizon, loss.warn.cause) == \
        ("finance", "", "this_month", "cheap")
    push = book.rule("push")
    assert push is not None and push.recommend is not None
    assert (push.recommend.role, push.recommend.owner) == ("leadership", "boss")
    legacy = book.rule("legacy")
    assert legacy is not None and legacy.recommend is not None
    assert (legacy.recommend.role, legacy.recommend.owner) == ("rep", "manager")  # the fact form: the rep, named
    assert book.causes["cheap"].title.en == "Discounts out of control"
    assert [(i.id, i.kind, i.selectors) for i in book.invariants] == [
        ("no-loss-invest", "never", ("tag:loss", "tag:invest")), ("push-needs-margin", "only_if", ("tag:invest",))]
    assert book.invariants[1].when == "gross_margin > 0"


CAUSE_RULES = CAUSES + """
facts:
  manager: {type: string}
  boss: {type: string}
invariants:
  - {id: no-loss-invest, source: recon, never: [tag:loss, tag:invest]}
  - {id: push-needs-margin, source: recon, only_if: {advice: tag:invest, when: "gross_margin > 0"}}
rules:
  - id: loss
    concept: misconception.volume_not_profit
    source: deck
    words: 大客户要利润
    threshold: recon
    tags: [loss, verdict]
    suppresses: [tag:invest, tier=gold]
    when: margin < 0
    then:
      warn: {message: {en: Loses money}, owner: finance, horizon: this_month, cause: cheap}
  - id: push
    concept: scorecard.invest
    source: recon
    tags: invest
    when: revenue >= 10M
    then:
      recommend: {message: {en: Invest}, owner: {role: leadership, name: boss}}
  - id: legacy
    concept: scorecard.invest
    source: recon
    when: revenue >= 20M
    then:
      recommend: {message: {en: Call}, owner: manager}
"""


@pytest.mark.parametrize("body,code,words", [
    ("rules:\n  - {id: x, concept: a.b, source: recon, when: true, suppresses: [tag:nothing], "
     "then: {warn: {message: hi}}}\n", "rulebook.selector", "selects no rule"),
    ("rules:\n  - {id: x, concept: a.b, source: recon, when: true, suppresses: [tier=platinum], "
     "then: {warn: {message: hi}}}\n", "rulebook.selector", "not a value of tier"),
    ("rules:\n  - {id: x, concept: a.b, source: recon, when: true, suppresses: [teir=gold], "
     "then: {warn: {message: hi}}}\n", "rulebook.selector", "not declared"),
    ("rules:\n  - {id: x, concept: a.b, source: recon, when: true, tags: [me], suppresses: [tag:me], "
     "then: {warn: {message: hi}}}\n", "rulebook.selector", "suppresses itself"),
    ("rules:\n  - {id: x, concept: a.b, source: recon, when: true, then: {warn: {message: hi, owner: ceo}}}\n",
     "rulebook.owner", "neither a role nor a declared fact"),
    ("rules:\n  - {id: x, concept: a.b, source: recon, when: true, then: {warn: {message: hi, cause: nope}}}\n",
     "rulebook.unknown-cause", "not declared"),
    ("rules:\n  - {id: x, concept: a.b, source: recon, when: true, tags: [company], "
     "then: {recommend: {message: hi, owner: rep}}}\n", "rulebook.company-owner", "never the rep"),
    ("rules:\n  - {id: x, concept: a.b, source: recon, when: true, then: {warn: {message: hi, horizon: soon}}}\n",
     "rulebook.horizon", "horizon 'soon' is not known"),
    ("rules:\n  - {id: x, concept: a.b, source: recon, when: true, threshold: deck, then: {warn: {message: hi}}}\n",
     "rulebook.source", "threshold 'deck' is not a source"),
    ("invariants:\n  - {id: i, source: recon, never: [rule:gold]}\n", "rulebook.invariant", "at least two"),
    ("invariants:\n  - {id: i, source: recon}\n", "rulebook.invariant", "exactly one of never: or only_if:"),
    ("invariants:\n  - {id: i, source: recon, only_if: {advice: rule:gold, when: revnue > 1}}\n",
     "rulebook.condition", "revnue"),
    ("invariants:\n  - {id: i, never: [rule:gold, rule:silver]}\n", "rulebook.source", "needs a source"),
    ("causes:\n  c: {explanation: why}\n", "rulebook.missing", "needs a title"),
])
def test_what_check_refuses(tmp_path: Path, body: str, code: str, words: str) -> None:
    found = problems(overlay(tmp_path, body))
    assert any(c == code and words in m for c, m in found), found


def test_an_overlay_overrides_owner_horizon_cause_and_tags(tmp_path: Path) -> None:
    base = overlay(tmp_path, CAUSE_RULES, "base.yaml")
    top = tmp_path / "top.yaml"
    top.write_text(f"rulebook: top\nextends: [{base}]\noverride:\n  loss: {{owner: rep, horizon: this_week, "
                   "tags: [loss], threshold: 'lit:McKinsey'}\n  legacy: {owner: {role: account_team, name: manager}}\n",
                   encoding="utf-8")
    book = load_rulebook(str(top))
    loss, legacy = book.rule("loss"), book.rule("legacy")
    assert loss is not None and loss.warn is not None and legacy is not None and legacy.recommend is not None
    assert (loss.warn.role, loss.warn.horizon, loss.warn.cause, loss.tags, loss.threshold) == \
        ("rep", "this_week", "cheap", ("loss",), "lit:McKinsey")
    assert (legacy.recommend.role, legacy.recommend.owner) == ("account_team", "manager")


def test_a_row_adds_its_tags_to_the_tables(tmp_path: Path) -> None:
    book = load_rulebook(overlay(tmp_path, """
dimensions:
  band: {hit_policy: unique, values: [hi, lo]}
tables:
  - table: bands
    concept: a.b
    source: recon
    tags: [band]
    words: 表格原文
    inputs: [revenue]
    outputs: [classify.band]
    rows:
      - {id: hi, when: ">= 10M", then: hi, tags: [big], words: 行原文}
      - {id: lo, when: "< 10M", then: lo}
"""))
    hi, lo = book.rule("hi"), book.rule("lo")
    assert hi is not None and lo is not None
    assert (hi.tags, lo.tags) == (("band", "big"), ("band",))
    assert (hi.words.zh, lo.words.zh) == ("行原文", "表格原文")


def test_the_course_playbook_declares_horizons_owners_and_the_brief() -> None:
    pb = load_rulebook("course").playbook
    assert [(h.key, h.days) for h in pb.horizons.values()] == [
        ("this_week", 7), ("this_month", 30), ("this_quarter", 90), ("this_half", 182), ("this_year", 365)]
    assert pb.horizons["this_week"].label.zh == "本周"
    assert list(pb.owners) == ["rep", "account_team", "sales_management", "leadership", "finance"]
    assert set(pb.brief.walk_away) == {"revenue", "gross_margin", "discount", "rebates", "free_services",
                                       "cost_to_serve"}
    for role in ("economic_buyer", "technical_buyer", "user_buyer", "coach"):
        tp = pb.brief.talking_points[role]
        assert tp.wants.zh and tp.wants.en and tp.say.zh and tp.say.en, role


def test_a_walk_away_fact_must_be_declared(tmp_path: Path) -> None:
    found = problems(overlay(tmp_path, "playbook:\n  brief:\n    walk_away: {revenue: revenu}\n"))
    assert any(c == "rulebook.playbook-name" and "revenu" in m for c, m in found), found


# --------------------------------------------------------------------------- suppression, both engines

import datetime as dt  # noqa: E402
import json  # noqa: E402

from click.testing import CliRunner  # noqa: E402

from kamrules.cli import main  # noqa: E402
from kamrules.engine.backends import durable_available  # noqa: E402
from kamrules.pipeline import advise  # noqa: E402

ENGINES = ("durable", "reference") if durable_available() else ("reference",)
ACC = str(DATA / "core" / "acc.yaml")  # revenue 12M, margin 18% → 2.16M, discount 22%
AS_OF = dt.date(2026, 6, 30)

LOSS = """
rules:
  - id: loss
    concept: misconception.volume_not_profit
    title: {zh: 利润太薄, en: Thin margin}
    source: recon
    tags: [loss]
    suppresses: [tier=gold, rule:over, tag:invest]
    when: margin < 5M
    then:
      warn: {severity: critical, message: {zh: 亏损, en: Thin margin}}
  - id: push
    concept: scorecard.invest
    source: recon
    tags: [invest]
    when: revenue > 1M
    then:
      score: {health: 7}
      recommend: {message: {zh: 加大投入, en: "Invest in {{ account.name }}"}}
  - id: reads-gold
    concept: standard.pyramid
    source: recon
    when: tier == gold
    then:
      recommend: {message: {zh: 金卡, en: Gold}}
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_a_suppressing_rule_withdraws_every_output_the_same_on_each_engine(tmp_path: Path, engine: str) -> None:
    a = advise(ACC, overlay(tmp_path, LOSS), engine=engine, as_of=AS_OF)
    assert {m.rule for m in a.matches} == {"loss", "nocoach"}  # gold, push: withdrawn; over, reads-gold: no gold
    assert [(s.rule, s.by) for s in a.suppressed] == [("gold", ("loss",)), ("push", ("loss",))]
    assert a.classification["tier"].value is None  # the withdrawn classification is gone …
    assert a.scores["health"].value is None  # … and so are its and push's points
    gold = a.suppressed[0]
    assert (gold.classify, gold.score) == ((("tier", "gold"),), (("health", 50.0),))
    assert [f.rule for f in a.findings] == ["loss", "nocoach"]
    assert [(f.rule, f.suppressed_by, f.message) for f in a.suppressed_findings] == [
        ("push", "loss", "Invest in Test")]


def test_without_the_suppressor_everything_is_back(tmp_path: Path) -> None:
    a = advise(ACC, overlay(tmp_path, LOSS.replace("margin < 5M", "margin < 1M")), engine="reference", as_of=AS_OF)
    assert {m.rule for m in a.matches} == {"gold", "push", "over", "reads-gold", "nocoach", "gold-no-coach"}
    assert a.suppressed == () and a.scores["health"].value == 57


def test_a_suppressed_rule_runs_after_its_suppressor(tmp_path: Path) -> None:
    book = load_rulebook(overlay(tmp_path, LOSS))
    assert book.suppressors["gold"] == ("loss",) and book.suppressors["push"] == ("loss",)
    assert book.strata["gold"] > book.strata["loss"] and book.strata["push"] > book.strata["loss"]
    assert book.strata["over"] > book.strata["gold"]  # readers of gold's outputs later still


def test_suppressing_what_you_read_is_a_cycle(tmp_path: Path) -> None:
    found = problems(overlay(tmp_path, LOSS.replace("when: margin < 5M", "when: tier == gold")))
    assert any(c == "rulebook.rule-cycle" and "loss" in m and "gold" in m for c, m in found), found


def test_a_withdrawn_rule_does_not_suppress(tmp_path: Path) -> None:
    body = LOSS + """
  - id: trump
    concept: misconception.volume_not_profit
    source: recon
    suppresses: [rule:loss]
    when: revenue > 10M
    then:
      recommend: {message: {zh: 王牌, en: Trump}}
"""
    a = advise(ACC, overlay(tmp_path, body), engine="reference", as_of=AS_OF)
    assert [(s.rule, s.by) for s in a.suppressed] == [("loss", ("trump",))]
    assert {"gold", "push"} <= {m.rule for m in a.matches}  # loss is withdrawn: its suppression is too


def test_json_lists_what_was_suppressed_and_validates(tmp_path: Path) -> None:
    import jsonschema

    r = CliRunner().invoke(main, ["advise", ACC, "-r", overlay(tmp_path, LOSS), "-f", "json", "--as-of",
                                  "2026-06-30", "--engine", "reference"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    schema = json.loads((Path(__file__).parent.parent / "kamrules" / "schemas" / "output.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert [(s["rule"], s["by"]) for s in data["suppressed"]] == [("gold", ["loss"]), ("push", ["loss"])]
    assert data["suppressed"][0]["classify"] == {"tier": "gold"} and data["suppressed"][1]["score"] == {"health": 7}
    assert data["suppressed"][1]["findings"][0]["suppressed_by"] == "loss"
    assert "suppressed_by" not in json.dumps(data["findings"])
    plain = json.loads(CliRunner().invoke(main, ["advise", ACC, "-r", str(CORE), "-f", "json"]).output)
    assert "suppressed" not in plain  # nothing suppressed: the key is absent, as before


def test_explain_says_what_was_suppressed_by_which_rule_and_why(tmp_path: Path) -> None:
    book = overlay(tmp_path, LOSS)
    r = CliRunner().invoke(main, ["explain", ACC, "-r", book, "--as-of", "2026-06-30", "--engine", "reference"])
    assert "Rules that were suppressed (2)" in r.output
    assert "⊘ gold — its condition held, but it was suppressed by loss 'Thin margin' (margin < 5M: it is 2.16M)" \
        in r.output
    zh = CliRunner().invoke(main, ["explain", ACC, "-r", book, "--as-of", "2026-06-30", "--lang", "zh",
                                   "--rule", "push"]).output
    assert "被 loss「利润太薄」撤回" in zh
    js = json.loads(CliRunner().invoke(main, ["explain", ACC, "-r", book, "--as-of", "2026-06-30", "-f", "json"])
                    .output)
    assert {e["rule"]: e["status"] for e in js["rules"]}["push"] == "suppressed"


def test_a_rule_test_can_expect_a_suppression(tmp_path: Path) -> None:
    book = overlay(tmp_path, LOSS, "shop.yaml")
    (tmp_path / "shop.test.yaml").write_text(f"""rulebook: shop.yaml
as_of: 2026-06-30
base: {{id: t, name: T, revenue: 12M, discount_rate: 22%}}
cases:
  - name: thin margin withdraws invest and gold
    given: {{gross_margin: 18%}}
    expect: {{fires: [loss], suppressed: [gold, push], not_fires: [push, over]}}
  - name: a fat margin is not withdrawn
    given: {{gross_margin: 60%}}
    expect: {{suppressed: [push]}}
""", encoding="utf-8")
    assert book
    r = CliRunner().invoke(main, ["test", str(tmp_path / "shop.test.yaml")])
    assert r.exit_code == 1, r.output
    assert "PASS" in r.output and "thin margin withdraws invest and gold" in r.output
    assert "suppressed: push was not suppressed (it fired)" in r.output
