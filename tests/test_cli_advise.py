"""`kamrules advise`: formats, languages, output files, stdin, exit codes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kamrules.cli import main

DATA = Path(__file__).parent / "data" / "core"
ACC = str(DATA / "acc.yaml")
BOOK = str(DATA / "core.yaml")


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_markdown_by_default():
    r = run("advise", ACC, "-r", BOOK, "--as-of", "2026-06-30")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("# Key-account strategy playbook: Test (`t1`)")
    assert "Discount 22% above 15%" in r.output


def test_json_follows_the_contract():
    r = run("advise", ACC, "-r", BOOK, "--as-of", "2026-06-30", "-f", "json")
    data = json.loads(r.output)
    assert set(data) >= {"kamrules", "account", "rulebook", "classification", "scores", "findings", "missing_facts"}
    assert data["rulebook"]["digest"].startswith("sha256:")
    over = next(f for f in data["findings"] if f["rule"] == "over")
    assert over["because"][-1] == {"fact": "discount_rate", "value": 0.22, "op": ">", "against": 0.15,
                                   "param": "max_discount"}
    assert over["at"] == "tests/data/core/core.yaml:35:5"
    assert data["engine"] in ("durable", "reference")


def test_lang_switch():
    r = run("advise", ACC, "-r", BOOK, "--as-of", "2026-06-30", "--lang", "zh")
    assert "大客户策略手册" in r.output and "折扣 22%" in r.output


def test_byte_identical_runs():
    a = run("advise", ACC, "-r", BOOK, "--as-of", "2026-06-30", "-f", "json").output
    b = run("advise", ACC, "-r", BOOK, "--as-of", "2026-06-30", "-f", "json").output
    assert a == b


@pytest.mark.parametrize("engine", ["reference", "durable"])
def test_engines_agree(engine):
    from kamrules.engine.backends import durable_available

    if engine == "durable" and not durable_available():
        pytest.skip("durable_rules does not import on this Python")
    out = json.loads(run("advise", ACC, "-r", BOOK, "--as-of", "2026-06-30", "-f", "json", "--engine", engine).output)
    ref = json.loads(run("advise", ACC, "-r", BOOK, "--as-of", "2026-06-30", "-f", "json", "--engine", "reference").output)
    assert out["engine"] == engine
    assert out["findings"] == ref["findings"] and out["classification"] == ref["classification"]


def test_stdin(tmp_path):
    r = run("advise", "-", "-r", BOOK, "--as-of", "2026-06-30", "-f", "json", input=Path(ACC).read_text())
    assert json.loads(r.output)["account"]["id"] == "t1"


def test_output_file_is_written_atomically(tmp_path):
    out = tmp_path / "p.md"
    r = run("advise", ACC, "-r", BOOK, "--as-of", "2026-06-30", "-o", str(out))
    assert r.exit_code == 0 and r.output == ""
    assert out.read_text(encoding="utf-8").startswith("# Key-account")
    assert [p.name for p in tmp_path.iterdir()] == ["p.md"]


def test_never_writes_over_the_input(tmp_path):
    acc = tmp_path / "acc.yaml"
    acc.write_text(Path(ACC).read_text())
    before = acc.read_bytes()
    r = run("advise", str(acc), "-r", BOOK, "-o", str(acc))
    assert r.exit_code == 2 and "refusing to write over the input file" in r.output
    assert acc.read_bytes() == before


def test_fail_on():
    assert run("advise", ACC, "-r", BOOK, "--as-of", "2026-06-30", "--fail-on", "high").exit_code == 1
    assert run("advise", ACC, "-r", BOOK, "--as-of", "2026-06-30", "--fail-on", "critical").exit_code == 0


def test_bad_account_exit_2_with_location_and_hint(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: t\nname: T\nrevenu: 12M\ndiscount_rate: 18\n")
    out = tmp_path / "out.md"
    r = run("advise", str(bad), "-r", BOOK, "-o", str(out))
    assert r.exit_code == 2
    assert "bad.yaml:3:1: error[account.unknown-key] at revenu: unknown key 'revenu'" in r.output
    assert "did you mean 'revenue'?" in r.output
    assert "did you mean 18%?" in r.output
    assert "Traceback" not in r.output and not out.exists()


def test_unknown_rulebook_suggests():
    r = run("advise", ACC, "-r", "corse")
    assert r.exit_code == 2 and "no rulebook file or built-in rulebook named 'corse'" in r.output


def test_bad_as_of():
    r = run("advise", ACC, "-r", BOOK, "--as-of", "yesterday")
    assert r.exit_code == 2 and "--as-of 'yesterday' is not a date" in r.output


def test_verbose_names_the_engine():
    r = CliRunner().invoke(main, ["advise", ACC, "-r", BOOK, "-v", "--as-of", "2026-06-30"])
    assert "engine=" in r.stderr and "rulebook=core" in r.stderr


def test_internal_bug_exits_3_with_a_short_report(monkeypatch):
    import kamrules.pipeline as p

    monkeypatch.setattr(p, "build_facts", lambda *a, **k: 1 / 0)
    r = run("advise", ACC, "-r", BOOK)
    assert r.exit_code == 3
    assert "internal error: ZeroDivisionError" in r.output and "Traceback" not in r.output


def test_python_dash_m(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "kamrules", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and "kamrules, version 0.1.0" in proc.stdout


def test_the_program_tunes_the_garbage_collector_for_a_short_run(monkeypatch):
    """`kamrules` (the console script and python -m) collects every 100,000 allocations and freezes
    its objects at exit (kamrules/cli/__init__.py, docs/performance.md); the library does not."""
    import atexit
    import gc

    import kamrules.cli as cli

    seen: list[object] = []
    registered: list[object] = []
    monkeypatch.setattr(cli, "main", lambda: seen.append(gc.get_threshold()))
    monkeypatch.setattr(atexit, "register", registered.append)
    before = gc.get_threshold()
    try:
        cli.run()
    finally:
        gc.set_threshold(*before)
    assert seen == [(cli.GC_THRESHOLD, before[1], before[2])]
    assert registered == [gc.freeze]
    assert gc.get_threshold() == before  # importing kamrules.cli changed nothing


def test_output_file_gets_ordinary_permissions(tmp_path):
    import os
    import stat

    out = tmp_path / "p.md"
    old = os.umask(0o022)
    try:
        run("advise", ACC, "-r", BOOK, "-o", str(out))
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    out.chmod(0o640)
    run("advise", ACC, "-r", BOOK, "-o", str(out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # a replaced file keeps its mode
