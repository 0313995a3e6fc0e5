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


def _digest_as_written_before(book: object) -> str:
    """The rulebook digest as check.digest wrote it before its mappings were built in key order:
    json.dumps(sort_keys=True) over the cleaned payload. The digest keys the cache and the review
    store, and shows in every playbook: it must not change."""
    import dataclasses
    import hashlib

    from kamrules.rulebook.check import _NOT_DIGESTED

    def clean(x: object) -> object:
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            return {f.name: clean(getattr(x, f.name)) for f in dataclasses.fields(x) if f.name not in _NOT_DIGESTED}
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in sorted(x.items())}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if isinstance(x, (str, int, float, bool)) or x is None:
            return x
        return str(x)

    payload = {k: clean(getattr(book, k)) for k in ("facts", "params", "metrics", "derived", "dimensions", "scores",
                                                     "rules", "disabled", "playbook", "causes", "invariants")}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def test_the_digest_is_the_sorted_json_digest_for_every_rulebook_that_loads() -> None:
    from kamrules.core.errors import KamrulesError
    from kamrules.rulebook.load import _load_fresh, declared_id

    refs = ["course", *sorted(str(p) for p in (ROOT / "examples").rglob("*.yaml") if declared_id(p)),
            *sorted(str(p) for p in (ROOT / "tests" / "data").rglob("*.yaml") if declared_id(p))]
    checked = 0
    for ref in refs[::4]:  # a quarter of them (each load checks the course again): ~20 rulebooks, ~1.5 s
        try:
            book, _ = _load_fresh(ref)
        except KamrulesError:
            continue  # a rulebook written to fail: nothing to digest
        assert book.digest == _digest_as_written_before(book), ref
        checked += 1
    assert checked >= 10  # the course and test rulebooks with tables, overlays, relations, invariants


def test_a_builtin_rulebook_is_one_entry_from_any_folder_and_a_path_one_per_folder(tmp_path, monkeypatch):
    """A built-in id resolves, and names its files, the same from any working directory: the entry
    made in one folder serves the next (a rep's first run in a new folder is a warm start). A
    relative path names another file in another folder: it is loaded afresh there."""
    from kamrules.rulebook import load

    monkeypatch.setenv("KAMRULES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("KAMRULES_NO_CACHE", raising=False)
    fresh: list[str] = []
    real = load._load_fresh

    def counting(ref, files=None):
        fresh.append(ref)
        return real(ref, files)

    monkeypatch.setattr(load, "_load_fresh", counting)
    books = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(ROOT / "tests" / "data" / "core" / "core.yaml", folder / "book.yaml")
        monkeypatch.chdir(folder)
        books.append(load.load_rulebook("course"))
        load.load_rulebook("book.yaml")
    assert fresh == ["course", "book.yaml", "book.yaml"]
    assert books[0].files == books[1].files and all(f.startswith("rules/") for f in books[0].files)
