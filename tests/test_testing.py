"""`kamrules test`: the rule-test format, PASS/FAIL/ERROR, engine divergence, coverage, exit codes."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from kamrules import pipeline
from kamrules.authoring.ruletests import reader, runner
from kamrules.authoring.ruletests.report import pretty
from kamrules.cli import main
from kamrules.engine.backends import ReferenceBackend, pick_backend
from kamrules.engine.matches import Match

DATA = Path(__file__).parent / "data" / "ruletests"
REL = "tests/data/ruletests"  # how paths print: the tests run from the repository root
PASSING = f"{REL}/shop.test.yaml"
FAILING = f"{REL}/bad/failing.yaml"
ERRORING = f"{REL}/bad/erroring.yaml"
BROKEN = f"{REL}/bad/broken.yaml"


def cli(*args: str):
    return CliRunner().invoke(main, ["test", *args], catch_exceptions=False)


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A copy of the fixture rulebook in a scratch folder, for test files written by a test."""
    shutil.copy(DATA / "shop.yaml", tmp_path / "shop.yaml")
    shutil.copytree(DATA / "accounts", tmp_path / "accounts")
    return tmp_path


HEAD = "rulebook: shop.yaml\nas_of: 2026-06-30\nbase: {id: t, name: 测试客户}\n"


# ----------------------------------------------------------------------------- pass / fail / error

def test_passing_file():
    r = cli(PASSING)
    assert r.exit_code == 0, r.output
    assert f"PASS  {PASSING}:8  a big account with a deep discount is gold and over-conceded" in r.output
    assert f"PASS  {PASSING}:17  given overrides the account file" in r.output
    assert "4 cases: 4 passed, 0 failed, 0 errors" in r.output


def test_failing_case_shows_expected_actual_and_explanation():
    r = cli(FAILING)
    assert r.exit_code == 1, r.output
    out = r.output
    assert f"PASS  {FAILING}:7  passes" in out
    assert f"FAIL  {FAILING}:11  a mid-sized account is wrongly expected to be gold" in out
    for line in ("classification.tier: expected gold, got silver",
                 "fires: over did not fire",
                 "not_fires: silver fired",
                 "concepts: no finding for misconception.volume_not_profit",
                 "scores.health: expected [40, 60], got 20 (silver +20)"):
        assert f"      {line}\n" in out
    explanation = out[out.index("explanation:"):]
    assert "✗ gold — did not fire: 1 condition away\n            would fire if revenue >= 10M: it is 5M" in explanation
    assert "would fire if discount_rate > 15% (params.max_discount): it is 12%" in explanation
    assert "needs gross_margin to decide gross_margin < 10% (params.min_margin)" in explanation
    assert "2 cases: 1 passed, 1 failed, 0 errors" in out


def test_case_with_bad_facts_is_an_error_with_file_line_and_hint():
    r = cli(ERRORING)
    assert r.exit_code == 2, r.output
    out = r.output
    assert f"PASS  {ERRORING}:6  passes" in out
    assert f"ERROR {ERRORING}:10  a percent written as a bare number" in out
    # the same validation as `advise`, pointing at the value inside the test file
    assert f"{ERRORING}:13:22: error[account.range] at discount_rate" in out
    assert "hint: a bare number is a fraction: did you mean 22%?" in out
    assert f"{ERRORING}:17:17: error[test.given-file]" in out
    assert "cannot find the account file '../accounts/nowhere.yaml'" in out
    assert "3 cases: 1 passed, 0 failed, 2 errors" in out


def test_malformed_file_lists_every_mistake_with_line_and_suggestion():
    r = cli(BROKEN)
    assert r.exit_code == 2, r.output
    out = r.output
    assert f"ERROR {BROKEN}: the test file cannot be used" in out
    expected = [
        (f"{BROKEN}:9:15: error[test.unknown-rule]", "the rulebook 'shop' has no rule 'overr'", "did you mean 'over'?"),
        (f"{BROKEN}:10:24: error[test.unknown-dimension]", "no dimension 'teir'", "did you mean 'tier'?"),
        (f"{BROKEN}:11:16: error[test.unknown-score]", "no score 'helth'", "did you mean 'health'?"),
        (f"{BROKEN}:12:18: error[test.unknown-concept]", "'misconception.over_concesion'",
         "did you mean 'misconception.over_concession'?"),
        (f"{BROKEN}:15:5: error[test.unknown-key]", "unknown key 'expectt' in a case", "did you mean 'expect'?"),
        (f"{BROKEN}:17:30: error[test.unknown-value]", "'golden' is not a value of the dimension 'tier'",
         "did you mean 'gold'?"),
    ]
    for where, message, hint in expected:
        block = out[out.index(where):]
        first_lines = "\n".join(block.splitlines()[:3])
        assert message in first_lines and hint in first_lines, first_lines


