"""The store itself: migrations (from empty and from the first schema), a newer store refused,
the location rule, and bad URLs / servers / credentials (exit 2, no traceback, no password)."""
from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path

import pytest
from helpers import HUAXIN, cli, open_store, run

from kamrules.history import schema as S
from kamrules.history.location import StoreError, parse, recorded_by, resolve
from kamrules.history.store import upgrade as run_upgrade


def _columns(url: str) -> dict[str, set[str]]:
    from sqlalchemy import inspect

    st = open_store(url)
    try:
        with st.reading() as conn:
            insp = inspect(conn)
            return {t: {c["name"] for c in insp.get_columns(t)} for t in insp.get_table_names()}
    finally:
        st.close()


def test_alembic_head_is_the_schema_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from kamrules.history.store import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    assert script.get_current_head() == S.HEAD
    assert [r.revision for r in reversed(list(script.walk_revisions()))] == list(S.REVISIONS)


def test_migrations_from_empty_build_the_schema(store_url: str) -> None:
    st = open_store(store_url)
    assert st.notes and st.notes[0].startswith("created the store")
    assert st.revision() == S.HEAD
    st.close()
    cols = _columns(store_url)
    for t in S.TABLES:  # the migrations and the tables the code uses agree, column for column
        assert cols[t.name] == {c.name for c in t.columns}, t.name
    assert S.VERSION_TABLE in cols
    if "://" not in store_url:  # SQLite: write-ahead logging, so readers never block the writer
        import sqlite3

        with sqlite3.connect(store_url) as c:
            assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_of_the_first_schema_is_upgraded_in_place(store_url: str) -> None:
    from sqlalchemy import text

    st = open_store(store_url)  # build it at 0001 by hand: drop to an empty database first
    st.close()
    fresh = store_url
    from kamrules.history.location import parse as p
    from kamrules.history.store import Store, _engine

    where = p(fresh, "test")
    eng = _engine(where)
    with eng.connect().execution_options(kamrules_write=True) as conn, conn.begin():
        for t in reversed(S.TABLES):
            conn.execute(text(f"DROP TABLE IF EXISTS {t.name}"))
        conn.execute(text(f"DROP TABLE IF EXISTS {S.VERSION_TABLE}"))
    with eng.connect().execution_options(kamrules_write=True) as conn, conn.begin():
        run_upgrade(conn, "0001")
        conn.execute(text("INSERT INTO kamrules_rulebooks (digest, rulebook_id, version, entry, files, first_recorded) "
                          "VALUES ('sha256:x', 'course', '1.0.0', 'rules/course/course.yaml', '[]', :t)"),
                     {"t": _dt.datetime(2026, 1, 1)})
        conn.execute(text("INSERT INTO kamrules_reviews (account_id, account_name, as_of, recorded_at, recorded_by, run, "
                          "rulebook_digest, rulebook_id, rulebook_version, engine, kamrules_version, lang, final, tier, "
                          "facts, facts_digest, supplied, result, result_digest) VALUES ('a', 'A', :d, :t, 'me', 'r', "
                          "'sha256:x', 'course', '1.0.0', 'reference', '0.1.0', 'zh', 'key', 'gold', '{}', 'f', '{}', "
                          ":b, 'r')"), {"d": _dt.date(2026, 1, 31), "t": _dt.datetime(2026, 2, 1), "b": b"x"})
    eng.dispose()
    assert Store(where, _engine(where)).revision() == "0001"
    st = open_store(fresh)
    try:
        assert st.notes == [f"upgraded the store at {where.shown} from schema 0001 to {S.HEAD}"]
        assert st.revision() == S.HEAD
        with st.reading() as conn:
            row = conn.execute(text("SELECT account_id, tier, overrides FROM kamrules_reviews")).one()
        assert tuple(row) == ("a", "gold", "[]")  # the old review kept, the new column filled in
        assert st.counts()["overrides"] == 0
    finally:
        st.close()


def _make_newer(url: str) -> None:
    from sqlalchemy import text

    st = open_store(url)
    with st.writing() as conn, conn.begin():
        conn.execute(text(f"UPDATE {S.VERSION_TABLE} SET version_num = '0099'"))
        conn.execute(text("UPDATE kamrules_meta SET value = '9.9.9' WHERE key = 'kamrules'"))
    st.close()


def test_a_store_from_a_newer_kamrules_is_refused(store_url: str) -> None:
    _make_newer(store_url)
    with pytest.raises(StoreError) as e:
        open_store(store_url)
    assert e.value.problems[0].code == "store.newer"
    assert "kamrules 9.9.9" in str(e.value) and "upgrade kamrules" in str(e.value)
    r = cli("advise", HUAXIN, "--record", "--store", store_url)
    assert r.exit_code == 2 and "store.newer" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""
    from sqlalchemy import text

    from kamrules.history.store import Store, _engine

    where = parse(store_url, "t")
    with Store(where, _engine(where)).reading() as conn:  # left as it was
        assert conn.execute(text(f"SELECT version_num FROM {S.VERSION_TABLE}")).scalar() == "0099"


