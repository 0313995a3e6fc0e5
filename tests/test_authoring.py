"""The authoring commands through the CLI: check, init account, init company, rules, schema.

Every command and option is exercised with click's CliRunner, error paths included (exit 2 with
the message asserted); the JSON Schemas are validated with jsonschema against real files and
the real `advise --format json` output.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result

from kamrules.authoring.ruletests.report import pretty
from kamrules.authoring.ruletests.runner import run
from kamrules.cli import main
from kamrules.core import yamlio
from kamrules.core.resources import rules_dir
from kamrules.io.account import load_account
from kamrules.rulebook.load import load_rulebook

HERE = Path(__file__).parent
LINT = HERE / "data" / "lint"
AUTH = HERE / "data" / "authoring"
SCHEMA = HERE / "data" / "schema"
BOOK = str(AUTH / "book.yaml")
OVERLAY = str(AUTH / "overlay.yaml")


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def plain(data: Any) -> Any:
    """YAML data as JSON would carry it (dates as ISO text), for jsonschema."""
    return json.loads(json.dumps(data, ensure_ascii=False, default=lambda o: o.isoformat()))


# --------------------------------------------------------------------------- help

COMMANDS = [["check"], ["init"], ["init", "account"], ["init", "company"], ["rules"], ["schema"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0
    examples = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("kamrules ")]
    assert examples, result.stdout
    assert all(e.split()[1] == command[0] for e in examples)


# --------------------------------------------------------------------------- check

def test_check_clean_rulebook_exits_0() -> None:
    result = cli("check", str(LINT / "band-gap.good.yaml"), "--strict")
    assert result.exit_code == 0
    assert result.stdout.strip() == "kamrules check: no problems in 1 rulebook"


def test_check_errors_exit_1_sorted_by_file_line_col() -> None:
    result = cli("check", str(LINT / "undeclared.bad.yaml"), str(LINT / "never-fires.bad.yaml"))
    assert result.exit_code == 1
    heads = [line for line in result.stdout.splitlines() if re.match(r"^\S+:\d+:\d+: ", line)]
    assert len(heads) == 3
    keys = [(h.split(":")[0], int(h.split(":")[1]), int(h.split(":")[2])) for h in heads]
    assert keys == sorted(keys)
    assert "never-fires.bad.yaml:7:11: error[lint.never-fires] at rules[contradictory-bounds].when" in heads[0]
    assert "unknown parameter 'max_discont'" in result.stdout
    assert "    hint: did you mean 'max_discount'?" in result.stdout
    assert result.stdout.rstrip().endswith("kamrules check: 3 errors, 0 warnings in 2 rulebooks")


def test_check_warnings_fail_only_with_strict() -> None:
    path = str(LINT / "band-gap.bad.yaml")
    lax = cli("check", path)
    assert lax.exit_code == 0
    assert "warning[lint.band-gap]" in lax.stdout and "0 errors, 2 warnings" in lax.stdout
    strict = cli("check", path, "--strict")
    assert strict.exit_code == 1
    assert strict.stdout == lax.stdout


def test_check_json_format_is_a_list_of_problems() -> None:
    result = cli("check", str(LINT / "shadowed.bad.yaml"), "--format", "json")
    assert result.exit_code == 0  # warnings only
    data = json.loads(result.stdout)
    assert [d["code"] for d in data] == ["lint.shadowed-rule", "lint.shadowed-rule"]
    assert set(data[0]) == {"code", "severity", "message", "file", "line", "col", "path", "expected", "hint"}
    assert data[0]["line"] == 10 and data[0]["severity"] == "warning"
    assert cli("check", str(LINT / "shadowed.bad.yaml"), "-f", "json", "--strict").exit_code == 1


def test_check_a_shared_base_is_reported_once() -> None:
    # both files extend base.yaml; a problem in a shared file must not be listed twice
    result = cli("check", str(LINT / "param-source.bad.yaml"), str(LINT / "param-source.bad.yaml"), "-f", "json")
    assert len(json.loads(result.stdout)) == 1


@pytest.mark.parametrize("name, message", [
    ("broken.yaml", "error[yaml.syntax]: YAML syntax error: did not find expected '-' indicator"),
    ("missing.yaml", "error[rulebook.not-found]: no rulebook file or built-in rulebook named"),
])
def test_check_unreadable_input_exits_2(name: str, message: str) -> None:
    path = str(LINT / name)
    result = cli("check", path, str(LINT / "band-gap.good.yaml"))
    assert result.exit_code == 2
    assert message in result.stdout
    assert f"kamrules: cannot read {path}; nothing was checked there." in result.stderr
    as_json = cli("check", path, "--format", "json")
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)[0]["code"] in ("yaml.syntax", "rulebook.not-found")


def test_check_needs_a_rulebook_argument() -> None:
    result = cli("check")
    assert result.exit_code == 2
    assert "Missing argument 'RULEBOOK...'" in result.stderr


def test_check_rejects_an_unknown_format() -> None:
    result = cli("check", BOOK, "--format", "xml")
    assert result.exit_code == 2
    assert "Invalid value for '--format'" in result.stderr


# --------------------------------------------------------------------------- init account

def _fill_id_name(text: str) -> str:
    text = re.sub(r"(?m)^id:\s*$", "id: filled-in", text)
    return re.sub(r"(?m)^name:\s*$", "name: 填好的客户", text)


@pytest.mark.parametrize("ref", ["course", BOOK, str(AUTH / "bare.yaml")])
def test_init_account_template_loads_as_an_account(ref: str, tmp_path: Path) -> None:
    result = cli("init", "account", "--rulebook", ref)
    assert result.exit_code == 0
    book = load_rulebook(ref)
    path = tmp_path / "account.yaml"
    path.write_text(_fill_id_name(result.stdout), encoding="utf-8")
    account = load_account(str(path), book)
    for f in book.facts.values():  # every fact is in the template, and every example is its value
        if f.supplied:  # …except the history facts the review store supplies: nobody fills those in
            assert not re.search(rf"(?m)^\s*(- )?{re.escape(f.name)}:", result.stdout), f.name
            assert f"{f.name.split('.')[0]}:" not in result.stdout or f.name.split(".")[0] not in ("history", "previous")
            continue
        assert re.search(rf"(?m)^\s*(- )?{re.escape(f.name.split('.')[-1])}:", result.stdout), f.name
        if f.example is not None and f.type not in ("list",) and f.name not in ("id", "name"):
            assert f.name in account.values, f.name


def test_init_account_comments_describe_each_fact() -> None:
    text = cli("init", "account", "-r", BOOK).stdout
    assert "# 年交易额 (Annual revenue) · 金额, CNY, ≥ 0 · 过去12个月的销售额\nrevenue: 12,000,000" in text
    assert "# 战略契合度 (Strategic fit) · 选项: low (低) | high (高)\nstrategic_fit: high" in text
    assert "# 客户编号 (Account id) · 文本 · 必填\nid:\n" in text
    assert "# ── 交易类 (transaction) " in text
    assert "team:\n  # 客户经理 (Account manager) · 文本\n  account_manager: 李明" in text
    assert "contacts:\n  - name: 王总  # 姓名 (Name) · 文本\n    role: coach  #" in text
    assert "competitors:\n  - 宝钢\n" in text  # one example item
    assert 'note_text: "yes: with a colon # and a hash"' in text  # quoted where plain YAML would misread


def test_init_account_lang_en_and_no_examples() -> None:
    text = cli("init", "account", "-r", str(AUTH / "bare.yaml"), "--lang", "en").stdout
    assert text.startswith("# Account template for the rulebook 'authoring.bare'")
    assert "# Revenue (年交易额) · money\nrevenue:\n" in text
    # an item with no example values is shown commented out, so it does not count as a contact
    assert "contacts: []\n#   - name:  # name · text" in text
    assert "tags: []" in text


def test_init_account_writes_a_file_and_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "new.yaml"
    first = cli("init", "account", "-r", BOOK, "-o", str(target))
    assert first.exit_code == 0
    assert first.stdout == "" and f"kamrules: wrote {target}" in first.stderr
    assert target.read_text(encoding="utf-8") == cli("init", "account", "-r", BOOK).stdout
    target.write_text("mine", encoding="utf-8")
    second = cli("init", "account", "-r", BOOK, "-o", str(target))
    assert second.exit_code == 2
    assert f"error[init.exists]: {target} already exists" in second.stderr
    assert "nothing was written" in second.stderr
    assert target.read_text(encoding="utf-8") == "mine"


def test_init_account_unknown_rulebook_exits_2() -> None:
    result = cli("init", "account", "--rulebook", "cours")
    assert result.exit_code == 2
    assert "no rulebook file or built-in rulebook named 'cours'" in result.stderr
    assert "did you mean 'course'?" in result.stderr


def test_init_account_rejects_an_unknown_language() -> None:
    result = cli("init", "account", "--lang", "fr")
    assert result.exit_code == 2
    assert "Invalid value for '--lang'" in result.stderr


# --------------------------------------------------------------------------- init company

def _uncomment_examples(text: str) -> str:
    out = []
    for line in text.splitlines():
        if re.match(r"^# (disable|override|lock):", line) or re.match(r"^#   \S", line):
            line = line[2:]
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("base", ["course", BOOK])
def test_init_company_skeleton_passes_check_and_test(base: str, tmp_path: Path) -> None:
    result = cli("init", "company", "acme", "--dir", str(tmp_path), "--extends", base)
    assert result.exit_code == 0, result.output
    root = tmp_path / "acme"
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == ["acme.test.yaml", "acme.yaml", "templates/README.md"]
    assert f"wrote {root / 'acme.yaml'}" in result.stdout
    overlay = root / "acme.yaml"
    checked = cli("check", str(overlay), "--strict")
    assert checked.exit_code == 0, checked.stdout
    assert "no problems in 1 rulebook" in checked.stdout
    report = run([str(root)])
    assert [c.status for f in report.files for c in f.cases] == ["PASS"], pretty(report)
    # the commented examples name real parameters and rules: uncommented, they still check clean
    overlay.write_text(_uncomment_examples(overlay.read_text(encoding="utf-8")), encoding="utf-8")
    text = overlay.read_text(encoding="utf-8")
    assert "\ndisable:\n  - {rule: " in text and "\noverride:\n" in text and "\nlock: [" in text
    again = cli("check", str(overlay), "--strict")
    assert again.exit_code == 0, again.stdout
    book = load_rulebook(str(overlay))
    assert len(book.disabled) == 1 and any(r.locked for r in book.rules)
    assert any(r.changed_by == ("acme",) for r in book.rules)


def test_init_company_extends_a_file_by_relative_path(tmp_path: Path) -> None:
    cli("init", "company", "acme", "--dir", str(tmp_path), "--extends", BOOK, "--lang", "en")
    text = (tmp_path / "acme" / "acme.yaml").read_text(encoding="utf-8")
    rel = Path(os.path.relpath(Path(BOOK).resolve(), (tmp_path / "acme").resolve())).as_posix()
    assert f"\nextends: [{rel}]\n" in text and rel.startswith("../") and rel.endswith("authoring/book.yaml")
    assert text.startswith("# acme: a company overlay of authoring.book.")
    assert "#   big_revenue: {value: 10M, source: \"company:acme policy\"}" in text
    assert "templates: templates" in text
    readme = (tmp_path / "acme" / "templates" / "README.md").read_text(encoding="utf-8")
    assert '{% extends "default:playbook.md.j2" %}' in readme


def test_init_company_lang_zh_comments(tmp_path: Path) -> None:
    cli("init", "company", "acme", "--dir", str(tmp_path), "--extends", BOOK, "--lang", "zh")
    text = (tmp_path / "acme" / "acme.yaml").read_text(encoding="utf-8")
    assert text.startswith("# acme：authoring.book 的公司规则层（overlay）。")
    assert "# 停用某条规则；理由会写进每份手册的“建议来源”。" in text


def test_init_company_refuses_to_overwrite(tmp_path: Path) -> None:
    assert cli("init", "company", "acme", "--dir", str(tmp_path), "--extends", BOOK).exit_code == 0
    test_file = tmp_path / "acme" / "acme.test.yaml"
    test_file.write_text("# edited\n", encoding="utf-8")
    (tmp_path / "acme" / "acme.yaml").unlink()
    result = cli("init", "company", "acme", "--dir", str(tmp_path), "--extends", BOOK)
    assert result.exit_code == 2
    assert f"error[init.exists]: {test_file} already exists" in result.stderr
    assert "nothing was written" in result.stderr
    assert not (tmp_path / "acme" / "acme.yaml").exists()  # nothing written, not even the missing file
    assert test_file.read_text(encoding="utf-8") == "# edited\n"


@pytest.mark.parametrize("args, message", [
    (["Acme Corp"], "error[cli.company-name]: 'Acme Corp' cannot be used as a company rulebook name"),
    (["acme", "--extends", "no-such.yaml"], "no rulebook file or built-in rulebook named 'no-such.yaml'"),
])
def test_init_company_bad_input_exits_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = cli("init", "company", *args, "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_init_company_missing_dir_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = cli("init", "company", "acme", "--dir", str(missing))
    assert result.exit_code == 2
    assert f"error[init.no-dir]: the folder {missing} does not exist" in result.stderr
    assert not missing.exists()


# --------------------------------------------------------------------------- rules

def test_rules_table_lists_every_section_by_default() -> None:
    result = cli("rules", "-r", BOOK)
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("authoring.book 2.1.0: 编写工具测试规则库\n")
    for heading in ("规则 (4)", "参数 (2)", "事实（客户档案字段） (14)", "分类维度 (1)"):
        assert f"\n{heading}\n" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("thin-margin"))
    assert row.split() == ["thin-margin", "misconception.volume_not_profit", "lit:McDonald", "high", "毛利偏低"]
    assert re.search(r"(?m)^  big_revenue\s+1000万\s+deck\s+大客户门槛$", out)


def test_rules_sections_and_language() -> None:
    out = cli("rules", "-r", BOOK, "--facts", "--lang", "en").stdout
    assert "Facts (14)" in out and "Rules" not in out and "Parameters" not in out
    assert re.search(r"(?m)^  revenue\s+money\s+CNY\s+年交易额\s+Annual revenue\s+交易额$", out)
    assert re.search(r"(?m)^  strategic_fit\s+enum\(low\|high\)", out)
    assert re.search(r"(?m)^  contacts\s+list of \{name, role, rating\}", out)
    params = cli("rules", "-r", BOOK, "--params", "--lang", "en").stdout
    assert "Parameters (2)" in params and "Facts" not in params
    assert re.search(r"(?m)^  big_revenue\s+10M\s+deck\s+Big-account threshold$", params)
    only_rules = cli("rules", "-r", BOOK, "--rules", "--lang", "en").stdout
    assert "Rules (4)" in only_rules and "Thin margin" in only_rules and "Parameters" not in only_rules


def test_rules_markdown() -> None:
    out = cli("rules", "-r", BOOK, "--format", "md", "--params", "--rules").stdout
    assert out.startswith("# authoring.book 2.1.0: 编写工具测试规则库\n")
    assert "## 参数 (2)\n\n| NAME | VALUE | SOURCE | LABEL |\n|---|---|---|---|\n" in out
    assert "| thin-margin | misconception.volume_not_profit | lit:McDonald | high | 毛利偏低 |" in out


def test_rules_json() -> None:
    data = json.loads(cli("rules", "-r", BOOK, "--format", "json").stdout)
    assert data["rulebook"]["id"] == "authoring.book" and data["rulebook"]["digest"].startswith("sha256:")
    assert {"rules", "parameters", "facts", "metrics", "dimensions", "scores"} <= set(data)
    rule = next(r for r in data["rules"] if r["id"] == "large")
    assert rule["does"] == ["classify size = large"] and rule["when"] == "revenue >= params.big_revenue"
    fact = next(f for f in data["facts"] if f["name"] == "revenue")
    assert fact["label"] == {"zh": "年交易额", "en": "Annual revenue"} and fact["aliases"] == ["交易额"]
    assert "origin" not in rule


def test_rules_effective_shows_provenance() -> None:
    result = cli("rules", "-r", OVERLAY, "--effective", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    book = load_rulebook(OVERLAY)
    assert data["rulebook"]["digest"] == book.digest
    assert data["rulebook"]["chain"] == ["authoring.book", "authoring.overlay"]
    rules = {r["id"]: r for r in data["rules"]}
    assert "no-coach" not in rules
    assert rules["thin-margin"]["changed_by"] == ["authoring.overlay"] and rules["thin-margin"]["severity"] == "critical"
    assert rules["thin-margin"]["origin"]["rulebook"] == "authoring.book"
    assert rules["thin-margin"]["origin"]["at"].endswith("authoring/book.yaml:62:5")
    assert rules["acme-listed"]["origin"]["rulebook"] == "authoring.overlay"
    assert rules["large"]["locked"] is True and rules["small"]["locked"] is False
    assert data["disabled"] == [{"rule": "no-coach", "reason": "We sell through distributors",
                                 "by": "authoring.overlay", "at": data["disabled"][0]["at"]}]
    assert data["disabled"][0]["at"].endswith("authoring/overlay.yaml:7:5")
    param = next(p for p in data["parameters"] if p["name"] == "big_revenue")
    assert param["value"] == 8_000_000 and param["source"] == "company:ACME sales policy"
    assert param["origin"]["rulebook"] == "authoring.overlay"
    fact = next(f for f in data["facts"] if f["name"] == "revenue")
    assert fact["origin"]["at"].endswith("authoring/book.yaml:9:3")


def test_rules_effective_table() -> None:
    out = cli("rules", "-r", OVERLAY, "--effective", "--lang", "en").stdout
    book = load_rulebook(OVERLAY)
    assert f"digest: {book.digest}\nchain: authoring.book → authoring.overlay\n" in out
    assert re.search(r"(?m)^  thin-margin .*critical\s+Thin margin\s+authoring.book\s+\S*authoring/book.yaml:62:5"
                     r"\s+authoring.overlay$", out)
    assert re.search(r"(?m)^  large .*authoring.book\s+\S*book.yaml:50:5\s+locked$", out)
    assert re.search(r"(?m)^  acme-listed .*info\s+Listed customer\s+authoring.overlay\s+\S*overlay.yaml:12:5$", out)
    assert re.search(r"(?m)^  no-coach\s+We sell through distributors\s+authoring.overlay\s+\S*overlay.yaml:7:5$", out)
    assert "Disabled rules (1)" in out


def test_rules_bad_rulebook_exits_2() -> None:
    result = cli("rules", "-r", str(LINT / "undeclared.bad.yaml"))
    assert result.exit_code == 2
    assert "unknown name 'discount_rat'" in result.stderr and "2 problems" in result.stderr


def test_rules_rejects_an_unknown_format() -> None:
    result = cli("rules", "--format", "html")
    assert result.exit_code == 2
    assert "Invalid value for '--format'" in result.stderr


# --------------------------------------------------------------------------- schema

def _schema(*args: str) -> dict[str, Any]:
    result = cli("schema", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(data)
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return data


def _validator(s: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(s, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_schema_account_accepts_every_example_account() -> None:
    v = _validator(_schema("account"))
    accounts = sorted((HERE.parent / "examples" / "accounts").glob("*.yaml"))
    assert accounts
    for path in accounts:
        errors = [e.message for e in v.iter_errors(plain(yamlio.load(str(path)).data))]
        assert errors == [], path


def test_schema_account_accepts_the_init_template_and_labels_as_keys(tmp_path: Path) -> None:
    v = _validator(_schema("account", "--rulebook", BOOK))
    template = _fill_id_name(cli("init", "account", "-r", BOOK).stdout)
    assert list(v.iter_errors(plain(yamlio.load("t.yaml", text=template).data))) == []
    chinese = {"客户编号": "a-1", "客户名称": "某客户", "年交易额": "1.2亿", "交易额": None, "毛利率": 0.18,
               "上市公司": "是", "team": {"客户经理": "李明"}, "team.accounts_per_manager": 3,
               "人均客户数": None, "company": "profile.yaml", "as_of": "2026-06-30",
               "contacts": [{"姓名": "王总", "role": "coach", "评分": -2}]}
    assert list(v.iter_errors(chinese)) == []


@pytest.mark.parametrize("account, where", [
    ({"id": "a", "name": "n", "revenu": 1}, "'revenu' was unexpected"),
    ({"id": "a", "name": "n", "strategic_fit": "great"}, "strategic_fit"),
    ({"id": "a", "name": "n", "listed": "maybe"}, "listed"),
    ({"id": "a", "name": "n", "gross_margin": 1.5}, "gross_margin"),
    ({"id": "a", "name": "n", "contacts": [{"role": "boss"}]}, "contacts"),
    ({"id": "a", "name": "n", "team": {"accounts_per_manager": 2.5}}, "team"),
    ({"id": "a", "name": "n", "founded": "May 2001"}, "founded"),
    ({"name": "n"}, "'id' is a required property"),
])
def test_schema_account_rejects_bad_accounts(account: dict[str, Any], where: str) -> None:
    v = _validator(_schema("account", "--rulebook", BOOK))
    errors = list(v.iter_errors(account))
    assert errors
    text = " ".join(f"{list(e.absolute_path)} {e.message} " + " ".join(c.message for c in e.context) for e in errors)
    assert where in text, text


def test_schema_account_describes_facts() -> None:
    s = _schema("account", "-r", BOOK)
    revenue = s["$defs"]["revenue"]
    assert revenue["title"] == "年交易额 (Annual revenue)"
    assert revenue["description"] == "过去12个月的销售额 · Sales in the last 12 months · money (CNY)"
    assert revenue["examples"] == ["12,000,000"]
    assert {"type": "number", "minimum": 0.0} in revenue["anyOf"]
    assert s["properties"]["年交易额"] == {"$ref": "#/$defs/revenue"}
    assert s["$defs"]["strategic_fit"]["anyOf"][0] == {"enum": ["low", "低", "Low", "high", "高", "High"]}
    assert s["properties"]["team"]["properties"]["account_manager"] == {"$ref": "#/$defs/team.account_manager"}


def test_schema_rulebook_accepts_real_rulebooks_and_rejects_mistakes() -> None:
    v = _validator(_schema("rulebook"))
    books = [p for p in sorted(rules_dir().glob("*/*.yaml")) if not p.name.endswith(".test.yaml")]
    books += [p for p in sorted(LINT.glob("*.yaml")) + sorted(AUTH.glob("*.yaml")) if p.name != "broken.yaml"]
    assert len(books) > 20
    for path in books:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in v.iter_errors(plain(yamlio.load(str(path)).data))]
        assert errors == [], path
    bad = plain(yamlio.load(BOOK).data)
    bad["dimensions"]["size"]["hit_policy"] = "unique-ish"
    bad["rules"][0]["whenn"] = bad["rules"][0].pop("when")
    bad["colour"] = "red"
    messages = sorted(e.message for e in v.iter_errors(bad))
    assert len(messages) == 4
    assert any("'unique-ish' is not one of" in m for m in messages)
    assert any("'when' is a required property" in m for m in messages)
    assert any("'whenn' was unexpected" in m for m in messages)
    assert any("'colour' was unexpected" in m for m in messages)


@pytest.mark.parametrize("engine", ["reference", "auto"])
def test_schema_output_validates_the_real_advise_json(engine: str) -> None:
    v = _validator(_schema("output"))
    result = cli("advise", str(SCHEMA / "acc.yaml"), "-r", str(SCHEMA / "mini.yaml"), "--format", "json",
                 "--as-of", "2026-06-30", "--engine", engine)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [f["rule"] for f in out["findings"]] == ["over", "nocoach"]
    assert [e.message for e in v.iter_errors(out)] == []
    broken = dict(out, findings=[dict(out["findings"][0], severity="huge")])
    del broken["missing_facts"]
    messages = [e.message for e in v.iter_errors(broken)]
    assert any("'missing_facts' is a required property" in m for m in messages)
    assert any("'huge' is not one of" in m for m in messages)


def test_schema_output_validates_a_course_playbook() -> None:
    v = _validator(_schema("output"))
    account = HERE.parent / "examples" / "accounts" / "huaxin-steel.yaml"
    result = cli("advise", str(account), "--format", "json", "--as-of", "2026-06-30", "--engine", "reference")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["findings"]
    assert [f"{list(e.absolute_path)}: {e.message}" for e in v.iter_errors(out)] == []


def test_schema_unknown_kind_exits_2() -> None:
    result = cli("schema", "accounts")
    assert result.exit_code == 2
    assert "Invalid value for '{account|rulebook|output|mapping}': 'accounts' is not one of" in result.stderr


def test_schema_account_bad_rulebook_exits_2() -> None:
    result = cli("schema", "account", "--rulebook", str(LINT / "broken.yaml"))
    assert result.exit_code == 2
    assert "error[yaml.syntax]" in result.stderr
