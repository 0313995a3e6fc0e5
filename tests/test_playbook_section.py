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