# ------------------------------------------------------------------ the location rule

def test_location_rule_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    w = resolve(None, env=env)
    assert w.why == "user data directory" and w.path == tmp_path / "xdg" / "kamrules" / "history.sqlite"
    (tmp_path / "proj" / "sub").mkdir(parents=True)
    (tmp_path / "proj" / ".kamrules").mkdir()
    monkeypatch.chdir(tmp_path / "proj" / "sub")
    w = resolve(None, env=env)
    assert w.why == "project folder" and w.path == tmp_path / "proj" / ".kamrules" / "history.sqlite"
    (tmp_path / "proj" / ".kamrules" / "settings.yaml").write_text("store: team.sqlite\nrecord: true\n")
    w = resolve(None, env=env)
    assert w.path == tmp_path / "proj" / "team.sqlite" and w.why.endswith("settings.yaml")
    w = resolve(None, env={**env, "KAMRULES_STORE": str(tmp_path / "env.sqlite")})
    assert w.why == "KAMRULES_STORE" and w.path == tmp_path / "env.sqlite"
    w = resolve(str(tmp_path / "opt.sqlite"), env={**env, "KAMRULES_STORE": str(tmp_path / "env.sqlite")})
    assert w.why == "--store" and w.path == tmp_path / "opt.sqlite"
    assert parse("sqlite:////tmp/x.sqlite", "t").path == Path("/tmp/x.sqlite")
    pg = parse("postgresql://u:pw@db.example.com:5433/kam", "t")
    assert pg.kind == "postgresql" and pg.shown == "postgresql://u:***@db.example.com:5433/kam"
    assert "pw" not in pg.shown and pg.secret == "pw"


def test_project_settings_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".kamrules").mkdir()
    (tmp_path / ".kamrules" / "settings.yaml").write_text("stroe: x.sqlite\nrecord: yes please\n")
    monkeypatch.chdir(tmp_path)
    r = cli("store", "info")
    assert r.exit_code == 2
    assert "store.settings" in r.stderr and "unknown setting 'stroe'" in r.stderr and "'record' must be" in r.stderr


def test_recorded_by_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    assert recorded_by("王经理", {"KAMRULES_USER": "x"}) == "王经理"
    assert recorded_by(None, {"KAMRULES_USER": "li"}) == "li"
    monkeypatch.setattr("getpass.getuser", lambda: "osuser")
    assert recorded_by(None, {}) == "osuser"

    def boom() -> str:
        raise OSError("no user")
    monkeypatch.setattr("getpass.getuser", boom)
    assert recorded_by(None, {}) == "unknown"


def test_store_init_makes_a_project_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = cli("store", "init")
    assert r.exit_code == 0 and (tmp_path / ".kamrules" / "settings.yaml").is_file()
    r = cli("store", "info", "--format", "json")
    assert '"chosen_by": "project folder"' in r.stdout and '"exists": false' in r.stdout
    r = cli("advise", HUAXIN, "--record")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / ".kamrules" / "history.sqlite").is_file()
    assert "project folder" in r.stderr
    r = cli("store", "info")
    assert "reviews: 1 of 1 accounts" in r.stdout
    assert cli("store", "init", "--dir", str(tmp_path / "nope")).exit_code == 2


def test_store_upgrade_command(store_url: str) -> None:
    open_store(store_url).close()
    r = cli("store", "upgrade", "--store", store_url)
    assert r.exit_code == 0 and "is at schema 0002, the newest" in r.stdout


# ------------------------------------------------------------------ bad stores: exit 2, no traceback, no password

PASSWORD = "Hunter2-Secret"


