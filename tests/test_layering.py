"""Company overlays on a base rulebook: parameters, disable, override, lock, replace, templates."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from kamrules.cli import main
from kamrules.core.errors import RulebookError
from kamrules.rulebook.load import load_rulebook

DATA = Path(__file__).parent / "data"
CORE = DATA / "core" / "core.yaml"
ACC = str(DATA / "core" / "acc.yaml")


def overlay(tmp_path: Path, body: str, name: str = "o.yaml") -> str:
    f = tmp_path / name
    f.write_text(f"rulebook: {Path(name).stem}\nextends: [{CORE}]\n" + body, encoding="utf-8")
    return str(f)


def problems(path: str) -> str:
    with pytest.raises(RulebookError) as e:
        load_rulebook(path)
    return e.value.render()


def test_the_worked_overlay():
    book = load_rulebook(str(DATA / "core" / "overlay.yaml"))
    assert book.params["max_discount"].value == 0.12
    assert book.params["max_discount"].source == "company:ACME pricing 2026"
    assert book.params["max_discount"].label.en == "Discount ceiling"  # merged, not reset to a default
    assert book.rule("nocoach") is None
    assert [(d.rule, d.reason) for d in book.disabled] == [("nocoach", "We sell through distributors; coaches are theirs")]
    over = book.rule("over")
    assert over.warn.severity == "critical" and over.changed_by == ("acme",)
    assert over.warn.remedy.en == "Tie it to volume"  # untouched parts stay
    assert book.rule("gold").locked
    assert book.rule("acme-small-deal").origin.rulebook == "acme"
    assert book.chain == ("core", "acme")


def test_disabled_rules_and_digest_show_in_outputs():
    r = CliRunner().invoke(main, ["advise", ACC, "-r", str(DATA / "core" / "overlay.yaml"), "-f", "json"])
    data = json.loads(r.output)
    assert data["disabled"] == [{"rule": "nocoach", "reason": "We sell through distributors; coaches are theirs",
                                 "by": "acme"}]
    assert data["rulebook"]["id"] == "acme"
    base = json.loads(CliRunner().invoke(main, ["advise", ACC, "-r", str(CORE), "-f", "json"]).output)
    assert base["rulebook"]["digest"] != data["rulebook"]["digest"]
    md = CliRunner().invoke(main, ["advise", ACC, "-r", str(DATA / "core" / "overlay.yaml")]).output
    assert "We sell through distributors" in md


def test_an_empty_overlay_changes_nothing(tmp_path):
    base = load_rulebook(str(CORE))
    same = load_rulebook(overlay(tmp_path, ""))
    assert same.digest == base.digest


def test_overlay_order(tmp_path):
    first = overlay(tmp_path, "parameters: {max_discount: {value: 10%, source: recon}}\n", "first.yaml")
    second = tmp_path / "second.yaml"
    second.write_text(f"rulebook: second\nextends: [{first}]\nparameters: {{max_discount: 8%}}\n")
    book = load_rulebook(str(second))
    assert book.params["max_discount"].value == 0.08 and book.params["max_discount"].source == "recon"


@pytest.mark.parametrize("body,words", [
    ("disable: [{rule: nocoah, reason: x}]\n", "cannot disable 'nocoah': no such rule"),
    ("override: {ovr: {severity: high}}\n", "did you mean 'over'?"),
    ("disable: [nocoach]\n", "needs a reason"),
    ("lock: [gold]\n---\n", "YAML"),
    ("override: {over: {severity: urgent}}\n", "severity 'urgent' is not known"),
    ("rules:\n  - {id: over, concept: risk.momentum, source: recon, when: 'revenue > 1', then: {warn: {message: x}}}\n",
     "add 'replace: true'"),
    ("rules:\n  - {id: brand-new, replace: true, concept: risk.momentum, source: recon, when: 'revenue > 1', then: {warn: {message: x}}}\n",
     "no earlier rulebook has it"),
    ("facts: {revenue: {type: number}}\n", "fact 'revenue' is already defined by core"),
    ("parameters: {max_discount: {type: money, value: 5}}\n", "cannot change type"),
    ("parameters: {max_discount: {value: 12万元x}}\n", "is not a number"),
    ("override: {over: {when: 'revenue > params.nope'}}\n", "unknown parameter 'nope'"),
])
def test_overlay_mistakes_are_reported(tmp_path, body, words):
    assert words in problems(overlay(tmp_path, body))


def test_locked_rules_cannot_be_changed(tmp_path):
    locked = overlay(tmp_path, "lock: [over]\n", "locker.yaml")
    child = tmp_path / "child.yaml"
    child.write_text(f"rulebook: child\nextends: [{locked}]\noverride: {{over: {{severity: low}}}}\ndisable: [{{rule: over, reason: r}}]\n")
    text = problems(str(child))
    assert "rule 'over' is locked by locker and cannot be overridden" in text
    assert "rule 'over' is locked by locker and cannot be disabled" in text


def test_replace_a_rule(tmp_path):
    book = load_rulebook(overlay(tmp_path, "rules:\n  - {id: over, replace: true, concept: misconception.over_concession, "
                                           "source: 'company:x', when: 'discount_rate > 30%', then: {warn: {message: {en: y}}}}\n"))
    assert book.rule("over").when == "discount_rate > 30%" and book.rule("over").changed_by == ("core", "o")[1:]


def test_override_condition_is_checked_and_used(tmp_path):
    path = overlay(tmp_path, "override: {over: {when: 'discount_rate > 50%'}}\n")
    r = CliRunner().invoke(main, ["advise", ACC, "-r", path, "-f", "json"])
    assert "over" not in [f["rule"] for f in json.loads(r.output)["findings"]]


def test_extends_cycle_and_missing(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("rulebook: a\nextends: [b.yaml]\n")
    b.write_text("rulebook: b\nextends: [a.yaml]\n")
    assert "cycle" in problems(str(a))
    c = tmp_path / "c.yaml"
    c.write_text("rulebook: c\nextends: [corse]\n")
    assert "did you mean 'course'?" in problems(str(c))


def test_company_template_extends_the_default(tmp_path):
    shutil.copytree(DATA / "layering" / "tpl", tmp_path / "tpl")  # templates live in the overlay's folder
    path = overlay(tmp_path, "templates: tpl\n")
    r = CliRunner().invoke(main, ["advise", ACC, "-r", path, "--as-of", "2026-06-30"])
    base = CliRunner().invoke(main, ["advise", ACC, "-r", str(CORE), "--as-of", "2026-06-30"])
    assert r.exit_code == 0, r.output
    def body(text: str) -> list[str]:  # everything but the lines naming the rulebook
        return [line for line in text.splitlines() if "sha256:" not in line]

    assert body(r.output) == body(base.output)
    assert any("sha256:" in line for line in r.output.splitlines())


def test_company_templates_are_sandboxed(tmp_path):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "playbook.md.j2").write_text("{{ account.__class__.__mro__[1].__subclasses__() }}")
    path = overlay(tmp_path, "templates: tpl\n")
    r = CliRunner().invoke(main, ["advise", ACC, "-r", path])
    assert r.exit_code == 2
    assert "error[template.unsafe]" in r.output and "playbook.md.j2:1" in r.output
    assert "<class" not in r.output


def test_a_template_with_an_unknown_variable_names_file_and_line(tmp_path):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "playbook.md.j2").write_text("line one\n{{ acount.name }}\n")
    book = overlay(tmp_path, "templates: tpl\n")
    r = CliRunner().invoke(main, ["advise", ACC, "-r", book])
    # a name outside the context: `check` calls it an error, and advise refuses it the same way
    assert r.exit_code == 2
    assert "playbook.md.j2:2" in r.output and "error[lint.template-var]" in r.output and "'acount'" in r.output
    assert "did you mean 'account'?" in r.output
    # an attribute lint cannot see is found when the template runs, with the same file:line
    (tpl / "playbook.md.j2").write_text("line one\n{{ account.nmae }}\n")
    r = CliRunner().invoke(main, ["advise", ACC, "-r", book])
    assert r.exit_code == 2
    assert "playbook.md.j2:2" in r.output and "error[template.error]" in r.output and "'nmae'" in r.output


def test_label_filter_disambiguates_by_name():
    from kamrules.language.messages import make_env

    labels = {"final": {"medium": {"zh": "中客户", "en": "Medium account"}},
              "price_pressure": {"medium": {"zh": "中", "en": "medium"}, "high": {"zh": "高", "en": "high"}}}
    env = make_env("zh", labels)
    assert env.from_string("{{ 'medium'|label('final') }}/{{ 'medium'|label('price_pressure') }}").render() == "中客户/中"
    assert env.from_string("{{ 'medium'|label }}|{{ 'high'|label }}").render() == "medium|高"