def test_unknown_key_in_given_is_reported_in_the_test_file(shop):
    f = write(shop / "t.test.yaml", HEAD + "cases:\n  - name: typo\n    given: {revenu: 12M}\n"
                                           "    expect: {fires: [gold]}\n")
    r = cli(f)
    assert r.exit_code == 2
    assert f"{f}:6:13: error[account.unknown-key] at revenu: unknown key 'revenu'" in r.output
    assert "did you mean 'revenue'?" in r.output


def test_bad_value_in_given_file_points_into_the_account_file(shop):
    write(shop / "accounts" / "bad.yaml", "id: b\nname: B\nrevenue: lots\n")
    f = write(shop / "t.test.yaml", HEAD + "cases:\n  - name: bad account\n    given_file: accounts/bad.yaml\n"
                                           "    expect: {fires: [gold]}\n")
    r = cli(f)
    assert r.exit_code == 2
    assert f"{shop / 'accounts' / 'bad.yaml'}:3:10: error[account.value] at revenue" in r.output


def test_bad_value_in_base_points_at_base(shop):
    f = write(shop / "t.test.yaml", "rulebook: shop.yaml\nbase:\n  id: t\n  name: T\n  discount_rate: much\n"
                                    "cases:\n  - given: {revenue: 12M}\n    expect: {fires: [gold]}\n")
    r = cli(f)
    assert f"{f}:5:18: error[account.value] at discount_rate" in r.output


def test_missing_required_fact_points_at_the_case(shop):
    f = write(shop / "t.test.yaml", "rulebook: shop.yaml\ncases:\n  - name: no id\n    given: {revenue: 12M}\n"
                                    "    expect: {fires: [gold]}\n")
    r = cli(f)
    assert r.exit_code == 2
    assert f"{f}:3:5: error[account.missing] at id" in r.output


def test_given_overrides_given_file_and_null_removes_a_fact(shop):
    f = write(shop / "t.test.yaml", HEAD + "cases:\n"
              "  - name: null removes\n    given_file: accounts/big.yaml\n    given: {last_visit: null, revenue: 5M}\n"
              "    expect: {not_fires: [stale, gold], fires: [silver], classification: {tier: silver}}\n")
    r = cli(f)
    assert r.exit_code == 0, r.output


def test_rulebook_defaults_to_the_sibling_file(shop):
    f = write(shop / "shop.test.yaml", "cases:\n  - given: {id: t, name: T, revenue: 12M}\n"
                                       "    expect: {fires: [gold]}\n")
    r = cli(f)
    assert r.exit_code == 0, r.output
    assert f"PASS  {f}:2  case 1" in r.output


def test_structure_problems(shop):
    f = write(shop / "odd.test.yaml", "as_of: someday\ncases:\n"
              "  - name: same\n    given: {revenue: 1M}\n    expect: {fires: [gold], not_fires: [gold]}\n"
              "  - name: same\n    given: {revenue: 1M}\n"
              "  - name: bad range\n    expect: {scores: {health: [60, 40]}}\n")
    r = cli(f)
    assert r.exit_code == 2
    out = r.output
    assert f"{f}:1:1: error[test.rulebook]" in out and "does not say which rulebook" in out
    assert f"{f}:1:8: error[test.value] at as_of: 'someday' is not a date" in out
    # without the rulebook, names cannot be checked; the structure still is
    assert f"{f}:6:5: error[test.duplicate-case] at cases[1].name: two cases are named 'same'" in out
    assert f"{f}:6:5: error[test.no-expectations]" in out


def test_conflicting_and_empty_score_expectations(shop):
    f = write(shop / "odd.test.yaml", HEAD + "cases:\n"
              "  - name: both\n    expect: {fires: [gold], not_fires: [gold]}\n"
              "  - name: bad range\n    expect: {scores: {health: [60, 40]}}\n")
    out = cli(f).output
    assert "rule 'gold' is expected both to fire and not to fire" in out
    assert "score 'health': the range [60, 40] is empty" in out and "hint: write [40, 60]" in out


