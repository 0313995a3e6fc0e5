"""A new user's first hour (issue 9, classes 10–16) and the account grammar (issue 8, item 2).

Each test is a trap a newcomer met, run through the real CLI or the real loaders:
copy-and-edit of the course, commas in numbers inside { … }, values with units and enums in
Chinese, the account file declared once (loader and JSON Schema from one grammar).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result

from kamrules.cli import main
from kamrules.core import yamlio
from kamrules.core.errors import InputError
from kamrules.core.grammar import json_schema, plain
from kamrules.core.resources import rules_dir
from kamrules.io import csvio
from kamrules.io.account import account_from_doc, account_grammar, load_account
from kamrules.rulebook.load import load_rulebook

ROOT = Path(__file__).resolve().parent.parent
HUAXIN = ROOT / "examples" / "accounts" / "huaxin-steel.yaml"


def cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def problems(text: str, book: str = "course") -> list[tuple[str, str, int, str, str, str]]:
    """(code, path, line, message, expected, hint) of every problem of an account text."""
    with pytest.raises(InputError) as e:
        account_from_doc(yamlio.load("a.yaml", text=text), load_rulebook(book))
    return [(p.code, p.path, p.location.line, p.message, p.expected, p.hint) for p in e.value.problems]


def values(text: str, book: str = "course") -> dict[str, Any]:
    return dict(account_from_doc(yamlio.load("a.yaml", text=text), load_rulebook(book)).values)


# --------------------------------------------------------------------------- 10. copy-and-edit

@pytest.fixture
def mycopy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """rules/course/ copied to mycopy/ with one threshold edited: the key-account revenue floor
    raised from 10M to 50M (华信钢铁's 12M no longer makes it a key account by revenue)."""
    shutil.copytree(rules_dir() / "course", tmp_path / "mycopy")
    standards = tmp_path / "mycopy" / "standards.yaml"
    text = standards.read_text(encoding="utf-8")
    edited = text.replace("  key_revenue_min:\n    type: money\n    value: 10,000,000",
                          "  key_revenue_min:\n    type: money\n    value: 50,000,000")
    assert edited != text
    standards.write_text(edited, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "mycopy"


def single_indicator(*args: str) -> str:
    r = cli("advise", str(HUAXIN), "-f", "json", "--as-of", "2026-06-30", "--engine", "reference", *args)
    assert r.exit_code == 0, r.output
    return str(json.loads(r.stdout)["classification"]["dimensions"]["single_indicator"])


def test_a_copied_course_uses_its_own_parts(mycopy: Path) -> None:
    assert single_indicator() == "key"  # the built-in course: 12M ≥ 10M
    assert single_indicator("--rulebook", "mycopy/course.yaml") == "medium"  # the edited copy: 12M < 50M


def test_check_and_rules_effective_name_the_file_of_every_part(mycopy: Path) -> None:
    checked = cli("check", "mycopy/course.yaml")
    assert checked.exit_code == 0, checked.output
    course = load_rulebook("course").files  # rules/course/<part>.yaml, base first
    assert f"mycopy/course.yaml: {len(course)} rulebooks, base first" in checked.stdout
    assert "course.standards       mycopy/standards.yaml\n" in checked.stdout
    assert "built-in" not in checked.stdout
    effective = cli("rules", "-r", "mycopy/course.yaml", "--effective", "--params", "-f", "json")
    parts = json.loads(effective.stdout)["rulebook"]["parts"]
    assert [p["file"] for p in parts] == [f.replace("rules/course/", "mycopy/") for f in course]
    assert not any(p["builtin"] for p in parts)
    overlay = cli("rules", "-r", str(ROOT / "examples/company/minghua/minghua.yaml"), "--effective", "--params",
                  "--lang", "en")
    assert "  course.standards       rules/course/standards.yaml (built-in)\n" in overlay.stdout
    assert "\n  minghua                " in overlay.stdout and "minghua.yaml (built-in)" not in overlay.stdout
    zh = cli("rules", "-r", str(ROOT / "examples/company/minghua/minghua.yaml"), "--effective", "--params")
    assert "  course.standards       rules/course/standards.yaml（内置）\n" in zh.stdout


def test_kamrules_test_runs_against_the_copys_rulebooks(mycopy: Path) -> None:
    # the standards tests pin the 10M floor: against the edited copy they must fail
    r = cli("test", "mycopy/standards.test.yaml", "--format", "json")
    assert r.exit_code == 1, r.output
    report = json.loads(r.stdout)
    assert report["summary"]["failed"] > 0
    builtin = load_rulebook("course.standards").digest
    assert builtin not in json.dumps(report)
    # the facts tests run the whole copied course too: only the case that depends on the edited
    # floor fails, and it fails because the copy's 50M floor was used
    facts = cli("test", "mycopy/facts.test.yaml")
    assert facts.exit_code == 1
    assert "7 cases: 6 passed, 1 failed, 0 errors" in facts.stdout
    assert "大客户年交易额下限（单一指标））则触发：当前为 1200万" in facts.stdout
    assert "≥ 5000万" in facts.stdout
    # the built-in course still passes the same file
    assert cli("test", str(rules_dir() / "course" / "facts.test.yaml")).exit_code == 0


def test_kamrules_test_on_the_copied_folder_tests_the_copy(mycopy: Path) -> None:
    for t in mycopy.glob("*.test.yaml"):  # two test files are enough to see whose rulebook runs
        if t.name not in ("standards.test.yaml", "facts.test.yaml"):
            t.unlink()
    r = cli("test", "mycopy/")
    assert r.exit_code == 1, r.output
    assert "FAIL  mycopy/standards.test.yaml" in r.stdout and "FAIL  mycopy/facts.test.yaml:12" in r.stdout


def test_a_partial_copy_is_refused_not_mixed_with_the_built_in_parts(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "partial").mkdir()
    for name in ("course.yaml", "standards.yaml"):
        shutil.copy(rules_dir() / "course" / name, tmp_path / "partial" / name)
    monkeypatch.chdir(tmp_path)
    r = cli("advise", str(HUAXIN), "-r", "partial/course.yaml")
    assert r.exit_code == 2
    assert "partial/standards.yaml:29:1: error[rulebook.duplicate-id]" in r.stderr, r.stderr
    assert "'course.standards': partial/standards.yaml and rules/course/standards.yaml" in r.stderr
    assert "copy the whole folder" in r.stderr and "duplicate-rule" not in r.stderr
    checked = cli("check", "partial/course.yaml")
    assert checked.exit_code == 2 and checked.stdout.count("error[") == 1, checked.output
    assert "the extends graph of partial/course.yaml cannot be built" in checked.stderr


def test_two_files_beside_declaring_one_id_are_ambiguous(mycopy: Path) -> None:
    shutil.copy(mycopy / "facts.yaml", mycopy / "facts-old.yaml")
    r = cli("advise", str(HUAXIN), "-r", "mycopy/course.yaml")
    assert r.exit_code == 2
    assert "error[rulebook.ambiguous-id] at extends[course.facts]" in r.stderr
    assert "mycopy/facts-old.yaml, mycopy/facts.yaml" in r.stderr


def test_a_part_added_beside_later_is_used_the_cache_notices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rulebook cache is keyed by how every reference resolves: a file that appears beside
    the rulebook and declares the id it extends is used on the next run."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("rulebook: mine\nextends: [course]\n", encoding="utf-8")
    assert load_rulebook("mine.yaml").files[-2] == "rules/course/course.yaml"
    course = (rules_dir() / "course" / "course.yaml").read_text(encoding="utf-8")
    (tmp_path / "course.yaml").write_text(course.replace("version: 1.0.0", "version: 9.9.9"), encoding="utf-8")
    # course.yaml beside now: it is used (its parts, not beside it, are the built-in ones)
    top = load_rulebook("mine.yaml")
    assert top.files[-2] == "course.yaml"
    assert [b for b in load_rulebook("course.yaml").files if not b.startswith("rules/")] == ["course.yaml"]
    assert load_rulebook("course.yaml").version == "9.9.9"
    for part in (rules_dir() / "course").glob("*.yaml"):
        if part.name != "course.yaml" and not part.name.endswith(".test.yaml"):
            shutil.copy(part, tmp_path / part.name)
    book = load_rulebook("mine.yaml")
    assert "course.yaml" in book.files  # the copy, not rules/course/course.yaml
    assert not any(f.startswith("rules/") for f in book.files)


def test_a_rulebook_file_named_by_id_is_never_a_fifo_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "trap.yaml")
    (tmp_path / "mine.yaml").write_text("rulebook: mine\nextends: [course]\n", encoding="utf-8")
    assert load_rulebook("mine.yaml").id == "mine"  # scanning the folder for ids skipped the FIFO


# --------------------------------------------------------------------------- 11. commas in { … }

@pytest.mark.parametrize("text, line, number", [
    ("id: a\nname: A\ncompany: {revenue: 300,000,000, average_margin: 24%}\n", 3, "300,000,000"),
    ("id: a\nname: A\ncontacts:\n  - {name: 王总, rating: 3}\n  - {name: 李, spend: 1,200万}\n", 5, "1,200万"),
    ("id: a\nname: A\nteam: {accounts_per_manager: 1,000}\n", 3, "1,000"),
])
def test_commas_in_numbers_inside_braces_say_what_to_write(text: str, line: int, number: str) -> None:
    found = problems(text)
    assert [(p[0], p[2]) for p in found] == [("yaml.number-comma", line)], found
    assert f"the number {number} is split at its commas" in found[0][3]
    assert found[0][5].startswith("quote the number or drop the commas")
    assert "duplicate key" not in str(found)


def test_commas_outside_braces_and_quoted_numbers_still_read() -> None:
    got = values("id: a\nname: A\nrevenue: 12,000,000\ncompany: {revenue: '300,000,000'}\n")
    assert got["revenue"] == 12_000_000 and got["company.revenue"] == 300_000_000
    # a key written after a space is a key: not a number split at its comma
    assert yamlio.load("x.yaml", text="a: {v: 8, 000: 1}\n").data == {"a": {"v": 8, "000": 1}}


@pytest.mark.parametrize("name, text, code_line", [
    ("book.yaml", "rulebook: t\nparameters:\n  floor: {type: money, value: 8,000,000, source: recon}\n", 3),
    ("t.test.yaml", "rulebook: course\ncases:\n  - name: x\n    given: {id: a, name: A, revenue: 8,000,000}\n", 4),
    ("mapping.yaml", "accounts:\n  file: a.csv\n  columns: {Revenue: {fact: revenue, scale: 1,000}}\n", 3),
])
def test_commas_in_braces_in_every_kind_of_file(tmp_path: Path, name: str, text: str, code_line: int) -> None:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    if name == "book.yaml":
        r = cli("check", str(f))
    elif name.endswith(".test.yaml"):
        r = cli("test", str(f))
    else:
        (tmp_path / "a.csv").write_text("id,name,Revenue\na,A,1\n", encoding="utf-8")
        r = cli("portfolio", str(tmp_path / "a.csv"), "--mapping", str(f))
    assert r.exit_code == 2, r.output
    assert f"{name}:{code_line}:" in r.output and "error[yaml.number-comma]" in r.output, r.output
    assert "quote the number or drop the commas" in r.output


# --------------------------------------------------------------------------- 12. units, enums, hints

def test_values_with_the_facts_unit_are_read() -> None:
    got = values("id: a\nname: A\norder_cycle_days: 90天\nsatisfaction: 68分\nservice_step: 第二台阶\n"
                 "relationship_years: 6年\nemployees: 8000人\ncollection_days: 75 days\n")
    assert (got["order_cycle_days"], got["satisfaction"], got["service_step"]) == (90, 68, 2)
    assert (got["relationship_years"], got["employees"], got["collection_days"]) == (6, 8000, 75)
    assert values("id: a\nname: A\nservice_step: step 3\n")["service_step"] == 3
    assert values("id: a\nname: A\nservice_step: 第4步\n")["service_step"] == 4


@pytest.mark.parametrize("line, hint", [
    ("satisfaction: 90天", "这一项的单位是分，不是天：请只写数字，例如 68"),
    ("service_step: 二十天", "这一项的单位是台阶，不是天：请只写整数，例如 2"),
    ("transactions: 46次", "请写整数（单位：笔，可写作 46笔），例如 46"),
    ("returns_count: 3天", "这一项不带单位（不以天计）：请只写整数，例如 3"),
    ("satisfaction: lots", "write a number of points (or 68分), e.g. 68"),
])
def test_a_unit_that_does_not_fit_gets_a_hint_for_this_fact_never_the_money_hint(line: str, hint: str) -> None:
    (found,) = problems(f"id: a\nname: A\n{line}\n")
    assert found[0] == "account.value" and found[5] == hint, found
    assert "120万" not in found[5] and "1.2M" not in found[5]


def test_an_enum_in_chinese_lists_the_chinese_labels_and_suggests_one() -> None:
    (found,) = problems("id: a\nname: A\ncontacts:\n  - {姓名: 王总, 态度: 支持}\n")
    code, path, line, message, expected, hint = found
    assert (code, path, line) == ("account.value", "contacts[0].态度", 4)
    assert message == "'contacts[0].态度': '支持' is not one of the allowed values"  # the message stays stable
    assert expected.startswith("one of 导师 (mentor), 支持者 (supporter), 中立者 (neutral)")
    assert hint == "是否应为 '支持者'？"
    (english,) = problems("id: a\nname: A\nstrategic_fit: hihg\n")
    assert english[4] == "one of low, medium, high" and english[5] == "did you mean 'high'?"
    (top,) = problems("id: a\nname: A\n战略契合度: 很高\n")
    assert top[5] == "是否应为 '高'？", top


def test_a_nested_facts_name_at_the_top_suggests_its_dotted_name() -> None:
    (found,) = problems("id: a\nname: A\naccount_manager: 李明\n")
    assert found[0] == "account.unknown-key"
    assert found[5] == "did you mean 'team.account_manager'? (it belongs under team:)"
    (under,) = problems("id: a\nname: A\nteam: {revenue: 1M}\n")
    assert under[5] == "did you mean 'revenue'? (it belongs at the top level, not under team:)"


def test_a_chinese_key_typo_gets_a_chinese_suggestion() -> None:
    (top,) = problems("id: a\nname: A\n年交易量: 1200万\n")
    assert top[0] == "account.unknown-key" and top[5].startswith("是否应为 '年交易额'"), top
    (item,) = problems("id: a\nname: A\ncontacts:\n  - {姓名: 王总, 态渡: supporter}\n")
    assert item[3] == "unknown field '态渡' in contacts" and item[5] == "是否应为 '态度'？", item


def test_labels_and_names_in_any_letter_case_nested_or_flat() -> None:
    got = values("ID: a\nName: A\nAnnual Revenue: 1.2亿\nteam: {Account Manager: 李明}\n"
                 "team.accounts_per_manager: 3\n")
    assert got["revenue"] == 120_000_000 and got["team.account_manager"] == "李明"
    assert got["team.accounts_per_manager"] == 3
    dup = problems("id: a\nname: A\nteam: {account_manager: 李明}\n客户经理: 王\n")
    assert [(p[0], p[2]) for p in dup] == [("account.duplicate-fact", 4)]


def test_csv_rows_go_through_the_same_grammar() -> None:
    book = load_rulebook("course")
    got = csvio.read_accounts("x.csv", book, text="id,name,满意度,服务台阶,战略契合度\na,A,68分,第三台阶,高\nb,B,1,2,很高\n")
    first, second = got.rows
    assert first.account is not None and first.account.values["satisfaction"] == 68
    assert first.account.values["service_step"] == 3 and first.account.values["strategic_fit"] == "high"
    assert second.account is None and second.problems[0].hint == "是否应为 '高'？"


# --------------------------------------------------------------------------- the grammar, declared once

def test_the_schema_command_prints_what_the_account_grammar_generates() -> None:
    book = load_rulebook("course")
    r = cli("schema", "account")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == json_schema(account_grammar(book))


def _validator(book: str = "course") -> jsonschema.Draft202012Validator:
    s = json_schema(account_grammar(load_rulebook(book)))
    return jsonschema.Draft202012Validator(s, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_reader_and_schema_agree_on_every_example_account() -> None:
    v = _validator()
    for path in sorted((ROOT / "examples" / "accounts").glob("*.yaml")):
        load_account(str(path), load_rulebook("course"))  # the reader accepts it
        assert [e.message for e in v.iter_errors(plain(yamlio.load(str(path)).data))] == [], path


@pytest.mark.parametrize("text", [
    "id: a\nname: A\nrevenu: 1\n",                       # unknown key
    "id: a\nname: A\nteam: {acount_manager: x}\n",      # unknown key under a group
    "id: a\nname: A\ncontacts: {name: x}\n",            # a list written as a mapping
    "id: a\nname: A\ncontacts: [{name: x, rol: coach}]\n",  # unknown item field
    "id: a\nname: A\ncontacts: [3]\n",                   # an item that is not a mapping
    "id: a\nname: A\nrevenue: {amount: 1}\n",           # a mapping for a single value
    "id: a\nname: A\nstrategic_fit: great\n",           # not an enum value
    "id: a\nname: A\nlisted: maybe\n",                   # not a yes/no
    "id: a\nname: A\nrevenue: -5\n",                     # below the range
    "id: a\nname: A\nteam: 5\n",                         # a group that is not a mapping
    "name: A\n",                                          # a required fact missing
])
def test_reader_and_schema_refuse_the_same_mistakes(text: str) -> None:
    data = yamlio.load("a.yaml", text=text).data
    assert list(_validator().iter_errors(plain(data))), "the schema accepts it"
    assert problems(text), "the reader accepts it"


# --------------------------------------------------------------------------- 13/15. consistency

def test_check_takes_a_folder_and_leaves_rule_tests_out(mycopy: Path) -> None:
    r = cli("check", "mycopy/")
    assert r.exit_code == 0, r.output
    parts = len(load_rulebook("course").files)
    assert r.stdout.rstrip().endswith(f"kamrules check: no problems in {parts} rulebooks")
    assert ".test.yaml" not in r.stdout  # the folder's rule-test files are `kamrules test`'s
    # a folder with no rulebook in it: exit 2 with what a rulebook file is
    (mycopy.parent / "notes").mkdir()
    (mycopy.parent / "notes" / "only.test.yaml").write_text("rulebook: course\ncases: []\n", encoding="utf-8")
    empty = cli("check", "notes")
    assert empty.exit_code == 2 and "error[cli.no-rulebooks]: no rulebook file in the folder notes" in empty.stderr
    assert "Traceback" not in empty.output


@pytest.mark.parametrize("written", ["2026-06-30", "2026/6/30", "2026年6月30日", "２０２６-０６-３０"])
def test_as_of_takes_the_date_forms_account_files_take(written: str) -> None:
    r = cli("advise", str(HUAXIN), "-f", "json", "--as-of", written, "--engine", "reference")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["as_of"] == "2026-06-30"


def test_as_of_that_is_no_date_says_which_forms_work() -> None:
    r = cli("advise", str(HUAXIN), "--as-of", "30.6.2026")
    assert r.exit_code == 2 and "error[cli.as-of]: --as-of '30.6.2026' is not a date" in r.stderr
    assert "2026年6月30日" in r.stderr and "Traceback" not in r.output


def test_an_engine_that_is_not_available_is_exit_2_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    from kamrules.engine import backends

    monkeypatch.setattr(backends, "durable_available", lambda: False)
    r = cli("advise", str(HUAXIN), "--engine", "durable")
    assert r.exit_code == 2, r.output
    assert "--engine: error[cli.engine-unavailable]" in r.stderr
    assert "hint: use --engine reference" in r.stderr and "Traceback" not in r.output


def test_fail_on_says_on_stderr_why_it_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "p.md"
    r = cli("advise", str(HUAXIN), "--fail-on", "high", "-o", str(out), "--engine", "reference")
    assert r.exit_code == 1
    assert r.stderr.startswith("kamrules: exit 1 (--fail-on high): 5 findings at high or above: ")
    assert "over-concession-discount (high)" in r.stderr
    p = cli("portfolio", str(ROOT / "examples" / "accounts"), "--fail-on", "critical", "--engine", "reference")
    clean = cli("portfolio", str(HUAXIN), "--fail-on", "critical", "--engine", "reference")
    assert p.exit_code in (0, 1) and clean.exit_code == 0 and "exit 1" not in clean.stderr
    high = cli("portfolio", str(ROOT / "examples" / "accounts"), "--fail-on", "high", "--engine", "reference")
    assert high.exit_code == 1 and "accounts with a finding at high or above: " in high.stderr
    assert "huaxin-steel" in high.stderr


def test_bare_kamrules_starts_a_newcomer_with_init_account() -> None:
    r = cli()
    assert r.exit_code == 0
    assert "Start here" in r.stdout and "kamrules init account -o my-account.yaml" in r.stdout
    assert "\\n" not in r.stdout  # once printed as one line with escaped line breaks
    assert "examples/accounts" not in r.stdout  # not there after `pip install`


def test_the_start_here_commands_work_in_an_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("init", "account", "-o", "my-account.yaml").exit_code == 0
    text = (tmp_path / "my-account.yaml").read_text(encoding="utf-8")
    filled = text.replace("\nid:\n", "\nid: acme\n").replace("\nname:\n", "\nname: Acme\n").replace(
        "\nrevenue:\n", "\nrevenue: 3M\n")
    (tmp_path / "my-account.yaml").write_text(filled, encoding="utf-8")
    r = cli("advise", "my-account.yaml", "--engine", "reference")
    assert r.exit_code == 0, r.output
    assert "Acme" in r.stdout and "华信" not in r.stdout and "warning" not in r.stderr


def test_the_cache_location_is_where_the_readme_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kamrules.core import cache

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "`$KAMRULES_CACHE_DIR`, else `$XDG_CACHE_HOME/kamrules`" in readme and "`~/.cache/kamrules`" in readme
    monkeypatch.delenv("KAMRULES_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_path() == tmp_path / "xdg" / "kamrules"
    monkeypatch.setenv("KAMRULES_CACHE_DIR", str(tmp_path / "mine"))
    assert cache.cache_path() == tmp_path / "mine"


def test_durable_rules_deprecation_warnings_are_filtered_in_pytest() -> None:
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.warn_explicit("datetime.datetime.utcfromtimestamp() is deprecated", DeprecationWarning,
                               "engine.py", 17, module="durable.engine")
        warnings.warn_explicit("ours is not filtered", DeprecationWarning, "x.py", 1, module="kamrules.x")
    assert [str(w.message) for w in seen] == ["ours is not filtered"]


def test_rules_md_headers_are_in_the_output_language() -> None:
    zh = cli("rules", "--params", "-f", "md", "--lang", "zh").stdout
    en = cli("rules", "--params", "-f", "md", "--lang", "en").stdout
    n = len(load_rulebook("course").params)
    assert f"## 参数 ({n})\n\n| 键名 | 取值 | 出处 | 名称 |\n" in zh
    assert f"## Parameters ({n})\n\n| NAME | VALUE | SOURCE | LABEL |\n" in en
    facts = cli("rules", "--facts", "-f", "md", "--lang", "zh").stdout
    assert "| 键名 | 类型 | 单位 | 中文名称 | 英文名称 | 别名 |" in facts
