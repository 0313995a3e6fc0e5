"""Every store test runs on SQLite and on a real PostgreSQL server these fixtures start (a
temporary data directory, a free port on 127.0.0.1, one fresh database per test).

Where no PostgreSQL server binary is installed, the PostgreSQL half does not run and pytest
says why in the skip reason; any other failure to start the server is an error."""
from __future__ import annotations

import itertools
import os
from typing import Iterator

import pytest

import pgserver

_count = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pgserver.Server]:
    if pgserver.find_bin() is None:
        if os.environ.get("KAMRULES_REQUIRE_POSTGRESQL"):  # .ci/run: it must run there
            pytest.fail("no PostgreSQL server binaries (initdb, pg_ctl), and KAMRULES_REQUIRE_POSTGRESQL is set")
        pytest.skip("PostgreSQL store tests did not run: no PostgreSQL server binaries (initdb, pg_ctl) on PATH "
                    "or under /usr/lib/postgresql/*/bin — install Debian's 'postgresql' package (.ci/run does)")
    srv = pgserver.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A URL (or path) of a new, empty store."""
    if request.param == "sqlite":
        return str(tmp_path / "reviews.sqlite")
    srv: pgserver.Server = request.getfixturevalue("pg_server")
    return srv.create_database(f"t{next(_count)}")


@pytest.fixture
def new_store_url(request: pytest.FixtureRequest, tmp_path):
    """Make more empty stores of a kind: new_store_url('sqlite') / new_store_url('postgresql')."""
    n = itertools.count(1)

    def make(kind: str) -> str:
        if kind == "sqlite":
            return str(tmp_path / f"other-{next(n)}.sqlite")
        srv: pgserver.Server = request.getfixturevalue("pg_server")
        return srv.create_database(f"o{next(_count)}")
    return make