def test_a_rulebook_that_does_not_load_is_reported_with_its_own_problems(shop):
    write(shop / "broken.yaml", "rulebook: broken\nversion: 1\nrules:\n  - id: x\n    when: revenu > 1\n")
    f = write(shop / "t.test.yaml", "rulebook: broken.yaml\ncases:\n  - expect: {fires: [x]}\n")
    r = cli(f)
    assert r.exit_code == 2
    assert f"{f}:1:11: error[test.rulebook] at rulebook: the rulebook 'broken.yaml' does not load" in r.output
    assert "broken.yaml:4:5: error[rulebook.source] at rules[0]: rule 'x' needs a source" in r.output


def test_a_missing_rulebook_is_suggested(shop):
    f = write(shop / "t.test.yaml", "rulebook: shop.yml\ncases:\n  - expect: {fires: [x]}\n")
    out = cli(f).output
    assert "cannot find the rulebook 'shop.yml'" in out and "paths are relative to the test file" in out


# ----------------------------------------------------------------------------- discovery, exit codes

def test_discovery_finds_test_files_in_folders_and_skips_hidden_ones(shop):
    case = "cases:\n  - given: {id: t, name: T, revenue: 12M}\n    expect: {fires: [gold]}\n"
    a = write(shop / "a" / "x.test.yaml", "rulebook: ../shop.yaml\n" + case)
    write(shop / ".hidden" / "y.test.yaml", "rulebook: ../shop.yaml\n" + case.replace("gold]", "silver]"))
    write(shop / "a" / "not-a-test.yaml", "junk: [")
    assert reader.discover([str(shop)]) == [a]
    r = cli(str(shop))
    assert r.exit_code == 0, r.output


def test_no_tests_found_is_exit_2(tmp_path):
    r = cli(str(tmp_path))
    assert r.exit_code == 2
    assert "no rule tests (*.test.yaml) under" in r.stderr


def test_a_path_that_does_not_exist_is_exit_2(tmp_path):
    r = cli(str(tmp_path / "nowhere"))
    assert r.exit_code == 2
    assert "no such file or folder" in r.stderr


def test_exit_code_is_the_worst_outcome():
    assert cli(PASSING, FAILING).exit_code == 1
    assert cli(PASSING, FAILING, ERRORING).exit_code == 2


def test_json_report():
    r = cli(FAILING, "-f", "json")
    assert r.exit_code == 1
    data = json.loads(r.output)
    assert data["summary"] == {"cases": 2, "passed": 1, "failed": 1, "errors": 0, "file_errors": 0}
    case = data["files"][0]["cases"][1]
    assert (case["status"], case["line"]) == ("FAIL", 11)
    assert {"check": "fires", "expected": "over fires", "actual": "it did not fire",
            "message": "fires: over did not fire", "rules": ["over"]} in case["failures"]
    assert [e["rule"] for e in case["explain"]][:2] == ["silver", "gold"]
    assert data["exit_code"] == 1


def test_help_has_an_example():
    r = CliRunner().invoke(main, ["test", "--help"])
    assert any(line.strip().startswith("kamrules test") for line in r.output.splitlines())


# ----------------------------------------------------------------------------- coverage

def test_coverage_numbers():
    report = runner.run([PASSING])
    cov = report.coverage.as_dict()
    assert cov["rules"] == {"covered": 6, "total": 7, "percent": 85.7}
    book = cov["rulebooks"][0]
    assert [x["rule"] for x in book["rules"]["never_fired"]] == ["nocoach"]
    assert book["dimension_values"]["never_produced"] == [{"dimension": "tier", "value": "bronze"}]
    assert cov["dimension_values"] == {"covered": 2, "total": 3, "percent": 66.7}
    not_both = {(x["rule"], x["condition"]): x["seen"] for x in book["conditions"]["not_both"]}
    assert not_both == {
        ("listed-ref", "listed == true"): ["true", "unknown"],
        ("nocoach", "coaches == 0"): ["false", "unknown"],
        ("stale", "days_since(last_visit) > 60"): ["true", "unknown"],
        ("thin-margin", "tier in [gold, silver]"): ["true", "unknown"],
    }
    assert cov["conditions"] == {"covered": 7, "total": 11, "percent": 63.6}


def test_coverage_in_the_pretty_report():
    r = cli(PASSING, "--coverage")
    assert r.exit_code == 0
    assert "rules fired in some test: 6/7 (85.7%)" in r.output
    assert f"never fired: nocoach ({REL}/shop.yaml:" in r.output
    assert "nocoach: coaches == 0 (seen: false, unknown)" in r.output
    assert "tier: never bronze" in r.output


