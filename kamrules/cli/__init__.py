"""The command line: one module per command, each a thin click layer over the library."""
from __future__ import annotations

from kamrules.cli.main import main

__all__ = ["main"]
