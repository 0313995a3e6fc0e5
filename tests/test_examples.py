"""Every bundled example account against the built-in course: the consultant's expectations
(tests/expectations/*.yaml, written before the engine existed), engine agreement, determinism."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kamrules.cli import main
from kamrules.engine.backends import durable_available

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "accounts").glob("*.yaml"))
EXPECT = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in (ROOT / "tests" / "expectations").glob("*.yaml")}


def advise_json(path: Path, engine: str = "auto") -> dict:
    r = CliRunner().invoke(main, ["advise", str(path), "--as-of", "2026-06-30", "-f", "json", "--engine", engine],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_every_example_has_expectations():
    assert EXAMPLES and {p.stem for p in EXAMPLES} <= set(EXPECT)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_consultant_expectations(path):
    exp = EXPECT[path.stem]
    out = advise_json(path)
    concepts = {f["concept"] for f in out["findings"]}
    classified = {c for c, v in out["classification"]["dimensions"].items() if v}
    # a standard's concept also counts as present when it produced a classification
    produced = concepts | {f"standard.{k}" for k in ("single_indicator", "scorecard") if k in classified}
    produced |= {"standard.pyramid"} if "tier" in classified else set()
    produced |= {"standard.final_class"} if out["classification"]["final"] else set()
    if "final" in exp:
        assert out["classification"]["final"] == exp["final"], exp.get("why", "")
    missing = sorted(set(exp.get("present", [])) - produced)
    unexpected = sorted(set(exp.get("absent", [])) & concepts)
    assert not missing, f"expected findings for {missing}"
    assert not unexpected, f"unexpected findings for {unexpected}"


@pytest.mark.skipif(not durable_available(), reason="durable_rules does not import on this Python")
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_engines_agree_on_examples(path):
    a, b = advise_json(path, "durable"), advise_json(path, "reference")
    a.pop("engine"), b.pop("engine")
    assert a == b


@pytest.mark.parametrize("path", EXAMPLES[:3], ids=lambda p: p.stem)
def test_byte_identical(path):
    r1 = CliRunner().invoke(main, ["advise", str(path), "--as-of", "2026-06-30"]).output
    r2 = CliRunner().invoke(main, ["advise", str(path), "--as-of", "2026-06-30"]).output
    assert r1 == r2
