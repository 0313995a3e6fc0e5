"""A small on-disk cache for work that depends only on file contents: the checked rulebook,
compiled playbook templates and compiled rule messages.

Why: a cold `kamrules advise` spent most of its time re-reading and re-checking the same
nine course files and compiling the same templates. Entries are keyed by kamrules' and
Python's versions and validated against the SHA-256 of every source file, so an edited
rulebook is never served stale. The cache lives in the user's own directory
(KAMRULES_CACHE_DIR, else $XDG_CACHE_HOME/kamrules, else ~/.cache/kamrules), created private;
KAMRULES_NO_CACHE=1 turns it off. Any cache failure is silent: it only costs time.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

from kamrules import __version__

_TAG = f"{__version__}-py{sys.version_info[0]}{sys.version_info[1]}"


def cache_dir() -> Path | None:
    if os.environ.get("KAMRULES_NO_CACHE"):
        return None
    base = os.environ.get("KAMRULES_CACHE_DIR")
    if base:
        root = Path(base)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "kamrules"
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return root if os.access(root, os.W_OK) else None


def key(*parts: str) -> str:
    return hashlib.sha256("\x00".join((_TAG, *parts)).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def file_hash(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def get(kind: str, k: str) -> Any:
    root = cache_dir()
    if root is None:
        return None
    try:
        with open(root / f"{kind}-{k}.pickle", "rb") as fh:
            return pickle.load(fh)
    except Exception:  # missing, truncated, from another version: recompute
        return None


def put(kind: str, k: str, value: Any) -> None:
    root = cache_dir()
    if root is None:
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{kind}-", dir=str(root))
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, root / f"{kind}-{k}.pickle")
    except Exception:
        try:
            os.unlink(tmp)
        except Exception:
            pass


def jinja_dir() -> str | None:
    root = cache_dir()
    if root is None:
        return None
    d = root / f"jinja-{_TAG}"
    try:
        d.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None
    return str(d)
