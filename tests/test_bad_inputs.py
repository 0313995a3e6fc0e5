"""The bad-input corpus (tests/data/bad): one defect per file, each run through the real CLI.

Every case asserts the exit code, that the message points at file:line with the expected
words and hint, that no traceback leaks, and that nothing was written. Cases that exercise
resource limits (alias bombs, huge or very wide files) also measure time and memory in a
child process, so a limit that holds only after minutes of work or gigabytes of memory fails.
"""
from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kamrules.cli import main
from kamrules.engine.backends import durable_available

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "data" / "bad"
ACCOUNTS = BAD / "accounts"
RULEBOOKS = BAD / "rulebooks"
MINI = BAD / "mini.yaml"
GOOD = BAD / "good.yaml"
ENGINES = ("durable", "reference") if durable_available() else ("reference",)


@dataclass(frozen=True)
class Case:
    file: str
    code: str | None  # the problem code; None: any code of the right family (the fix picks it)
    lines: tuple[int, ...]  # acceptable lines of the first problem; () = any line
    words: tuple[str, ...]  # each must appear in the message
    exit: int = 2
    why: str = ""
    at: str = ""  # the file the problem points at, when it is not the file under test

    def __str__(self) -> str:
        return self.file


def advise(*args: str) -> Result:
    return CliRunner().invoke(main, ["advise", *args], catch_exceptions=True)


def assert_refused(res: Result, case: Case, file: Path, out: Path) -> None:
    err = res.stderr
    assert res.exit_code == case.exit, f"exit {res.exit_code}, expected {case.exit}: {case.why}\n{res.output}"
    assert "Traceback" not in res.output, res.output
    assert "internal error" not in err and "bug in kamrules" not in err, err
    code = re.escape(case.code) if case.code else r"[a-z]+\.[a-z-]+"
    line = "|".join(str(n) for n in case.lines) if case.lines else r"\d+"
    where = re.compile(rf"{re.escape(case.at or file.name)}:({line})(:\d+)?: error\[{code}\]")
    assert where.search(err), f"no '{case.at or file.name}:<line>: error[{case.code or '…'}]' in:\n{err}"
    for w in case.words:
        assert w in err, f"{w!r} missing from the message ({case.why}):\n{err}"
    assert "nothing was written" in err
    assert not out.exists(), "the output file was written"
    assert [p.name for p in out.parent.iterdir()] == [], "temporary files were left behind"


# ----------------------------------------------------------------------------- account files

