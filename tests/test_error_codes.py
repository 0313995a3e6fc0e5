"""Every stable error code a user can meet, triggered by one small bad input each: exit 2, the
code, the file:line it points at, and no traceback. (Many are also covered, by message, in the
hostile-input corpus; this table makes sure none is left without a test.)"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kamrules.cli import main

CORE = Path(__file__).parent / "data" / "core" / "core.yaml"
ACC = Path(__file__).parent / "data" / "core" / "acc.yaml"

HEAD = "rulebook: t\nfacts:\n  id: {type: string}\n  name: {type: string}\n  revenue: {type: money}\n"
RULE = ("rules:\n  - id: r1\n    concept: risk.momentum\n    source: recon\n    when: revenue > 1\n"
        "    then: {warn: {severity: low, message: {zh: 甲, en: a}}}\n")

RULEBOOK_CASES = {
    "rulebook.bad-name": HEAD + "  9lives: {type: number}\n" + RULE,
    "rulebook.reserved-name": HEAD + "  params: {type: number}\n" + RULE,
    "rulebook.fact-type": HEAD + "  x: {type: numbr}\n" + RULE,
    "rulebook.concept": HEAD + RULE.replace("risk.momentum", "Momentum!"),
    "rulebook.rule-id": HEAD + RULE.replace("id: r1", "id: 'bad id!'"),
    "rulebook.id": HEAD.replace("rulebook: t", "rulebook: 'Bad Id!'") + RULE,
    "rulebook.lang": HEAD + "lang: fr\n" + RULE,
    "rulebook.currency": HEAD + "currency: yuan\n" + RULE,
    "rulebook.requires": HEAD + "requires: {kamrules: '>=9.0'}\n" + RULE,
    "rulebook.type": HEAD + "rules: just one rule\n",
    "rulebook.missing": HEAD + RULE.replace("    when: revenue > 1\n", ""),
    "rulebook.severity": HEAD + RULE.replace("severity: low", "severity: urgent"),
    "rulebook.formula": HEAD + "metrics:\n  m: {formula: 'revenue +'}\n" + RULE,
    "rulebook.metric-type": HEAD + "metrics:\n  m: {type: date, formula: revenue}\n" + RULE,
    "rulebook.derived-type": HEAD + "derived:\n  d: {type: date}\n" + RULE,
    "rulebook.hit-policy": HEAD + "dimensions:\n  tier: {hit_policy: most, values: [a, b]}\n" + RULE,
    "rulebook.name-clash": HEAD + "metrics:\n  revenue2: {formula: revenue}\nscores:\n  revenue2: {}\n" + RULE,
    "rulebook.score": HEAD + "scores:\n  health: {}\n" + RULE.replace("then: {", "then: {score: {health: 'revenue > 1'}, "),
    "rulebook.unknown-score": HEAD + RULE.replace("then: {", "then: {score: {helth: 1}, "),
    "rulebook.unknown-dimension": HEAD + RULE.replace("then: {", "then: {classify: {teir: a}, "),
    "rulebook.unknown-value": HEAD + "dimensions:\n  tier: {values: [gold, silver]}\n"
                             + RULE.replace("then: {", "then: {classify: {tier: goldd}, "),
    "rulebook.unknown-derived": HEAD + RULE.replace("then: {", "then: {derive: {big: true}, "),
    "rulebook.value": HEAD + "derived:\n  big: {type: bool}\n" + RULE.replace("then: {", "then: {derive: {big: maybe}, "),
    "rulebook.message-test": HEAD + RULE.replace("en: a", "en: '{% if revenue is evil %}x{% endif %}'"),
    "rulebook.message-unsafe": HEAD + RULE.replace("en: a", "en: '{{ revenue.__class__ }}'"),
    "rulebook.override": f"rulebook: o\nextends: [{CORE}]\noverride:\n  gold: {{severity: high}}\n",
    "rulebook.unknown-rule": f"rulebook: o\nextends: [{CORE}]\nlock: [gld]\n",
    "rulebook.redefined": f"rulebook: o\nextends: [{CORE}]\nfacts:\n  revenue: {{type: number}}\n",
    "rulebook.param-type": f"rulebook: o\nextends: [{CORE}]\nparameters:\n  max_discount: {{type: money, value: 5}}\n",
    "rulebook.selector": HEAD + RULE.replace("    when:", "    suppresses: [tag:invest]\n    when:"),
    "rulebook.owner": HEAD + RULE.replace("severity: low", "severity: low, owner: boss"),
    "rulebook.horizon": HEAD + RULE.replace("severity: low", "severity: low, horizon: soon"),
    "rulebook.unknown-cause": HEAD + RULE.replace("severity: low", "severity: low, cause: greed"),
    "rulebook.company-owner": HEAD + RULE.replace("    when:", "    tags: [company]\n    when:"),
    "rulebook.invariant": HEAD + RULE + "invariants:\n  - {id: i, source: recon, never: [rule:r1]}\n",
    "rulebook.duplicate-invariant": f"rulebook: o\nextends: [{CORE}]\ninvariants:\n"
                                    "  - {id: i, source: recon, never: [rule:gold, rule:over]}\n"
                                    "  - {id: i, source: recon, never: [rule:gold, rule:silver]}\n",
    # plausible (the usual) must lie inside min/max (the possible); min above max is no range
    "rulebook.plausible": HEAD + "  gm: {type: percent, min: 0%, max: 100%, plausible: [-10%, 50%]}\n" + RULE,
    "rulebook.range": HEAD + "  n: {type: number, min: 5, max: 1}\n" + RULE,
    "yaml.key": HEAD + "? [a, b]\n: 1\n" + RULE,
    "yaml.merge": HEAD + "base: &b {x: 1}\nother:\n  <<: *b\n" + RULE,
}


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def assert_code(res, code: str, file: str) -> None:
    out = res.output
    assert res.exit_code == 2, out
    assert f"error[{code}]" in out, out
    assert re.search(re.escape(Path(file).name) + r"(:\d+)+: error\[", out), out
    assert "Traceback" not in out and "internal error" not in out


@pytest.mark.parametrize("code", sorted(RULEBOOK_CASES))
def test_rulebook_error_codes(code, tmp_path):
    f = tmp_path / "book.yaml"
    f.write_text(RULEBOOK_CASES[code], encoding="utf-8")
    assert_code(run("advise", str(ACC), "-r", str(f)), code, str(f))
    checked = run("check", str(f))  # check: a finding (exit 1), or unusable YAML (exit 2)
    assert checked.exit_code == (2 if code.startswith("yaml.") else 1) and f"error[{code}]" in checked.output


def test_locked(tmp_path):
    lock = tmp_path / "lock.yaml"
    lock.write_text(f"rulebook: lock\nextends: [{CORE}]\nlock: [gold]\n")
    child = tmp_path / "child.yaml"
    child.write_text(f"rulebook: child\nextends: [{lock}]\ndisable: [{{rule: gold, reason: x}}]\n")
    assert_code(run("advise", str(ACC), "-r", str(child)), "rulebook.locked", str(child))


ACCOUNT_CASES = {
    "account.duplicate-fact": "id: t\nname: T\nrevenue: 1M\n年交易额: 2M\n",
    "account.missing": "name: T\nrevenue: 1M\n",
    "account.type": "id: t\nname: T\ncontacts: {role: coach}\n",
}


@pytest.mark.parametrize("code", sorted(ACCOUNT_CASES))
def test_account_error_codes(code, tmp_path):
    f = tmp_path / "acc.yaml"
    f.write_text(ACCOUNT_CASES[code], encoding="utf-8")
    assert_code(run("advise", str(f), "-r", str(CORE)), code, str(f))


def test_list_too_long(tmp_path, monkeypatch):
    import kamrules.io.account as account

    monkeypatch.setattr(account, "MAX_LIST_ITEMS", 2)
    f = tmp_path / "acc.yaml"
    f.write_text("id: t\nname: T\ncontacts: [{role: coach}, {role: coach}, {role: coach}]\n", encoding="utf-8")
    assert_code(run("advise", str(f), "-r", str(CORE)), "account.too-long", str(f))


def test_company_profile_must_be_a_mapping(tmp_path):
    (tmp_path / "co.yaml").write_text("- 1\n- 2\n", encoding="utf-8")
    f = tmp_path / "acc.yaml"
    f.write_text("id: t\nname: T\nrevenue: 1M\ncompany: co.yaml\n", encoding="utf-8")
    assert_code(run("advise", str(f)), "account.company-file", str(f))


def test_company_profile_file_is_read(tmp_path):
    (tmp_path / "co.yaml").write_text("revenue: 300M\naverage_margin: 24%\n", encoding="utf-8")
    f = tmp_path / "acc.yaml"
    f.write_text("id: t\nname: T\nrevenue: 100M\ncompany: co.yaml\n", encoding="utf-8")
    data = json.loads(run("advise", str(f), "-f", "json", "--as-of", "2026-06-30").output)
    assert "risk.concentration" in {x["concept"] for x in data["findings"]}


def test_unreadable_file():
    res = run("advise", "/nonexistent/acc.yaml")
    assert res.exit_code == 2 and "error[file.unreadable]" in res.output and "No such file" in res.output


@pytest.mark.parametrize("args,code", [
    (["advise", str(ACC), "-r", str(CORE), "-o", "/nonexistent-dir/p.md"], "output.no-dir"),
    (["explain", str(ACC), "-r", str(CORE), "--rule", "gld"], "cli.unknown-rule"),
])
def test_cli_and_output_codes(args, code):
    res = run(*args)
    assert res.exit_code == 2 and f"error[{code}]" in res.output, res.output


def test_output_is_a_folder(tmp_path):
    res = run("advise", str(ACC), "-r", str(CORE), "-o", str(tmp_path))
    assert res.exit_code == 2 and "error[output.is-dir]" in res.output


def test_schema_kind():
    res = run("schema", "bogus")
    assert res.exit_code == 2 and "bogus" in res.output


def test_unique_hit_policy_overlap_is_a_finding(tmp_path):
    # lint relates two rules only through a term both constrain (it stays quiet rather than wrong):
    # revenue and revenue * 2 are different terms, so this overlap is found when both rules fire,
    # as a 'rulebook.conflict' finding at run time
    f = tmp_path / "u.yaml"
    f.write_text(HEAD + "dimensions:\n  tier: {hit_policy: unique, values: [gold, silver]}\nrules:\n"
                 "  - {id: a, concept: standard.pyramid, source: recon, when: revenue > 1, then: {classify: {tier: gold}}}\n"
                 "  - {id: b, concept: standard.pyramid, source: recon, when: revenue * 2 > 4, then: {classify: {tier: silver}}}\n",
                 encoding="utf-8")
    acc = tmp_path / "a.yaml"
    acc.write_text("id: t\nname: T\nrevenue: 5\n", encoding="utf-8")
    data = json.loads(run("advise", str(acc), "-r", str(f), "-f", "json").output)
    conflict = [x for x in data["findings"] if x["concept"] == "rulebook.conflict"]
    assert conflict and conflict[0]["severity"] == "high" and "a → gold" in conflict[0]["message"]


def test_an_overlap_check_proves_is_refused_by_advise_too(tmp_path):
    """One answer: what `check` calls an error (a proven overlap in a unique dimension), `advise`
    refuses with the same problem, instead of a playbook with a conflict in it."""
    f = tmp_path / "u.yaml"
    f.write_text(HEAD + "dimensions:\n  tier: {hit_policy: unique, values: [gold, silver]}\nrules:\n"
                 "  - {id: a, concept: standard.pyramid, source: recon, when: revenue > 1, then: {classify: {tier: gold}}}\n"
                 "  - {id: b, concept: standard.pyramid, source: recon, when: revenue > 2, then: {classify: {tier: silver}}}\n",
                 encoding="utf-8")
    acc = tmp_path / "a.yaml"
    acc.write_text("id: t\nname: T\nrevenue: 5\n", encoding="utf-8")
    checked = run("check", str(f))
    assert checked.exit_code == 1 and "error[lint.unique-overlap]" in checked.output, checked.output
    assert_code(run("advise", str(acc), "-r", str(f), "-f", "json"), "lint.unique-overlap", str(f))
