"""core/interrupt: a Ctrl-C remembered while a command runs stops an output at its point of no return."""
from __future__ import annotations

import signal
from pathlib import Path

import pytest

from kamrules.core import interrupt
from kamrules.io.output import write_atomic


def test_a_remembered_ctrl_c_replaces_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.md"
    target.write_text("the user's file\n", encoding="utf-8")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with interrupt.remembered():
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
            monkeypatch.setattr(interrupt, "_pending", True)  # as the handler leaves it when Python drops the raise
            with pytest.raises(KeyboardInterrupt):
                write_atomic(str(target), "the new text\n")
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        interrupt.check()  # forgotten once the command is over
    finally:
        signal.signal(signal.SIGINT, previous)
    assert target.read_text(encoding="utf-8") == "the user's file\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.md"], "no temporary file left"


def test_a_handler_someone_else_installed_is_left_alone() -> None:
    def theirs(signum: int, frame: object) -> None:
        pass

    previous = signal.signal(signal.SIGINT, theirs)
    try:
        with interrupt.remembered():
            assert signal.getsignal(signal.SIGINT) is theirs
        assert signal.getsignal(signal.SIGINT) is theirs
    finally:
        signal.signal(signal.SIGINT, previous)


# A Ctrl-C lands wherever the program is. Before a command's guard is in place the program is
# importing: click and the group (cli.run), the command's module (LazyGroup.invoke), what the
# command imports (the guard). A sitecustomize raises KeyboardInterrupt at a chosen import, so each
# of those moments is reached every time; "exec" raises it inside exec()'d code, where dataclasses
# make their methods and where CPython marks it unhandled even when it is handled (under
# `python -m`, the process then killed itself with SIGINT: returncode -2, seen in CI).
_SITECUSTOMIZE = '''
import os, sys
_AT, _HOW = os.environ["TEST_INTERRUPT_AT"].split(",")
class _Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == _AT:
            sys.meta_path.remove(self)
            if _HOW == "exec":
                exec("raise KeyboardInterrupt")
            raise KeyboardInterrupt
        return None
sys.meta_path.insert(0, _Interrupt())
'''


@pytest.mark.parametrize("how", ["plain", "exec"])
@pytest.mark.parametrize("module", ["kamrules.cli.group", "kamrules.cli.portfolio", "kamrules.portfolio.run"])
def test_ctrl_c_while_the_program_imports_is_answered_like_any_other(module: str, how: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
    out = tmp_path / "portfolio.md"
    env = {**os.environ, "TEST_INTERRUPT_AT": f"{module},{how}",
           "PYTHONPATH": os.pathsep.join([str(site), str(root), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-m", "kamrules", "portfolio", str(root / "examples" / "accounts"),
                        "--engine", "reference", "-o", str(out)], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 130, (p.returncode, p.stderr)
    assert p.stderr == "kamrules: interrupted; nothing was written.\n"  # no traceback, no click "Aborted!"
    assert p.stdout == "" and not out.exists()