ACCOUNT_CASES = [
    Case("empty.yaml", "account.empty", (1,), ("empty", "kamrules init")),
    Case("not_mapping.yaml", "account.not-mapping", (1,), ("a list, not a mapping", "key: value")),
    Case("scalar.yaml", "account.not-mapping", (1,), ("a single value",)),
    Case("syntax_error.yaml", "yaml.syntax", (3, 4), ("YAML syntax error", "hint:")),
    Case("tabs.yaml", "yaml.syntax", (4,), ("tab", "spaces"),
         why="libyaml's message does not mention the tab; the user must be told"),
    Case("duplicate_keys.yaml", "yaml.duplicate-key", (5,), ("duplicate key 'revenue'", "first defined on line 3")),
    Case("unknown_key.yaml", "account.unknown-key", (3,), ("unknown key 'revenu'", "did you mean 'revenue'?")),
    Case("unknown_item_field.yaml", "account.unknown-key", (4,), ("'rol'", "did you mean 'role'?")),
    Case("wrong_type_list.yaml", "account.type", (3,), ("'contacts' must be a list",)),
    Case("wrong_type_scalar.yaml", "account.type", (3,), ("'revenue' must be a single value, not a mapping",)),
    Case("wrong_type_bool.yaml", "account.value", (3,), ("'perhaps' is not true or false",)),
    Case("wrong_enum.yaml", "account.value", (3,), ("'hihg'", "did you mean 'high'?"),
         why="an enum typo must be a value error with a suggestion, not an AttributeError"),
    Case("negative_revenue.yaml", "account.range", (3,), ("-5M", "negative values are not allowed")),
    Case("percent_over_100.yaml", "account.range", (3,), ("150%", "100%")),
    Case("percent_bare_35.yaml", "account.range", (3,), ("did you mean 35%?",)),
    Case("rating_9.yaml", "account.range", (4,), ("contacts[0].rating", "9", "[-5, 5]")),
    Case("bad_amount.yaml", "account.value", (3,), ("12万元x", "120万")),
    Case("nan.yaml", "account.not-finite", (3,), ("not a finite number", "leave the key out")),
    Case("nan_word.yaml", "account.value", (3,), ("NaN", "not a finite number")),
    Case("infinity.yaml", "account.not-finite", (3,), ("gross_margin", "not a finite number")),
    Case("infinity_word.yaml", "account.value", (3,), ("-Infinity", "not a finite number")),
    Case("huge_exponent.yaml", "account.range", (3,), ("1e400", "range", "10^15")),
    Case("impossible_date.yaml", "yaml.value", (3,), ("2026-02-30", "day is out of range", "YYYY-MM-DD")),
    Case("impossible_month.yaml", "yaml.value", (3,), ("2026-13-01", "month")),
    Case("impossible_date_zh.yaml", "account.value", (3,), ("2026年2月30日", "not a real date")),
    Case("implausible_year.yaml", "account.range", (3,), ("9999-01-01", "1900")),
    Case("alias_bomb.yaml", "yaml.too-large", (), ("alias",)),
    Case("python_object.yaml", "yaml.tag", (2,), ("python/object/apply:os.system", "remove the !tag")),
    Case("python_name.yaml", "yaml.tag", (3,), ("python/name:os.system",)),
    Case("python_module.yaml", "yaml.tag", (3,), ("python/module:os",)),
    Case("custom_tag.yaml", "yaml.tag", (2,), ("!shout",)),
    Case("binary_tag.yaml", "yaml.tag", (3,), ("binary",)),
    Case("set_tag.yaml", "yaml.tag", (3,), ("set",)),
    Case("merge_key.yaml", "yaml.merge", (4,), ("merge keys",)),
    Case("deep_nesting.yaml", "yaml.too-deep", (3,), ("64",)),
    Case("deep_nesting_block.yaml", "yaml.too-deep", (), ("64",)),
    Case("id_path_separator.yaml", "account.bad-id", (1,), ("../../etc/passwd", "slashes")),
    Case("id_newline.yaml", "account.bad-id", (1,), ("line breaks",)),
    Case("missing_required.yaml", "account.missing", (1,), ("'id'", "required")),
    Case("binary_junk.bin", "file.binary", (1,), ("not a text file", "UTF-8")),
    Case("utf16_no_bom.yaml", "file.binary", (1,), ("UTF-8",)),
    Case("latin1_junk.yaml", "file.encoding", (2,), ("neither UTF-8 nor GBK", "save the file as UTF-8")),
]


def test_every_account_file_has_a_case() -> None:
    named = {c.file for c in ACCOUNT_CASES} | {"gbk.yaml", "bom.yaml"}
    assert {p.name for p in ACCOUNTS.iterdir()} == named


@pytest.mark.parametrize("case", ACCOUNT_CASES, ids=str)
def test_bad_account(case: Case, tmp_path: Path) -> None:
    file = ACCOUNTS / case.file
    out = tmp_path / "out" / "playbook.md"
    out.parent.mkdir()
    res = advise(str(file), "-r", str(MINI), "-o", str(out))
    assert_refused(res, case, file, out)


def test_missing_required_fact_message_has_no_empty_label() -> None:
    # 'id' has no label in the rulebook: the message must not print an empty "()".
    res = advise(str(ACCOUNTS / "missing_required.yaml"), "-r", str(MINI))
    assert res.exit_code == 2
    assert "'id' () is required" not in res.stderr, res.stderr


def test_yaml_tags_never_run_code() -> None:
    advise(str(ACCOUNTS / "python_object.yaml"), "-r", str(MINI))
    assert not (ROOT / "pwned.txt").exists()


