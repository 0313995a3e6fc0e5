"""Shared helpers of the store tests: the CLI in-process and as a real process, and accounts."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from kamrules.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "accounts"
HUAXIN = str(EXAMPLES / "huaxin-steel.yaml")


def cli(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def interruptible() -> None:
    """Ctrl-C's default in the child, as a terminal gives it: a test suite started in the
    background (`pytest &`) ignores SIGINT, and a child would inherit that and never stop."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def proc(*args: str, env: dict[str, str] | None = None, **kw: Any) -> subprocess.Popen[str]:
    e = {**os.environ, **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "kamrules", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=e, cwd=str(ROOT), preexec_fn=interruptible, **kw)


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "kamrules", *args], capture_output=True, text=True, env=e,
                          cwd=str(ROOT), timeout=timeout)


TREND = """id: trend-co
name: 趋势测试公司
revenue: {rev}
gross_margin: 30%
cost_to_serve: 0
rebates: 0
free_services_cost: 0
satisfaction: {sat}
complaint_ratio: {comp}
delivery_issues: {deliv}
"""


def trend_account(tmp: Path, n: int, rev: str, sat: int, comp: str = "1%", deliv: int = 0) -> str:
    p = tmp / f"trend-{n}.yaml"
    p.write_text(TREND.format(rev=rev, sat=sat, comp=comp, deliv=deliv), encoding="utf-8")
    return str(p)


def open_store(url: str) -> Any:
    from kamrules.history.location import parse
    from kamrules.history.store import open_store as op

    return op(parse(url, "test"))
