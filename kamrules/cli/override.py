"""`kamrules override`: a manager's class, tier or accepted warning, with a reason and an expiry."""
from __future__ import annotations

import click

from kamrules.cli.common import echo, guarded, rulebook_option, store_option


@click.group("override")
def override_cmd() -> None:
    """A manager's overrides of an account: set, list, remove.

    \b
    Examples:
      kamrules override set huaxin-steel --class medium --reason "…" --until 2026-12-31
      kamrules override list
    """


@override_cmd.command("set")
@click.argument("account", metavar="ACCOUNT")
@click.option("--class", "klass", metavar="VALUE", default=None, help="Set the account's class (final dimension).")
@click.option("--tier", metavar="VALUE", default=None, help="Set the account's pyramid tier.")
@click.option("--accept", metavar="RULE", default=None, help="Accept the warning of this rule.")
@click.option("--reason", required=True, metavar="TEXT", help="Why (shown in every playbook while in force).")
@click.option("--until", "until", required=True, metavar="YYYY-MM-DD",
              help="The expiry: the override lapses on this date.")
@click.option("--by", "by", metavar="NAME", default=None,
              help="Who decides (default: KAMRULES_USER, else the operating-system user).")
@click.option("--replace", is_flag=True, help="Replace an override of the same thing that is in force.")
@store_option
@rulebook_option
@guarded
def set_(account: str, klass: str | None, tier: str | None, accept: str | None, reason: str, until: str,
         by: str | None, replace: bool, store: str | None, rulebook: str) -> None:
    """Override ACCOUNT's class or tier, or accept one of its warnings, until a date.

    The computed value is never replaced: playbooks and the portfolio show the override beside
    it, each recorded review keeps the overrides in force, and the override lapses on its date.

    \b
    Examples:
      kamrules override set huaxin-steel --class medium --reason "Strategic exit agreed with the VP" --until 2026-12-31
      kamrules override set huaxin-steel --accept over-concession-discount --reason "Price war, board decision" --until 2026-09-30 --by 王经理
    """
    import datetime as _dt

    from kamrules.core.errors import Location, Problem, UsageError, suggest
    from kamrules.history import location
    from kamrules.history.overrides import set_override
    from kamrules.history.store import open_store
    from kamrules.pipeline import rulebook as load_rulebook

    chosen = [(k, v) for k, v in (("final", klass), ("tier", tier), ("accept", accept)) if v]
    if len(chosen) != 1:
        raise UsageError([Problem("override.what", "say what to override: one of --class, --tier or --accept",
                                  Location("override"))])
    try:
        expires = _dt.date.fromisoformat(until)
    except ValueError:
        raise UsageError([Problem("override.until", f"--until {until!r} is not a date", Location("--until"),
                                  expected="YYYY-MM-DD")]) from None
    if expires <= _dt.date.today():
        raise UsageError([Problem("override.until", f"--until {until} is not in the future", Location("--until"),
                                  hint="an override lapses on its date; give a later one")])
    if not reason.strip():
        raise UsageError([Problem("override.reason", "--reason is empty", Location("--reason"))])
    book = load_rulebook(rulebook)
    target, value = chosen[0]
    if target == "accept":
        r = book.rule(value)
        if r is None or r.warn is None:
            raise UsageError([Problem("override.rule", f"'{value}' is not a rule with a warning in {book.id}",
                                      Location("--accept"), hint=suggest(value, [x.id for x in book.rules if x.warn]))])
        kind, target, value_ = "accept", value, None
    else:
        dim = book.dimensions.get(target)
        names = [v for v, _ in dim.values] if dim else []
        if value not in names:
            opt = "--class" if target == "final" else "--tier"
            raise UsageError([Problem("override.value", f"'{value}' is not a value of {target}", Location(opt),
                                      expected=" | ".join(names), hint=suggest(value, names))])
        kind, value_ = "dimension", value
    st = open_store(location.resolve(store), create=True)
    try:
        o = set_override(st, account_id=account, kind=kind, target=target, value=value_, reason=reason.strip(),
                         author=location.recorded_by(by), expires=expires, replace=replace)
    finally:
        st.close()
    what = f"{target} → {value_}" if kind == "dimension" else f"accepted warning {target}"
    echo(f"kamrules: override {o.id} for '{account}': {what}, until {o.expires} (by {o.author})")


@override_cmd.command("list")
@click.argument("account", metavar="[ACCOUNT]", required=False)
@click.option("--all", "show_all", is_flag=True, help="Include removed overrides.")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@store_option
@guarded
def list_(account: str | None, show_all: bool, fmt: str, store: str | None) -> None:
    """List overrides (of ACCOUNT, or all), with their status today: in force, lapsed, removed.

    \b
    Examples:
      kamrules override list
      kamrules override list huaxin-steel --all --format json
    """
    import datetime as _dt
    import json

    from kamrules.history import location
    from kamrules.history.overrides import load_overrides
    from kamrules.history.store import open_store

    st = open_store(location.resolve(store), create=False)
    try:
        found = load_overrides(st, [account] if account else None, removed=show_all)
    finally:
        st.close()
    today = _dt.date.today()
    items = sorted((o for os_ in found.values() for o in os_), key=lambda o: o.id)
    if fmt == "json":
        echo(json.dumps([{**o.as_dict(), "status": o.status(today)} for o in items], ensure_ascii=False,
                              indent=2))
        return
    if not items:
        echo("no overrides")
    for o in items:
        what = f"{o.target} → {o.value}" if o.kind == "dimension" else f"accept {o.target}"
        echo(f"{o.id}\t{o.account_id}\t{what}\tuntil {o.expires}\t{o.status(today)}\t{o.author}: {o.reason}")


@override_cmd.command("remove")
@click.argument("override_id", metavar="ID", type=int)
@click.option("--by", "by", metavar="NAME", default=None, help="Who removes it (default as for set).")
@store_option
@guarded
def remove(override_id: int, by: str | None, store: str | None) -> None:
    """Remove override ID (it stays on record, marked removed by whom and when).

    \b
    Examples:
      kamrules override remove 3
      kamrules override remove 3 --by 王经理
    """
    from kamrules.history import location
    from kamrules.history.overrides import remove_override
    from kamrules.history.store import open_store

    st = open_store(location.resolve(store), create=False)
    try:
        o = remove_override(st, override_id, by=location.recorded_by(by))
    finally:
        st.close()
    echo(f"kamrules: removed override {o.id} of '{o.account_id}'")


command = override_cmd
