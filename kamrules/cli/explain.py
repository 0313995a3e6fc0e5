"""`kamrules explain`: why each rule fired or did not, for one account."""
from __future__ import annotations


import click

from kamrules.cli.common import (
    account_option,
    as_of_option,
    echo,
    engine_option,
    guarded,
    lang_option,
    parse_as_of,
    read_input,
    rulebook_option,
)
from kamrules.core import textsafe


@click.command("explain")
@click.argument("account", metavar="ACCOUNT")
@rulebook_option
@click.option("--rule", "rules", multiple=True, metavar="ID",
              help="Explain only this rule (repeat for several). An unknown id is an error with 'did you mean'.")
@click.option("--why-not", is_flag=True, help="Only the rules that did not fire, nearest misses first.")
@click.option("--brief", is_flag=True, help="Only the deciding conditions, not every condition's outcome.")
@click.option("--format", "-f", "fmt", type=click.Choice(["pretty", "json"]), default="pretty", show_default=True,
              help="pretty for a terminal, json for scripts.")
@lang_option
@as_of_option
@engine_option
@account_option
@guarded
def explain_cmd(account: str, rulebook: str, rules: tuple[str, ...], why_not: bool, brief: bool, fmt: str,
                lang: str | None, as_of: str | None, engine: str, account_id: str | None) -> None:
    """Explain, rule by rule, why each rule fired or did not.

    For every rule: each condition's outcome, with the account's value and the threshold
    (and the parameter it comes from). Rules that did not fire come nearest miss first:
    the fewest conditions to change, then the smallest gap ("would fire if discount_rate >
    15%: it is 12%"); a condition on a missing fact says which fact to fill in.

    \b
    Examples:
      kamrules explain examples/accounts/huaxin-steel.yaml
      kamrules explain account.yaml --why-not --lang en
      kamrules explain account.yaml --rule over-concession-discount --format json
    """
    from kamrules.advice.explain import explain, find_rule, json_report, pretty_report
    from kamrules.authoring.gate import refuse_what_check_refuses
    from kamrules.pipeline import advise

    file, text = read_input(account)
    refuse_what_check_refuses(rulebook)  # what check calls wrong is refused here too
    advice = advise(file, rulebook, as_of=parse_as_of(as_of), lang=lang, engine=engine, stdin_text=text,
                    account_id=account_id)
    wanted = [find_rule(advice.book, r) for r in rules] if rules else None
    explanations = explain(advice, rules=wanted, why_not=why_not)
    if fmt == "json":
        echo(textsafe.json_dumps(json_report(advice, explanations), default=str))
    else:
        # a filtered view (--rule, --why-not) leaves out the groups it filtered away
        echo(pretty_report(advice, explanations, details=not brief, show_empty=not (rules or why_not)), nl=False)


command = explain_cmd
