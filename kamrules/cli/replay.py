"""`kamrules replay REVIEW`: re-evaluate a recorded review exactly (an audit check)."""
from __future__ import annotations

import sys

import click

from kamrules.cli.common import echo, engine_option, guarded, store_option


@click.command("replay")
@click.argument("review", metavar="REVIEW", type=int)
@store_option
@click.option("--rulebook", "-r", "rulebook", metavar="PATH_OR_NAME", default=None,
              help="Also show what this rulebook (e.g. today's: course) would have concluded from the same facts.")
@engine_option
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@guarded
def replay_cmd(review: int, store: str | None, rulebook: str | None, engine: str, fmt: str) -> None:
    """Re-evaluate review number REVIEW from what the store kept: the same facts, the same
    history facts, the same rulebook (every file, as it was), and check that the result is
    byte-identical to the recorded one: OK, or DIFFERENT (exit 1) with what differs.

    \b
    Examples:
      kamrules replay 12
      kamrules replay 12 --rulebook course        # what today's course would conclude instead
      kamrules replay 12 --rulebook acme/acme.yaml --format json
    """
    import json

    from kamrules.history import location, use
    from kamrules.history.replay import replay
    from kamrules.history.store import open_store

    st = open_store(location.resolve(store), create=False)
    try:
        r = replay(st, review, engine=None if engine == "auto" else engine, rulebook_ref=rulebook)
    finally:
        st.close()
    s = r.review.summary
    status = "OK" if r.identical else "DIFFERENT"
    if fmt == "json":
        echo(json.dumps({"review": s.id, "account": s.account_id, "as_of": s.as_of.isoformat(), "status": status,
                               "rulebook": {"id": s.rulebook_id, "version": s.rulebook_version,
                                            "digest": s.rulebook_digest},
                               "recorded_engine": s.engine, "replay_engine": r.engine,
                               "recorded_kamrules": s.kamrules_version, "differences": r.differences,
                               "today": None if r.today is None else {
                                   "rulebook": {"id": r.today_book.id, "version": r.today_book.version,
                                                "digest": r.today_book.digest} if r.today_book else None,
                                   "changes": r.today}},
                              ensure_ascii=False, indent=2, default=str))
    else:
        echo(f"{status}: review {s.id} ({s.account_id}, as of {s.as_of}) re-evaluated with rulebook "
                   f"{s.rulebook_id} {s.rulebook_version} ({s.rulebook_digest[:19]}) on the {r.engine} engine"
                   + (" — byte-identical to the recorded result" if r.identical else " — the result differs"))
        if s.engine != r.engine:
            echo(f"  recorded on the {s.engine} engine; replayed on {r.engine} (same rules, same matches)")
        if not r.identical:
            book = r.book
            ctx = use.since_context(book, s.lang, {"review": s.id, "as_of": s.as_of.isoformat(),
                                                   "recorded_by": s.recorded_by},
                                    {"same_rulebook": True, "separable": True, "facts": [],
                                     "from": {}, "to": {}, "by_facts": r.differences})
            echo(f"  differing parts: {', '.join(r.differences.get('keys', [])) or 'none'}")
            for line in ctx.sections[0].lines:
                echo(f"  - {line.text}")
        if r.today is not None and r.today_book is not None:
            tb = r.today_book
            same = tb.digest == s.rulebook_digest
            echo(f"With {tb.id} {tb.version} ({tb.digest[:19]})"
                       + (": the same rulebook." if same else ":"))
            ctx = use.since_context(tb, s.lang, {"review": s.id, "as_of": s.as_of.isoformat(),
                                                 "recorded_by": s.recorded_by},
                                    {"same_rulebook": True, "separable": True, "facts": [], "from": {}, "to": {},
                                     "by_facts": r.today})
            for line in ctx.sections[0].lines:
                echo(f"  - {line.text}")
                for rr in line.rules:
                    echo(f"      {rr}")
    if not r.identical:
        sys.exit(1)


command = replay_cmd
