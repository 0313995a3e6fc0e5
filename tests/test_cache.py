"""The on-disk cache: same output with and without it, and never stale after an edit."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def advise(args: list[str], env_extra: dict[str, str]) -> str:
    env = {**os.environ, **env_extra}
    proc = subprocess.run([sys.executable, "-m", "kamrules", "advise", *args], capture_output=True, text=True,
                          env=env, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_cached_and_uncached_runs_are_byte_identical(tmp_path):
    args = ["examples/accounts/huaxin-steel.yaml", "--as-of", "2026-06-30"]
    cold = advise(args, {"KAMRULES_CACHE_DIR": str(tmp_path)})
    assert any(p.name.startswith("rulebook-") for p in tmp_path.iterdir())
    warm = advise(args, {"KAMRULES_CACHE_DIR": str(tmp_path)})
    off = advise(args, {"KAMRULES_NO_CACHE": "1"})
    assert cold == warm == off


def test_an_edited_rulebook_is_never_served_from_the_cache(tmp_path):
    book = tmp_path / "book.yaml"
    shutil.copy(ROOT / "tests" / "data" / "core" / "core.yaml", book)
    acc = str(ROOT / "tests" / "data" / "core" / "acc.yaml")
    cache = {"KAMRULES_CACHE_DIR": str(tmp_path / "cache")}
    before = json.loads(advise([acc, "-r", str(book), "-f", "json"], cache))
    book.write_text(book.read_text().replace("value: 15%", "value: 25%"))
    after = json.loads(advise([acc, "-r", str(book), "-f", "json"], cache))
    assert before["rulebook"]["digest"] != after["rulebook"]["digest"]
    assert "over" in [f["rule"] for f in before["findings"]]
    assert "over" not in [f["rule"] for f in after["findings"]]


def test_a_corrupt_cache_entry_is_ignored(tmp_path):
    args = ["tests/data/core/acc.yaml", "-r", "tests/data/core/core.yaml", "--as-of", "2026-06-30"]
    first = advise(args, {"KAMRULES_CACHE_DIR": str(tmp_path)})
    for p in tmp_path.glob("*.pickle"):
        p.write_bytes(b"not a pickle")
    assert advise(args, {"KAMRULES_CACHE_DIR": str(tmp_path)}) == first
