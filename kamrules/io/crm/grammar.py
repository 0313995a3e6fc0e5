"""The CRM mapping file's grammar, declared once (core/grammar.py nodes).

`load_mapping` validates a mapping file against MAPPING (unknown keys with "did you mean", wrong
shapes, bad words, each with file:line:col and the path to the key); `kamrules schema mapping`
prints the JSON Schema generated from it, shipped as kamrules/schemas/mapping.schema.json
(tests/test_grammar.py regenerates it and compares). What the grammar cannot see — facts and
deal fields that must exist, value maps against a fact's type, a currency without a rate — is
checked by mapping.py against the rulebook.
"""
from __future__ import annotations

from kamrules.core.grammar import Either, Field, Grammar, Key, Map, Scalar, Seq, Table

CURRENCY_PATTERN = r"[A-Z]{3}"
DATE_ORDERS = ("YMD", "MDY", "DMY")
JOIN_TARGETS = ("id", "name")
STATUSES = ("won", "lost", "open", "closed")
NAMED_PERIODS = ("last_12_months", "previous_12_months", "this_year", "last_year", "last_year_to_date",
                 "past", "future", "all")
PERIOD_PATTERN = "(" + "|".join(NAMED_PERIODS) + r"|last_[1-9][0-9]{0,3}_days)"
OPS = ("sum", "count", "max", "min", "latest", "ratio", "list")
FACT_PATTERN = r"[^\W\d][\w]*(\.[^\W\d][\w]*)*"

CURRENCY = Scalar("str", pattern=CURRENCY_PATTERN, what="currency", code="currency",
                  message="currency {value} is not an ISO 4217 code", expected="three capital letters: CNY, USD, EUR …",
                  desc="An ISO 4217 currency code: CNY, USD, EUR …")
DATES = Scalar("str", choices=DATE_ORDERS, what="date order", code="value", message="date order {value} is not known",
               desc="How dates written as text are ordered: YMD (2026-06-30, the default), MDY (6/30/2026, US "
                    "exports) or DMY (30/06/2026)")
FIELD_NAME = Scalar("str", what="a deal field", desc="A deal field: amount, close_date, … (docs/crm-mapping.md)")

TARGETS = Either((Scalar("str", what="target"), Seq(Scalar("str", what="a target"), what="targets", nullable=False)),
                 what="to", desc="Accounts: the fact (name, dotted name, label or alias). Deals: the deal field (id, "
                                 "name, amount, stage, status, won, closed, close_date, created_date, last_activity, "
                                 "modified_date, currency, owner, probability). A list gives several: [name, id]",
                 expected="a fact or deal field, or a list of them")

COLUMN = Map("column", (
    Field("to", TARGETS,
          required=True, missing="a column needs 'to:', the fact or deal field it gives", expected="to: revenue"),
    Field("unit", Scalar("str", what="unit", desc="What a bare number in the column means: a money unit (元, 千, 万, "
                                                  "百万, 亿, k, M, thousand, million) or % (18 means 18%)")),
    Field("currency", CURRENCY),
    Field("values", Table(Scalar("any", what="a mapped value", message="each mapped value must be a single value"),
                          key=Key(), what="values",
                          desc="Value map: what the export writes → what kamrules reads (a stage name → early, mid, "
                               "late, won, lost; Y → true; Hot → high)")),
    Field("dates", DATES),
), what="a column", expected="to: <fact or field>, plus unit, currency, values or dates")

COLUMNS = Table(Either((Scalar("str", what="target", nullable=True),
                        Seq(Scalar("str", what="a target"), what="targets", nullable=False), COLUMN), what="a column",
                       desc="The fact or deal field (a list for several: [name, id]), or {to: …, unit: …, currency: …, "
                            "values: {…}}; empty to ignore the column", expected="a fact or deal field, or {to: …}"),
                key=Key(), what="columns",
                desc="Export header → what it gives. Headers are matched as written (case and surrounding spaces "
                     "do not matter); an empty value ignores the column")

SHEET = Either((Scalar("str", what="sheet"), Scalar("int", what="sheet")), what="sheet",
               desc="Workbook sheet: its name, or its number (1 = the first)", expected="a sheet name or number")

_TABLE_FIELDS = (
    Field("file", Scalar("str", what="file", desc="The export's file name among the FILE arguments; * and ? match "
                                                  "any characters (deals-*.xlsx)"),
          required=True, missing="{owner} needs 'file:', the export's file name", expected="file: accounts.csv"),
    Field("sheet", SHEET),
    Field("currency", CURRENCY),
    Field("dates", DATES),
    Field("columns", COLUMNS, required=True, missing="{owner} needs 'columns:'", expected="columns:\n  <header>: <fact>"),
)

