"""A small on-disk cache for work that depends only on file contents: the checked rulebook,
compiled playbook templates and compiled rule messages.

Why: a cold `kamrules advise` spent most of its time re-reading and re-checking the same
nine course files and compiling the same templates. Why it can be trusted (docs/security.md):

* Where: KAMRULES_CACHE_DIR, else $XDG_CACHE_HOME/kamrules, else ~/.cache/kamrules. A relative
  path in any of these is ignored (the XDG spec says so; a cache in the working folder is a
  trap). The folder must belong to the current user and be writable by nobody else; it is
  opened once (O_DIRECTORY|O_NOFOLLOW) and every entry is reached through that handle, so a
  folder swapped in afterwards is never used. Otherwise there is no cache.
* What: every entry is signed with HMAC-SHA256 under a random per-user key kept in that
  folder (mode 0600). An entry is read only if it is a regular file owned by the user
  (O_NOFOLLOW|O_NONBLOCK, then fstat: a FIFO or a symlink in its place is skipped, never
  waited on), and unpickled or unmarshalled only after its signature, kind and key check out.
  A planted, truncated, bit-flipped or renamed entry is simply a miss.
* Keys: kamrules' version, Python's version, a fingerprint of kamrules' own source files and
  every KAMRULES_* setting, plus what the caller adds (the users verify every file they
  depend on, by content, on each hit: rulebook/load.py, advice/render.py).

KAMRULES_NO_CACHE=1 turns it off. Any doubt means a miss: the cache can cost time, never
change an answer.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import re
import stat
import sys
from pathlib import Path
from typing import Any

from kamrules import __version__

_MAGIC = b"kamrules-cache-2\n"
_MAC_LEN = 32
_KEY_FILE = "key"
_KEY_LEN = 32
MAX_ENTRY_BYTES = 64 * 1024 * 1024  # a bigger file in the folder is not ours
_NAME_RE = re.compile(r"^[a-z]+-[0-9a-f]{32}$")
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# The guarantees above need openat() and O_NOFOLLOW; without them (Windows) there is no cache.
_SUPPORTED = bool(_O_NOFOLLOW and _O_DIRECTORY) and os.open in os.supports_dir_fd


def _settings() -> str:
    """kamrules' own settings (file size caps and the like) can change what a load accepts."""
    skip = {"KAMRULES_CACHE_DIR", "KAMRULES_NO_CACHE", "KAMRULES_DEBUG"}
    return ";".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("KAMRULES_") and k not in skip)


def _code_fingerprint() -> str:
    """Names, sizes and modification times of kamrules' source files: a cached rulebook is a
    pickle of kamrules' classes and compiled templates carry its sandbox, so an edited
    kamrules (an editable install, a reinstall of the same version) must not reuse them."""
    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parent.parent
    try:
        for folder, dirs, files in os.walk(pkg):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for f in sorted(files):
                if f.endswith(".py"):
                    st = os.stat(os.path.join(folder, f))
                    h.update(f"{os.path.relpath(os.path.join(folder, f), pkg)}:{st.st_size}:{st.st_mtime_ns}\n"
                             .encode("utf-8", "surrogateescape"))
    except OSError:
        return "unknown"
    return h.hexdigest()[:16]


_TAG_CACHE: list[str] = []


def _tag() -> str:
    if not _TAG_CACHE:
        _TAG_CACHE.append(f"{__version__}-py{sys.version_info[0]}{sys.version_info[1]}-{_code_fingerprint()}")
    return f"{_TAG_CACHE[0]}|{_settings()}"


