"""Trust at the edges (issue 9, classes 1–4; docs/security.md), attacked the way a shared
overlay, another user of the machine or a broken pipe would:

1. company templates come only from the overlay's own folder tree (symbolic links, FIFOs,
   folders outside, a check that must not walk the whole disk);
2. templates are bounded beyond the corpus cases (deadline, 2,000 chained extends,
   recursive loops);
3. -o never replaces a device, a FIFO, a link or an input, and every write failure is exit 2;
4. the cache cannot lie and cannot run code (planted pickles, bit flips, FIFOs, foreign or
   shared folders, relative XDG paths, repointed templates, concurrent writers).

The device and mount cases need root, which is how the issue found /dev/null replaced.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner, Result

from kamrules.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
MINI = DATA / "bad" / "mini.yaml"
GOOD = DATA / "bad" / "good.yaml"
AS_OF = "2026-06-30"
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (devices, chown, mounts)")


def advise(*args: str) -> Result:
    return CliRunner().invoke(main, ["advise", *args], catch_exceptions=True)


def cli(*args: str, env: dict[str, str | None] | None = None, cwd: Path = ROOT, timeout: float = 120,
        **kw: Any) -> subprocess.CompletedProcess[bytes]:
    """kamrules as a fresh process (the cache, stdout and hangs need a real one)."""
    full = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            full.pop(k, None)
        else:
            full[k] = v
    return subprocess.run([sys.executable, "-m", "kamrules", *args], cwd=str(cwd), env=full, timeout=timeout,
                          **({"capture_output": True} | kw))


def make_overlay(folder: Path, templates: str | None = "templates", body: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    f = folder / "o.yaml"
    setting = f"templates: {templates}\n" if templates is not None else ""
    f.write_text(f"rulebook: o\nextends: [{MINI}]\n{setting}{body}", encoding="utf-8")
    return f


def expected_md() -> str:
    res = advise(str(GOOD), "-r", str(MINI), "--as-of", AS_OF)
    assert res.exit_code == 0, res.output
    return res.stdout


# ============================================================================ 1. templates

def test_a_template_linked_to_a_secret_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY----- TOPSECRET\n", encoding="utf-8")
    ov = make_overlay(tmp_path / "ov")
    (tmp_path / "ov" / "templates").mkdir()
    (tmp_path / "ov" / "templates" / "playbook.md.j2").symlink_to(secret)
    res = advise(str(GOOD), "-r", str(ov))
    assert res.exit_code == 2, res.output
    assert "error[template.outside]" in res.stderr and "playbook.md.j2" in res.stderr
    assert "TOPSECRET" not in res.output
    chk = CliRunner().invoke(main, ["check", str(ov)])
    assert chk.exit_code == 1, chk.output
    assert "error[template.outside]" in chk.stdout and "TOPSECRET" not in chk.output


def test_etc_passwd_cannot_be_included_through_a_link(tmp_path: Path) -> None:
    ov = make_overlay(tmp_path / "ov")
    tpl = tmp_path / "ov" / "templates"
    tpl.mkdir()
    (tpl / "playbook.md.j2").write_text("{% include 'parts/passwd' %}\n", encoding="utf-8")
    (tpl / "parts").symlink_to("/etc")  # a folder inside, linked outside
    res = advise(str(GOOD), "-r", str(ov))
    assert res.exit_code == 2, res.output
    assert "error[template.outside]" in res.stderr and "root:" not in res.output
    chk = CliRunner().invoke(main, ["check", str(ov), "--strict"])
    assert chk.exit_code == 1 and "error[template.outside]" in chk.stdout and "parts" in chk.stdout, chk.output


def test_a_templates_folder_linked_outside_is_a_setting_error(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "playbook.md.j2").write_text("LEAKED {{ account.name }}\n", encoding="utf-8")
    ov = make_overlay(tmp_path / "ov")
    (tmp_path / "ov" / "templates").symlink_to(elsewhere)
    res = advise(str(GOOD), "-r", str(ov))
    assert res.exit_code == 2 and "o.yaml:3" in res.stderr and "error[rulebook.templates]" in res.stderr, res.output
    assert "LEAKED" not in res.output
    chk = CliRunner().invoke(main, ["check", str(ov)])
    assert chk.exit_code == 1 and "o.yaml:3" in chk.stdout and "error[rulebook.templates]" in chk.stdout, chk.output


def test_links_that_stay_inside_the_overlay_work(tmp_path: Path) -> None:
    ov = make_overlay(tmp_path / "ov")
    shared = tmp_path / "ov" / "shared"
    shared.mkdir()
    (shared / "base.j2").write_text("OURS {{ account.name }}\n", encoding="utf-8")
    (tmp_path / "ov" / "templates").mkdir()
    (tmp_path / "ov" / "templates" / "playbook.md.j2").symlink_to(Path("..") / "shared" / "base.j2")
    res = advise(str(GOOD), "-r", str(ov))
    assert res.exit_code == 0, res.output
    assert res.stdout == "OURS Test\n"
    assert CliRunner().invoke(main, ["check", str(ov)]).exit_code == 0


@pytest.mark.parametrize("command", ["advise", "check"])
def test_a_fifo_in_the_templates_folder_does_not_hang(command: str, tmp_path: Path) -> None:
    ov = make_overlay(tmp_path / "ov")
    (tmp_path / "ov" / "templates").mkdir()
    os.mkfifo(tmp_path / "ov" / "templates" / "playbook.md.j2")
    args = ["advise", str(GOOD), "-r", str(ov)] if command == "advise" else ["check", str(ov)]
    proc = cli(*args, timeout=60)  # a hang fails here
    assert proc.returncode == (2 if command == "advise" else 1), proc.stderr
    out = (proc.stderr if command == "advise" else proc.stdout).decode()
    assert "error[template.not-a-file]" in out and "playbook.md.j2" in out


def test_check_walks_only_the_overlay_folder_and_a_bounded_part_of_it(tmp_path: Path) -> None:
    ov = make_overlay(tmp_path / "ov", templates=".")
    deep = tmp_path / "ov"
    for i in range(20):  # deeper than the walk goes
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    (deep / "bad.j2").write_text("{{ nope", encoding="utf-8")
    many = tmp_path / "ov" / "many"
    many.mkdir()
    for i in range(2500):
        (many / f"f{i:04}.txt").write_text("", encoding="utf-8")
    t0 = time.perf_counter()
    res = CliRunner().invoke(main, ["check", str(ov)])
    assert time.perf_counter() - t0 < 30
    assert "warning[template.too-many-files]" in res.stdout, res.output
    assert "bad.j2" not in res.stdout  # 20 folders deep: not walked


def test_check_reports_a_template_saved_in_gbk(tmp_path: Path) -> None:
    ov = make_overlay(tmp_path / "ov")
    (tmp_path / "ov" / "templates").mkdir()
    (tmp_path / "ov" / "templates" / "playbook.md.j2").write_bytes("第一行\n{{ account.name }} 客户\n".encode("gbk"))
    res = CliRunner().invoke(main, ["check", str(ov)])
    assert res.exit_code == 1, res.output
    assert "playbook.md.j2:1: error[template.encoding]" in res.stdout and "not UTF-8" in res.stdout


def test_check_of_a_root_setting_is_an_error_and_fast() -> None:
    t0 = time.perf_counter()
    res = CliRunner().invoke(main, ["check", str(DATA / "bad" / "rulebooks" / "template_root.yaml"), "--strict"])
    assert time.perf_counter() - t0 < 30
    assert res.exit_code == 1, res.output
    assert "template_root.yaml:4:" in res.stdout and "error[rulebook.templates]" in res.stdout


# ============================================================================ 2. bounds

def test_two_thousand_chained_extends_stop_with_a_location(tmp_path: Path) -> None:
    ov = make_overlay(tmp_path / "ov")
    tpl = tmp_path / "ov" / "templates"
    tpl.mkdir()
    (tpl / "playbook.md.j2").write_text("{% extends 't1.j2' %}\n", encoding="utf-8")
    for i in range(1, 2000):
        (tpl / f"t{i}.j2").write_text(f"{{# link {i} #}}\n{{% extends 't{i + 1}.j2' %}}\n", encoding="utf-8")
    (tpl / "t2000.j2").write_text("end\n", encoding="utf-8")
    t0 = time.perf_counter()
    res = advise(str(GOOD), "-r", str(ov))
    assert time.perf_counter() - t0 < 30
    assert res.exit_code == 2, res.output
    assert re.search(r"/t\d+\.j2:2: error\[template\.limit\]", res.stderr), res.stderr
    assert "nested more than 32" in res.stderr


def test_a_recursive_loop_without_end_is_bounded(tmp_path: Path) -> None:
    ov = make_overlay(tmp_path / "ov")
    (tmp_path / "ov" / "templates").mkdir()
    (tmp_path / "ov" / "templates" / "playbook.md.j2").write_text(
        "title\n{% for x in [[1]] recursive %}{{ loop([[x]]) }}{% endfor %}\n", encoding="utf-8")
    res = advise(str(GOOD), "-r", str(ov))
    assert res.exit_code == 2 and "playbook.md.j2:2: error[template.limit]" in res.stderr, res.output


def test_the_deadline_stops_a_slow_template() -> None:
    from jinja2 import DictLoader

    from kamrules.language.sandbox import PLAYBOOK, BoundedEnvironment, LimitExceeded

    slow = "{% for i in range(100000) %}{{ range(100000)|list|sort|length }}{% endfor %}"
    env = BoundedEnvironment(limits=dataclasses.replace(PLAYBOOK, seconds=0.5), loader=DictLoader({"t": slow}))
    t0 = time.process_time()
    with pytest.raises(LimitExceeded, match="longer than 0.5 seconds"):
        env.get_template("t").render()
    # stopped, not run to its end (minutes of CPU): CPU time, which a loaded machine does not inflate
    assert time.process_time() - t0 < 5


@pytest.mark.parametrize("source,word", [
    ("{{ 'x'|center(999999999) }}", "2,000,000"),
    ("{{ 'x'.ljust(10**9) }}", "2,000,000"),
    ("{{ '%0999999999d' % 1 }}", "2,000,000"),
    ("{{ '%0999999999d'|format(1) }}", "2,000,000"),
    ("{{ [1]|batch(999999999, 'x')|list }}", "100,000 items"),
    ("{{ ('x' * 100000)|replace('', 'yyyyyyyyyyyyyyyyyyyyyyyyyy') }}", "2,000,000"),
    ("{{ (['y' * 1000] * 100000)|join }}", "2,000,000"),
    ("{{ 'a\\tb'.expandtabs(10**9) }}", "2,000,000"),
    ("{{ 5|round(-999999999) }}", "100 digits"),
    ("{{ 2 ** 4097 }}", "4,096 bits"),
    ("{{ (10 ** 1000) * (10 ** 1000) * (10 ** 1000) * (10 ** 1000) * (10 ** 1000) }}", "4,096 bits"),
    ("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "100,000"),
    ("{{ '{:{}}'.format(1, 999999999) }}", "nested format"),
    ("{% filter indent(999999) %}{% for i in range(100) %}x\n{% endfor %}{% endfilter %}", "2,000,000"),
])
def test_amplifying_operations_are_checked_before_they_run(source: str, word: str) -> None:
    from jinja2 import DictLoader
    from jinja2.exceptions import SecurityError

    from kamrules.language.sandbox import PLAYBOOK, BoundedEnvironment

    env = BoundedEnvironment(limits=PLAYBOOK, loader=DictLoader({"t": source}))
    t0 = time.perf_counter()
    with pytest.raises(SecurityError, match=word):
        env.get_template("t").render()
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("hook", ["_output_child_pre", "visit_Concat"])
def test_a_jinja_without_the_hooks_the_bounds_use_is_refused(hook: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # the bounds count output through private methods of Jinja's code generator: a Jinja that
    # renamed one would skip the count silently, so no bounded environment is made at all
    from jinja2.compiler import CodeGenerator

    from kamrules.language.sandbox import PLAYBOOK, BoundedEnvironment

    monkeypatch.delattr(CodeGenerator, hook)
    with pytest.raises(RuntimeError, match=f"has no {hook}: the template bounds cannot be applied"):
        BoundedEnvironment(limits=PLAYBOOK)


def test_templates_lose_nondeterministic_and_unbounded_helpers() -> None:
    from kamrules.language.messages import make_env
    from kamrules.language.sandbox import PLAYBOOK, BoundedEnvironment

    for env in (BoundedEnvironment(limits=PLAYBOOK), make_env("en")):
        assert "random" not in env.filters and "lipsum" not in env.globals


def test_bounds_leave_an_ordinary_template_alone() -> None:
    from jinja2 import DictLoader

    from kamrules.language.sandbox import PLAYBOOK, BoundedEnvironment

    src = ("{% macro row(x) %}| {{ x }} | {{ x * 2 }} |{% endmacro %}{% for x in items %}{{ row(x) }}\n{% endfor %}"
           "{{ items|join(', ') }} {{ '%5.1f'|format(2.25) }} {{ '{:>4}'.format('a') }} {{ 2 ** 10 }} "
           "{{ 'ab' ~ 'cd' }} {% for a in range(3) %}{% for b in range(3) %}{{ a * b }}{% endfor %}{% endfor %}")
    env = BoundedEnvironment(limits=PLAYBOOK, loader=DictLoader({"t": src}))
    assert env.get_template("t").render(items=[1, 2]) == \
        "| 1 | 2 |\n| 2 | 4 |\n1, 2   2.2    a 1024 abcd 000012024"


# ============================================================================ 3. -o

def _write(target: Path | str, *extra: str) -> Result:
    return advise(str(GOOD), "-r", str(MINI), "--as-of", AS_OF, "-o", str(target), *extra)


def _left_behind(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".kamrules-"))


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "reports" / "latest-real.md"
    real.parent.mkdir()
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "latest.md"
    link.symlink_to(real)
    res = _write(link)
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text(encoding="utf-8") == expected_md()
    dangling = tmp_path / "new.md"
    dangling.symlink_to(tmp_path / "reports" / "created.md")
    assert _write(dangling).exit_code == 0
    assert dangling.is_symlink() and (tmp_path / "reports" / "created.md").read_text(encoding="utf-8") == expected_md()
    assert _left_behind(tmp_path) == _left_behind(real.parent) == []


@ROOT_ONLY
def test_a_link_planted_by_another_user_in_a_shared_folder_is_not_followed(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp
    victim = tmp_path / "bashrc"
    victim.write_text("# mine\n", encoding="utf-8")
    trap = shared / "playbook.md"
    trap.symlink_to(victim)
    os.lchown(trap, 65534, 65534)  # made by 'nobody'
    res = _write(trap)
    assert res.exit_code == 2, res.output
    assert "error[output.symlink-unsafe]" in res.stderr
    assert victim.read_text(encoding="utf-8") == "# mine\n" and trap.is_symlink()


_NULL = os.makedev(1, 3)  # Linux's null device


def _restore_dev_null() -> None:
    """Put a real /dev/null back (atomically), for everybody on the machine."""
    spare = f"/dev/.null.kamrules-test-{os.getpid()}"
    os.mknod(spare, stat.S_IFCHR | 0o666, _NULL)
    os.chmod(spare, 0o666)
    os.replace(spare, "/dev/null")


@ROOT_ONLY
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="device numbers are Linux's")
def test_dev_null_is_written_into_never_replaced_even_as_root(tmp_path: Path) -> None:
    if os.stat("/dev/null").st_rdev != _NULL or not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        _restore_dev_null()  # something else on this machine replaced it; this test needs the real one
    before = os.stat("/dev/null")
    # first a private null device: if kamrules regressed, only this copy would be lost
    private = tmp_path / "null"
    os.mknod(private, stat.S_IFCHR | 0o666, _NULL)
    res = _write(private)
    assert res.exit_code == 0 and stat.S_ISCHR(os.lstat(private).st_mode), res.output
    try:
        res = _write("/dev/null")
        assert res.exit_code == 0, res.output
        after = os.stat("/dev/null")
        assert stat.S_ISCHR(after.st_mode) and after.st_rdev == _NULL and after.st_ino == before.st_ino
        assert _left_behind(Path("/dev")) == []
    finally:
        if not stat.S_ISCHR(os.lstat("/dev/null").st_mode):  # put the machine right before failing
            _restore_dev_null()


def test_a_fifo_without_a_reader_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    t0 = time.perf_counter()
    res = _write(fifo)
    assert time.perf_counter() - t0 < 10
    assert res.exit_code == 2 and "error[output.no-reader]" in res.stderr, res.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_fifo_with_a_reader_receives_the_playbook(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    res = None
    while time.monotonic() < deadline:  # the reader must be waiting before the writer opens
        res = _write(fifo)
        if res.exit_code == 0:
            break
        time.sleep(0.05)
    assert res is not None and res.exit_code == 0, res.output if res else ""
    t.join(10)
    assert got and got[0].decode("utf-8") == expected_md()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@ROOT_ONLY
@pytest.mark.parametrize("kind", ["char", "block"])
def test_other_devices_are_refused_and_kept(kind: str, tmp_path: Path) -> None:
    node = tmp_path / f"{kind}dev"
    mode = stat.S_IFCHR if kind == "char" else stat.S_IFBLK
    os.mknod(node, mode | 0o600, os.makedev(1, 5) if kind == "char" else os.makedev(7, 200))
    res = _write(node)
    assert res.exit_code == 2 and "error[output.special-file]" in res.stderr, res.output
    st = os.lstat(node)
    assert (stat.S_ISCHR if kind == "char" else stat.S_ISBLK)(st.st_mode)


OUTPUT_COMMANDS = {
    "advise": ["advise", str(GOOD), "-r", str(MINI), "--as-of", AS_OF],
    "portfolio": ["portfolio", str(GOOD), "-r", str(MINI), "--as-of", AS_OF],
    "init": ["init", "account", "-r", str(MINI)],
}


@pytest.mark.parametrize("command", sorted(OUTPUT_COMMANDS))
def test_every_command_with_o_keeps_fifos_and_links(command: str, tmp_path: Path) -> None:
    args = OUTPUT_COMMANDS[command]
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    res = CliRunner().invoke(main, [*args, "-o", str(fifo)])
    assert res.exit_code == 2 and stat.S_ISFIFO(os.lstat(fifo).st_mode), res.output  # no reader, or init's "exists"
    target = tmp_path / "real" / "out.txt"
    target.parent.mkdir()
    link = tmp_path / "link.txt"
    link.symlink_to(target)  # dangling: its target is created, the link stays
    res = CliRunner().invoke(main, [*args, "-o", str(link)])
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and target.stat().st_size > 0
    name = tmp_path / ("n" * 250 + ".txt")
    res = CliRunner().invoke(main, [*args, "-o", str(name)])
    assert res.exit_code == 0 and name.stat().st_size > 0, res.output
    assert _left_behind(tmp_path) == [] and _left_behind(target.parent) == []


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(path))
        res = _write(path)
        assert res.exit_code == 2 and "error[output.special-file]" in res.stderr, res.output
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        s.close()


def _inputs(tmp_path: Path) -> dict[str, Path]:
    """An account with a company profile, an overlay with templates over a copy of the mini
    rulebook, and a CSV export: every kind of input advise and portfolio read."""
    base = tmp_path / "base.yaml"
    text = MINI.read_text(encoding="utf-8").replace("facts:\n", "facts:\n  company.revenue: {type: money}\n", 1)
    base.write_text(text, encoding="utf-8")
    ov = tmp_path / "ov"
    (ov / "templates").mkdir(parents=True)
    (ov / "o.yaml").write_text("rulebook: o\nextends: [../base.yaml]\ntemplates: templates\n", encoding="utf-8")
    (ov / "templates" / "playbook.md.j2").write_text("OURS {{ account.name }}\n", encoding="utf-8")
    (ov / "templates" / "playbook.html.j2").write_text("<p>{{ account.name }}</p>\n", encoding="utf-8")
    acc = tmp_path / "acc.yaml"
    acc.write_text(GOOD.read_text(encoding="utf-8") + "company: profile.yaml\n", encoding="utf-8")
    profile = tmp_path / "profile.yaml"
    profile.write_text("revenue: 300M\n", encoding="utf-8")
    csv = tmp_path / "export.csv"
    csv.write_text("id,name,revenue\nc1,CSV Co,12M\n", encoding="utf-8")
    return {"account": acc, "profile": profile, "base": base, "overlay": ov / "o.yaml",
            "template": ov / "templates" / "playbook.md.j2", "unused_template": ov / "templates" / "playbook.html.j2",
            "csv": csv}


@pytest.mark.parametrize("target", ["account", "profile", "base", "overlay", "template", "unused_template"])
def test_advise_never_writes_over_any_input(target: str, tmp_path: Path) -> None:
    files = _inputs(tmp_path)
    ok = advise(str(files["account"]), "-r", str(files["overlay"]), "--as-of", AS_OF)
    assert ok.exit_code == 0 and ok.stdout == "OURS Test\n", ok.output  # the company profile is read
    before = {k: p.read_bytes() for k, p in files.items()}
    res = advise(str(files["account"]), "-r", str(files["overlay"]), "--as-of", AS_OF, "-o", str(files[target]))
    assert res.exit_code == 2, res.output
    assert "error[output.over-input]" in res.stderr, res.stderr
    assert {k: p.read_bytes() for k, p in files.items()} == before


def test_a_rulebook_served_from_the_cache_is_still_an_input(tmp_path: Path) -> None:
    files = _inputs(tmp_path)
    args = [str(files["account"]), "-r", str(files["overlay"]), "--as-of", AS_OF]
    env = {"KAMRULES_CACHE_DIR": str(tmp_path / "cache")}
    assert cli("advise", *args, env=env).returncode == 0  # warms the cache
    before = files["base"].read_bytes()
    proc = cli("advise", *args, "-o", str(files["base"]), env=env)
    assert proc.returncode == 2 and b"error[output.over-input]" in proc.stderr, proc.stderr
    assert files["base"].read_bytes() == before


@pytest.mark.parametrize("command", ["advise", "portfolio"])
def test_a_csv_export_is_never_overwritten(command: str, tmp_path: Path) -> None:
    csv = _inputs(tmp_path)["csv"]
    before = csv.read_bytes()
    args = [command, str(csv), "-r", str(MINI), "--as-of", AS_OF, "-o", str(csv)]
    if command == "advise":
        args += ["--account", "c1"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "error[output.over-input]" in res.stderr, res.output
    assert csv.read_bytes() == before


@pytest.mark.parametrize("length", [248, 255])
def test_long_output_names_work(length: int, tmp_path: Path) -> None:
    name = "p" * (length - 3) + ".md"
    res = _write(tmp_path / name)
    assert res.exit_code == 0, res.output
    assert (tmp_path / name).read_text(encoding="utf-8") == expected_md()
    assert _left_behind(tmp_path) == []


def _mount_tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    yield from _mount_tmpfs(tmp_path / "full", "size=8k")


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    yield from _mount_tmpfs(tmp_path / "ro", "ro,size=64k")


@ROOT_ONLY
def test_a_full_disk_is_exit_2_and_leaves_nothing(full_disk: Path) -> None:
    (full_disk / "old.md").write_text("the previous playbook\n", encoding="utf-8")
    fd = os.open(full_disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:  # fill what is left
        while True:
            os.write(fd, b"x" * 512)
    except OSError:
        pass
    finally:
        os.close(fd)
    res = _write(full_disk / "old.md")
    assert res.exit_code == 2, res.output
    assert "error[output.write-failed]" in res.stderr and "No space left on device" in res.stderr
    assert (full_disk / "old.md").read_text(encoding="utf-8") == "the previous playbook\n"
    assert _left_behind(full_disk) == []
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler", "old.md"]


@ROOT_ONLY
def test_a_read_only_folder_is_exit_2(read_only: Path) -> None:
    res = _write(read_only / "p.md")
    assert res.exit_code == 2 and "Read-only file system" in res.stderr, res.output


def test_a_file_size_limit_is_exit_2_and_keeps_the_old_file(tmp_path: Path) -> None:
    # RLIMIT_FSIZE: the same failure as a full quota, without root
    target = tmp_path / "p.md"
    target.write_text("old\n", encoding="utf-8")

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))

    proc = cli("advise", str(GOOD), "-r", str(MINI), "--as-of", AS_OF, "-o", str(target), preexec_fn=limit)
    assert proc.returncode == 2, proc.stderr
    assert b"error[output.write-failed]" in proc.stderr and b"File too large" in proc.stderr
    assert target.read_text(encoding="utf-8") == "old\n" and _left_behind(tmp_path) == []


@pytest.mark.parametrize("command", [["advise", str(GOOD), "-r", str(MINI)], ["rules", "-r", str(MINI)],
                                     ["portfolio", str(GOOD), "-r", str(MINI)]])
def test_a_closed_pipe_is_exit_2(command: list[str]) -> None:
    r, w = os.pipe()
    os.close(r)  # nobody will ever read
    try:
        proc = cli(*command, stdout=w, stderr=subprocess.PIPE, capture_output=False)
    finally:
        os.close(w)
    assert proc.returncode == 2, proc.stderr
    assert b"cannot write to standard output" in proc.stderr and b"Traceback" not in proc.stderr
    assert b"Exception ignored" not in proc.stderr


def test_dev_full_as_standard_output_is_exit_2() -> None:
    with open("/dev/full", "wb") as full:
        proc = cli("advise", str(GOOD), "-r", str(MINI), stdout=full, stderr=subprocess.PIPE, capture_output=False)
    assert proc.returncode == 2, proc.stderr
    assert b"No space left on device" in proc.stderr and b"Exception ignored" not in proc.stderr


@pytest.mark.parametrize("command", [["advise", str(GOOD), "-r", str(MINI)], ["rules", "-r", str(MINI)]])
def test_a_closed_standard_output_is_exit_2_not_silence(command: list[str]) -> None:
    proc = cli(*command, stdout=None, stderr=subprocess.PIPE, capture_output=False, preexec_fn=lambda: os.close(1))
    assert proc.returncode == 2, proc.stderr
    assert b"standard output is closed" in proc.stderr


# ============================================================================ 4. the cache

def _cache_env(folder: Path) -> dict[str, str | None]:
    return {"KAMRULES_CACHE_DIR": str(folder)}


def _advise_md(env: dict[str, str | None], *extra: str, cwd: Path = ROOT) -> str:
    proc = cli("advise", str(DATA / "core" / "acc.yaml"), "-r", str(DATA / "core" / "core.yaml"), "-f", "md",
               "--as-of", AS_OF, *extra, env=env, cwd=cwd, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode("utf-8")


@pytest.fixture(scope="module")
def uncached() -> str:
    return _advise_md({"KAMRULES_NO_CACHE": "1"})


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name != "key" and not p.name.startswith("."))


class _Planted:
    """A pickle that creates a marker file when it is loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("mode,owner", [(0o777, None), (0o775, None), (0o700, 65534)])
