"""`kamrules diff ACCOUNT`: what changed between two reviews, and why."""
from __future__ import annotations

import click

from kamrules.cli.common import echo, guarded, lang_option, parse_as_of, rulebook_option, store_option


@click.command("diff")
@click.argument("account", metavar="ACCOUNT")
@click.option("--since", metavar="YYYY-MM-DD", default=None,
              help="Compare the latest review with the last one on or before this date "
                   "(default: with the review before the latest).")
@store_option
@rulebook_option
@lang_option
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@guarded
def diff_cmd(account: str, since: str | None, store: str | None, rulebook: str, lang: str | None, fmt: str) -> None:
    """Compare two reviews of ACCOUNT: class, tier, scores (with the points each rule added or
    took away), new and resolved warnings, and the facts that changed. When the two reviews used
    different rulebooks, the changes the rulebook made are kept apart from those the facts made
    (the older facts are evaluated again with the newer rulebook, as the store kept it).

    \b
    Examples:
      kamrules diff huaxin-steel
      kamrules diff huaxin-steel --since 2026-01-01
      kamrules diff huaxin-steel --format json
    """
    import json

    from kamrules.history import location, trend, use, views
    from kamrules.history.analysis import compare, side_of
    from kamrules.history.location import store_problem
    from kamrules.history.replay import evaluate_doc, pick_engine, stored_rulebook
    from kamrules.history.store import open_store
    from kamrules.pipeline import rulebook as load_rulebook

    book = load_rulebook(rulebook)
    lang = lang or book.lang
    date = parse_as_of(since) if since else None
    st = open_store(location.resolve(store), create=False)
    try:
        series = trend.effective(st.summaries([account]).get(account, []))
        if len(series) < 2:
            raise store_problem("diff.too-few", f"'{account}' has {len(series)} review(s) in {st.where.shown}; "
                                                "a diff needs two", account, "record another review first")
        new = series[-1]
        if date is None:
            old = series[-2]
        else:
            before = [s for s in series[:-1] if s.as_of <= date]
            if not before:
                raise store_problem("diff.none-before", f"'{account}' has no review on or before {date}", "--since",
                                    f"its first review is dated {series[0].as_of}")
            old = before[-1]
        fo, fn = st.full(old.id), st.full(new.id)
        assert fo is not None and fn is not None
        a = side_of(old.id, old.as_of, old.rulebook_digest, fo.result, fo.facts, fo.supplied)
        b = side_of(new.id, new.as_of, new.rulebook_digest, fn.result, fn.facts, fn.supplied)

        def reevaluate(side: object) -> dict[str, object] | None:
            try:
                newer = stored_rulebook(st, new.rulebook_digest)
                return evaluate_doc(fo, newer, pick_engine(new.engine, None))
            except Exception:  # the older facts do not fit the newer rulebook: cannot be split
                return None

        diff = compare(a, b, reevaluate)
    finally:
        st.close()
    if fmt == "json":
        echo(json.dumps({"account": account, **diff}, ensure_ascii=False, indent=2, default=str))
        return
    info = {"review": old.id, "as_of": old.as_of.isoformat(), "recorded_by": old.recorded_by}
    ctx = use.since_context(book, lang, info, diff)
    head = (f"{new.account_name} ({account}): #{old.id} {old.as_of} → #{new.id} {new.as_of}")
    echo(views.diff_text(ctx.sections, head, ctx.notes, ctx.facts), nl=False)


command = diff_cmd
