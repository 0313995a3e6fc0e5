"""`kamrules history ACCOUNT`: one line per review, with sparklines; an HTML chart; JSON."""
from __future__ import annotations

import click

from kamrules.cli.common import echo, guarded, lang_option, rulebook_option, store_option


@click.command("history")
@click.argument("account", metavar="ACCOUNT")
@store_option
@rulebook_option
@lang_option
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "html", "json"]), default="text", show_default=True,
              help="text: one line per review with sparklines; html: a page with a chart; json: for scripts.")
@click.option("-o", "--output", metavar="FILE", help="Write here (atomically) instead of standard output.")
@guarded
def history_cmd(account: str, store: str | None, rulebook: str, lang: str | None, fmt: str,
                output: str | None) -> None:
    """Show every recorded review of ACCOUNT (its id), oldest first: class, tier, scores and
    warnings by severity, with the scores as sparklines.

    When one date was recorded more than once, the last recording stands for it (a correction).

    \b
    Examples:
      kamrules history huaxin-steel
      kamrules history huaxin-steel --format html -o huaxin-history.html
      kamrules history HX-001 --store postgresql://kam@db.example.com/kam --format json
    """
    from kamrules.history import location, trend, views
    from kamrules.history.location import store_problem
    from kamrules.history.store import open_store
    from kamrules.pipeline import rulebook as load_rulebook

    book = load_rulebook(rulebook)
    lang = lang or book.lang
    st = open_store(location.resolve(store), create=False)
    try:
        allrev = st.summaries([account]).get(account, [])
        shown = st.where.shown
    finally:
        st.close()
    if not allrev:
        raise store_problem("history.no-reviews", f"no review of '{account}' is recorded in {shown}", account,
                            "record one with 'kamrules advise FILE --record' (ids are case-sensitive)")
    series = trend.effective(allrev)
    superseded = len(allrev) - len(series)
    if fmt == "json":
        text = views.history_json(account, shown, series, superseded)
    elif fmt == "html":
        text = views.history_html(book, lang, account, shown, series, superseded)
    else:
        text = views.history_text(book, lang, account, shown, series, superseded)
    if output:
        from kamrules.io.output import write_atomic

        write_atomic(output, text)
    else:
        echo(text, nl=False)


command = history_cmd