def _assert_clean(r, code: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert code in r.stderr, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert PASSWORD not in r.stderr + r.stdout
    assert "nothing was written" in r.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("url,code", [
    ("mysql://root:{pw}@localhost/kam", "store.url"),
    ("postgresql://kam:{pw}@/kam", "store.url"),
    ("postgresql://kam:{pw}@127.0.0.1:99999/kam", "store.url"),
    ("postgresql://kam:{pw}@127.0.0.1:5432/", "store.url"),
    ("sqlite://", "store.url"),
])
def test_bad_store_urls(url: str, code: str) -> None:
    r = run("advise", HUAXIN, "--record", "--store", url.format(pw=PASSWORD))
    _assert_clean(r, code)


def test_unreachable_server() -> None:
    r = run("advise", HUAXIN, "--record", "--store", f"postgresql://kam:{PASSWORD}@127.0.0.1:{_free_port()}/kam")
    _assert_clean(r, "store.unreachable")


def test_wrong_credentials_and_missing_database(pg_server) -> None:
    r = run("history", "x", "--store", pg_server.url(password=PASSWORD))
    _assert_clean(r, "store.auth")
    r = run("advise", HUAXIN, "--record", "--store", pg_server.url(user="nobody-here", password=PASSWORD))
    _assert_clean(r, "store.auth")
    r = run("store", "info", "--store", pg_server.url("no_such_db"))  # the right password, a wrong database
    assert r.returncode == 2 and "store.no-database" in r.stderr and "Traceback" not in r.stderr
    assert pgserver_password() not in r.stdout + r.stderr


def pgserver_password() -> str:
    import pgserver

    return pgserver.PASSWORD


def test_no_password_in_logs(pg_server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every library's log records, at every level
    with pytest.raises(StoreError) as e:
        open_store(pg_server.url(password=PASSWORD))
    assert PASSWORD not in str(e.value)
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)
    # a good password is not logged either, however chatty the logging
    st = open_store(pg_server.url())
    st.close()
    assert all(pgserver_password() not in r.getMessage() for r in caplog.records)


def test_not_a_store(tmp_path: Path) -> None:
    f = tmp_path / "notes.sqlite"
    f.write_text("this is not a database\n" * 100)
    r = run("advise", HUAXIN, "--record", "--store", str(f))
    assert r.returncode == 2 and "store.not-a-store" in r.stderr and "Traceback" not in r.stderr


def test_reading_a_missing_store_says_so(tmp_path: Path) -> None:
    r = cli("history", "huaxin-steel", "--store", str(tmp_path / "none.sqlite"))
    assert r.exit_code == 2 and "store.missing" in r.stderr
    assert not (tmp_path / "none.sqlite").exists()


def test_psycopg_missing_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def fake(name: str, *a, **k):  # as on a machine without the 'postgresql' extra
        if name == "psycopg":
            raise ImportError("No module named 'psycopg'")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(StoreError) as e:
        open_store(f"postgresql://kam:{PASSWORD}@127.0.0.1:5432/kam")
    assert e.value.problems[0].code == "store.driver" and "kamrules[postgresql]" in str(e.value)
    assert PASSWORD not in str(e.value)


def test_project_setting_record_true_records_every_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".kamrules").mkdir()
    (tmp_path / ".kamrules" / "settings.yaml").write_text("record: true\n")
    monkeypatch.chdir(tmp_path)
    r = cli("advise", HUAXIN, "--as-of", "2026-06-30", "--by", "李明")
    assert r.exit_code == 0 and "recorded review 1" in r.stderr
    r = cli("history", "huaxin-steel", "-f", "json")
    assert '"recorded_by": "李明"' in r.stdout


def test_a_plain_advise_without_any_store_imports_no_database_library() -> None:
    code = ("import sys, runpy; sys.argv = ['kamrules', 'advise', %r, '-o', '/dev/null']\n"
            "try:\n    runpy.run_module('kamrules', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('sqlalchemy' in sys.modules, 'alembic' in sys.modules)") % HUAXIN
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip().splitlines()[-1] == "False False", r.stderr


def test_an_empty_database_is_reported_as_holding_no_store_yet(store_url: str, tmp_path: Path) -> None:
    # a new PostgreSQL database, or an empty SQLite file: not "an old store of schema none"
    if "://" not in store_url:
        Path(store_url).write_bytes(b"")
    r = cli("store", "info", "--store", store_url)
    assert r.exit_code == 0, r.stderr
    assert "holds no store yet: 'kamrules store upgrade' creates it here" in r.stdout
    r = cli("store", "info", "--store", store_url, "--format", "json")
    assert '"exists": false' in r.stdout and '"empty": true' in r.stdout
    r = cli("store", "upgrade", "--store", store_url)
    assert r.exit_code == 0 and "created the store" in r.stdout, r.stderr
    r = cli("store", "info", "--store", store_url)
    assert r.exit_code == 0 and f"schema: {S.HEAD}; reviews: 0 of 0 accounts" in r.stdout, r.stdout


def test_reading_a_store_of_an_older_schema_asks_for_an_upgrade(store_url: str) -> None:
    from sqlalchemy import text

    from kamrules.history.location import parse as p
    from kamrules.history.store import _engine

    where = p(store_url, "test")
    eng = _engine(where)
    with eng.connect().execution_options(kamrules_write=True) as conn, conn.begin():
        run_upgrade(conn, "0001")
    eng.dispose()
    r = cli("store", "info", "--store", store_url)
    assert r.exit_code == 2 and "Traceback" not in r.stderr
    assert "error[store.old-schema]" in r.stderr and "has schema 0001; this kamrules needs" in r.stderr
    assert "run 'kamrules store upgrade'" in r.stderr
    r = cli("store", "upgrade", "--store", store_url)
    assert r.exit_code == 0 and f"from schema 0001 to {S.HEAD}" in r.stdout, r.stderr
