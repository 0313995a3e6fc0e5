from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True, print_blob=True)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # the on-disk cache is exercised, but never in the user's ~/.cache
    os.environ["KAMRULES_CACHE_DIR"] = str(tmp_path_factory.mktemp("kamrules-cache"))


@pytest.fixture(autouse=True, scope="session")
def _private_store(tmp_path_factory: pytest.TempPathFactory) -> None:
    # no test reads or writes the user's review store: the user data directory is a fresh one,
    # and no store is named from outside
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))
    for k in ("KAMRULES_STORE", "KAMRULES_USER"):
        os.environ.pop(k, None)


@pytest.fixture(autouse=True)
def _cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    # Paths in outputs are relative to the working directory: pin it to the repo root.
    monkeypatch.chdir(ROOT)


@pytest.fixture
def core_book():
    from kamrules.rulebook.load import load_rulebook

    return load_rulebook(str(DATA / "core" / "core.yaml"))
