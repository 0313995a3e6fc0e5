"""The rulebook's `playbook:` section: the course knowledge the playbook walks is data, an
overlay replaces one section without repeating the others, and every name it uses is checked."""
from __future__ import annotations

from pathlib import Path

import pytest

from kamrules.core.errors import RulebookError
from kamrules.rulebook.load import load_rulebook


def test_the_course_declares_its_structure() -> None:
    pb = load_rulebook("course").playbook
    assert [s.key for s in pb.analysis] == ["industry", "competition", "needs", "solution", "service_capability",
                                            "planning"]
    assert pb.analysis[0].label.zh == "行业分析" and pb.analysis[0].date == "analyses.industry"
    assert [m.key for m in pb.management][:2] == ["strategy", "tiering"] and len(pb.management) == 8
    assert [s.zh for s in pb.service_steps] == ["合格供货", "满意服务", "专属增值服务", "顾问式服务", "战略伙伴"]
    assert pb.buying_roles == ("economic_buyer", "user_buyer", "technical_buyer", "coach")
    assert pb.quadrants["invest"] == "tr" and pb.due_days["critical"] == 14
    assert pb.concept_label("misconception.over_concession", "en") == "misconception 5: over-concession"
    assert pb.family_label("nine", "zh").startswith("九字诀")


def _overlay(tmp_path: Path, body: str) -> str:
    f = tmp_path / "acme.yaml"
    f.write_text("rulebook: acme\nextends: [course]\n" + body, encoding="utf-8")
    return str(f)


def test_an_overlay_replaces_one_section_and_keeps_the_rest(tmp_path: Path) -> None:
    ref = _overlay(tmp_path, "playbook:\n  due_days: {critical: 7, high: 14, medium: 30, low: 90, info: 90}\n"
                             "  management:\n    - {key: strategy, label: {zh: 战略, en: Strategy}}\n")
    book = load_rulebook(ref)
    base = load_rulebook("course")
    assert book.playbook.due_days["critical"] == 7
    assert [m.key for m in book.playbook.management] == ["strategy"]
    assert book.playbook.analysis == base.playbook.analysis  # untouched sections stay
    assert book.digest != base.digest  # what the playbook shows is part of the effective rulebook


@pytest.mark.parametrize("body, words", [
    ("playbook:\n  summary: {figures: [revenu]}\n", "names the fact or metric 'revenu'"),
    ("playbook:\n  scorecard: {dimension: scorecrd}\n", "did you mean 'scorecard'?"),
    ("playbook:\n  scorecard:\n    flight:\n      - {key: x, metric: revenue, good: key_revenue_mn}\n",
     "parameter 'key_revenue_mn'"),
    ("playbook:\n  analysis:\n    - {key: industry, date: analyses.industri}\n", "analyses.industri"),
])
def test_names_in_the_section_are_checked(tmp_path: Path, body: str, words: str) -> None:
    with pytest.raises(RulebookError) as e:
        load_rulebook(_overlay(tmp_path, body))
    text = e.value.render()
    assert "rulebook.playbook-name" in text and words in text and "acme.yaml:" in text


def test_the_section_grammar_reports_typos(tmp_path: Path) -> None:
    with pytest.raises(RulebookError) as e:
        load_rulebook(_overlay(tmp_path, "playbook:\n  due_dayz: {high: 30}\n"))
    assert "did you mean 'due_days'?" in e.value.render()


SERVICE = "playbook:\n  service:\n    fact: service_step\n    steps: [{zh: 一, en: one}, {zh: 二, en: two}]\n"


@pytest.mark.parametrize("ready, words", [
    ("{dimension: service_redy, values: [commodity, satisfied]}", "did you mean 'service_ready'?"),
    ("{dimension: service_ready, values: [commodity]}", "lists 1 values for 2 steps"),
    ("{dimension: service_ready, values: [commodity, satisfyed]}", "did you mean 'satisfied'?"),
])
def test_the_service_ladders_ready_dimension_is_checked(tmp_path: Path, ready: str, words: str) -> None:
    with pytest.raises(RulebookError) as e:
        load_rulebook(_overlay(tmp_path, SERVICE + f"    ready: {ready}\n"))
    text = e.value.render()
    assert "rulebook.playbook-name" in text and words in text and "acme.yaml:" in text


def _service(account: str, **changes: object):  # type: ignore[no-untyped-def]
    import datetime as dt

    from kamrules.advice.context import context
    from kamrules.pipeline import advise, evaluate
    from kamrules.rulebook.model import Account

    as_of = dt.date(2026, 6, 30)
    base = advise(f"examples/accounts/{account}.yaml", "course", as_of=as_of, lang="en", engine="reference")
    if changes:
        values = {k: v for k, v in {**base.account.values, **changes}.items() if v is not None}
        acc = Account(base.account.id, base.account.name, base.account.file, values)
        base = evaluate(acc, base.book, as_of=as_of, lang="en", engine="reference")
    return base, context(base).service


def test_the_ladder_points_up_only_while_the_account_qualifies_for_more() -> None:
    # 金龙 serves a loss-making account at step 3: it qualifies for step 1, and is not told to climb
    advice, s = _service("jinlong-machinery")
    assert advice.classification["service_ready"].value == "commodity"
    assert s.step == 3 and s.move == "down" and s.target is not None and s.target.n == 1 and s.next is None
    assert not any(st.next for st in s.steps) and [st.n for st in s.steps if st.target] == [1]
    # 华信 at step 2 qualifies for step 3: climb one step
    _, s = _service("huaxin-steel")
    assert s.move == "up" and s.next is not None and s.next.n == 3 and s.target is not None and s.target.n == 3
    # at the step it qualifies for: hold
    _, s = _service("huaxin-steel", service_step=3)
    assert s.move == "hold" and s.next is None
    # with no margin figure the step it qualifies for is not judged: the ladder's next step, as before
    advice, s = _service("jinlong-machinery", gross_margin=None)
    assert advice.classification["service_ready"].value is None
    assert s.move == "" and s.target is None and s.next is not None and s.next.n == 4


def test_an_overlay_without_ready_keeps_the_plain_ladder(tmp_path: Path) -> None:
    book = load_rulebook(_overlay(tmp_path, SERVICE))
    assert book.playbook.service_ready == "" and book.playbook.service_ready_values == ()
