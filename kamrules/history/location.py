"""Where the review store is, and who records.

The store (docs/history.md, "Where the store is"), first match wins:

1. `--store URL_OR_PATH` on the command line;
2. the `KAMRULES_STORE` environment variable;
3. the project's setting: `store:` in `.kamrules/settings.yaml` of the project folder;
4. the project folder's own store, `.kamrules/history.sqlite`;
5. the user's data directory: `$XDG_DATA_HOME/kamrules/history.sqlite` (default
   `~/.local/share/kamrules/`; `%LOCALAPPDATA%\\kamrules\\` on Windows).

A *project folder* is the nearest folder, from the working directory up, that holds a
`.kamrules/` folder (`kamrules store init` makes one). A value is a PostgreSQL URL
(`postgresql://user:password@host:5432/db`), a `sqlite:///path` URL, or a plain file path.

Who records (`recorded_by`): `--by NAME`, else `KAMRULES_USER`, else the operating-system
user, else "unknown".

Passwords never leave this module in clear: everything shown uses `Where.shown`.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Mapping

from kamrules.core.errors import InputError, Location, Problem
from kamrules.core.lazyre import LazyPattern
from kamrules.core.record import dataclass

ENV_STORE = "KAMRULES_STORE"
ENV_USER = "KAMRULES_USER"
PROJECT_DIR = ".kamrules"
SETTINGS = "settings.yaml"
STORE_FILE = "history.sqlite"
SETTING_KEYS = ("store", "record")
_PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


class StoreError(InputError):
    """The store cannot be used: a bad URL, an unreachable server, wrong credentials, a store
    from a newer kamrules. Exit 2, never a traceback, never a password."""


def store_problem(code: str, message: str, where: str, hint: str = "", expected: str = "") -> StoreError:
    return StoreError([Problem(code, message, Location(where), expected=expected, hint=hint)])


@dataclass(frozen=True)
class Where:
    url: str  # the SQLAlchemy URL, secret included: only for connecting
    shown: str  # what is printed: a file path, or the URL with the password hidden
    why: str  # the rule that chose it
    kind: str  # sqlite | postgresql
    path: Path | None = None  # the SQLite file
    secret: str = ""  # the password, so error texts can be scrubbed of it

    def scrub(self, text: str) -> str:
        if self.secret:
            text = text.replace(self.secret, "***")
        return _URL_PASSWORD().sub(r"\1***@", text)


_URL_PASSWORD = LazyPattern(r"(://[^:/@\s]+):[^@\s]*@")  # compiled when a store is used (core/lazyre.py)


@dataclass(frozen=True)
class Settings:
    folder: Path | None  # the project folder (the one holding .kamrules/), if any
    store: str | None = None
    record: bool = False


def project_folder(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_DIR).is_dir():
            return folder
    return None


def settings(start: Path | None = None) -> Settings:
    folder = project_folder(start)
    if folder is None:
        return Settings(None)
    file = folder / PROJECT_DIR / SETTINGS
    if not file.is_file():
        return Settings(folder)
    from kamrules.core import yamlio

    doc = yamlio.load(str(file))
    data = doc.data if doc.data is not None else {}
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise StoreError([Problem("store.settings", "the project settings must be a mapping", Location(str(file), 1, 1),
                                  expected="store: URL_OR_PATH and/or record: true")])
    for k in data:
        if k not in SETTING_KEYS:
            problems.append(Problem("store.settings", f"unknown setting '{k}'", doc.loc((k,)), str(k),
                                    expected=", ".join(SETTING_KEYS)))
    store, record = data.get("store"), data.get("record", False)
    if store is not None and not isinstance(store, str):
        problems.append(Problem("store.settings", "'store' must be a URL or a path", doc.loc(("store",)), "store"))
    if not isinstance(record, bool):
        problems.append(Problem("store.settings", "'record' must be true or false", doc.loc(("record",)), "record"))
    if problems:
        raise StoreError(problems)
    if isinstance(store, str) and "://" not in store and not Path(store).is_absolute():
        store = str(folder / store)  # a relative path in the settings is relative to the project
    return Settings(folder, store if isinstance(store, str) else None, bool(record))


def user_data_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "kamrules"
    base = env.get("XDG_DATA_HOME") or ""
    return (Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share") / "kamrules"


def resolve(option: str | None = None, *, start: Path | None = None, env: Mapping[str, str] | None = None) -> Where:
    env = os.environ if env is None else env
    if option:
        return parse(option, "--store")
    if env.get(ENV_STORE):
        return parse(env[ENV_STORE], ENV_STORE)
    s = settings(start)
    if s.store and s.folder is not None:
        return parse(s.store, f"{s.folder / PROJECT_DIR / SETTINGS}")
    if s.folder is not None:
        return _sqlite(s.folder / PROJECT_DIR / STORE_FILE, "project folder", create_dir=False)
    return _sqlite(user_data_dir(env) / STORE_FILE, "user data directory", create_dir=True)


def parse(value: str, why: str) -> Where:
    value = value.strip()
    if "://" not in value:
        return _sqlite(Path(value).expanduser(), why, create_dir=False)
    scheme = value.split("://", 1)[0].lower()
    if scheme == "sqlite":
        rest = value.split("://", 1)[1]
        if not rest.startswith("/") or rest == "/":
            raise store_problem("store.url", f"'{_hide(value)}' names no SQLite file", why,
                                "write sqlite:///relative/path.sqlite or sqlite:////absolute/path.sqlite, "
                                "or just the file path")
        return _sqlite(Path(rest[1:]).expanduser(), why, create_dir=False)
    if scheme in _PG_SCHEMES:
        return _postgresql(value, why)
    raise store_problem("store.url", f"'{_hide(value)}' is not a store kamrules can use", why,
                        "use a PostgreSQL URL (postgresql://user@host:5432/db), sqlite:///file.sqlite, "
                        "or a file path", expected="postgresql://… | sqlite:///… | a file path")


def _hide(value: str) -> str:
    return _URL_PASSWORD().sub(r"\1***@", value)


def _sqlite(path: Path, why: str, *, create_dir: bool) -> Where:
    path = path.absolute()
    if create_dir:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise store_problem("store.no-dir", f"cannot create the store folder {path.parent}: {e.strerror or e}",
                                why, "set KAMRULES_STORE or pass --store") from None
    if path.is_dir():
        raise store_problem("store.is-dir", f"the store path {path} is a folder", why,
                            f"name a file, e.g. {path / STORE_FILE}")
    return Where(f"sqlite:///{path}", str(path), why, "sqlite", path)


def _postgresql(value: str, why: str) -> Where:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
        if url.port is not None and not 0 < url.port < 65536:
            raise ValueError("port")
    except (ArgumentError, ValueError):
        raise store_problem("store.url", f"'{_hide(value)}' is not a valid PostgreSQL URL", why,
                            "postgresql://user:password@host:5432/database") from None
    if not url.host and not url.query.get("host"):
        raise store_problem("store.url", f"'{_hide(value)}' names no server", why,
                            "postgresql://user:password@host:5432/database")
    if not url.database:
        raise store_problem("store.url", f"'{_hide(value)}' names no database", why,
                            "postgresql://user:password@host:5432/database")
    url = url.set(drivername="postgresql+psycopg")
    shown = url.set(drivername="postgresql").render_as_string(hide_password=True)
    return Where(url.render_as_string(hide_password=False), shown, why, "postgresql", None, url.password or "")


def recorded_by(option: str | None = None, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if option and option.strip():
        return option.strip()
    if env.get(ENV_USER, "").strip():
        return env[ENV_USER].strip()
    import getpass  # here: every advise imports this module to ask whether a store exists (getpass imports termios)

    try:
        return getpass.getuser() or "unknown"
    except Exception:  # no user name in the environment or the password database (containers)
        return "unknown"


def describe(where: Where) -> dict[str, Any]:
    return {"store": where.shown, "kind": where.kind, "chosen_by": where.why}
