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
