"""The rulebook language's closed word lists that code outside the grammar needs (the model,
resolution, outputs). They live apart from grammar.py so that importing the model — every
command does — does not build the whole declared grammar, which only reading a rulebook file
needs (a cached rulebook is never read)."""
from __future__ import annotations

SEVERITIES = ("critical", "high", "medium", "low", "info")  # most severe first
HIT_POLICIES = ("unique", "first", "priority", "any")
# Who acts on a warning or recommendation. The first two act at the account; the others change
# the company (targets, pay, prices, structure) — a company-level action is never the rep's.
OWNER_ROLES = ("rep", "account_team", "sales_management", "leadership", "finance")
COMPANY_ROLES = ("sales_management", "leadership", "finance")
# When an action is due: a rule's `horizon:`; the playbook section gives each its days.
HORIZONS = ("this_week", "this_month", "this_quarter", "this_half", "this_year")
HORIZON_DAYS = {"this_week": 7, "this_month": 30, "this_quarter": 90, "this_half": 182, "this_year": 365}
