"""A throwaway PostgreSQL server for the store tests: a temporary data directory, a free port on
127.0.0.1, trust authentication for the superuser plus a password user (to test credentials),
stopped and deleted at the end.

The server binaries are looked up on PATH, then under /usr/lib/postgresql/*/bin (Debian's
`postgresql` package; `.ci/run` installs it). initdb refuses to run as root, so as root the
server runs as the `postgres` user (Debian creates it) or `nobody`.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER = "kamrules"
PASSWORD = "s3cret-Pa55word"


def find_bin() -> str | None:
    """The folder holding initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return str(Path(os.path.realpath(found)).parent)
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if os.access(os.path.join(d, "initdb"), os.X_OK):
            return d
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    bindir: str
    datadir: Path
    port: int
    run_as: str | None  # a user name when we are root

    def url(self, database: str = "kamrules", *, user: str = USER, password: str | None = PASSWORD) -> str:
        auth = f"{user}:{password}" if password is not None else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        kw: dict = {}
        if self.run_as:
            kw["user"] = self.run_as
        return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=120,
                              cwd=str(self.datadir.parent), **kw)

    def psql(self, sql: str, database: str = "postgres") -> str:
        r = self._run(os.path.join(self.bindir, "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                      "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", sql)
        return r.stdout

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}" OWNER {USER}')
        return self.url(name)

    def stop(self) -> None:
        self._run(os.path.join(self.bindir, "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop",
                  check=False)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start() -> Server:
    bindir = find_bin()
    if bindir is None:
        raise FileNotFoundError("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or under "
                                "/usr/lib/postgresql/*/bin; install Debian's 'postgresql' package")
    run_as = None
    if os.geteuid() == 0:
        for name in ("postgres", "nobody"):
            try:
                pwd.getpwnam(name)
                run_as = name
                break
            except KeyError:
                continue
    base = Path(tempfile.mkdtemp(prefix="kamrules-pg-"))
    datadir = base / "data"
    if run_as:
        os.chmod(base, 0o755)
        uid = pwd.getpwnam(run_as).pw_uid
        os.chown(base, uid, -1)
    srv = Server(bindir, datadir, free_port(), run_as)
    pwfile = base / "pw"
    pwfile.write_text("postgres\n")
    if run_as:
        os.chown(pwfile, pwd.getpwnam(run_as).pw_uid, -1)
    srv._run(os.path.join(bindir, "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust",
             "--auth-host=scram-sha-256", "--pwfile", str(pwfile), "-E", "UTF8", "--locale=C")
    hba = datadir / "pg_hba.conf"
    # the superuser (fixture setup) is trusted on loopback; the test user needs its password
    text = "host all postgres 127.0.0.1/32 trust\n" + hba.read_text()
    hba.write_text(text)
    opts = f"-c listen_addresses=127.0.0.1 -p {srv.port} -c unix_socket_directories='' -c fsync=off " \
           f"-c max_connections=40"
    srv._run(os.path.join(bindir, "pg_ctl"), "-D", str(datadir), "-o", opts, "-l", str(base / "log"),
             "-w", "-t", "60", "start")
    deadline = time.time() + 30
    while True:
        try:
            srv.psql("SELECT 1")
            break
        except subprocess.CalledProcessError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    srv.psql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
    srv.psql(f"CREATE DATABASE kamrules OWNER {USER}")
    return srv
