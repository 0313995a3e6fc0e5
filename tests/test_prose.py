"""Enum codes never reach prose (issue 11): every example and generated accounts rendered in
Chinese, with no English enum code ('medium', 'revenue_only' …) left in a sentence; and
percentage points are printed as points, not as percent."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings

from kamrules.advice.render import render
from kamrules.authoring import generate
from kamrules.core.values import format_points
from kamrules.io.account import load_account
from kamrules.language.messages import make_env
from kamrules.pipeline import evaluate
from kamrules.rulebook.load import load_rulebook
from kamrules.rulebook.model import Account, Rulebook

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "accounts").glob("*.yaml"))


def enum_codes(book: Rulebook) -> set[str]:
    codes: set[str] = set()
    for table in (book.facts, book.dimensions, book.derived):
        for d in table.values():
            codes |= {v for v, _ in d.values}
    for f in book.facts.values():
        for i in f.items:
            codes |= {v for v, _ in i.values}
    return codes


def codes_in_prose(markdown: str, codes: set[str]) -> list[str]:
    """The enum codes in the text a reader reads: code spans (rule ids, fact keys) and HTML tags
    are not prose; a code is a whole ASCII word there."""
    text = re.sub(r"`[^`\n]*`", "", markdown)
    text = re.sub(r"<[^>\n]*>", "", text)
    pat = re.compile(r"(?<![A-Za-z0-9_.\-/])(" + "|".join(sorted(map(re.escape, codes), key=len, reverse=True))
                     + r")(?![A-Za-z0-9_\-])")
    return [f"{m.group(1)} in: {line.strip()[:120]}" for line in text.splitlines() for m in pat.finditer(line)]


def test_the_check_finds_a_code_in_a_sentence() -> None:
    assert codes_in_prose("它今天是medium，但 `medium-rule` 不算", {"medium"}) == ["medium in: 它今天是medium，但  不算"]
    assert codes_in_prose("<a href=\"#medium\">中客户</a>", {"medium"}) == []  # attributes are not prose


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_no_enum_code_in_a_chinese_playbook_of_an_example(path: Path) -> None:
    book = load_rulebook("course")
    md = render(evaluate(load_account(str(path), book), book, lang="zh", engine="reference"), "md")
    assert codes_in_prose(md, enum_codes(book)) == []


def test_no_enum_code_in_chinese_playbooks_of_generated_accounts() -> None:
    book = load_rulebook("course")
    codes = enum_codes(book)
    found: list[str] = []

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(generate.accounts(book))
    def check(account: Account) -> None:
        md = render(evaluate(account, book, lang="zh", engine="reference"), "md")
        found.extend(codes_in_prose(md, codes))

    check()
    assert sorted(set(found)) == []


def test_label_takes_the_name_it_reads_from() -> None:
    labels = {"final": {"medium": {"zh": "中客户", "en": "Medium account"}},
              "price": {"medium": {"zh": "中", "en": "medium"}},
              "role": {"coach": {"zh": "内线", "en": "Coach"}},
              "team.incentives": {"revenue_only": {"zh": "只考核收入", "en": "Revenue only"}}}
    env = make_env("zh", labels)
    text = env.from_string("{{ final|label }}/{{ price|label }}/{{ team.incentives|label }}/"
                           "{% for c in cs %}{{ c.role|label }}{% endfor %}/{{ final|label('price') }}")
    assert text.render(final="medium", price="medium", team={"incentives": "revenue_only"},
                       cs=[{"role": "coach"}]) == "中客户/中/只考核收入/内线/中"


def test_percentage_points() -> None:
    assert format_points(0.07, "zh") == "7 个百分点" and format_points(0.07, "en") == "7 pp"
    assert format_points(-0.025, "en") == "-2.5 pp"
    assert make_env("zh").from_string("{{ x|pp }}").render(x=0.02) == "2 个百分点"
    assert make_env("en").from_string("{{ x|pp }}").render(x=None) == "—"


def test_a_pp_unit_shows_points_in_evidence_explain_and_the_playbook(tmp_path: Path) -> None:
    from kamrules.advice import explain as ex
    from kamrules.pipeline import advise

    book = tmp_path / "pp.yaml"
    book.write_text(f"""rulebook: pp
extends: [{ROOT / 'tests' / 'data' / 'core' / 'core.yaml'}]
facts:
  discount_rate_last_year: {{type: percent, min: 0, max: 100%, label: {{zh: 上年折扣率, en: Last year's discount}}}}
metrics:
  discount_change: {{type: percent, unit: pp, formula: discount_rate - discount_rate_last_year,
                    label: {{zh: 折扣率同比变化, en: Discount change}}}}
parameters:
  max_increase: {{type: percent, unit: pp, value: 2%, source: recon, label: {{zh: 折扣年增幅上限, en: Max increase}}}}
rules:
  - id: creeping
    concept: misconception.over_concession
    source: recon
    when: discount_change > params.max_increase
    then:
      warn: {{severity: high, message: {{zh: "多让了 {{{{ discount_change|pp }}}}", en: "{{{{ discount_change|pp }}}} more"}}}}
""", encoding="utf-8")
    acc = tmp_path / "acc.yaml"
    acc.write_text("id: a\nname: 甲\nrevenue: 12M\ndiscount_rate: 22%\ndiscount_rate_last_year: 15%\n", encoding="utf-8")
    zh = advise(str(acc), str(book), lang="zh", engine="reference")
    md = render(zh, "md")
    assert "多让了 7 个百分点" in md
    assert "折扣率同比变化 7 个百分点，高于折扣年增幅上限（2 个百分点）" in md, md
    assert "7%" not in md.split("多让了")[1].split("\n")[0]
    en = advise(str(acc), str(book), lang="en", engine="reference")
    assert "7 pp more" in render(en, "md")
    lines = "\n".join(ex.pretty_lines(ex.explain(en, rules=["creeping"])))
    assert "7 pp" in lines and "2 pp" in lines, lines