def test_a_shared_or_foreign_cache_folder_is_never_used(mode: int, owner: int | None, tmp_path: Path,
                                                        uncached: str) -> None:
    if owner is not None and os.geteuid() != 0:
        pytest.skip("chown needs root")
    from kamrules.core import cache

    folder = tmp_path / "cache"
    folder.mkdir()
    marker = tmp_path / "pwned"
    ck = cache.key("rulebook", str(DATA / "core" / "core.yaml"), str(ROOT))
    for name in [f"rulebook-{ck}", "key"]:
        (folder / name).write_bytes(pickle.dumps(_Planted(marker)))
    os.chmod(folder, mode)
    if owner is not None:
        os.chown(folder, owner, owner)
    assert _advise_md(_cache_env(folder)) == uncached
    assert not marker.exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"rulebook-{ck}", "key"])  # nothing written there


def test_a_planted_pickle_in_a_private_cache_never_runs(tmp_path: Path, uncached: str) -> None:
    folder = tmp_path / "cache"
    assert _advise_md(_cache_env(folder)) == uncached
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Planted(marker))
    for p in _entries(folder):
        head = p.read_bytes()[:len(b"kamrules-cache-2\n")]
        p.write_bytes(head + b"\0" * 32 + payload)  # the right magic, a forged signature
    assert _advise_md(_cache_env(folder)) == uncached
    for p in _entries(folder):
        p.write_bytes(payload)  # a bare pickle, as the old cache stored
    assert _advise_md(_cache_env(folder)) == uncached
    assert not marker.exists()


