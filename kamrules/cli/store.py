"""`kamrules store`: where the review store is, its schema, backups and moves."""
from __future__ import annotations

import click

from kamrules.cli.common import echo, guarded, store_option


@click.group("store")
def store_cmd() -> None:
    """The review store: info, init, upgrade, export, import.

    \b
    Examples:
      kamrules store info
      kamrules store export -o backup.jsonl
    """


@store_cmd.command("info")
@store_option
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@guarded
def info(store: str | None, fmt: str) -> None:
    """Say which store is used and why (the location rule), its schema and what it holds.

    \b
    Examples:
      kamrules store info
      kamrules store info --store postgresql://kam@db.example.com/kam --format json
    """
    import json

    from kamrules.history import location
    from kamrules.history.store import meta_info, open_store

    where = location.resolve(store)
    data: dict[str, object] = {**location.describe(where)}
    exists = where.kind == "postgresql" or (where.path is not None and where.path.exists())
    data["exists"] = exists
    data["empty"] = False  # true: the database (or file) is there but holds no store yet
    if exists:
        try:
            st = open_store(where, create=False, migrate=False)
        except location.StoreError as e:
            # a database (or file) that holds no store yet is reported like a missing store
            if not any(p.code == "store.empty" for p in e.problems):
                raise
            exists = data["exists"] = False
            data["empty"] = True
        else:
            try:
                data.update({"schema": st.revision(), **st.counts(), "meta": meta_info(st)})
            finally:
                st.close()
    if fmt == "json":
        echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    echo(f"store: {where.shown}")
    echo(f"chosen by: {where.why}")
    if not exists:
        echo("holds no store yet: 'kamrules store upgrade' creates it here" if data["empty"] else
             "not created yet: the first 'kamrules advise … --record' creates it")
        return
    echo(f"schema: {data['schema']}; reviews: {data['reviews']} of {data['accounts']} accounts; "
               f"rulebooks: {data['rulebooks']}; overrides: {data['overrides']}")


@store_cmd.command("init")
@click.option("--dir", "folder", metavar="DIR", default=".", show_default=True,
              help="The project folder to mark (a .kamrules/ folder is made in it).")
@guarded
def init(folder: str) -> None:
    """Make DIR a project folder: its .kamrules/history.sqlite becomes the store for every
    command run inside it (commit .kamrules/settings.yaml, not the store, to share settings).

    \b
    Examples:
      kamrules store init
      kamrules store init --dir ~/accounts/east-china
    """
    from pathlib import Path

    from kamrules.core.errors import Location, Problem, UsageError
    from kamrules.history import location

    base = Path(folder)
    if not base.is_dir():
        raise UsageError([Problem("store.no-dir", f"the folder {folder} does not exist", Location(folder))])
    d = base / location.PROJECT_DIR
    d.mkdir(exist_ok=True)
    settings = d / location.SETTINGS
    if not settings.exists():
        settings.write_text("# kamrules project settings (docs/history.md)\n"
                            "# store: postgresql://user@host:5432/db   # default: .kamrules/history.sqlite\n"
                            "# record: true                             # record every advise/portfolio run\n",
                            encoding="utf-8")
    echo(f"kamrules: {base.resolve()} is a project folder; its store is {d.resolve() / location.STORE_FILE}")


@store_cmd.command("upgrade")
@store_option
@guarded
def upgrade(store: str | None) -> None:
    """Bring the store's schema up to this kamrules (any command does this on first use; this
    one does only that). A store from a newer kamrules is refused and left as it is.

    \b
    Examples:
      kamrules store upgrade
      kamrules store upgrade --store postgresql://kam@db.example.com/kam
    """
    from kamrules.history import location
    from kamrules.history.store import open_store

    st = open_store(location.resolve(store), create=False)
    try:
        for n in st.notes:
            echo(f"kamrules: {n}")
        if not st.notes:
            echo(f"kamrules: the store at {st.where.shown} is at schema {st.revision()}, the newest")
    finally:
        st.close()


@store_cmd.command("export")
@store_option
@click.option("-o", "--output", metavar="FILE", help="Write here (atomically) instead of standard output.")
@guarded
def export(store: str | None, output: str | None) -> None:
    """Write the whole store as JSON Lines (a backup, or a move to another database).

    \b
    Examples:
      kamrules store export -o backup.jsonl
      kamrules store export --store reviews.sqlite | gzip > backup.jsonl.gz
    """
    from kamrules.history import location
    from kamrules.history.store import open_store
    from kamrules.history.transfer import export_lines

    st = open_store(location.resolve(store), create=False)
    try:
        text = "".join(line + "\n" for line in export_lines(st))
    finally:
        st.close()
    if output:
        from kamrules.io.output import write_atomic

        write_atomic(output, text)
    else:
        echo(text, nl=False)


@store_cmd.command("import")
@click.argument("file", metavar="FILE")
@store_option
@guarded
def import_(file: str, store: str | None) -> None:
    """Load an export (FILE, or - for standard input) into an empty store, all or nothing.

    \b
    Examples:
      kamrules store import backup.jsonl --store postgresql://kam@db.example.com/kam
      kamrules store import backup.jsonl --store new.sqlite
    """
    import io
    import sys

    from kamrules.core.errors import Location, Problem, UsageError
    from kamrules.history import location
    from kamrules.history.store import open_store
    from kamrules.history.transfer import import_lines

    try:
        fh = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8") if file == "-" else \
            open(file, encoding="utf-8")
    except OSError as e:
        raise UsageError([Problem("import.unreadable", f"cannot read {file}: {e.strerror or e}",
                                  Location(file))]) from None
    with fh:
        st = open_store(location.resolve(store), create=True)
        try:
            counts = import_lines(st, fh, file)
            echo(f"kamrules: imported {counts['kamrules_reviews']} reviews, {counts['kamrules_overrides']} "
                       f"overrides and {counts['kamrules_rulebooks']} rulebooks into {st.where.shown}", err=True)
        finally:
            st.close()


command = store_cmd
