"""Every command and every option is documented: in --help (with an example) and in the README."""
from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kamrules.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(main)
    out = []
    for name in main.list_commands(ctx):
        cmd = main.get_command(ctx, name)
        assert cmd is not None
        if isinstance(cmd, click.Group):
            out += [(f"{name} {sub}", cmd.get_command(ctx, sub)) for sub in cmd.list_commands(ctx)]
        else:
            out.append((name, cmd))
    return out


COMMANDS = commands()


@pytest.mark.parametrize("name,cmd", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_help_has_an_example(name, cmd):
    r = CliRunner().invoke(main, [*name.split(), "--help"])
    assert r.exit_code == 0
    assert f"kamrules {name}" in r.output, f"'kamrules {name} --help' shows no example"


@pytest.mark.parametrize("name,cmd", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_readme_documents_command_and_options(name, cmd):
    assert f"kamrules {name}" in README, f"README does not mention 'kamrules {name}'"
    missing = [opt for p in cmd.params if isinstance(p, click.Option)
               for opt in p.opts if opt.startswith("--") and opt != "--help" and opt not in README]
    assert not missing, f"README does not mention {missing} of 'kamrules {name}'"


def test_the_readme_python_example_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks, "the README shows kamrules used from Python"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102 - our own README
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "key"


# --------------------------------------------------------------------------- every example, as written
# Issue 9, class 14: an example in --help, the README or docs/ is run here exactly as printed,
# in a folder holding the repository's examples/ and rules/ and the few files the examples name
# as placeholders (account.yaml, my-overlay.yaml, accounts.csv …), each a copy of a shipped
# example, and a review store recorded beforehand (the `recorded` fixture) in the user data
# directory of a home of its own; the examples that name a team's PostgreSQL server reach a real
# one. Shell syntax the examples use is honoured: `> FILE`, `cat FILE |`, `| gzip > FILE`, `&&`,
# `~`, globs, `\` continuations, `$ ` prompts and trailing comments. Only `pip install . &&` is
# not run.

import datetime as _dt
import os
import re as _re
import shlex
import shutil
import subprocess
import sys
from typing import Iterator

import time_machine

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCKS = ("sh", "bash", "shell", "console")


def _help_examples() -> list[tuple[str, str]]:
    out = []
    for name, _ in [("", main), *COMMANDS]:
        r = CliRunner().invoke(main, [*name.split(), "--help"])
        out += [(f"kamrules {name} --help".replace("  ", " "), line.strip()) for line in r.output.splitlines()
                if line.strip().startswith("kamrules ")]
    return out


def _doc_examples() -> list[tuple[str, str]]:
    out = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for lang, body in _re.findall(r"```(\w*)\n(.*?)```", text, _re.S):
            if lang not in SHELL_BLOCKS:
                continue
            joined = _re.sub(r"\\\n\s*", "", body)
            for line in joined.splitlines():
                line = line.strip()
                if lang == "console":
                    if not line.startswith("$ "):
                        continue  # output shown after the command
                    line = line[2:]
                if "kamrules " in line and not line.startswith("#"):
                    out.append((doc.relative_to(ROOT).as_posix(), line))
    return out


def _distinct(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each command once (the README and docs/ repeat some with other comments): the slow ones
    (a 244-account CRM portfolio, the course's 236 rule tests) run once."""
    seen: dict[str, tuple[str, str]] = {}
    for where, line in sorted(set(found)):
        seen.setdefault(" ".join(shlex.split(line, comments=True)), (where, line))
    return sorted(seen.values())


EXAMPLES = _distinct(_help_examples() + _doc_examples())

# The day the examples are written for: the example accounts are dated 2026-06-30 (every
# `--as-of` in the docs says so), and the docs' `--since` and `--until` dates sit around it. An
# override's `--until` must be in the future, so the examples run with the clock on that day
# (time-machine moves the clock of this process: the commands run unchanged).
DOCS_DAY = _dt.datetime(2026, 6, 30, 9, 0, tzinfo=_dt.timezone.utc)


def _huaxin_then(discount: str, satisfaction: int, issues: int) -> str:
    """华信钢铁 as it was at an earlier review: a smaller discount, happier, fewer delivery issues."""
    text = (ROOT / "examples" / "accounts" / "huaxin-steel.yaml").read_text(encoding="utf-8")
    for old, new in (("discount_rate: 22%", f"discount_rate: {discount}"), ("satisfaction: 72", f"satisfaction: {satisfaction}"),
                     ("delivery_issues: 3", f"delivery_issues: {issues}")):
        assert old in text
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The review store the history examples read, recorded once per module through the CLI:
    the CRM export (export.csv: HX-001 …) reviewed on 2025-12-31 and 2026-03-31 (reviews 1–10,
    11–20), huaxin-steel on the same days (21, 22: `diff huaxin-steel --since 2026-01-01` has a
    review before and after), and overrides 1–4 (3 in force: `override remove 3`; 4 removed: `override list --all`),
    none on what the examples override. Also its export, backup.jsonl."""
    d = tmp_path_factory.mktemp("recorded")
    export = d / "export.csv"
    shutil.copy(ROOT / "examples" / "portfolio" / "crm-export.csv", export)
    steps: list[tuple[str, list[str]]] = []
    for day, (discount, satisfaction, issues) in (("2025-12-31", ("15%", 80, 0)), ("2026-03-31", ("18%", 76, 1))):
        huaxin = d / f"huaxin-{day}.yaml"
        huaxin.write_text(_huaxin_then(discount, satisfaction, issues), encoding="utf-8")
        steps += [(day, ["portfolio", str(export), "--record", "--as-of", day, "--by", "王经理"]),
                  (day, ["advise", str(huaxin), "--record", "--as-of", day, "--by", "王经理"])]
    until = ["--until", "2026-12-31", "--by", "李总监"]
    steps += [("2026-04-01", ["override", "set", "HX-001", "--tier", "gold", "--reason", "Framework agreement", *until]),
              ("2026-04-01", ["override", "set", "huaxin-steel", "--accept", "tender-price-war",
                              "--reason", "Public tender: the buyer sets the price", *until]),
              ("2026-04-01", ["override", "set", "huaxin-steel", "--accept", "risk-delivery-no-owner",
                              "--reason", "An owner is being named", *until]),
              ("2026-04-01", ["override", "set", "huaxin-steel", "--class", "key", "--reason", "Kept key", *until]),
              ("2026-04-02", ["override", "remove", "4", "--by", "李总监"]),
              ("2026-04-02", ["store", "export", "-o", str(d / "backup.jsonl")])]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KAMRULES_STORE", str(d / "history.sqlite"))
        mp.setenv("KAMRULES_CACHE_DIR", str(d / "cache"))
        for day, args in steps:
            with time_machine.travel(_dt.datetime.fromisoformat(f"{day}T10:00:00+00:00"), tick=True):
                r = CliRunner().invoke(main, args)
            assert r.exit_code == 0, f"{args}: {r.output}"
    import json

    tables = [json.loads(line).get("table") for line in (d / "backup.jsonl").open(encoding="utf-8")]
    assert (tables.count("kamrules_reviews"), tables.count("kamrules_overrides")) == (22, 4)
    return d


@pytest.fixture(scope="module")
def postgresql() -> Iterator[object]:
    """A PostgreSQL server on 127.0.0.1 for the examples that name a team's server
    (postgresql://kam@db.example.com/kam): libpq takes the address, port and password the URL
    leaves out from PGHOSTADDR, PGPORT and PGPASSWORD, so the URL is used as printed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_pgserver", ROOT / "tests" / "history" / "pgserver.py")
    assert spec is not None and spec.loader is not None
    pgserver = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = pgserver  # its dataclasses look their module up there
    spec.loader.exec_module(pgserver)
    if pgserver.find_bin() is None:
        if os.environ.get("KAMRULES_REQUIRE_POSTGRESQL"):  # .ci/run: it must run there
            pytest.fail("no PostgreSQL server binaries (initdb, pg_ctl), and KAMRULES_REQUIRE_POSTGRESQL is set")
        pytest.skip("the PostgreSQL examples did not run: no PostgreSQL server binaries (initdb, pg_ctl)")
    srv = pgserver.start()
    try:
        srv.psql("CREATE ROLE kam LOGIN PASSWORD 'kam-docs'")
        yield srv
    finally:
        srv.stop()


def _sandbox(tmp: Path, command: str, recorded: Path) -> Path:
    """A folder with examples/, rules/ and the placeholder files the examples name, and a home
    whose user data directory holds the recorded review store (the store a user who ran the
    README's `--record` examples has; docs/history.md, rule 5)."""
    shutil.copytree(ROOT / "examples", tmp / "examples")
    shutil.copytree(ROOT / "rules", tmp / "rules")
    crm = ROOT / "examples" / "portfolio" / "crm"
    huaxin = ROOT / "examples" / "accounts" / "huaxin-steel.yaml"
    for name in ("account.yaml", "huaxin.yaml", "my-account.yaml"):  # my-account: bare `kamrules`' start
        shutil.copy(huaxin, tmp / name)
    for overlay in ("my-overlay", "my-company", "calibrated"):  # calibrated: what `portfolio --calibrate` writes
        (tmp / f"{overlay}.yaml").write_text(f"rulebook: {overlay}\nextends: [course]\n", encoding="utf-8")
    shutil.copy(crm / "accounts.csv", tmp / "accounts.csv")
    for name in ("deals.xlsx", "opportunities.xlsx", "export.xlsx"):
        shutil.copy(crm / "deals.xlsx", tmp / name)
    mapping = (crm / "mapping.yaml").read_text(encoding="utf-8")
    (tmp / "crm.yaml").write_text(mapping.replace("file: deals.xlsx", 'file: "*.xlsx"'), encoding="utf-8")
    export = ROOT / "examples" / "portfolio" / "crm-export.csv"
    shutil.copy(export, tmp / "export.csv")
    header, first = export.read_text(encoding="utf-8-sig").splitlines()[:2]
    (tmp / "one-account.csv").write_text(f"{header}\n{first}\n", encoding="utf-8")
    (tmp / "more").mkdir()
    for name in ("hengtai-petrochem.yaml", "dingli-pumps.yaml"):
        shutil.copy(ROOT / "examples" / "accounts" / name, tmp / "more" / name)
    data = tmp / "home" / ".local" / "share" / "kamrules"
    data.mkdir(parents=True)
    shutil.copy(recorded / "history.sqlite", data / "history.sqlite")
    shutil.copy(recorded / "history.sqlite", tmp / "reviews.sqlite")  # a store named by its path
    shutil.copy(recorded / "backup.jsonl", tmp / "backup.jsonl")  # what `store export` wrote
    (tmp / "home" / "accounts" / "east-china").mkdir(parents=True)  # a project folder to be
    for target in _re.findall(r"(?:-o|--output|>)\s+(\S+)", command):  # what the example writes is not there yet
        (tmp / target).unlink(missing_ok=True)
    if "init company" not in command:  # the examples that create acme/ must not find it there
        for folder in (tmp, tmp / "examples" / "company"):
            assert CliRunner().invoke(main, ["init", "company", "acme", "--dir", str(folder)]).exit_code == 0
    return tmp


def _run(line: str, cwd: Path) -> tuple[int, str]:
    """One example line, with the shell syntax it uses: `a && b` runs b when a succeeded."""
    line = _re.sub(r"^pip install \. && ", "", line)
    code, output = 0, ""
    for command in _re.split(r"\s+&&\s+", line):
        code, out = _run_one(command, cwd)
        output += out
        if code != 0:
            break
    return code, output


def _run_one(line: str, cwd: Path) -> tuple[int, str]:
    stdin = None
    m = _re.match(r"^cat (\S+) \| (.*)$", line)
    if m:
        stdin, line = (cwd / m.group(1)).read_text(encoding="utf-8"), m.group(2)
    words = shlex.split(line, comments=True)
    pipe = redirect = None
    if "|" in words:  # `kamrules … | gzip > FILE`: the rest of the pipeline runs in the shell
        i = words.index("|")
        words, pipe = words[:i], shlex.join(words[i + 1:]).replace("'>'", ">")
    elif ">" in words:
        i = words.index(">")
        words, redirect = words[:i], words[i + 1]
    assert words[0] == "kamrules", line
    args: list[str] = []
    for w in words[1:]:
        if w.startswith("~"):
            args.append(os.path.expanduser(w))
        elif any(c in w for c in "*?"):
            found = sorted(str(p.relative_to(cwd)) for p in cwd.glob(w))
            assert found, f"{w} matches nothing"
            args += found
        else:
            args.append(w)
    r = CliRunner().invoke(main, args, input=stdin)
    if redirect:
        (cwd / redirect).write_text(r.stdout, encoding="utf-8")
    if pipe is not None and r.exit_code == 0:
        done = subprocess.run(pipe, shell=True, cwd=cwd, input=r.stdout_bytes, capture_output=True, timeout=60)
        return done.returncode, r.output + done.stderr.decode("utf-8", "replace")
    return r.exit_code, r.output


def _postgresql(srv: object, line: str, recorded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The team's server of the example: database kam, owned by kam — empty for an import into
    it, else holding the recorded reviews."""
    psql, url = getattr(srv, "psql"), getattr(srv, "url")
    psql("DROP DATABASE IF EXISTS kam WITH (FORCE)")
    psql("CREATE DATABASE kam OWNER kam")
    monkeypatch.setenv("PGHOSTADDR", "127.0.0.1")
    monkeypatch.setenv("PGPORT", str(getattr(srv, "port")))
    monkeypatch.setenv("PGPASSWORD", "kam-docs")
    if "store import" not in line:
        r = CliRunner().invoke(main, ["store", "import", str(recorded / "backup.jsonl"), "--store",
                                      url("kam", user="kam", password=None)])
        assert r.exit_code == 0, r.output


@pytest.mark.parametrize("where,line", EXAMPLES, ids=[f"{w}: {ln}" for w, ln in EXAMPLES])
def test_every_documented_example_runs_as_written(where: str, line: str, tmp_path: Path, recorded: Path,
                                                  request: pytest.FixtureRequest,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = _sandbox(tmp_path, line, recorded)
    monkeypatch.chdir(cwd)
    # the session's cache (conftest), as a user's persists from one command to the next
    monkeypatch.setenv("HOME", str(cwd / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(cwd / "home" / ".local" / "share"))
    if "postgresql://" in line:
        _postgresql(request.getfixturevalue("postgresql"), line, recorded, monkeypatch)
    with time_machine.travel(DOCS_DAY, tick=True):
        code, output = _run(line, cwd)
    # --fail-on exits 1 when a finding is that severe: that is the example's point, not a failure
    allowed = (0, 1) if "--fail-on" in line else (0,)
    assert code in allowed, f"{where}: '{line}' exited {code}:\n{output[-3000:]}"
    assert "Traceback" not in output
    for words in PROMISED.get(" ".join(shlex.split(line, comments=True)), ()):
        assert words in output, f"{where}: '{line}' does not do what it says ({words!r}):\n{output[-3000:]}"
    made = MADE.get(" ".join(shlex.split(line, comments=True)))
    if made is not None:
        made(cwd)


def _dashboard_links_every_playbook(cwd: Path) -> None:
    """The README's dashboard: every account row links a playbook that --playbooks wrote."""
    html = (cwd / "dashboard" / "index.html").read_text(encoding="utf-8")
    linked = _re.findall(r'<a href="(accounts/[^"]+)">', html)
    assert len(linked) >= 200 and all((cwd / "dashboard" / h).is_file() for h in linked)


# What an example's files must hold, beyond exit 0 (the files are in its working folder).
MADE = {
    "kamrules portfolio examples/portfolio/crm/accounts.csv examples/portfolio/crm/deals.xlsx --mapping "
    "examples/portfolio/crm/mapping.yaml --as-of 2026-06-30 --format html -o dashboard/index.html --playbooks "
    "dashboard/accounts/": _dashboard_links_every_playbook,
}


def test_every_made_check_names_a_documented_example() -> None:
    run = {" ".join(shlex.split(ln, comments=True)) for _, ln in EXAMPLES}
    assert set(MADE) <= run


# What the review-store examples say they do (their comments, docs/history.md), beyond exit 0,
# for the store the `recorded` fixture holds: a command that ran on an empty store would fail here.
PROMISED = {
    "kamrules advise huaxin.yaml --record --by 王经理": ("kamrules: recorded review 23", "自上次复盘以来"),
    "kamrules portfolio export.csv --record": ("kamrules: recorded 10 reviews (23–32)",),
    "kamrules history huaxin-steel": ("2 次复盘", "#11   2025-12-31", "#22   2026-03-31"),
    "kamrules diff huaxin-steel --since 2026-01-01": ("#11 2025-12-31 → #22 2026-03-31", "平均折扣率 15% → 18%"),
    "kamrules portfolio export.csv --since 2026-03-31": ("10 个客户中有 10 个在 2026-03-31 或之前有复盘记录",),
    "kamrules replay 12": ("OK: review 12 (HX-001, as of 2026-03-31)", "byte-identical"),
    "kamrules replay 12 --rulebook course": ("OK: review 12", "the same rulebook"),
    "kamrules override list": ("3\thuaxin-steel\taccept risk-delivery-no-owner",),
    "kamrules override list huaxin-steel --all": ("4\thuaxin-steel\tfinal → key\tuntil 2026-12-31\tremoved",),
    "kamrules override remove 3": ("removed override 3 of 'huaxin-steel'",),
    "kamrules store info": ("chosen by: user data directory", "reviews: 22 of 11 accounts", "overrides: 4"),
    "kamrules store export -o backup.jsonl && kamrules store import backup.jsonl --store postgresql://kam@db/kam":
        ("imported 22 reviews, 4 overrides", "into postgresql://kam@db/kam"),
    "kamrules history HX-001 --store postgresql://kam@db.example.com/kam --format json": ('"id": "HX-001"',),
}


def test_the_review_store_examples_are_run() -> None:
    """The history examples once stood aside for want of a store: they are all run now."""
    commands = {shlex.split(ln, comments=True)[1] for _, ln in EXAMPLES}
    assert {"history", "diff", "replay", "override", "store"} <= commands
    assert sum("--record" in ln for _, ln in EXAMPLES) >= 3 and sum("postgresql://" in ln for _, ln in EXAMPLES) >= 5
    run = {" ".join(shlex.split(ln, comments=True)) for _, ln in EXAMPLES}
    assert set(PROMISED) <= run, f"promises about examples that are not in the docs: {set(PROMISED) - run}"


def _yaml_blocks() -> list[tuple[str, str]]:
    out = []
    for doc in DOCS:
        for body in _re.findall(r"```yaml\n(.*?)```", doc.read_text(encoding="utf-8"), _re.S):
            out.append((doc.relative_to(ROOT).as_posix(), body))
    return out


def _kind(body: str) -> str:
    """What a YAML example is: a whole file of a kind kamrules reads, or a sketch (it holds '…'
    for what is left out, or is a fragment: indented, a list, a section of a larger file)."""
    if "…" in body or body.startswith((" ", "-")):
        return "sketch"
    first = next(line for line in body.splitlines() if line.strip() and not line.startswith("#"))
    if "\ncases:" in f"\n{body}":
        return "rule test"
    if first.startswith("rulebook:"):
        return "rulebook"
    if first.startswith("id:"):
        return "account"
    if first.startswith(("currency:", "accounts:", "deals:")):
        return "mapping"
    return "sketch"


YAML_BLOCKS = [(w, b) for w, b in _yaml_blocks() if _kind(b) != "sketch"]


def test_the_issue_s_named_examples_are_whole_files_and_run() -> None:
    kinds = {(_kind(b), w) for w, b in YAML_BLOCKS}
    assert ("account", "README.md") in kinds and ("rule test", "docs/rulebook-language.md") in kinds


@pytest.mark.parametrize("where,body", YAML_BLOCKS, ids=[f"{w}: {b.splitlines()[0]}" for w, b in YAML_BLOCKS])
def test_every_whole_yaml_example_runs_as_written(where: str, body: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    kind = _kind(body)
    # a rule test or an overlay names its rulebook relative to itself: it sits where the docs put it
    folder = tmp_path / "examples" / "company" / "acme"
    folder.mkdir(parents=True)
    shutil.copytree(ROOT / "examples" / "accounts", tmp_path / "examples" / "accounts")
    monkeypatch.chdir(tmp_path)  # the session's cache (conftest), as a user's
    name = {"rule test": "example.test.yaml", "rulebook": "example.yaml", "account": "account.yaml",
            "mapping": "crm.yaml"}[kind]
    path = folder / name
    path.write_text(body, encoding="utf-8")
    if kind == "rule test":
        r = CliRunner().invoke(main, ["test", str(path)])
    elif kind == "rulebook":
        r = CliRunner().invoke(main, ["check", str(path)])
    elif kind == "account":
        r = CliRunner().invoke(main, ["advise", str(path), "--as-of", "2026-06-30"])
    else:  # a mapping: read and checked against the course by the real loader (exit 2 on any problem)
        from kamrules.core.errors import InputError
        from kamrules.io.crm.mapping import load_mapping
        from kamrules.rulebook.load import load_rulebook

        try:
            load_mapping(str(path), load_rulebook("course"))
        except InputError as e:
            pytest.fail(f"{where}: the mapping example fails as written:\n{e}")
        return
    assert r.exit_code == 0, f"{where}: the {kind} example fails as written:\n{r.output[-3000:]}"
