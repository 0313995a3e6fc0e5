"""Portfolio-level eight-part management checks: programme size (McDonald & Woodburn: 15–35
key accounts, more than 50 too many) and key accounts per manager (KAM association: < 5)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kamrules.cli import main
from kamrules.portfolio.portfolio import Programme

HUAXIN = Path(__file__).resolve().parent.parent / "examples" / "accounts" / "huaxin-steel.yaml"


def copies(folder: Path, n: int, manager: str = "李明") -> Path:
    text = HUAXIN.read_text(encoding="utf-8")
    for i in range(n):
        body = text.replace("id: huaxin-steel", f"id: hx-{i:03d}").replace("account_manager: 李明",
                                                                          f"account_manager: {manager}")
        (folder / f"hx-{i:03d}.yaml").write_text(body, encoding="utf-8")
    return folder


def test_key_accounts_per_manager_and_programme_size(tmp_path):
    copies(tmp_path, 6)
    r = CliRunner().invoke(main, ["portfolio", str(tmp_path), "--as-of", "2026-06-30", "-f", "json"])
    assert r.exit_code == 0, r.output
    pg = json.loads(r.output)["summary"]["programme"]
    assert pg["key_accounts"] == 6 and pg["verdict"] == "below" and pg["size"] == [15, 35]
    assert pg["overloaded_managers"] == [{"manager": "李明", "key_accounts": 6}]
    md = CliRunner().invoke(main, ["portfolio", str(tmp_path), "--as-of", "2026-06-30", "--lang", "en"]).output
    assert "Account manager 李明 holds 6 key accounts; 5 or more is too many (KAM association)." in md
    assert "6 key accounts, fewer than the 15–35" in md


def test_four_key_accounts_per_manager_is_fine(tmp_path):
    copies(tmp_path, 4)
    r = CliRunner().invoke(main, ["portfolio", str(tmp_path), "--as-of", "2026-06-30", "-f", "json"])
    assert json.loads(r.output)["summary"]["programme"]["overloaded_managers"] == []


@pytest.mark.parametrize("n,verdict", [(14, "below"), (15, "within"), (35, "within"), (36, "above"),
                                       (50, "above"), (51, "too_many")])
def test_programme_size_boundaries(n, verdict):
    assert Programme(n, 15, 35, 50, 5, ()).verdict == verdict


def test_overlays_can_tune_the_programme_size(tmp_path):
    copies(tmp_path, 3)
    overlay = tmp_path / "small.yaml"
    overlay.write_text("rulebook: small\nextends: [course]\nparameters:\n"
                       "  programme_size_min: {value: 2, source: 'company:test'}\n"
                       "  programme_size_max: {value: 5, source: 'company:test'}\n", encoding="utf-8")
    accounts = tmp_path / "accounts"
    accounts.mkdir()
    for f in tmp_path.glob("hx-*.yaml"):
        f.rename(accounts / f.name)
    r = CliRunner().invoke(main, ["portfolio", str(accounts), "-r", str(overlay), "--as-of", "2026-06-30", "-f", "json"])
    assert json.loads(r.output)["summary"]["programme"]["verdict"] == "within"
