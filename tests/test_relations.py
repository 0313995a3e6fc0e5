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
