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


def test_the_phase_timer_names_every_phase_of_a_ranked_run(tmp_path):
    """benchmarks/phases.py: the same run as the CLI's (the same output), with each phase timed."""
    export = ROOT / "examples" / "portfolio" / "crm-export.csv"
    args = [str(export), "--summary-only", "--format", "json", "--skip-invalid", "--as-of", "2026-06-30",
            "--engine", "reference", "--workers", "2"]
    timed = subprocess.run([sys.executable, "benchmarks/phases.py", *args, "-o", str(tmp_path / "a.json")],
                           cwd=str(ROOT), capture_output=True, text=True, timeout=300)
    plain = subprocess.run([sys.executable, "-m", "kamrules", "portfolio", *args, "-o", str(tmp_path / "b.json")],
                           cwd=str(ROOT), capture_output=True, text=True, timeout=300)
    assert timed.returncode == plain.returncode == 0, timed.stderr[-2000:]
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    for label in ("first pass (measure)", "second pass (evaluate)", "the summary, at its end", "the overview",
                  "writing the output", "whole run"):
        assert label in timed.stderr, timed.stderr[-2000:]