@pytest.mark.parametrize("where", [0, 20, 40, 100, -1])
def test_one_flipped_bit_in_any_entry_is_a_miss(where: int, tmp_path: Path, uncached: str) -> None:
    folder = tmp_path / "cache"
    assert _advise_md(_cache_env(folder)) == uncached
    entries = _entries(folder)
    assert {p.name.split("-")[0] for p in entries} >= {"rulebook", "messages", "jinja"}
    for p in entries:
        data = bytearray(p.read_bytes())
        data[where] ^= 0x10
        p.write_bytes(bytes(data))
    assert _advise_md(_cache_env(folder)) == uncached


def test_an_entry_moved_to_another_name_is_a_miss(tmp_path: Path, uncached: str) -> None:
    folder = tmp_path / "cache"
    assert _advise_md(_cache_env(folder)) == uncached
    entries = _entries(folder)
    book = next(p for p in entries if p.name.startswith("rulebook-"))
    msgs = next(p for p in entries if p.name.startswith("messages-"))
    shutil.copy(msgs, book)  # a validly signed entry under the wrong name
    assert _advise_md(_cache_env(folder)) == uncached


@pytest.mark.parametrize("kind", ["fifo", "symlink", "dev-zero-link", "directory"])
def test_an_entry_that_is_not_a_regular_file_is_skipped_without_hanging(kind: str, tmp_path: Path,
                                                                       uncached: str) -> None:
    folder = tmp_path / "cache"
    assert _advise_md(_cache_env(folder)) == uncached
    entries = _entries(folder)
    other = tmp_path / "elsewhere"
    other.write_bytes(entries[0].read_bytes())
    for p in [*entries, folder / "key"]:
        p.unlink()
        if kind == "fifo":
            os.mkfifo(p)
        elif kind == "symlink":
            p.symlink_to(other)
        elif kind == "dev-zero-link":
            p.symlink_to("/dev/zero")
        else:
            p.mkdir()
    assert _advise_md(_cache_env(folder)) == uncached  # the 60 s timeout catches a hang


