"""kamrules check / lint: every finding has a bad rulebook that triggers it and a good one that does not.

The data lives in tests/data/lint/<case>.bad.yaml and <case>.good.yaml; each extends base.yaml.
The constraint algebra the passes read conditions with (and its soundness against the
reference evaluator) is tested in test_algebra.py.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from kamrules.authoring import check
from kamrules.authoring.check import check_rulebook

DATA = Path(__file__).parent / "data" / "lint"


def run(name: str) -> check.CheckResult:
    return check_rulebook(str(DATA / name))


def codes(result: check.CheckResult) -> list[str]:
    return [p.code for p in result.problems]


# (case, [(code, severity, substring of the message), ...]) — every finding the bad file must give
CASES = {
    "duplicate-rule": [("rulebook.duplicate-rule", "error", "rule id 'big' is used twice")],
    "undeclared": [("rulebook.condition", "error", "unknown name 'discount_rat'"),
                   ("rulebook.condition", "error", "unknown parameter 'max_discont'")],
    "never-fires": [("lint.never-fires", "error", "revenue > 10M and revenue < 5M cannot both hold")],
    "never-fires-const": [
        ("lint.never-fires", "error", "params.max_discount (15%) > 20% is always false"),
        ("lint.never-fires", "error", "'switched-off' can never fire: its condition is the constant false"),
        ("lint.never-fires", "error", "discount_rate is declared within [0%, 100%] and discount_rate > 150%"),
        ("lint.never-fires", "error", "missing(revenue) and revenue > 1M cannot both hold"),
        ("lint.never-fires", "error", "strategic_fit == high and strategic_fit == low cannot both hold"),
        ("lint.never-fires", "error", "service_step > 2 and service_step < 3 cannot both hold"),
    ],
    "redundant": [
        ("lint.redundant-rule", "warning", "rule 'very-big' has a condition that implies the one of rule 'big'"),
        ("lint.redundant-rule", "warning", "rule 'big-again' has the same condition as rule 'big'"),
    ],
    "shadowed": [
        ("lint.shadowed-rule", "warning", "rule 'keep-large' classifies focus = keep, but whenever it fires rule "
                                          "'grow-mid'"),
        ("lint.shadowed-rule", "warning", "(priority hit policy: 'gold' is listed before 'silver')"),
    ],
    "unique-overlap": [("lint.unique-overlap", "error", "rules 'small' and 'large' both classify size (hit policy "
                                                         "unique) and can match the same account: revenue in (5M, 10M)")],
    "band-gap": [
        ("lint.band-gap", "warning", "no rule covers revenue in [5M, 10M) (between 'small': revenue in [0, 5M) and "
                                     "'large': revenue >= 10M)"),
        ("lint.band-gap", "warning", "no rule covers discount_rate = 10%"),
    ],
    "cycle": [("rulebook.metric-cycle", "error", "a_metric → b_metric → a_metric"),
              ("rulebook.rule-cycle", "error", "big-from-vip → vip-from-big → big-from-vip")],
    "message-lang": [
        ("lint.message-lang", "warning", "rule 'zh-only': the warn message has no English (en) text"),
        ("lint.message-lang", "warning", "rule 'zh-only': the warn remedy has no Chinese (zh) text"),
        ("lint.message-lang", "warning", "rule 'one-text': the recommend message is one text for both languages"),
    ],
    "param-source": [("lint.param-no-source", "warning", "parameter 'big_order' has no source")],
    "template": [
        ("lint.template-var", "error", "the template uses 'acount', which is not in the playbook context"),
        ("lint.template-var", "error", "the template uses 'company_name'"),
        ("lint.template-filter", "error", "unknown filter 'shout'"),
        ("lint.template-syntax", "error", "template error: unexpected '}'"),
    ],
    "invariant": [
        ("lint.invariant", "error", "invariant 'small-never-gold' is broken: rules 'small' and 'gold' can both stand, "
                                    "e.g. where revenue in [5M, 10M)"),
        ("lint.invariant", "error", "rule 'push' can stand while 'strategic_fit == high' does not hold, e.g. where "
                                    "strategic_fit == medium and revenue >= 20M"),
        ("lint.invariant-possible", "warning", "rules 'loss' and 'push' may both stand where margin < 0 and "
                                               "strategic_fit in [high, medium] and revenue >= 20M (not proved"),
    ],
    "engine-limit": [("lint.engine-limit", "error", "rule 'many-bands' compiles to 34 comparisons; durable_rules "
                                                    "allows 32 per pattern")],
}


def test_the_shared_base_is_clean() -> None:
    assert run("base.yaml").problems == ()


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_rulebook_triggers_each_finding(case: str) -> None:
    result = run(f"{case}.bad.yaml")
    assert not result.unusable
    for code, severity, text in CASES[case]:
        hits = [p for p in result.problems if p.code == code and text in p.message]
        assert hits, f"{case}: no {code} with {text!r} in\n" + "\n".join(p.render() for p in result.problems)
        assert all(p.severity == severity for p in hits)
        assert all(p.location.line > 0 and p.hint for p in hits), [p.render() for p in hits]
    expected = sorted(code for code, _, _ in CASES[case])
    assert sorted(codes(result)) == expected, "\n".join(p.render() for p in result.problems)


@pytest.mark.parametrize("case", sorted(CASES))
def test_good_rulebook_is_clean(case: str) -> None:
    result = run(f"{case}.good.yaml")
    assert result.problems == (), "\n".join(p.render() for p in result.problems)
    assert not result.failed(strict=True)


def test_locations_point_at_the_condition_and_problems_are_sorted() -> None:
    result = run("never-fires-const.bad.yaml")
    lines = [p.location.line for p in result.problems]
    assert lines == sorted(lines)
    first = result.problems[0]
    assert (first.location.line, first.location.col) == (7, 11)  # the `when:` value
    assert first.path == "rules[ceiling-above-twenty].when"


def test_template_findings_name_file_and_line_with_a_suggestion() -> None:
    result = run("template.bad.yaml")
    var = next(p for p in result.problems if "acount" in p.message)
    assert var.location.file.endswith("templates-bad/playbook.md.j2") and var.location.line == 3
    assert var.hint == "did you mean 'account'?"
    syntax = next(p for p in result.problems if p.code == "lint.template-syntax")
    assert syntax.location.file.endswith("playbook.html.j2") and syntax.location.line == 1


def test_strict_decides_whether_warnings_fail() -> None:
    result = run("message-lang.bad.yaml")
    assert result.errors == 0 and result.warnings == 3
    assert not result.failed(strict=False)
    assert result.failed(strict=True)


def test_broken_rules_are_not_linted_again() -> None:
    # a rule whose condition does not load must not also be reported as 'never fires'
    result = run("undeclared.bad.yaml")
    assert "lint.never-fires" not in codes(result)


@pytest.mark.parametrize("name, code", [("broken.yaml", "yaml.syntax"), ("no-such-file.yaml", "rulebook.not-found")])
def test_unreadable_input_is_unusable(name: str, code: str) -> None:
    result = run(name)
    assert result.unusable
    assert codes(result) == [code]


def test_findings_of_a_builtin_base_are_hidden_but_those_an_overlay_causes_are_not(monkeypatch) -> None:
    # load.read_chain opens built-ins by their display name (rules/…), so run from DATA
    monkeypatch.chdir(DATA)
    monkeypatch.setattr("kamrules.core.resources.rules_dir", lambda: DATA / "rules")
    check._builtin_problems.cache_clear()
    try:
        base = check_rulebook("flawed")
        assert [p.code for p in base.problems] == ["lint.message-lang"]
        result = run("overlay-on-builtin.yaml")
    finally:
        check._builtin_problems.cache_clear()
    assert result.hidden == 1
    assert [p.code for p in result.problems] == ["lint.never-fires"]
    assert "params.floor (5M)" in result.problems[0].message and "params.ceiling (4M)" in result.problems[0].message


def test_the_builtin_course_loads_and_lints_without_errors() -> None:
    result = check_rulebook("course")
    assert not result.unusable
    assert result.errors == 0, "\n".join(p.render() for p in result.problems)