@pytest.mark.parametrize("name", ["gbk.yaml", "bom.yaml"])
def test_encodings_that_must_work(name: str, tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    res = advise(str(ACCOUNTS / name), "-r", str(MINI), "-f", "json", "-o", str(out), "--as-of", "2026-06-30")
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["account"]["name"] == "华信钢铁"
    # 1200万 (GBK, read through the Chinese label 年交易额) and 12M (BOM) are both ≥ 10M: gold
    assert data["classification"]["dimensions"]["tier"] == "gold"


def test_file_over_the_size_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    line = "  " + "x" * 97 + "\n"
    with big.open("w", encoding="utf-8") as fh:
        fh.write("id: t1\nname: Test\nnotes: |\n")
        fh.write(line * (20 * 1024 * 1024 // len(line) + 1))
    out = tmp_path / "out" / "p.md"
    out.parent.mkdir()
    res = advise(str(big), "-r", str(MINI), "-o", str(out))
    assert_refused(res, Case("big.yaml", "file.too-large", (1,), ("20.0 MiB", "10 MiB", "KAMRULES_MAX_FILE_BYTES")),
                   big, out)


def test_ten_thousand_contacts(tmp_path: Path) -> None:
    roles = ("economic_buyer", "coach", "user_buyer")
    rows = [f"  - {{name: 联系人{i}, role: {roles[i % 3]}, rating: {i % 11 - 5}}}" for i in range(10_000)]
    acc = tmp_path / "many.yaml"
    acc.write_text("id: many\nname: Many\nrevenue: 12M\ndiscount_rate: 22%\ncontacts:\n" + "\n".join(rows) + "\n",
                   encoding="utf-8")
    res = advise(str(acc), "-r", str(MINI), "-f", "json", "--as-of", "2026-06-30")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["account"]["id"] == "many"
    assert "nocoach" not in {f["rule"] for f in data["findings"]}  # 3,333 coaches were counted


def _child(code: str, file: Path) -> dict[str, float | str]:
    """Run code in a fresh interpreter; report its outcome, wall time and peak memory."""
    prog = textwrap.dedent("""
        import json, resource, sys, time
        from kamrules.core import yamlio
        from kamrules.core.errors import InputError
        t = time.perf_counter()
        try:
            yamlio.load(sys.argv[1])
            outcome = "loaded"
        except InputError as e:
            outcome = e.problems[0].code
        print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - t,
                          "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", prog + code, str(file)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.skipif(sys.platform == "win32", reason="resource.getrusage is POSIX-only")
def test_alias_bomb_is_refused_fast_with_bounded_memory() -> None:
    # nine levels of ten aliases: 10^9 nodes if expanded. The refusal must not expand first.
    r = _child("", ACCOUNTS / "alias_bomb.yaml")
    assert r["outcome"] == "yaml.too-large"
    assert r["rss_mb"] < 150, f"refusing the alias bomb peaked at {r['rss_mb']:.0f} MB"


@pytest.mark.skipif(sys.platform == "win32", reason="resource.getrusage is POSIX-only")
def test_a_million_nodes_under_the_size_cap_do_not_exhaust_memory(tmp_path: Path) -> None:
    # 2 MB, well under the 10 MB cap, but a million YAML nodes: composing them all costs
    # seconds and half a gigabyte. A streaming pre-pass must refuse (or load) it cheaply.
    wide = tmp_path / "wide.yaml"
    wide.write_text("id: t1\nname: Test\nnotes: [" + ",".join(["1"] * 1_000_000) + "]\n", encoding="utf-8")
    r = _child("", wide)
    assert r["outcome"] in ("loaded", "yaml.too-large")
    assert r["rss_mb"] < 250, f"a 2 MB file peaked at {r['rss_mb']:.0f} MB"


# ----------------------------------------------------------------------------- rulebooks

RULEBOOK_CASES = [
    Case("injection_import.yaml", "rulebook.condition", (8,), ("__import__",),
         why="the message must name what was refused, not only 'unexpected .'"),
    Case("injection_dunder.yaml", "rulebook.condition", (8,), ("'revenue.__class__.__bases__' is not available", "'__'")),
    Case("injection_dunder_params.yaml", "rulebook.condition", (8,), ("params.__class__",)),
    Case("injection_call.yaml", "rulebook.condition", (8,), ("unknown function 'open'", "available:")),
    Case("injection_method.yaml", "rulebook.condition", (8,), ("'name.upper' is not a function",)),
    Case("injection_subscript.yaml", "rulebook.condition", (8,), ("unexpected '['",)),
    Case("injection_lambda.yaml", "rulebook.condition", (8,), ("unexpected character ':'",)),
    Case("undeclared_fact.yaml", "rulebook.condition", (8,), ("unknown name 'revenu'", "did you mean 'revenue'?")),
    Case("type_mismatch.yaml", "rulebook.condition", (8,), ("cannot compare 'name' (string) with '5' (number)",)),
    Case("money_vs_percent.yaml", "rulebook.condition", (8,), ("(money)", "(percent)")),
    Case("enum_typo.yaml", "rulebook.condition", (8,), ("'hihg' is not a value of strategic_fit", "did you mean 'high'?")),
    Case("unknown_param.yaml", "rulebook.condition", (8,), ("unknown parameter 'max_discout'", "did you mean 'max_discount'?")),
    Case("syntax_assign.yaml", "rulebook.condition", (8,), ("'=' is assignment", "'=='")),
    Case("syntax_unbalanced.yaml", "rulebook.condition", (8,), ("expected ')'",)),
    Case("engine_limits.yaml", None, (5, 8), ("toolong", "32"),
         why="compile.engine_limits finds it, but nothing calls engine_limits"),
    Case("engine_or_explosion.yaml", None, (5, 8), ("explosion",),
         why="durable_rules expands the ors to 16384 alternatives and fails with 'error code: 113'"),
    Case("derived_cycle.yaml", "rulebook.rule-cycle", (8, 13), ("heat → warmth → heat", "forward chaining")),
    Case("message_undefined_var.yaml", "rulebook.message-var", (5, 9), ("'revenu'", "did you mean 'revenue'?")),
    Case("message_syntax.yaml", "rulebook.message-syntax", (5, 9), ("template error",)),
    Case("message_filter.yaml", "rulebook.message-filter", (5, 9), ("'evil'",),
         why="jinja2.meta raises TemplateAssertionError on an unknown filter before _check_filters runs"),
    Case("message_test.yaml", None, (5, 9), ("'evil'",),
         why="an unknown Jinja test is only found when the rule fires (exit 3)"),
    Case("message_dunder.yaml", None, (5, 9), ("__class__",),
         why="the sandbox blocks it only when the rule fires (exit 3); a rulebook error at load is expected"),
    Case("message_globals.yaml", None, (5, 9), ("__globals__",),
         why="the sandbox blocks it only when the rule fires (exit 3); a rulebook error at load is expected"),
    Case("unknown_top_key.yaml", "rulebook.unknown-key", (2,), ("unknown key 'rulse'", "did you mean 'rules'?")),
    Case("empty.yaml", "rulebook.not-mapping", (1,), ("mapping",)),
    Case("not_mapping.yaml", "rulebook.not-mapping", (1,), ("mapping",)),
    Case("extends_missing.yaml", "rulebook.extends-missing", (2,), ("../nowhere.yaml",)),
    Case("extends_cycle_a.yaml", "rulebook.extends-cycle", (2,), ("extends_cycle_a.yaml", "extends_cycle_b.yaml"),
         at="extends_cycle_b.yaml"),  # the extends that closes the cycle
]
TEMPLATE_CASES = [  # company template folders: the sandbox must block them, as bad input (exit 2)
    ("template_evil_templates.yaml", "evil_templates", "__init__"),
    ("template_evil_self.yaml", "evil_self", "__init__"),
    ("template_evil_include.yaml", "evil_include", "etc/passwd"),
    ("template_typo.yaml", "typo_templates", "acount"),
]


def test_every_rulebook_file_has_a_case() -> None:
    named = {c.file for c in RULEBOOK_CASES} | {t[0] for t in TEMPLATE_CASES} | {"extends_cycle_b.yaml"}
    assert {p.name for p in RULEBOOKS.glob("*.yaml")} == named


@pytest.mark.parametrize("case", RULEBOOK_CASES, ids=str)
def test_bad_rulebook(case: Case, tmp_path: Path) -> None:
    file = RULEBOOKS / case.file
    out = tmp_path / "out" / "playbook.md"
    out.parent.mkdir()
    if case.file.startswith("engine_"):
        from kamrules.engine.backends import durable_available

        if not durable_available():
            # these are durable_rules' own limits: the reference engine (Python ≥ 3.13) has none
            res = advise(str(GOOD), "-r", str(file), "-o", str(out))
            assert res.exit_code == 0, res.output
            return
    res = advise(str(GOOD), "-r", str(file), "-o", str(out))
    assert_refused(res, case, file, out)
    assert not (ROOT / "pwned").exists()


@pytest.mark.parametrize("rulebook,folder,word", TEMPLATE_CASES, ids=[t[0] for t in TEMPLATE_CASES])
def test_company_template_is_sandboxed(rulebook: str, folder: str, word: str, tmp_path: Path) -> None:
    template = RULEBOOKS / folder / "playbook.md.j2"
    out = tmp_path / "out" / "playbook.md"
    out.parent.mkdir()
    res = advise(str(GOOD), "-r", str(RULEBOOKS / rulebook), "-o", str(out))
    assert_refused(res, Case(rulebook, None, (1,), (word,)), template, out)
    assert "root:" not in res.output  # /etc/passwd was not included
    assert not (ROOT / "pwned").exists()


# ----------------------------------------------------------------------------- output and faults

def test_html_escapes_everything_from_input(tmp_path: Path) -> None:
    acc = tmp_path / "xss.yaml"
    acc.write_text('id: xss\nname: "<script>alert(1)</script>"\nrevenue: 12M\ndiscount_rate: 22%\n'
                   'contacts:\n  - {name: "<img src=x onerror=alert(1)>", role: user_buyer}\n', encoding="utf-8")
    res = advise(str(acc), "-r", str(MINI), "-f", "html")
    assert res.exit_code == 0, res.output
    assert "<script>alert" not in res.stdout
    assert "<img src=x" not in res.stdout
    # the name is shown, as text: in the title and in the nocoach message that quotes it
    assert res.stdout.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2


@pytest.mark.parametrize("target", ["account", "rulebook", "symlink"])
def test_output_refuses_to_overwrite_an_input(target: str, tmp_path: Path) -> None:
    acc = tmp_path / "acc.yaml"
    acc.write_text(GOOD.read_text(encoding="utf-8"), encoding="utf-8")
    book = tmp_path / "mini.yaml"
    book.write_text(MINI.read_text(encoding="utf-8"), encoding="utf-8")
    dest = {"account": acc, "rulebook": book, "symlink": tmp_path / "link.yaml"}[target]
    if target == "symlink":
        dest.symlink_to(acc)
    before = {p: p.read_bytes() for p in (acc, book)}
    res = advise(str(acc), "-r", str(book), "-o", str(dest))
    assert res.exit_code == 2, res.output
    assert "error[output.over-input]" in res.stderr and "refusing to write over the input file" in res.stderr
    assert "choose another -o path" in res.stderr
    assert {p: p.read_bytes() for p in (acc, book)} == before


def _account_with_coach(tmp_path: Path) -> Path:
    # only 'gold' fires in the first stratum (a coach keeps 'nocoach' quiet), then 'over'
    acc = tmp_path / "acc.yaml"
    acc.write_text("id: t1\nname: Test\nrevenue: 12M\ndiscount_rate: 22%\ncontacts:\n  - {name: A, role: coach}\n",
                   encoding="utf-8")
    return acc


@pytest.mark.parametrize("engine", ENGINES)
def test_exception_inside_a_rule_action_names_the_rule(engine: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import kamrules.engine.backends

    def boom(*args: object) -> object:
        raise RuntimeError("boom in the action")

    # bindings runs inside every firing: in durable's action callback, and per match in the reference backend
    monkeypatch.setattr(kamrules.engine.backends, "bindings", boom)
    if engine == "durable":
        import kamrules.engine.durable

        monkeypatch.setattr(kamrules.engine.durable, "bindings", boom)
    res = advise(str(_account_with_coach(tmp_path)), "-r", str(MINI), "--engine", engine)
    assert res.exit_code == 3, res.output
    assert "Traceback" not in res.output
    assert "rule 'gold'" in res.stderr and "'t1'" in res.stderr and "boom in the action" in res.stderr, res.stderr


@pytest.mark.parametrize("engine", ENGINES)
def test_exception_while_rendering_a_rule_message_names_the_rule(engine: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import kamrules.language.messages

    def boom(x: object) -> str:
        raise RuntimeError("boom in the filter")

    # the |pct filter of the 'over' message formats through this name (looked up at each call,
    # so the patch holds even when the compiled message templates are cached)
    monkeypatch.setattr(kamrules.language.messages, "format_percent", boom)
    res = advise(str(_account_with_coach(tmp_path)), "-r", str(MINI), "--engine", engine)
    assert res.exit_code == 3, res.output
    assert "Traceback" not in res.output
    assert "rule 'over'" in res.stderr and "'t1'" in res.stderr and "boom in the filter" in res.stderr, res.stderr


def test_ctrl_c_during_write_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kamrules.io.output

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "playbook.md"
    target.write_text("the previous playbook\n", encoding="utf-8")

    def interrupted(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(kamrules.io.output.os, "replace", interrupted)
    res = advise(str(GOOD), "-r", str(MINI), "-o", str(target))
    assert res.exit_code == 130, res.output
    assert "interrupted" in res.stderr and "nothing was written" in res.stderr
    assert "Traceback" not in res.output
    assert sorted(p.name for p in out_dir.iterdir()) == ["playbook.md"], "a temporary file was left behind"
    assert target.read_text(encoding="utf-8") == "the previous playbook\n"


def test_a_full_disk_is_reported_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kamrules.io.output

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "playbook.md"

    def full(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(kamrules.io.output.os, "replace", full)
    res = advise(str(GOOD), "-r", str(MINI), "-o", str(target))
    assert list(out_dir.iterdir()) == [], "a temporary file was left behind"
    assert "Traceback" not in res.output
    # not "a bug in kamrules": the user's disk is full, and the message must say where
    assert "bug in kamrules" not in res.stderr, res.stderr
    assert "No space left on device" in res.stderr and "playbook.md" in res.stderr, res.stderr
    assert res.exit_code == 2, res.output
