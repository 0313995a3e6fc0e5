"""Every command and every option is documented: in --help (with an example) and in the README."""
from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kamrules.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(main)
    out = []
    for name in main.list_commands(ctx):
        cmd = main.get_command(ctx, name)
        assert cmd is not None
        if isinstance(cmd, click.Group):
            out += [(f"{name} {sub}", cmd.get_command(ctx, sub)) for sub in cmd.list_commands(ctx)]
        else:
            out.append((name, cmd))
    return out


COMMANDS = commands()


@pytest.mark.parametrize("name,cmd", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_help_has_an_example(name, cmd):
    r = CliRunner().invoke(main, [*name.split(), "--help"])
    assert r.exit_code == 0
    assert f"kamrules {name}" in r.output, f"'kamrules {name} --help' shows no example"


@pytest.mark.parametrize("name,cmd", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_readme_documents_command_and_options(name, cmd):
    assert f"kamrules {name}" in README, f"README does not mention 'kamrules {name}'"
    missing = [opt for p in cmd.params if isinstance(p, click.Option)
               for opt in p.opts if opt.startswith("--") and opt != "--help" and opt not in README]
    assert not missing, f"README does not mention {missing} of 'kamrules {name}'"


def test_the_readme_python_example_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks, "the README shows kamrules used from Python"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102 - our own README
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "key"