ACCOUNTS = Map("accounts", _TABLE_FIELDS, what="the accounts table", owner=lambda _: "the accounts table",
               desc="The accounts export: one row per account")

JOIN = Map("join", (
    Field("column", Scalar("str", what="column", desc="The deals column naming the account"), required=True,
          missing="join needs the deals column naming the account", expected="column: Account ID"),
    Field("to", Scalar("str", choices=JOIN_TARGETS, what="join target", code="value",
                       message="join target {value} is not known", desc="What that column holds: the account's id "
                                                                       "(default) or its name")),
), what="join", desc="How a deal names its account")

DEALS = Map("deals", (*_TABLE_FIELDS,
                      Field("join", JOIN, required=True, missing="the deals table needs 'join:', the column naming "
                                                                 "the account", expected="join: {column: Account ID, "
                                                                                          "to: id}")),
            what="the deals table", owner=lambda _: "the deals table",
            desc="The deals (opportunities) export: one row per deal, joined to its account")

PERIOD = Either((Scalar("str", pattern=PERIOD_PATTERN, what="period", code="value",
                        message="period {value} is not known",
                        expected=", ".join(NAMED_PERIODS) + " or last_<n>_days"),
                 Map("", (Field("from", Scalar("any", what="from")), Field("to", Scalar("any", what="to"))),
                     what="period", desc="Dates from … to …, both included")),
                what="period", desc="Relative to --as-of: last_12_months, previous_12_months (the 12 before), "
                                    "this_year (1 January to as-of), last_year (the calendar year before), "
                                    "last_year_to_date, last_<n>_days, past, future, all; or {from: …, to: …}",
                expected="last_12_months or {from: 2026-01-01, to: 2026-06-30}")

FILTER = Map("filter", (
    Field("status", Seq(Scalar("str", choices=STATUSES, what="status", code="value", message="status {value} is not "
                                                                                           "known"),
                        what="status", single=True, desc="won, lost, open or closed (won or lost)")),
    Field("stage", Seq(Scalar("any", what="a stage"), what="stage", single=True,
                       desc="Stages after the value map (early, mid, late …)")),
    Field("period", PERIOD),
    Field("date", FIELD_NAME),
), what="a filter", desc="Which deals count: by status, stage and a period of their close date (or 'date:')")

AGGREGATE = Map("aggregate", (
    Field("sum", FIELD_NAME), Field("max", FIELD_NAME), Field("min", FIELD_NAME),
    Field("count", Scalar("str", choices=("deals",), what="count", code="value", message="count {value} is not known",
                          desc="count: deals")),
    Field("latest", Seq(FIELD_NAME, what="latest", single=True, desc="The latest of these dates")),
    Field("ratio", FIELD_NAME),
    Field("list", Table(FIELD_NAME, key=Key(), what="list",
                        desc="A list of records, one per deal: item field → deal field")),
    Field("where", FILTER),
    Field("of", FILTER),
), what="an aggregation",
    desc="One of sum, count, max, min, latest, ratio (where / of) or list, over the deals that pass 'where'",
    expected="{sum: amount, where: {status: won, period: last_12_months}}")

MAPPING = Map("", (
    Field("currency", CURRENCY),
    Field("rates", Table(Scalar("number", what="a rate", message="a rate must be a number"),
                         key=Key(pattern=CURRENCY_PATTERN, what="currency", code="currency",
                                 expected="three capital letters: USD, EUR …"),
                         what="rates", desc="Currency → how much of the rulebook's currency one unit is worth "
                                            "(USD: 7.1)")),
    Field("dates", DATES),
    Field("accounts", ACCOUNTS, required=True, missing="a mapping needs 'accounts:', the accounts table",
          expected="accounts:\n  file: accounts.csv\n  columns: …"),
    Field("deals", DEALS),
    Field("aggregate", Table(AGGREGATE, key=Key(pattern=FACT_PATTERN, what="fact"), what="aggregate",
                             desc="Account fact → how the account's deals give it")),
), what="the mapping", expected="accounts:, deals:, aggregate:", type_code="not-mapping",
    type_message="a mapping file must be a YAML mapping")

GRAMMAR = Grammar(
    root=MAPPING,
    defs={"accounts": ACCOUNTS, "deals": DEALS, "column": COLUMN, "join": JOIN, "filter": FILTER,
          "aggregate": AGGREGATE},
    id="https://kamrules.invalid/schemas/mapping.schema.json",
    title="kamrules CRM mapping",
    desc="How CRM exports (CSV, Excel .xlsx, JSON Lines) become accounts: which file and sheet, which column is "
         "which fact, units, currency, value maps, and how deals join and aggregate into account facts "
         "(docs/crm-mapping.md). Generated from kamrules/io/crm/grammar.py.",
)
