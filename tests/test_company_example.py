"""The worked company overlay in examples/company/minghua: it checks, its tests pass, and its
template override, disabled rule and added rule show in the playbook."""
from __future__ import annotations

import json

from click.testing import CliRunner

from kamrules.cli import main

BOOK = "examples/company/minghua/minghua.yaml"
ACC = "examples/company/minghua/accounts/dongfang-pipe.yaml"


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_overlay_checks_clean_and_its_tests_pass():
    assert run("check", BOOK, "--strict").exit_code == 0
    r = run("test", "examples/company/minghua")
    # its 4 rule tests, and the 15 invariants it inherits from the course, each a case of its own
    assert r.exit_code == 0 and "19 passed, 0 failed" in r.output


def test_playbook_carries_the_company_changes():
    for lang, footer in (("zh", "销售运营部 王芳"), ("en", "Sales Operations, Wang Fang")):
        md = run("advise", ACC, "-r", BOOK, "--as-of", "2026-06-30", "--lang", lang).output
        assert footer in md
        assert "tender-price-war" in md and "明华不参加公开招标" in md
    data = json.loads(run("advise", ACC, "-r", BOOK, "--as-of", "2026-06-30", "-f", "json").output)
    assert data["rulebook"]["id"] == "minghua"
    assert data["classification"]["by_standard"]["single_indicator"] == "key"
    rules = {f["rule"]: f for f in data["findings"]}
    assert rules["minghua-distributor-double-discount"]["source"] == "company:明华 channel policy"
    assert "tender-price-war" not in rules
    assert data["disabled"][0]["rule"] == "tender-price-war"


def test_the_same_account_on_the_plain_course_differs():
    from pathlib import Path

    text = "".join(line for line in Path(ACC).read_text(encoding="utf-8").splitlines(keepends=True)
                   if not line.startswith("via_distributor"))  # the course does not declare it
    r = CliRunner().invoke(main, ["advise", "-", "--as-of", "2026-06-30", "-f", "json"], input=text)
    data = json.loads(r.output)
    assert data["classification"]["by_standard"]["single_indicator"] == "medium"
