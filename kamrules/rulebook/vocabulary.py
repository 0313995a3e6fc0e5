"""The rulebook language's closed word lists that code outside the grammar needs (the model,
resolution, outputs). They live apart from grammar.py so that importing the model — every
command does — does not build the whole declared grammar, which only reading a rulebook file
needs (a cached rulebook is never read)."""
from __future__ import annotations

SEVERITIES = ("critical", "high", "medium", "low", "info")  # most severe first
HIT_POLICIES = ("unique", "first", "priority", "any")