def test_a_key_others_can_read_is_replaced(tmp_path: Path, uncached: str) -> None:
    folder = tmp_path / "cache"
    assert _advise_md(_cache_env(folder)) == uncached
    old = (folder / "key").read_bytes()
    os.chmod(folder / "key", 0o644)
    assert _advise_md(_cache_env(folder)) == uncached
    assert stat.S_IMODE(os.stat(folder / "key").st_mode) == 0o600 and (folder / "key").read_bytes() != old


def test_wrong_shaped_entries_are_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kamrules.core import cache
    from kamrules.rulebook.load import load_rulebook

    monkeypatch.setenv("KAMRULES_CACHE_DIR", str(tmp_path / "cache"))
    ref = str(DATA / "core" / "core.yaml")
    fresh = load_rulebook(ref)
    ck = cache.key("rulebook", ref, str(Path.cwd()))
    for junk in ["junk", None, (1, 2), ([], fresh), ([("ref", ref, "", "x")], "not a book"), ([("file",)], fresh),
                 ([("ref", "other", "", "x")], fresh), {"a": 1}]:
        cache.put("rulebook", ck, junk)
        assert load_rulebook(ref).digest == fresh.digest
    stale = dataclasses.replace(fresh, id="stale")
    cache.put("rulebook", ck, ([("ref", ref, "", str(Path(ref))), ("file", ref, ref, "0" * 64)], stale))
    assert load_rulebook(ref).id != "stale"  # a file hash that does not match
    import jinja2

    expected = advise(str(DATA / "core" / "acc.yaml"), "-r", ref, "--as-of", AS_OF).stdout
    for junk in ["junk", {"{{ x }}": b"not marshal"}, [1, 2], None]:
        cache.put("messages", cache.key("messages", fresh.digest, jinja2.__version__), junk)
        again = advise(str(DATA / "core" / "acc.yaml"), "-r", ref, "--as-of", AS_OF)
        assert again.exit_code == 0 and again.stdout == expected, again.output


