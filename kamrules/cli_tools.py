"""Registers the consultant's and company's commands on the main group."""
from __future__ import annotations

from . import cli_author, cli_testing  # noqa: F401  (each attaches its commands to cli.main)
