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
import time
from dataclasses import dataclass
from typing import Any
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


def _child(call: str, file: Path) -> dict[str, float | str]:
    """Run `call` ("module:function", e.g. "kamrules.core.yamlio:load") on file in a fresh
    interpreter; report its outcome ("loaded", or the first problem's code), wall time and peak
    memory."""
    prog = textwrap.dedent("""
        import importlib, json, resource, sys, time
        from kamrules.core.errors import InputError
        module, _, name = sys.argv[2].partition(":")
        call = getattr(importlib.import_module(module), name)
        t = time.perf_counter()
        try:
            call(sys.argv[1])
            outcome = "loaded"
        except InputError as e:
            outcome = e.problems[0].code
        # ru_maxrss survives execve: a child of a big pytest process would report the parent's
        # size. Linux's VmHWM belongs to this program's own memory map.
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        try:
            with open("/proc/self/status") as f:
                rss = next(int(x.split()[1]) for x in f if x.startswith("VmHWM:")) / 1024
        except (OSError, StopIteration):
            pass
        print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - t, "rss_mb": rss}))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", prog, str(file), call], capture_output=True, text=True,
                          timeout=120, env=env, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.skipif(sys.platform == "win32", reason="resource.getrusage is POSIX-only")
def test_alias_bomb_is_refused_fast_with_bounded_memory() -> None:
    # nine levels of ten aliases: 10^9 nodes if expanded. The refusal must not expand first.
    r = _child("kamrules.core.yamlio:load", ACCOUNTS / "alias_bomb.yaml")
    assert r["outcome"] == "yaml.too-large"
    assert r["rss_mb"] < 150, f"refusing the alias bomb peaked at {r['rss_mb']:.0f} MB"


@pytest.mark.skipif(sys.platform == "win32", reason="resource.getrusage is POSIX-only")
def test_a_million_nodes_under_the_size_cap_do_not_exhaust_memory(tmp_path: Path) -> None:
    # 2 MB, well under the 10 MB cap, but a million YAML nodes: composing them all costs
    # seconds and half a gigabyte. A streaming pre-pass must refuse (or load) it cheaply.
    wide = tmp_path / "wide.yaml"
    wide.write_text("id: t1\nname: Test\nnotes: [" + ",".join(["1"] * 1_000_000) + "]\n", encoding="utf-8")
    r = _child("kamrules.core.yamlio:load", wide)
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
    # templates: must stay inside the overlay's own folder tree (issue 9, class 1)
    Case("template_absolute.yaml", "rulebook.templates", (4,), ("absolute path '/etc'", "relative to the overlay")),
    Case("template_root.yaml", "rulebook.templates", (4,), ("absolute path '/'",),
         why="check once walked the whole file system for *.j2"),
    Case("template_parent.yaml", "rulebook.templates", (4,), ("'..'", "own folder tree")),
    Case("template_windows.yaml", "rulebook.templates", (4,), ("absolute path",)),
    Case("template_missing.yaml", "rulebook.templates", (4,), ("no_such_templates", "does not exist")),
    # messages: bounded like templates, refused at the message's file:line (issue 9, class 2)
    Case("message_pow.yaml", "template.limit", (5, 9), ("rule 'msg'", "1,024 bits")),
    Case("message_loop.yaml", "template.limit", (5, 9), ("rule 'msg'", "10,000 times")),
    Case("message_macro.yaml", "template.limit", (5, 9), ("rule 'msg'", "nested more than 16")),
    Case("message_strmul.yaml", "template.limit", (5, 9), ("rule 'msg'", "100,000 characters")),
    Case("message_include.yaml", "rulebook.message-unsafe", (5, 9), ("cannot extend, include or import",)),
    Case("message_deep.yaml", "rulebook.message-syntax", (5, 9), ("nested too deeply",),
         why="a RecursionError in the message parser ended as 'nested too deeply' with no location"),
]


@dataclass(frozen=True)
class TemplateCase:
    rulebook: str
    folder: str
    code: str | None
    lines: tuple[int, ...]
    words: tuple[str, ...]

    def __str__(self) -> str:
        return self.rulebook


TEMPLATE_CASES = [  # company template folders: the sandbox must block them, as bad input (exit 2)
    TemplateCase("template_evil_templates.yaml", "evil_templates", None, (1,), ("__init__",)),
    TemplateCase("template_evil_self.yaml", "evil_self", None, (1,), ("__init__",)),
    TemplateCase("template_evil_include.yaml", "evil_include", None, (1,), ("etc/passwd",)),
    TemplateCase("template_typo.yaml", "typo_templates", None, (1,), ("acount",)),
    # bounded in time, size, loops and recursion: never minutes of CPU, never exit 3 (issue 9, class 2)
    TemplateCase("template_loop.yaml", "loop_templates", "template.limit", (2,), ("1,000,000 times",)),
    TemplateCase("template_pow.yaml", "pow_templates", "template.limit", (2,), ("4,096 bits",)),
    TemplateCase("template_strmul.yaml", "strmul_templates", "template.limit", (2,), ("2,000,000 characters",)),
    TemplateCase("template_macro.yaml", "macro_templates", "template.limit", (2,), ("nested more than 32",)),
    TemplateCase("template_self_extends.yaml", "self_extends_templates", "template.limit", (2,),
                 ("extend or include itself",)),
    TemplateCase("template_include_self.yaml", "include_self_templates", "template.limit", (2,),
                 ("extend or include itself",)),
    # check finds this one when it reads the template; advise refuses it as check reports it (one answer)
    TemplateCase("template_deep.yaml", "deep_templates", "lint.template-syntax", (1, 2), ("nested too deeply",)),
    TemplateCase("template_width.yaml", "width_templates", "template.limit", (2,), ("2,000,000 characters",)),
    TemplateCase("template_concat_doubling.yaml", "concat_doubling_templates", "template.limit", (2,),
                 ("2,000,000 characters",)),
    TemplateCase("template_static_flood.yaml", "static_flood_templates", "template.limit", (1,),
                 ("8,000,000 characters",)),
    # a template saved in GBK or Latin-1: an encoding error naming the file and line
    TemplateCase("template_gbk.yaml", "gbk_templates", "template.encoding", (1,), ("not UTF-8", "save it as UTF-8")),
    TemplateCase("template_latin1.yaml", "latin1_templates", "template.encoding", (1,), ("not UTF-8", "Latin-1")),
]


def test_every_rulebook_file_has_a_case() -> None:
    named = {c.file for c in RULEBOOK_CASES} | {t.rulebook for t in TEMPLATE_CASES} | {"extends_cycle_b.yaml"}
    assert {p.name for p in RULEBOOKS.glob("*.yaml")} == named
    folders = {t.folder for t in TEMPLATE_CASES}
    assert {p.name for p in RULEBOOKS.iterdir() if p.is_dir()} == folders


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


@pytest.mark.parametrize("case", TEMPLATE_CASES, ids=str)
def test_company_template_is_sandboxed(case: TemplateCase, tmp_path: Path) -> None:
    template = RULEBOOKS / case.folder / "playbook.md.j2"
    out = tmp_path / "out" / "playbook.md"
    out.parent.mkdir()
    t0 = time.perf_counter()
    res = advise(str(GOOD), "-r", str(RULEBOOKS / case.rulebook), "-o", str(out))
    elapsed = time.perf_counter() - t0
    assert_refused(res, Case(case.rulebook, case.code, case.lines, case.words), template, out)
    assert "root:" not in res.output  # /etc/passwd was not included
    assert not (ROOT / "pwned").exists()
    assert elapsed < 30, f"refusing it took {elapsed:.0f} s"  # the deadline is 10 s; most bounds hit in well under 1


@pytest.mark.parametrize("case", [c for c in RULEBOOK_CASES if c.file.startswith("message_")
                                  and c.code == "template.limit"], ids=str)
def test_message_bounds_hit_fast(case: Case, tmp_path: Path) -> None:
    t0 = time.perf_counter()
    res = advise(str(GOOD), "-r", str(RULEBOOKS / case.file))
    assert res.exit_code == 2 and "template.limit" in res.stderr, res.output
    assert time.perf_counter() - t0 < 30


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

    real = os.replace

    def interrupted(src: Any, dst: Any, **kw: Any) -> None:  # the output's replace only: not the cache's (a cold cache writes too)
        if Path(dst) == target:
            raise KeyboardInterrupt
        real(src, dst, **kw)

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

    real = os.replace

    def full(src: Any, dst: Any, **kw: Any) -> None:  # the output's replace only: not the cache's (a cold cache writes too)
        if Path(dst) == target:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(src, dst, **kw)

    monkeypatch.setattr(kamrules.io.output.os, "replace", full)
    res = advise(str(GOOD), "-r", str(MINI), "-o", str(target))
    assert list(out_dir.iterdir()) == [], "a temporary file was left behind"
    assert "Traceback" not in res.output
    # not "a bug in kamrules": the user's disk is full, and the message must say where
    assert "bug in kamrules" not in res.stderr, res.stderr
    assert "No space left on device" in res.stderr and "playbook.md" in res.stderr, res.stderr
    assert res.exit_code == 2, res.output


# ----------------------------------------------------------------------------- the edges (issue 9, classes 5–9)
#
# Numbers and dates at the edges of the declared ranges, a percent parameter written as a bare
# number, text that tries to drive a terminal, mixed encodings, and sizes. Each refusal is
# located, and no raw control character ever reaches the output.

EDGES = BAD / "edges"
# never raw in anything kamrules prints or writes: C0 controls but tab/line feed, DEL, C1, bidi
# controls and the Unicode line/paragraph separators (a lone CR is checked separately)
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

EDGE_ACCOUNT_CASES = [
    # class 5: numbers and dates at the edges
    Case("int_400_digits.yaml", "account.range", (4,), ("400 digits", "10^15"),
         why="float() of a 400-digit int raised OverflowError (exit 3)"),
    Case("int_400_digits_quoted.yaml", "account.range", (4,), ("400 digits", "10^15")),
    Case("float_1e307.yaml", "account.range", (4,), ("1e+307", "10^15")),
    Case("percent_1_7e308.yaml", "account.range", (5,), ("gross_margin", "100,000%"),
         why="formatting 1.7e308 as a percent multiplied it into Infinity"),
    Case("money_over_range.yaml", "account.range", (4,), ("1,000,000,000,000,001",)),
    Case("money_multiplier_over_range.yaml", "account.range", (4,), ("99999万亿",)),
    Case("integer_item_huge.yaml", "account.range", (6,), ("contacts[0].rating", "40 digits")),
    Case("as_of_9999.yaml", "account.range", (5,), ("as_of", "9999-12-31", "2200-12-31"),
         why="as_of + a due-date horizon raised OverflowError (exit 3)"),
    Case("as_of_year_1.yaml", "account.range", (5,), ("0001-01-01", "1900-01-01")),
    Case("date_fact_9999_zh.yaml", "account.range", (5,), ("plan_reviewed", "2200-12-31")),
    # class 7: what the account says is echoed, never obeyed
    Case("key_with_escape.yaml", "account.unknown-key", (4,), ("\\x1b]0;pwned\\x07\\x1b[2Jrevenu",)),
    Case("key_with_bidi.yaml", "account.unknown-key", (4,), ("rev\\u202eenue", "did you mean 'revenue'?")),
    Case("key_with_newline.yaml", "account.unknown-key", (4,), ("x\\nbad.yaml:1:1",)),
    Case("enum_with_c1.yaml", "account.value", (4,), ("\\x9b31mhigh", "did you mean 'high'?")),
    # class 8: one encoding per file
    Case("mixed_gbk_line.yaml", "file.mixed-encoding", (7,), ("line 7 is not UTF-8", "line 6 is", "GBK")),
    Case("mixed_utf8_line_in_gbk.yaml", "file.mixed-encoding", (9,), ("line 9 is UTF-8", "GBK")),
    Case("bom_then_gbk.yaml", "file.mixed-encoding", (5,), ("line 5 is not UTF-8", "byte-order mark")),
    Case("utf16_bom_broken.yaml", "file.encoding", (1,), ("UTF-16",)),
]
EDGE_RULEBOOK_CASES = [
    # class 6: one loader, one answer
    Case("param_bare_percent.yaml", "rulebook.value", (5,), ("max_discount", "1500%", "did you mean 15%?"),
         why="advise read 15 as 1500% and the over-discount warning disappeared (exit 0)"),
    Case("param_bare_percent_spec.yaml", "rulebook.value", (5,), ("did you mean 15%?",)),
    Case("param_percent_1500.yaml", "lint.never-fires", (46,), ("can never fire", "1500%"), at="mini.yaml",
         why="check calls it an error; advise must refuse it too"),
    # class 5 in rulebooks
    Case("param_400_digits.yaml", "rulebook.value", (5,), ("400 digits", "10^15")),
    Case("bound_400_digits.yaml", "rulebook.value", (5,), ("400 digits",)),
    Case("bound_bare_percent.yaml", "rulebook.value", (5,), ("10000%", "did you mean 100%?"),
         why="a bound is set by the rulebook: the same rule as a percent parameter"),
    Case("condition_literal_1e400.yaml", "rulebook.condition", (8,), ("1e400", "outside the range")),
    Case("condition_date_9999.yaml", "rulebook.condition", (8,), ("9999-12-31", "not a plausible date")),
]


def test_every_edge_file_has_a_case() -> None:
    assert {p.name for p in (EDGES / "accounts").iterdir()} == {c.file for c in EDGE_ACCOUNT_CASES}
    assert {p.name for p in (EDGES / "rulebooks").iterdir()} == {c.file for c in EDGE_RULEBOOK_CASES}


def run(args: list[str], input: str | None = None) -> Result:
    """The CLI as a terminal would receive it: color=True stops click from stripping CSI
    sequences itself (it does when the output is not a terminal), which would hide them."""
    return CliRunner().invoke(main, args, input=input, color=True)


def assert_no_raw_controls(*texts: str) -> None:
    for text in texts:
        m = RAW_CONTROL.search(text) or re.search("\r(?!\n)", text)
        assert m is None, f"raw {m.group()!r} in the output:\n{text[max(0, m.start() - 80):m.start() + 80]!r}"


@pytest.mark.parametrize("case", EDGE_ACCOUNT_CASES, ids=str)
def test_edge_account(case: Case, tmp_path: Path) -> None:
    file = EDGES / "accounts" / case.file
    out = tmp_path / "out" / "playbook.md"
    out.parent.mkdir()
    res = run(["advise", str(file), "-r", str(MINI), "-o", str(out)])
    assert_refused(res, case, file, out)
    assert_no_raw_controls(res.output)


@pytest.mark.parametrize("case", EDGE_RULEBOOK_CASES, ids=str)
def test_edge_rulebook(case: Case, tmp_path: Path) -> None:
    file = EDGES / "rulebooks" / case.file
    out = tmp_path / "out" / "playbook.md"
    out.parent.mkdir()
    res = run(["advise", str(GOOD), "-r", str(file), "-o", str(out)])
    assert_refused(res, case, file, out)
    # one answer: check reports the same problem at the same place
    checked = run(["check", str(file)])
    assert checked.exit_code == 1, checked.output
    first = re.search(rf"{re.escape(case.at or file.name)}:\d+(:\d+)?: error\[{re.escape(case.code or '')}", res.stderr)
    assert first is not None and first.group() in checked.output, checked.output


def test_advise_refuses_whatever_check_calls_an_error(tmp_path: Path) -> None:
    """The mechanism behind the cases above, over every rulebook of the corpus: when `check`
    reports an error, advise exits 2; when advise gives a playbook, check reported no error.
    (durable_rules' own limits are left to that engine: the reference engine has none.)"""
    books = sorted([*RULEBOOKS.glob("*.yaml"), *(EDGES / "rulebooks").glob("*.yaml")])
    assert len(books) > 30
    for book in books:
        checked = run(["check", str(book), "--format", "json"])
        errors = [p for p in json.loads(checked.stdout or "[]")
                  if p["severity"] == "error" and p["code"] != "lint.engine-limit"] if checked.exit_code != 2 else [1]
        res = advise(str(GOOD), "-r", str(book), "--engine", "reference", "-f", "json")
        if errors:
            assert res.exit_code == 2, f"{book.name}: check reports {errors}, advise exits {res.exit_code}"
        else:
            assert res.exit_code in (0, 2), f"{book.name}: {res.output}"


def test_as_of_option_within_the_date_range() -> None:
    res = advise(str(GOOD), "-r", str(MINI), "--as-of", "9999-12-31")
    assert res.exit_code == 2 and "error[cli.as-of]" in res.stderr and "2200-12-31" in res.stderr, res.output
    assert "internal error" not in res.stderr
    assert advise(str(GOOD), "-r", str(MINI), "--as-of", "2200-12-31").exit_code == 0


def _strict_json(text: str) -> object:
    def refuse(name: str) -> object:
        raise AssertionError(f"{name} in the JSON output")
    return json.loads(text, parse_constant=refuse)


def test_numbers_at_the_edges_compute_print_and_stay_json(tmp_path: Path) -> None:
    """The largest and smallest values the declared range admits, a negative zero, and a tiny
    company revenue that makes a ratio huge: every output is valid JSON, nothing prints as -0."""
    acc = tmp_path / "edge.yaml"
    acc.write_text("id: edge\nname: Edge\nrevenue: 1,000,000,000,000,000\ndiscount_rate: -0.0\n"
                   "gross_margin: 1.0e-300\nemployees: 1000000000000000\ncontacts:\n"
                   "  - {name: A, role: coach, rating: -0}\n", encoding="utf-8")
    for fmt in ("json", "md", "html"):
        res = advise(str(acc), "-r", str(MINI), "-f", fmt, "--as-of", "2200-12-31", "--explain")
        assert res.exit_code == 0, res.output
        if fmt == "json":
            data = _strict_json(res.stdout)
            assert "-0.0" not in res.stdout and data["account"]["id"] == "edge"  # type: ignore[index]
        assert not re.search(r"(?<![\w.])-0(\.0+)?%", res.stdout), "a zero printed with a minus sign"
    course = (ROOT / "examples" / "accounts" / "huaxin-steel.yaml").read_text(encoding="utf-8")
    course = re.sub(r"(?m)^revenue:.*$", "revenue: 1,000,000,000,000,000", course)
    course = re.sub(r"(?m)^(\s+revenue:).*$", r"\1 0.000001", course)  # the company's revenue: a tiny divisor
    (tmp_path / "huge.yaml").write_text(course, encoding="utf-8")
    for args in (["advise", "-f", "json", "--explain"], ["explain", "--format", "json"]):
        res = run([args[0], str(tmp_path / "huge.yaml"), *args[1:], "--as-of", "2026-06-30"])
        assert res.exit_code in (0, 1), res.output
        _strict_json(res.stdout)
    res = run(["portfolio", str(tmp_path / "huge.yaml"), str(acc), "-r", "course", "-f", "json", "--skip-invalid"])
    _strict_json(res.stdout)


HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\u2066 | [x](javascript:alert(1)) <img src=x>\n# Fake\n- [ ] task"


def _strings(data: object) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for v in data.values() for s in _strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return []


def _hostile_account(tmp_path: Path) -> Path:
    acc = tmp_path / "hostile.yaml"
    acc.write_text(f"id: hostile\nname: {json.dumps(HOSTILE)}\nrevenue: 12M\ndiscount_rate: 22%\ncontacts:\n"
                   f"  - {{name: {json.dumps(HOSTILE)}, role: user_buyer}}\n", encoding="utf-8")
    return acc


def test_text_from_input_is_neutralised_for_every_medium(tmp_path: Path) -> None:
    acc = _hostile_account(tmp_path)
    runs = {
        "md": ["advise", str(acc), "-r", str(MINI)],
        "md-explain": ["advise", str(acc), "-r", str(MINI), "--explain"],
        "html": ["advise", str(acc), "-r", str(MINI), "-f", "html"],
        "json": ["advise", str(acc), "-r", str(MINI), "-f", "json", "--explain"],
        "explain": ["explain", str(acc), "-r", str(MINI)],
        "explain-json": ["explain", str(acc), "-r", str(MINI), "--format", "json"],
        "portfolio-md": ["portfolio", str(acc), "-r", str(MINI)],
        "portfolio-csv": ["portfolio", str(acc), "-r", str(MINI), "-f", "csv"],
        "portfolio-json": ["portfolio", str(acc), "-r", str(MINI), "-f", "json"],
    }
    for name, args in runs.items():
        res = run([*args, "--as-of", "2026-06-30"])
        assert res.exit_code == 0, f"{name}: {res.output}"
        assert_no_raw_controls(res.stdout, res.stderr)
        if name.endswith("json"):
            assert HOSTILE in _strings(_strict_json(res.stdout)), f"{name}: JSON keeps the text exactly (escaped)"
            assert "\\u202e" in res.stdout and "\\u009b" in res.stdout, name
        if name.startswith(("md", "portfolio-md")):
            # a line break in a name adds no heading, no task item, no link, no HTML tag
            assert not re.search(r"(?m)^(# Fake|- \[ \] task)", res.stdout), name
            assert "](javascript:" not in res.stdout.replace("\\](javascript:", ""), name
            assert re.search(r"(?<!\\)<img", res.stdout) is None, name
        if name == "html":
            assert "<img src=x>" not in res.stdout and "\\u202e" in res.stdout
        if name == "portfolio-csv":
            assert len(res.stdout.splitlines()) == 2, "one header and one account: a name cannot add rows"
    # the file written with -o is neutralised too, not only what reaches the terminal
    out = tmp_path / "p.md"
    assert run([*runs["md"], "-o", str(out)]).exit_code == 0
    assert_no_raw_controls(out.read_text(encoding="utf-8"))


def test_file_names_and_headers_are_echoed_neutralised(tmp_path: Path) -> None:
    name = tmp_path / "acc\x1b[31m\u202e.yaml"
    name.write_text("id: t1\nname: T\nrevenu: 1\n", encoding="utf-8")
    res = run(["advise", str(name), "-r", str(MINI)])
    assert res.exit_code == 2 and "acc\\x1b[31m\\u202e.yaml:3:1: error[account.unknown-key]" in res.stderr, res.stderr
    assert_no_raw_controls(res.output)
    csv_file = tmp_path / "export.csv"
    csv_file.write_text("id,name,\x1b]0;x\x07bad\n" + "".join(f"{i},Account {i},2\n" for i in range(20)),
                        encoding="utf-8")
    res = run(["portfolio", str(csv_file), "-r", str(MINI)])
    assert res.exit_code == 2 and "\\x1b]0;x\\x07bad" in res.stderr, res.stderr
    assert_no_raw_controls(res.output)
    res = run(["advise", "--lang", "\x1b[2J"])
    assert res.exit_code == 2 and "\\x1b[2J" in res.output, res.output  # click's own usage errors too
    assert_no_raw_controls(res.output)


def test_rulebook_text_from_an_overlay_is_neutralised(tmp_path: Path) -> None:
    evil = "Evil\x1b[31m\u202e title\n# Injected"
    book = tmp_path / "evil.yaml"
    book.write_text(
        f"rulebook: evil\nextends: [{MINI}]\ntitle: {{en: {json.dumps(evil)}}}\n"
        f"facts:\n  orders: {{type: integer, label: {{zh: 订单, en: {json.dumps(evil)}}}, help: {{en: {json.dumps(evil)}}}}}\n"
        "rules:\n  - id: evil\n    concept: misconception.big_order\n    source: recon\n"
        f"    title: {{en: {json.dumps(evil)}}}\n    when: revenue > 1\n"
        f"    then: {{warn: {{severity: low, message: {{zh: 坏, en: {json.dumps(evil)}}}}}}}\n", encoding="utf-8")
    for args in (["rules", "-r", str(book)], ["rules", "-r", str(book), "-f", "md"], ["rules", "-r", str(book), "-f", "json"],
                 ["advise", str(GOOD), "-r", str(book)], ["advise", str(GOOD), "-r", str(book), "-f", "json"],
                 ["explain", str(GOOD), "-r", str(book)], ["check", str(book)], ["schema", "account", "-r", str(book)],
                 ["init", "account", "-r", str(book), "--lang", "en"]):
        res = run([*args])
        assert res.exit_code in (0, 1), f"{args}: {res.output}"
        assert_no_raw_controls(res.stdout, res.stderr)
        assert not re.search(r"(?m)^# Injected", res.stdout), args
    # the account template is YAML: a label with a line break must not write a live key
    res = run(["init", "account", "-r", str(book), "--lang", "en"])
    import yaml

    keys = set(yaml.safe_load(res.stdout))
    assert "Injected" not in str(keys) and {"id", "name", "orders"} <= keys


def test_rule_test_names_are_neutralised(tmp_path: Path) -> None:
    tf = tmp_path / "x.test.yaml"
    tf.write_text(f"rulebook: {MINI}\nas_of: 2026-06-30\nbase: {{id: t, name: T}}\ncases:\n"
                  f"  - name: {json.dumps('case ' + HOSTILE)}\n    given: {{revenue: 2M}}\n"
                  "    expect: {classification: {tier: gold}}\n", encoding="utf-8")
    res = run(["test", str(tf)])
    assert res.exit_code == 1 and "FAIL" in res.stdout, res.output
    assert_no_raw_controls(res.stdout, res.stderr)
    assert not re.search(r"(?m)^# Fake", res.stdout)


# ----------------------------------------------------------------------------- encodings and sizes

def test_a_csv_with_one_gbk_row_is_refused_naming_the_row(tmp_path: Path) -> None:
    f = tmp_path / "mixed.csv"
    f.write_bytes("id,name,revenue\nhx-1,华信钢铁,1200万\n".encode("utf-8") + "hx-2,东方管道,800万\n".encode("gbk")
                  + "hx-3,明华精密,300万\n".encode("utf-8"))
    for args in (["portfolio", str(f)], ["advise", str(f), "--account", "hx-1"]):
        res = run([*args, "-r", str(MINI)])
        assert res.exit_code == 2 and "mixed.csv:3:1: error[file.mixed-encoding]" in res.stderr, res.output
    gbk = tmp_path / "gbk.csv"  # a whole GBK export still reads, every name intact
    gbk.write_bytes("id,name,revenue\nhx-1,华信钢铁,1200万\nhx-2,东方管道,800万\n".encode("gbk"))
    res = run(["portfolio", str(gbk), "-r", str(MINI), "-f", "json"])
    assert res.exit_code == 0 and {a["name"] for a in json.loads(res.stdout)["accounts"]} == {"华信钢铁", "东方管道"}


@pytest.mark.parametrize("value", ["abc", "-1", "0", "1.5M", "10 apples", "9" * 30])
@pytest.mark.parametrize("var", ["KAMRULES_MAX_FILE_BYTES", "KAMRULES_MAX_ROWS", "KAMRULES_MAX_PROBLEMS"])
def test_a_bad_setting_is_a_usage_error(var: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(var, value)
    for args in (["advise", str(GOOD), "-r", str(MINI)], ["rules"], ["check", str(MINI)]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, f"{var}={value} {args}: {res.output}"
        assert f"{var}: error[env.value]" in res.stderr and "unset it" in res.stderr, res.stderr


def test_settings_accept_what_the_readme_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMRULES_MAX_FILE_BYTES", "20M")
    monkeypatch.setenv("KAMRULES_MAX_ROWS", "50_000")
    monkeypatch.setenv("KAMRULES_MAX_PROBLEMS", "1,000")
    assert advise(str(GOOD), "-r", str(MINI)).exit_code == 0
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    from kamrules.core import settings

    for limit in settings.LIMITS:
        assert limit.env in readme and f"{limit.default:,}" in readme, f"{limit.env} and its default are documented"


def test_rows_over_the_cap_are_refused_at_the_first_row_too_many(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMRULES_MAX_ROWS", "5")
    f = tmp_path / "many.csv"
    f.write_text("id,name\n" + "".join(f"a{i},A\n" for i in range(9)), encoding="utf-8")
    res = run(["advise", str(f), "--account", "a1", "-r", str(MINI)])
    assert res.exit_code == 2 and "many.csv:7:1: error[csv.too-many-rows]" in res.stderr, res.output
    assert "KAMRULES_MAX_ROWS" in res.stderr
    # a portfolio streams its CSV exports: the row cap is not its limit, the accounts cap is
    assert run(["portfolio", str(f), "-r", str(MINI)]).exit_code == 0
    monkeypatch.setenv("KAMRULES_MAX_ACCOUNTS", "5")
    res = run(["portfolio", str(f), "-r", str(MINI)])
    assert res.exit_code == 2 and "many.csv:7:1: error[portfolio.too-many-accounts]" in res.stderr, res.output
    assert "KAMRULES_MAX_ACCOUNTS" in res.stderr and res.stdout == ""
    # many files add up: the run stops at the limit, naming the file and line where it was crossed
    files = []
    for n in range(3):
        g = tmp_path / f"part{n}.csv"
        g.write_text("id,name\n" + "".join(f"p{n}-{i},A\n" for i in range(3)), encoding="utf-8")
        files.append(str(g))
    res = run(["portfolio", *files, "-r", str(MINI)])
    assert res.exit_code == 2 and "part1.csv:4:1: error[portfolio.too-many-accounts]" in res.stderr, res.output


@pytest.mark.skipif(sys.platform == "win32", reason="resource.getrusage is POSIX-only")
def test_a_million_rows_under_the_byte_cap_are_refused_fast(tmp_path: Path) -> None:
    big = tmp_path / "million.csv"
    big.write_text("id,name\n" + "".join(f"{i},n\n" for i in range(1_000_000)), encoding="utf-8")
    r = _child("kamrules.io.csvio:read_table", big)
    assert r["outcome"] == "csv.too-many-rows"
    assert r["rss_mb"] < 250, f"refusing a million rows peaked at {r['rss_mb']:.0f} MB"


def test_reports_list_the_first_problems_and_say_how_many_more(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    acc = tmp_path / "keys.yaml"
    acc.write_text("id: t1\nname: T\n" + "".join(f"unknown_{i}: {i}\n" for i in range(5000)), encoding="utf-8")
    monkeypatch.setenv("KAMRULES_MAX_PROBLEMS", "10")
    res = advise(str(acc), "-r", str(MINI))
    assert res.exit_code == 2
    assert res.stderr.count("error[account.unknown-key]") == 10, res.stderr
    assert "… and 4,990 more problems" in res.stderr and "kamrules: 5,000 problems; nothing was written." in res.stderr
    monkeypatch.delenv("KAMRULES_MAX_PROBLEMS")
    res = advise(str(acc), "-r", str(MINI))
    assert res.stderr.count("error[account.unknown-key]") == 100 and "… and 4,900 more problems" in res.stderr
    # check lists the first ones too, and its JSON (for scripts) lists them all
    book = tmp_path / "book.yaml"
    book.write_text(f"rulebook: b\nextends: [{MINI}]\n" + "".join(f"unknown_{i}: 1\n" for i in range(300)),
                    encoding="utf-8")
    res = run(["check", str(book)])
    assert res.stdout.count("error[rulebook.unknown-key]") == 100 and "… and 202 more problems" in res.stdout
    res = run(["check", str(book), "--format", "json"])
    assert sum(p["code"] == "rulebook.unknown-key" for p in json.loads(res.stdout)) == 300


def test_standard_input_over_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMRULES_MAX_FILE_BYTES", "4K")  # the mini rulebook itself is 2 KiB
    res = run(["advise", "-", "-r", str(MINI)], input="id: t1\nname: T\nnotes: " + "x" * 10000)
    assert res.exit_code == 2 and "<stdin>:1:1: error[file.too-large]" in res.stderr, res.output
    assert "larger than the limit of 4 KiB" in res.stderr


def test_everything_printed_goes_through_the_neutralising_edge() -> None:
    """The mechanism for the terminal: two functions print — cli/common.echo (messages) and
    io/output.write_stdout (a command's result) — and both pass textsafe.terminal. A new print
    path that bypasses them would let controls through again."""
    offenders = []
    for py in sorted((ROOT / "kamrules").rglob("*.py")):
        for n, text in enumerate(py.read_text(encoding="utf-8").splitlines(), start=1):
            code = text.split("#", 1)[0]
            if re.search(r"\b(print\(|click\.(s?echo|echo_via_pager)\(|sys\.std(out|err)\.write|stream\.write)", code):
                offenders.append(f"{py.relative_to(ROOT).as_posix()}: {text.strip()}")
    assert offenders == ["kamrules/cli/common.py: click.echo(textsafe.terminal(text), err=err, nl=nl)",
                         # Ctrl-C's answer: a constant of ours, printed before click may be imported
                         "kamrules/core/interrupt.py: print(MESSAGE, file=sys.stderr, flush=True)",
                         "kamrules/io/output.py: stream.write(textsafe.terminal(text))",
                         # the portfolio's progress bar: its controls are the bar, its text numbers only
                         "kamrules/portfolio/stream.py: self.stream.write(text)"], offenders


def _crm_jsonl(tmp_path: Path, accounts: list[dict[str, object]], deals: list[str]) -> list[str]:
    """The example CRM mapping, pointed at JSON Lines exports (numbers arrive as numbers there)."""
    mapping = (ROOT / "examples" / "portfolio" / "crm" / "mapping.yaml").read_text(encoding="utf-8")
    mapping = mapping.replace("file: accounts.csv", "file: accounts.jsonl").replace("file: deals.xlsx", "file: deals.jsonl")
    mapping = re.sub(r"(?m)^  sheet: .*\n", "", mapping)
    (tmp_path / "mapping.yaml").write_text(mapping, encoding="utf-8")
    base = {"客户名称": "华信", "所属行业": "steel", "所属区域": "east", "负责人": "li", "客户级别": "A",
            "注册资金(万元)": 100, "是否上市": "是", "战略契合度": "高", "电话": "1", "创建时间": "2020-01-01"}
    (tmp_path / "accounts.jsonl").write_text("".join(json.dumps({**base, **a}, ensure_ascii=False) + "\n"
                                                     for a in accounts), encoding="utf-8")
    (tmp_path / "deals.jsonl").write_text("".join(d + "\n" for d in deals), encoding="utf-8")
    return [str(tmp_path / "accounts.jsonl"), str(tmp_path / "deals.jsonl"), "--mapping", str(tmp_path / "mapping.yaml")]


def _deal(n: int, account: str, amount: str, close: str = "2026-05-01") -> str:
    # written by hand: json.dumps would refuse 1e999 and NaN, which JSON Lines exports do contain
    return (f'{{"商机编号": "D{n}", "商机名称": "x", "客户编号": "{account}", "客户名称": "n", "商机金额(万元)": {amount}, '
            f'"币种": "CNY", "销售阶段": "赢单", "预计成交日期": "{close}", "赢率": 0.5, "负责人": "li", '
            f'"创建时间": "2026-01-01", "最后跟进时间": "2026-06-01"}}')


def test_crm_exports_at_the_edges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mapped CRM export gives numbers as numbers (JSON Lines, Excel): the same declared range,
    and the same row cap, as every other input."""
    args = _crm_jsonl(tmp_path, [{"客户编号": "A1", "员工人数": 10 ** 400}, {"客户编号": "A2", "员工人数": 5}],
                      [_deal(1, "A1", "1e999"), _deal(2, "A2", "NaN", "9999-12-31"), _deal(3, "A2", "1e300"),
                       _deal(4, "A1", str(10 ** 400))])
    res = run(["portfolio", *args, "--as-of", "2026-06-30", "-f", "json"])
    assert res.exit_code == 0, res.output  # the bad cells are left out and said so; nothing is exit 3
    assert "internal error" not in res.stderr
    for words in ("员工人数", "401 digits", "not inf", "not nan", "9999-12-31", "1e+300"):
        assert words in res.stderr, f"{words!r} not reported:\n{res.stderr}"
    _strict_json(res.stdout)
    monkeypatch.setenv("KAMRULES_MAX_ROWS", "1")
    res = run(["portfolio", *args, "--as-of", "2026-06-30"])
    assert res.exit_code == 2 and "accounts.jsonl:2:1: error[csv.too-many-rows]" in res.stderr, res.output


def test_a_drafted_mapping_keeps_export_text_in_its_comments(tmp_path: Path) -> None:
    """init mapping writes YAML from an export's headers and values: a line break in one must not
    write a live key into the mapping."""
    f = tmp_path / "accounts.csv"
    f.write_text('客户编号,客户名称,"级别\nevil: 1"\nA1,华信,"A\nrates: {USD: 0}"\n', encoding="utf-8")
    res = run(["init", "mapping", str(f)])
    assert res.exit_code == 0, res.output
    import yaml

    data = yaml.safe_load(res.stdout)
    assert "evil" not in data and "rates" not in data, res.stdout
    assert_no_raw_controls(res.stdout)


# ----------------------------------------------------------------------------- the first hour (issue 9, classes 10–15)
#
# A newcomer's traps, as files (tests/data/bad/first_hour): a copied course whose parts extend
# each other by id (class 10), commas in numbers inside { … } (11), units and enum values in the
# user's language and keys in the wrong group (12), an account left as `kamrules init account`
# wrote it (13), dates that --as-of must read as account files do, and `check` on folders (15).
# Accounts are read against the built-in course: its facts have units, Chinese labels and a
# team group, which the mini rulebook has not. Every refusal is located, in the language of
# the input, exit 2 with nothing written; `check` gives the same answer as `advise`.

FIRST_HOUR = BAD / "first_hour"
COURSE_ACCOUNT = ROOT / "examples" / "accounts" / "huaxin-steel.yaml"

FIRST_HOUR_ACCOUNT_CASES = [
    # class 11: commas in numbers inside { … }
    Case("comma_company_revenue.yaml", "yaml.number-comma", (6,),
         ("the number 300,000,000 is split at its commas", "revenue: '300,000,000' or revenue: 300000000"),
         why="the README's account example: 'duplicate key 000'"),
    Case("comma_opportunity_value.yaml", "yaml.number-comma", (6,),
         ("the number 8,000,000", "reads as value: 8 and the keys 000, 000", "quote the number or drop the commas")),
    Case("comma_last_entry.yaml", "yaml.number-comma", (6,), ("the number 8,000,000", "value: 8000000"),
         why="the last entry of the braces: silently 8 and an unknown key"),
    Case("comma_with_unit.yaml", "yaml.number-comma", (6,), ("the number 1,200万", "value: 1200万")),
    Case("comma_decimal.yaml", "yaml.number-comma", (5,),
         ("the number 24,5% is split at its comma:", "write a decimal with a point: average_margin: 24.5%"),
         why="'quote it or drop the commas' would make 24,5% 245%"),
    Case("comma_decimal_block.yaml", "account.value", (5,), ("'18,5%'", "write a decimal with a point: 18.5%")),
    Case("point_groups.yaml", "account.value", (4,), ("'1.234.567,50'", "a point marks decimals here, not thousands",
                                                      "write 1234567.50"),
         why="a European export's amount got the generic money hint"),
    Case("comma_team_integer.yaml", "yaml.number-comma", (4,), ("the number 1,200", "accounts_per_manager: 1200")),
    # class 12: units, enum values and keys, with hints in the language of the input
    Case("unit_days_for_points.yaml", "account.value", (4,), ("'90天'", "这一项的单位是分，不是天"),
         why="a count of days got the money hint"),
    Case("unit_days_for_points_en.yaml", "account.value", (4,), ("this value is counted in points, not days",)),
    Case("unit_days_for_money.yaml", "account.value", (4,), ("这一项是金额，不以天计", "120万"),
         why="the money hint, in English, for a Chinese value that is not an amount"),
    Case("unit_points_for_percent.yaml", "account.value", (4,), ("expected: a percent", "这一项是百分比，不以分计"),
         why="a percent got the money hint"),
    Case("unit_points_for_percent_en.yaml", "account.value", (4,),
         ("this value is a percent, not counted in points: write e.g. 18% or 0.18",)),
    Case("unit_times_for_orders.yaml", "account.value", (4,), ("请写整数（单位：笔，可写作 46笔）",)),
    Case("unit_days_for_no_unit.yaml", "account.value", (4,), ("这一项不带单位（不以天计）",)),
    Case("unit_step_beyond_ladder.yaml", "account.range", (4,), ("第六台阶 (= 6), outside [1, 5]", "service_step 最多为 5"),
         why="the range hint was in English for a Chinese value"),
    Case("enum_zh_near_label.yaml", "account.value", (5,),
         ("'支持' is not one of the allowed values", "one of 导师 (mentor), 支持者 (supporter)", "是否应为 '支持者'？"),
         why="the enum error listed only the English codes, with no suggestion"),
    Case("enum_zh_top_level.yaml", "account.value", (4,), ("one of 低 (low), 中 (medium), 高 (high)", "是否应为 '高'？")),
    Case("enum_zh_value_english_key.yaml", "account.value", (4,), ("是否应为 '中'？",)),
    Case("enum_en_typo.yaml", "account.value", (4,), ("one of low, medium, high", "did you mean 'high'?")),
    Case("enum_other_field_zh.yaml", "account.value", (5,),
         ("'教练' 是“采购角色”（role）的取值 内线/教练 (coach)", "请写在 role 下"),
         why="a value of the field beside got no hint at all"),
    Case("enum_other_field_en.yaml", "account.value", (5,),
         ("'coach' is a value of Buying role (role: coach), not of this field",)),
    Case("enum_other_field_top.yaml", "account.value", (4,), ("“激励方式”（team.incentives）", "请写在 team.incentives 下")),
    Case("team_key_at_top.yaml", "account.unknown-key", (4,),
         ("did you mean 'team.account_manager'? (it belongs under team:)",),
         why="it suggested 'Account manager', a label, instead of where the key belongs"),
    Case("top_key_under_team.yaml", "account.unknown-key", (6,),
         ("did you mean 'revenue'? (it belongs at the top level, not under team:)",)),
    Case("team_key_under_company.yaml", "account.unknown-key", (6,), ("did you mean 'team.account_manager'?",)),
    Case("key_typo_zh.yaml", "account.unknown-key", (4,), ("'年交易量'", "是否应为 '年交易额'")),
    Case("item_key_typo_zh.yaml", "account.unknown-key", (5,), ("unknown field '态渡' in contacts", "是否应为 '态度'？")),
    # class 13: the template of `kamrules init account`, not filled in
    Case("init_template_unfilled.yaml", "account.missing", (12,), ("'id' (客户编号) is required and is empty here",
                                                                   "fill it in", "expected: a text value for id "
                                                                   "(the example company's: id: huaxin-steel)"),
         why="it showed the example company's id as what was expected"),
    Case("init_template_name_empty.yaml", "account.missing", (14,), ("'name' (客户名称) is required and is empty here",)),
    # class 15: the date forms of an account file (and of --as-of: test_as_of_refuses_what_an_account_refuses)
    Case("as_of_impossible_slash.yaml", "account.value", (5,), ("'2026/2/30' is not a real date",)),
    Case("as_of_european.yaml", "account.value", (5,), ("'30.6.2026' is not a date",)),
    Case("as_of_zh_impossible.yaml", "account.value", (5,), ("'2026年13月1日' is not a real date",)),
    Case("as_of_two_digit_year.yaml", "account.value", (5,), ("'26-06-30' is not a date",)),
]

# class 13: the template's examples left in: the playbook is written (the figures might be
# right), and standard error says which values are still the example company's
FIRST_HOUR_WARNINGS = {
    "init_template_examples_left.yaml": ("4 values are still the examples of 'kamrules init account'",
                                         "revenue 12M, gross_margin 18%, receivables 2.5M, discount_rate 22%"),
    "init_template_examples_left_en.yaml": ("3 values are still the examples of 'kamrules init account'",
                                            "revenue 12M, gross_margin 18%, receivables 2.5M"),
}

FIRST_HOUR_RULEBOOK_CASES = [
    # class 11, in an overlay's parameters
    Case("rulebooks/comma_overlay_param.yaml", "yaml.number-comma", (5,),
         ("the number 3,000,000 is split at its commas", "value: '3,000,000' or value: 3000000")),
    Case("rulebooks/comma_overlay_param_decimal.yaml", "yaml.number-comma", (5,),
         ("the number 12,5%", "write a decimal with a point: value: 12.5%")),
    # class 10: copy-and-edit, the parts of a rulebook extending each other by id
    Case("copies/partial_copy/course.yaml", "rulebook.duplicate-id", (2,),
         ("'course.standards'", "rules/course/standards.yaml", "copy the whole folder"), at="standards.yaml",
         why="a partial copy silently mixed the built-in parts with the copied one"),
    Case("copies/ambiguous_id/mine.yaml", "rulebook.ambiguous-id", (3,),
         ("2 files beside", "ambiguous_id/facts-backup.yaml, tests/data/bad/first_hour/copies/ambiguous_id/facts.yaml",
          "keep one of them")),
    Case("copies/id_typo/mine.yaml", "rulebook.extends-missing", (3,),
         ("'course.standardz'", "the id of a rulebook file beside this one", "did you mean 'course.standards'?")),
    Case("copies/beside_id_typo/acme.yaml", "rulebook.extends-missing", (3,), ("did you mean 'acme.base'?",),
         why="only the built-in ids were suggested"),
    Case("copies/extends_itself/mine.yaml", "rulebook.extends-cycle", (3,), ("the rulebook 'mine' extends itself",),
         why="an overlay naming its own id was 'cannot find the rulebook'"),
    Case("copies/cycle_by_id/mine.yaml", "rulebook.extends-cycle", (2,), ("mine.yaml → facts.yaml → mine.yaml",),
         at="facts.yaml"),
]


def test_every_first_hour_file_has_a_case() -> None:
    named = {c.file for c in FIRST_HOUR_ACCOUNT_CASES} | set(FIRST_HOUR_WARNINGS)
    assert {p.name for p in (FIRST_HOUR / "accounts").iterdir()} == named
    tops = {c.file for c in FIRST_HOUR_RULEBOOK_CASES} | {"copies/junk_beside/mine.yaml"}
    assert {p.relative_to(FIRST_HOUR).as_posix() for p in (FIRST_HOUR / "rulebooks").iterdir()} | {
        p.parent.relative_to(FIRST_HOUR).as_posix() for p in (FIRST_HOUR / "copies").glob("*/*")} == {
        t if t.startswith("rulebooks/") else t.rsplit("/", 1)[0] for t in tops}


@pytest.mark.parametrize("case", FIRST_HOUR_ACCOUNT_CASES, ids=str)
def test_first_hour_account(case: Case, tmp_path: Path) -> None:
    file = FIRST_HOUR / "accounts" / case.file
    out = tmp_path / "out" / "playbook.md"
    out.parent.mkdir()
    res = run(["advise", str(file), "-o", str(out), "--engine", "reference"])
    assert_refused(res, case, file, out)


@pytest.mark.parametrize("name", sorted(FIRST_HOUR_WARNINGS))
def test_first_hour_template_examples_left_in(name: str, tmp_path: Path) -> None:
    out = tmp_path / "playbook.md"
    res = run(["advise", str(FIRST_HOUR / "accounts" / name), "-o", str(out), "--as-of", "2026-06-30",
               "--engine", "reference"])
    assert res.exit_code == 0, res.output
    assert out.exists() and "华信" not in out.read_text(encoding="utf-8")
    assert "kamrules: warning: " in res.stderr and f"{name}: " in res.stderr, res.stderr
    for words in FIRST_HOUR_WARNINGS[name]:
        assert words in res.stderr, res.stderr


@pytest.mark.parametrize("case", FIRST_HOUR_RULEBOOK_CASES, ids=str)
def test_first_hour_rulebook(case: Case, tmp_path: Path) -> None:
    file = FIRST_HOUR / case.file
    out = tmp_path / "out" / "playbook.md"
    out.parent.mkdir()
    res = run(["advise", str(COURSE_ACCOUNT), "-r", str(file), "-o", str(out), "--engine", "reference"])
    assert_refused(res, case, file, out)
    # one answer: check reports the same problem at the same place (exit 2 when the extends
    # graph cannot be built at all, 1 when the rest could still be checked)
    checked = run(["check", str(file)])
    assert checked.exit_code in (1, 2), checked.output
    first = re.search(rf"{re.escape(case.at or file.name)}:\d+(:\d+)?: error\[{re.escape(case.code or '')}\]", res.stderr)
    assert first is not None and first.group() in checked.output, checked.output


def test_a_folder_of_other_yaml_files_beside_an_overlay_is_not_read_as_rulebooks(tmp_path: Path) -> None:
    """Ids resolve to the files beside first (class 10): a broken YAML file, a binary one and an
    account list beside the overlay declare no rulebook id, and stop nothing."""
    folder = FIRST_HOUR / "copies" / "junk_beside"
    res = run(["advise", str(COURSE_ACCOUNT), "-r", str(folder / "mine.yaml"), "-f", "json", "--as-of", "2026-06-30",
               "--engine", "reference"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["rulebook"]["id"] == "mine"
    checked = run(["check", str(folder)])
    assert checked.exit_code == 0 and "no problems in 1 rulebook" in checked.stdout, checked.output


def test_check_takes_a_folder_and_leaves_its_rule_tests_to_test() -> None:
    """Class 15: `check FOLDER` checks the rulebooks in it and leaves *.test.yaml out, as
    `kamrules test FOLDER` reads only those; a folder with no rulebook is a usage error."""
    folder = FIRST_HOUR / "folders" / "with_rule_tests"
    checked = run(["check", str(folder)])
    assert checked.exit_code == 0 and "no problems in 1 rulebook" in checked.stdout, checked.output
    tested = run(["test", str(folder)])  # the broken rule test is `test`'s to report
    assert tested.exit_code == 2 and "mine.test.yaml:5:" in tested.output and "yaml.number-comma" in tested.output, \
        tested.output
    empty = run(["check", str(FIRST_HOUR / "folders" / "only_rule_tests")])
    assert empty.exit_code == 2 and "error[cli.no-rulebooks]" in empty.stderr, empty.output
    assert "Traceback" not in empty.output


def _as_of_in(file: Path) -> str:
    m = re.search(r"(?m)^as_of: (.*)$", file.read_text(encoding="utf-8"))
    assert m, file
    return m.group(1).strip()


@pytest.mark.parametrize("case", [c for c in FIRST_HOUR_ACCOUNT_CASES if c.file.startswith("as_of_")], ids=str)
def test_as_of_refuses_what_an_account_refuses(case: Case) -> None:
    """Class 15: --as-of reads the date forms account files read, and refuses the same."""
    written = _as_of_in(FIRST_HOUR / "accounts" / case.file)
    res = run(["advise", str(COURSE_ACCOUNT), "--as-of", written, "--engine", "reference"])
    assert res.exit_code == 2 and f"--as-of: error[cli.as-of]: --as-of '{written}'" in res.stderr, res.output
    assert "2026年6月30日" in res.stderr and "Traceback" not in res.output


@pytest.mark.parametrize("written", ["2026-06-30", "2026-6-30", "2026/6/30", "2026.6.30", "2026年6月30日",
                                     "２０２６年６月３０日", "2026/02/30", "2026-13-01", "30/6/2026", "June 30, 2026",
                                     "20260630", "2201-01-01", "1899-12-31", ""])
def test_as_of_and_an_accounts_as_of_give_one_answer(written: str, tmp_path: Path) -> None:
    """The same text as an account's as_of and as --as-of: both read as the same day, or both
    refused (exit 2, located)."""
    acc = tmp_path / "a.yaml"
    acc.write_text(f"id: a\nname: A\nrevenue: 12M\nas_of: {json.dumps(written, ensure_ascii=False)}\n", encoding="utf-8")
    in_file = advise(str(acc), "-r", str(MINI), "-f", "json", "--engine", "reference")
    as_option = advise(str(GOOD), "-r", str(MINI), "-f", "json", "--engine", "reference", "--as-of", written)
    assert in_file.exit_code in (0, 2) and as_option.exit_code in (0, 2), (in_file.output, as_option.output)
    assert "internal error" not in in_file.stderr + as_option.stderr
    if written == "":  # an empty as_of is "not known" in a file (today), and no date on the command line
        assert as_option.exit_code == 2 and "error[cli.as-of]" in as_option.stderr
        return
    assert in_file.exit_code == as_option.exit_code, (written, in_file.output, as_option.output)
    if in_file.exit_code == 0:
        assert json.loads(in_file.stdout)["as_of"] == json.loads(as_option.stdout)["as_of"]
    else:
        assert "a.yaml:4:" in in_file.stderr and "error[cli.as-of]" in as_option.stderr