def test_a_relative_xdg_cache_home_is_ignored(tmp_path: Path, uncached: str) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    env = {"KAMRULES_CACHE_DIR": None, "XDG_CACHE_HOME": "relcache", "HOME": str(home)}
    assert _advise_md(env, cwd=work) == uncached
    assert list(work.iterdir()) == []  # nothing in the working folder
    assert any((home / ".cache" / "kamrules").iterdir())  # the spec's default instead
    env = {"KAMRULES_CACHE_DIR": "relative-cache", "HOME": str(home)}
    assert _advise_md(env, cwd=work) == uncached
    assert list(work.iterdir()) == []


def test_templates_repointed_or_edited_are_rendered_anew(tmp_path: Path) -> None:
    ov = make_overlay(tmp_path / "ov")
    for v in ("v1", "v2"):
        (tmp_path / "ov" / v).mkdir()
        (tmp_path / "ov" / v / "playbook.md.j2").write_text(f"{v} {{{{ account.name }}}}\n", encoding="utf-8")
    link = tmp_path / "ov" / "templates"
    link.symlink_to("v1")
    env = _cache_env(tmp_path / "cache")

    def run() -> str:
        proc = cli("advise", str(GOOD), "-r", str(ov), env=env)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.decode()

    assert run() == "v1 Test\n" and run() == "v1 Test\n"
    link.unlink()
    link.symlink_to("v2")
    assert run() == "v2 Test\n"
    (tmp_path / "ov" / "v2" / "playbook.md.j2").write_text("v2 edited {{ account.id }}\n", encoding="utf-8")
    assert run() == "v2 edited t1\n"
    link.unlink()
    link.symlink_to(tmp_path)  # repointed outside: refused even though a cached rulebook exists
    proc = cli("advise", str(GOOD), "-r", str(ov), env=env)
    assert proc.returncode == 2 and b"error[rulebook.templates]" in proc.stderr


def test_concurrent_writers_never_break_a_reader(tmp_path: Path, uncached: str) -> None:
    env = {**os.environ, **_cache_env(tmp_path / "cache")}
    args = [sys.executable, "-m", "kamrules", "advise", str(DATA / "core" / "acc.yaml"), "-r",
            str(DATA / "core" / "core.yaml"), "--as-of", AS_OF]
    for _ in range(2):  # cold (everyone writes), then warm (everyone reads while others may write)
        procs = [subprocess.Popen(args, cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(6)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
        assert {o[0].decode() for o in outs} == {uncached}
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".tmp-")]


def test_every_kamrules_setting_is_part_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from kamrules.core import cache

    a = cache.key("rulebook", "x")
    monkeypatch.setenv("KAMRULES_MAX_FILE_BYTES", "1000")
    assert cache.key("rulebook", "x") != a
    monkeypatch.delenv("KAMRULES_MAX_FILE_BYTES")
    assert cache.key("rulebook", "x") == a


def test_the_cache_location_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    security = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    for doc in (readme, security):
        assert "KAMRULES_CACHE_DIR" in doc and "XDG_CACHE_HOME" in doc and "KAMRULES_NO_CACHE" in doc
