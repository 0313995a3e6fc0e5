"""The benchmark harness runs (a smoke run; numbers from it mean nothing) and its equivalence
check holds: every engine fires exactly the rules the reference evaluator fires."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(importlib.util.find_spec("zen") is None or importlib.util.find_spec("durable") is None,
                    reason="the engine comparison needs the bench extra (zen-engine) and durable-rules")
def test_quick_benchmark_run(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "benchmarks/run.py", "--quick", "--skip-cli", "--out", str(out)],
                          cwd=str(ROOT), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["engines"]["accounts"] == 300
    assert res["engines"]["equivalence"]["rules_fired"] > 0


def test_missing_engines_are_a_clear_error(tmp_path, monkeypatch):
    code = ("import importlib.util, runpy, sys; real = importlib.util.find_spec; "
            "importlib.util.find_spec = lambda n, *a: None if n == 'zen' else real(n, *a); "
            "sys.argv = ['run.py', '--quick', '--skip-cli']; runpy.run_path('benchmarks/run.py', run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "zen-engine" in proc.stderr and "--skip-engines" in proc.stderr