def key(*parts: str) -> str:
    if cache_path() is None:
        return "0" * 32  # no cache: nothing is looked up, so skip fingerprinting kamrules' sources
    return hashlib.sha256("\x00".join((_tag(), *parts)).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def file_hash(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


# --------------------------------------------------------------------------- the folder

def _absolute(value: str | None) -> Path | None:
    if not value or not os.path.isabs(value):
        return None  # unset, empty or relative: ignored (XDG Base Directory spec)
    return Path(value)


def cache_path() -> Path | None:
    """Where the cache would live, or None when it is off or no valid location is set."""
    if os.environ.get("KAMRULES_NO_CACHE"):
        return None
    if "KAMRULES_CACHE_DIR" in os.environ:
        return _absolute(os.environ["KAMRULES_CACHE_DIR"])
    xdg = _absolute(os.environ.get("XDG_CACHE_HOME"))
    if xdg is not None:
        return xdg / "kamrules"
    home = _absolute(os.environ.get("HOME") or os.path.expanduser("~"))
    return home / ".cache" / "kamrules" if home is not None else None


class _Store:
    """The opened cache folder and its signing key."""

    def __init__(self, fd: int, secret: bytes) -> None:
        self.fd = fd
        self.secret = secret


_OPEN: list[tuple[tuple[str, int], _Store | None]] = []  # the one folder in use, opened once


def _store() -> _Store | None:
    if not _SUPPORTED:
        return None
    path = cache_path()
    if path is None:
        return None
    memo = (str(path), os.geteuid())
    if _OPEN and _OPEN[0][0] == memo:
        return _OPEN[0][1]
    if _OPEN:  # the setting changed (tests do that): let the old folder go
        old = _OPEN.pop()[1]
        if old is not None:
            os.close(old.fd)
    store = _open_store(path)
    _OPEN.append((memo, store))
    return store


def _open_store(path: Path) -> _Store | None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise OSError("the cache folder is not private")  # someone else could plant entries
        secret = _secret(fd)
        if secret is None:
            raise OSError("no usable key")
        return _Store(fd, secret)
    except OSError:
        os.close(fd)
        return None


def _read_private(name: str, dir_fd: int, limit: int, *, private: bool = False) -> bytes | None:
    """The bytes of a regular file of ours in the folder, or None (missing, a link, a FIFO,
    a device, someone else's, too big). Never blocks."""
    try:
        fd = os.open(name, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_size > limit:
            return None
        if private and st.st_mode & 0o077:
            return None
        chunks = []
        left = st.st_size + 1  # one byte more tells a file that grew while read
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        return data if len(data) == st.st_size else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _write_private(name: str, data: bytes, dir_fd: int, *, replace: bool = True) -> bool:
    """Write `name` atomically: a fresh private temporary file, then a rename (or a link, which
    never replaces an existing name: the first of two concurrent writers wins)."""
    tmp = f".tmp-{os.urandom(8).hex()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o600, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        else:
            os.link(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
        return True
    except OSError:
        return False
    finally:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass


def _secret(dir_fd: int) -> bytes | None:
    for _ in range(3):
        data = _read_private(_KEY_FILE, dir_fd, _KEY_LEN, private=True)
        if data is not None and len(data) == _KEY_LEN:
            return data
        # missing, short, readable by others or not a file: make a new key (entries signed
        # with the old one become misses). Two first runs at once: the first link wins and
        # the other reads it on its next turn.
        try:
            os.unlink(_KEY_FILE, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        except OSError:
            return None
        _write_private(_KEY_FILE, os.urandom(_KEY_LEN), dir_fd, replace=False)
    return None


# --------------------------------------------------------------------------- entries

def _name(kind: str, k: str) -> str | None:
    name = f"{kind}-{k}"
    return name if _NAME_RE.match(name) else None


def _mac(secret: bytes, name: str, payload: bytes) -> bytes:
    return hmac.new(secret, _MAGIC + name.encode("ascii") + b"\x00" + payload, hashlib.sha256).digest()


def get_bytes(kind: str, k: str) -> bytes | None:
    """The payload stored under (kind, k), verified; None on any doubt."""
    store, name = _store(), _name(kind, k)
    if store is None or name is None:
        return None
    data = _read_private(name, store.fd, MAX_ENTRY_BYTES)
    if data is None or not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + _MAC_LEN:
        return None
    mac, payload = data[len(_MAGIC):len(_MAGIC) + _MAC_LEN], data[len(_MAGIC) + _MAC_LEN:]
    if not hmac.compare_digest(mac, _mac(store.secret, name, payload)):
        return None
    return payload


def put_bytes(kind: str, k: str, payload: bytes) -> None:
    store, name = _store(), _name(kind, k)
    if store is None or name is None or len(payload) > MAX_ENTRY_BYTES - 256:
        return
    _write_private(name, _MAGIC + _mac(store.secret, name, payload) + payload, store.fd)


def get(kind: str, k: str) -> Any:
    """A cached Python value, or None. Unpickled only after get_bytes verified it; the caller
    still checks its shape (an entry of another shape is a miss, not a crash)."""
    payload = get_bytes(kind, k)
    if payload is None:
        return None
    try:
        return pickle.loads(payload)
    except Exception:  # a class renamed since it was written: recompute
        return None


def put(kind: str, k: str, value: Any) -> None:
    if _store() is None:
        return  # no cache (KAMRULES_NO_CACHE=1, no usable folder): pickling the course's rulebook cost ~18 ms
    try:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return
    put_bytes(kind, k, payload)
