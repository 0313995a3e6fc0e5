"""The `kamrules` command group. Each command lives in its own module (kamrules/cli/<command>.py),
imported only when it runs."""
from __future__ import annotations

from typing import Any

import click

from kamrules import __version__
from kamrules.core import interrupt, textsafe

COMMANDS = ("advise", "check", "diff", "explain", "history", "init", "override", "portfolio", "replay", "rules",
            "schema", "store", "test")


class LazyGroup(click.Group):
    """Each command's module is imported only when that command runs, so a rep's `kamrules advise`
    does not pay for the consultant's tools at start-up. A command module exposes `command`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        import importlib

        module = importlib.import_module(f"kamrules.cli.{name}")
        cmd: click.Command = module.command
        return cmd

    # click's own usage errors quote what was typed (an unknown command, an option value, a
    # path that does not exist): neutralised like every other line kamrules prints.
    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as e:
            e.message = textsafe.line(e.message)  # type: ignore[misc]  # click types it Final; we only clean it
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as e:
            e.message = textsafe.line(e.message)  # type: ignore[misc]  # click types it Final; we only clean it
            raise
        except KeyboardInterrupt:
            # Ctrl-C while the command's module is imported (get_command), before its guard is in
            # place: click would print "Aborted!" and exit 1; a command answers it one way.
            interrupt.exit_interrupted()


# Bare `kamrules` prints this help and exits 0: a newcomer who types the name gets a place to
# start that works after `pip install` (no repository examples needed), not a usage error.
@click.group(cls=LazyGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="kamrules")
@click.pass_context
def main(ctx: click.Context) -> None:
    """kamrules: key-account strategy from the 大客户攻略营销 course, as testable rulebooks.

    \b
    Start here (works anywhere kamrules is installed):
      kamrules init account -o my-account.yaml
      kamrules advise my-account.yaml
    (fill in id, name and what you know about the account between the two)

    \b
    Then:
      kamrules rules --facts
      kamrules advise my-account.yaml --lang en --format html -o playbook.html
      kamrules explain my-account.yaml --why-not
      kamrules init company acme
    """
    if ctx.invoked_subcommand is None:
        from kamrules.cli.common import echo

        echo(ctx.get_help())  # through the neutralising edge, like every other line printed