def test_min_coverage():
    ok = cli(PASSING, "--min-coverage", "85")
    assert ok.exit_code == 0
    assert "rule coverage 85.7% (minimum 85%): ok" in ok.output
    low = cli(PASSING, "--min-coverage", "90")
    assert low.exit_code == 1
    assert "rule coverage 85.7% (minimum 90%): FAIL" in low.output


def test_a_rule_shared_by_two_rulebooks_is_counted_once(shop):
    # an overlay's tests cover the base rule they fire: coverage counts rules where they are defined
    write(shop / "overlay.yaml", "rulebook: overlay\nversion: 1\nextends: [shop.yaml]\n"
                                 "parameters:\n  max_discount: {value: 10%, source: 'company:test'}\n")
    case = "base: {id: t, name: T}\ncases:\n  - given: {revenue: 5M}\n    expect: {fires: [silver]}\n"
    write(shop / "one.test.yaml", "rulebook: shop.yaml\n" + case)
    write(shop / "two.test.yaml", "rulebook: overlay.yaml\n" + case)
    cov = runner.run([str(shop)]).coverage.as_dict()
    assert len(cov["rulebooks"]) == 2
    assert cov["rules"] == {"covered": 1, "total": 7, "percent": 14.3}


# ----------------------------------------------------------------------------- both engines

def _two_engines(monkeypatch: pytest.MonkeyPatch, tamper) -> None:
    """Run every case on 'reference' and on a 'durable' slot whose matches `tamper` changes.
    The slot wraps the real durable backend where it imports, else the reference one, so the
    runner's comparison is tested on every Python."""
    real = pick_backend("auto")

    class Tampered:
        name = "durable"

        def run(self, prog, facts, after_stratum, *, with_bindings=True):
            return tamper(real.run(prog, facts, after_stratum, with_bindings=with_bindings))

    monkeypatch.setattr(pipeline, "pick_backend", lambda name="auto": Tampered() if name == "durable"
                        else ReferenceBackend())
    monkeypatch.setattr(runner, "engine_names", lambda: ("reference", "durable"))


def test_a_dropped_match_on_one_engine_fails_the_case(monkeypatch):
    _two_engines(monkeypatch, lambda ms: [m for m in ms if m.rule != "over"])
    r = cli(PASSING)
    assert r.exit_code == 1, r.output
    assert f"FAIL  {PASSING}:8  a big account with a deep discount is gold and over-conceded" in r.output
    assert "the engines disagree: over fired on reference but not on durable" in r.output
    # cases where 'over' does not fire still pass
    assert f"PASS  {PASSING}:25  a mid-sized account is silver" in r.output


def test_different_bindings_on_one_engine_fail_the_case(monkeypatch):
    def shift(ms: list[Match]) -> list[Match]:
        return [replace(m, bindings=tuple((k, v + 1 if isinstance(v, float) else v) for k, v in m.bindings or ()))
                if m.rule == "gold" else m for m in ms]

    _two_engines(monkeypatch, shift)
    r = cli(PASSING)
    assert r.exit_code == 1
    assert "the engines disagree on what gold matched: reference: {'revenue': 12000000.0}; " \
           "durable: {'revenue': 12000001.0}" in r.output


def test_the_real_engines_agree_on_the_fixture():
    report = runner.run([PASSING])
    assert report.engines == runner.engine_names()
    assert [c.status for c in report.cases] == ["PASS"] * 4


def test_the_course_rule_tests_pass_on_every_engine():
    from kamrules.core.resources import rules_dir

    report = runner.run([str(rules_dir() / "course")], coverage=False)  # coverage has tests of its own
    assert report.cases
    assert report.exit_code() == 0, pretty(report)


def test_expecting_a_disabled_rule_to_fire_is_an_error(shop):
    write(shop / "overlay.yaml", "rulebook: acme\nversion: 1\nextends: [shop.yaml]\n"
                                 "disable:\n  - {rule: stale, reason: we visit weekly}\n")
    f = write(shop / "t.test.yaml", "rulebook: overlay.yaml\nbase: {id: t, name: T}\ncases:\n"
                                    "  - given: {revenue: 12M}\n    expect: {fires: [stale], not_fires: [stale]}\n")
    r = cli(f)
    assert r.exit_code == 2
    assert f"{f}:5:22: error[test.disabled-rule] at cases[0].expect.fires[0]: rule 'stale' is disabled by acme " \
           "(we visit weekly), so it can never fire" in r.output
    # expecting it not to fire is true and allowed
    assert "not_fires[0]" not in r.output
