"""The rulebook language's file grammar, declared once.

`kamrules check` and every loader validate rulebook files against RULEBOOK (core/grammar.py
reads it: unknown keys with "did you mean", wrong shapes, missing keys, bad ids and words, each
with file:line:col and the path to the key), and `kamrules schema rulebook` prints the JSON
Schema generated from it — the same file shipped as kamrules/schemas/rulebook.schema.json
(tests/test_grammar.py regenerates it and compares). What the grammar cannot see — names that
must be declared, expression types, parameter values against their type — is checked later,
by read.py (values), layering.py and check.py (names and types).
"""
from __future__ import annotations

from typing import Any, Mapping

from kamrules.core.grammar import (
    Anything,
    Either,
    Field,
    Grammar,
    Key,
    Map,
    Ref,
    Scalar,
    Seq,
    Table,
    Text,
)
from kamrules.core.values import ALL_TYPES, NUMERIC_TYPES, SCALAR_TYPES
from kamrules.rulebook.vocabulary import HIT_POLICIES as HIT_POLICIES
from kamrules.rulebook.vocabulary import HORIZONS as HORIZONS
from kamrules.rulebook.vocabulary import OWNER_ROLES as OWNER_ROLES
from kamrules.rulebook.vocabulary import SEVERITIES as SEVERITIES

ID_PATTERN = r"[a-z0-9][a-z0-9_.\-]{0,80}"
RULE_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,80}"
NAME_PATTERN = r"[^\W\d][\w]*(\.[^\W\d][\w]*)*"
SOURCE_PATTERN = r"(deck|recon|lit:.+|company:.+)"
CONCEPT_PATTERN = r"[a-z_]+\.[a-z_]+"
REQUIRES_PATTERN = r"\s*>=\s*(\d+(?:\.\d+)*)\s*"
TABLE_POLICIES = ("unique", "first", "priority", "collect")  # DMN's single- and multiple-hit policies
OUTPUT_PATTERN = r"(classify|score|derive)\.[^\W\d][\w]*"
RESERVED = frozenset({"params", "account", "and", "or", "not", "in", "true", "false", "it", "classification",
                      "score", "scores"})
SOURCE_EXPECTED = "deck, recon, lit:<name> or company:<who>"
THRESHOLD_PATTERN = r"(recon|lit:.+|company:.+)"
THRESHOLD_EXPECTED = "recon, lit:<name> or company:<who>"
TAG_PATTERN = r"[a-z][a-z0-9_]{0,40}"
CAUSE_PATTERN = r"[a-z][a-z0-9_]{0,60}"
# What relations and invariants speak about: rules by tag, id or concept, or a classification.
SELECTOR_PATTERN = (r"(tag:" + TAG_PATTERN + r"|rule:" + RULE_ID_PATTERN + r"|concept:" + CONCEPT_PATTERN
                    + r"|[^\W\d]\w*=\w+)")
SELECTOR_EXPECTED = "tag:<tag>, rule:<rule id>, concept:<family.name> or <dimension>=<value>"
METRIC_TYPES = tuple(t for t in ("number", "integer", "money", "percent") if t in NUMERIC_TYPES) + ("bool",)
DERIVED_TYPES = tuple(t for t in SCALAR_TYPES if t != "date")
SUPPLIERS = ("portfolio",)


TAGS = Seq(Scalar("str", pattern=TAG_PATTERN, what="tag", code="tag",
                  message="a tag is lowercase letters, digits and _ (not {value})", expected="invest, ladder_up"),
           what="tags", single=True,
           desc="What the advice does (invest, ladder_up, loss …), so relations and invariants can name families of "
                "rules")
SELECTOR = Scalar("str", pattern=SELECTOR_PATTERN, what="selector", code="selector",
                  message="{value} is not a selector", expected=SELECTOR_EXPECTED,
                  desc="tag:<tag> | rule:<id> | concept:<family.name> | <dimension>=<value>")
SUPPRESSES = Seq(SELECTOR, what="suppresses", single=True,
                 desc="When this rule fires, the outputs (findings, classifications, score points, derived facts) of "
                      "the rules selected here are withdrawn, and kept as suppressed with this rule's id")
WORDS = Text(desc="A verbatim quote of the deck (zh), shown as 课程原文; en: an optional translation", what="words")


def _provenance_fields() -> tuple[Field, ...]:
    """Keys a rule, a table and a table row share: tags, relations and where the words and
    thresholds come from."""
    return (
        Field("tags", TAGS),
        Field("suppresses", SUPPRESSES),
        Field("words", WORDS),
        Field("threshold", THRESHOLD),
    )


def _rule_owner(rule: Mapping[str, Any]) -> str:
    rid = rule.get("id")
    return f"rule '{rid}'" if isinstance(rid, str) else "a rule"


NAME = Key(pattern=NAME_PATTERN, what="fact", expected="letters, digits and _, dotted for nested facts "
           "(team.accounts_per_manager)", reserved=RESERVED)


def _named(what: str) -> Key:
    return Key(pattern=NAME_PATTERN, what=what, expected=NAME.expected, reserved=RESERVED)


TEXT = Text()
SOURCE = Scalar("str", desc=SOURCE_EXPECTED.replace(", ", " | ").replace(" or ", " | "), pattern=SOURCE_PATTERN,
                what="source", code="source", message="{owner} needs a source; {value} is not one",
                expected=SOURCE_EXPECTED)
ANY = Scalar("any", what="value")
UNIT = Scalar("str", what="unit", desc="Display only, e.g. CNY, days; pp: a percent that is a difference of two "
                                       "percents, shown as percentage points (7 pp / 7 个百分点), never as 7%")
SEVERITY = Scalar("str", choices=SEVERITIES, what="severity", code="severity",
                  message="severity {value} is not known")
VALUES = Either((Seq(Scalar("any", what="an enum value", message="enum values must be words"), what="values"),
                 Table(TEXT, what="values")),
                desc="Allowed values: a list, or value → label", what="values",
                expected="[low, medium, high] or {low: {zh: 低, en: low}}")
SCALAR_TYPE = Scalar("str", choices=SCALAR_TYPES, what="type", code="fact-type", message="type {value} is not known")
ASSIGNMENTS = Table(Scalar("any", what="an assignment", message="{owner}: each entry must be a single value"),
                    what="assignments", key=Key())

FACT = Map("fact", (
    Field("type", Scalar("str", choices=ALL_TYPES, what="type", code="fact-type", message="type {value} is not known"),
          required=True, missing="a fact needs a type", missing_code="fact-type",
          expected="one of " + ", ".join(ALL_TYPES)),
    Field("unit", UNIT),
    Field("min", Scalar("any", what="value", desc="Hard lower bound: a smaller value is an error (impossible). "
                                                 "Bounds reasoning relies on it for a missing value")),
    Field("max", Scalar("any", what="value", desc="Hard upper bound: a larger value is an error (impossible)")),
    Field("plausible", Seq(Scalar("any", what="a bound", nullable=True), what="plausible range",
                           expected="plausible: [-50%, 80%] (~ for no bound on that side)",
                           desc="[lo, hi]: the range real values usually lie in. A value outside it is still "
                                "evaluated, and listed as a data check; ~ leaves a side open",
                           schema_extra={"minItems": 2, "maxItems": 2})),
    Field("values", VALUES),
    Field("label", TEXT), Field("help", TEXT),
    Field("aliases", Seq(Scalar("str", what="an alias"), what="aliases",
                         desc="Extra keys an account file may use; label.zh is always accepted")),
    Field("example", Anything(desc="A typical value, used by `init account`")),
    Field("group", Scalar("str", what="group", desc="Section for `init account` and the playbook")),
    Field("required", Scalar("bool", what="required")),
    Field("items", Either((SCALAR_TYPE, Table(Either((SCALAR_TYPE, Ref("fact"))), key=_named("field"),
                                              what="items")),
                          desc="A list's items: a scalar type, or a mapping of field → declaration", what="items",
                          expected="a scalar type or a mapping of fields")),
    Field("supplied", Scalar("str", choices=SUPPLIERS, what="supplier", code="value",
                             message="supplied: {value} is not known",
                             desc="Who gives the value instead of the account: portfolio — `kamrules portfolio` sets "
                                  "it from the account's rank in the book before the account is evaluated. Missing "
                                  "in a single-account run, and never listed as a missing fact")),
), what="a fact")

PARAMETER = Map("parameter", (
    Field("type", Scalar("str", choices=SCALAR_TYPES, what="type", code="param-type",
                         message="type {value} is not known")),
    Field("value", Scalar("any", what="value")),
    Field("source", SOURCE),
    Field("label", TEXT), Field("help", TEXT), Field("unit", UNIT),
), what="a parameter")

METRIC = Map("metric", (
    Field("type", Scalar("str", choices=METRIC_TYPES, what="type", code="metric-type",
                         message="metric type {value} is not known",
                         expected="number, integer, money, percent or bool")),
    Field("formula", Scalar("str", what="formula", schema_extra={"minLength": 1}), required=True,
          missing="a metric needs a formula", expected="formula: revenue * gross_margin"),
    Field("label", TEXT), Field("help", TEXT), Field("unit", UNIT),
), what="a metric")

DERIVED = Map("derived", (
    Field("type", Scalar("str", choices=DERIVED_TYPES, what="type", code="derived-type",
                         message="derived fact type {value} is not known",
                         expected="bool, number, money, percent, integer, enum or string")),
    Field("values", VALUES),
    Field("label", TEXT), Field("help", TEXT),
), what="a derived fact")

DIMENSION = Map("dimension", (
    Field("label", TEXT),
    Field("hit_policy", Scalar("str", choices=HIT_POLICIES, what="hit policy", code="hit-policy",
                               message="hit policy {value} is not known",
                               desc="unique: at most one rule may match · first: highest priority wins · "
                                    "priority: the value listed first wins · any: all matches must agree")),
    Field("values", VALUES, required=True, missing="a dimension needs values",
          expected="values: {key: …, medium: …}"),
    Field("help", TEXT),
), what="a dimension")

SCORE = Map("score", (
    Field("label", TEXT), Field("min", ANY), Field("max", ANY), Field("help", TEXT),
), what="a score")

OWNER = Either((
    Scalar("str", what="owner", desc="A role (" + " | ".join(OWNER_ROLES) + "), or a fact naming the rep "
                                      "(team.account_manager)"),
    Map("", (
        Field("role", Scalar("str", choices=OWNER_ROLES, what="owner role", code="owner",
                             message="owner role {value} is not known", expected=" | ".join(OWNER_ROLES)),
              required=True, missing="an owner mapping needs a role", missing_code="owner",
              expected="role: leadership"),
        Field("name", Scalar("str", pattern=NAME_PATTERN, what="fact", code="owner",
                             message="the owner's name is a fact such as team.executive_sponsor, not {value}",
                             desc="The fact holding the person's name (team.executive_sponsor)")),
    ), what="owner", desc="A role, and the fact that names the person")),
    what="owner", expected="rep | account_team | sales_management | leadership | finance, a fact such as "
                           "team.account_manager, or {role: leadership, name: team.executive_sponsor}",
    desc="Who acts: a role, a fact naming the rep, or {role, name}. Company-level roles (sales_management, "
         "leadership, finance) are never the rep's")
HORIZON = Scalar("str", choices=HORIZONS, what="horizon", code="horizon", message="horizon {value} is not known",
                 expected=" | ".join(HORIZONS),
                 desc="When to act: due = as of + the horizon's days (playbook.horizons); default: the severity's "
                      "due_days")
CAUSE = Scalar("str", pattern=CAUSE_PATTERN, what="cause", code="cause",
               message="a cause id is lowercase letters, digits and _ (not {value})", expected="revenue_only_incentives",
               desc="The root cause (an id under causes:) this finding is a symptom of")
THRESHOLD = Scalar("str", pattern=THRESHOLD_PATTERN, what="threshold", code="source",
                   message="{owner}: threshold {value} is not a source", expected=THRESHOLD_EXPECTED,
                   desc="Where the rule's threshold or prescription comes from when it is not the deck's: "
                        "recon | lit:<name> | company:<who>")

MESSAGE = Map("message", (
    Field("severity", SEVERITY),
    Field("message", TEXT, required=True, missing="{owner}: a warning or recommendation needs a message",
          expected="message: {zh: …, en: …}"),
    Field("remedy", TEXT),
    Field("owner", OWNER),
    Field("horizon", HORIZON),
    Field("cause", CAUSE),
), what="a message")

THEN = Map("", (
    Field("classify", ASSIGNMENTS),
    Field("score", ASSIGNMENTS),
    Field("derive", ASSIGNMENTS),
    Field("warn", Ref("message")),
    Field("recommend", Ref("message")),
), what="then", desc="What the rule concludes", expected="then: with classify, score, derive, warn or recommend",
   nonempty="{owner} does nothing")

WHEN = Either((Scalar("str", what="condition"), Scalar("bool", what="condition")),
              desc="The condition, e.g. revenue > 1000万 and discount_rate > params.max_key_discount",
              what="when", expected="when: revenue > 1000万")

RULE = Map("rule", (
    Field("id", Scalar("str", pattern=RULE_ID_PATTERN, what="id", code="rule-id",
                       message="a rule id must be letters, digits, - _ . (not {value})",
                       expected="letters, digits, - _ ."),
          required=True, missing="a rule needs an id", missing_code="rule-id", expected="letters, digits, - _ ."),
    Field("concept", Scalar("str", pattern=CONCEPT_PATTERN, what="concept", code="concept",
                            message="{owner} needs a concept key like misconception.over_concession",
                            expected="family.name", desc="Concept key, e.g. misconception.over_concession"),
          required=True, missing="{owner} needs a concept key like misconception.over_concession",
          missing_code="concept", expected="family.name"),
    Field("source", SOURCE, required=True, missing="{owner} needs a source", missing_code="source",
          expected=SOURCE_EXPECTED),
    Field("priority", Scalar("int", what="priority", message="priority must be a whole number",
                             desc="Higher = more important (default 0)")),
    Field("title", TEXT),
    Field("description", TEXT),
    Field("when", WHEN, required=True, missing="{owner} needs a condition", expected="when: revenue > 1000万"),
    Field("then", THEN, required=True, missing="{owner} does nothing",
          expected="then: with classify, score, derive, warn or recommend"),
    Field("replace", Scalar("bool", what="replace", desc="Replace a rule of the same id from an earlier rulebook")),
    *_provenance_fields(),
), what="a rule", owner=_rule_owner, expected="- id: …\n  when: …\n  then: …", type_message="each rule must be a mapping")

OVERRIDE = Map("override", (
    Field("when", WHEN),
    Field("priority", Scalar("int", what="priority", message="priority must be a whole number")),
    Field("title", TEXT),
    Field("severity", SEVERITY),
    Field("message", TEXT), Field("remedy", TEXT),
    Field("classify", ASSIGNMENTS), Field("score", ASSIGNMENTS),
    Field("source", SOURCE),
    Field("owner", OWNER), Field("horizon", HORIZON), Field("cause", CAUSE),
    Field("tags", TAGS), Field("suppresses", SUPPRESSES),
    Field("words", WORDS),
    Field("threshold", THRESHOLD),
), what="an override")

DISABLE = Map("", (
    Field("rule", Scalar("str", what="rule"), required=True, missing="a disable entry needs rule and reason",
          expected="{rule: id, reason: why}"),
    Field("reason", Scalar("str", what="reason", schema_extra={"minLength": 1}), required=True,
          missing="a disable entry needs rule and reason", expected="{rule: id, reason: why}",
          hint="the reason is shown in every playbook's provenance"),
), what="a disable entry")

CELL = Either((Scalar("str", what="a cell"), Scalar("number", what="a cell"), Scalar("bool", what="a cell")),
              what="a cell", desc='A test of its input column: "-" (any), "< e", ">= e", "[a..b)", "a, b", '
                                  '"not(…)", "exists", "missing", or a value',
              expected='"-", ">= params.x", "[a..b)", "high" …')
ROW = Map("row", (
    Field("id", Scalar("str", pattern=RULE_ID_PATTERN, what="id", code="rule-id",
                       message="a rule id must be letters, digits, - _ . (not {value})",
                       expected="letters, digits, - _ .", desc="The rule id of this row (default <table>-<n>)")),
    Field("when", Seq(CELL, what="when", single=True, nullable=False,
                      desc="One cell per input column, in the order of inputs"),
          required=True, missing="{owner}: a row needs its input cells", expected='when: [">= params.x", "-"]'),
    Field("then", Seq(Scalar("any", what="an output", message="{owner}: each output must be a single value"),
                      what="then", single=True, nullable=False,
                      desc="One value per output column, in the order of outputs"),
          required=True, missing="{owner}: a row needs its outputs", expected="then: [key]"),
    Field("title", TEXT),
    Field("description", TEXT),
    Field("concept", Scalar("str", pattern=CONCEPT_PATTERN, what="concept", code="concept",
                            message="{owner} needs a concept key like standard.pyramid", expected="family.name")),
    Field("source", SOURCE),
    Field("priority", Scalar("int", what="priority", message="priority must be a whole number")),
    Field("warn", Ref("message")),
    Field("recommend", Ref("message")),
    *_provenance_fields(),
), what="a row", owner=lambda r: f"row '{r.get('id')}'" if isinstance(r.get("id"), str) else "a row",
    type_message="each row must be a mapping", expected="- {id: …, when: [...], then: [...]}")

TABLE = Map("table", (
    Field("table", Scalar("str", pattern=RULE_ID_PATTERN, what="table id", code="rule-id",
                          message="a table id must be letters, digits, - _ . (not {value})",
                          expected="letters, digits, - _ ."),
          required=True, missing="a decision table needs an id: 'table: <id>'", missing_code="rule-id",
          expected="letters, digits, - _ ."),
    Field("concept", Scalar("str", pattern=CONCEPT_PATTERN, what="concept", code="concept",
                            message="{owner} needs a concept key like standard.pyramid", expected="family.name"),
          required=True, missing="{owner} needs a concept key like standard.pyramid", missing_code="concept",
          expected="family.name"),
    Field("source", SOURCE, required=True, missing="{owner} needs a source", missing_code="source",
          expected=SOURCE_EXPECTED),
    Field("priority", Scalar("int", what="priority", message="priority must be a whole number")),
    Field("title", TEXT),
    Field("description", TEXT),
    Field("hit_policy", Scalar("str", choices=TABLE_POLICIES, what="hit policy", code="hit-policy",
                               message="hit policy {value} is not known",
                               desc="unique: rows never overlap (checked) · first: the first matching row · "
                                    "priority: every matching row, the output dimension's value order decides · "
                                    "collect: every matching row (scores add up)")),
    Field("complete", Scalar("bool", what="complete",
                             desc="The rows cover every value of the inputs: `kamrules check` reports a gap as an "
                                  "error")),
    Field("when", WHEN),
    Field("inputs", Seq(Scalar("str", what="an input", desc="An expression over facts, metrics, params"),
                        what="inputs", single=True, nullable=False), required=True,
          missing="{owner} needs its input columns", expected="inputs: [revenue]"),
    Field("outputs", Seq(Scalar("str", pattern=OUTPUT_PATTERN, what="an output column",
                                message="an output column is classify.<dimension>, score.<score> or "
                                        "derive.<derived fact>, not {value}",
                                expected="classify.tier, score.health or derive.<name>"),
                         what="outputs", single=True, nullable=False), required=True,
          missing="{owner} needs its output columns", expected="outputs: [classify.tier]"),
    Field("rows", Seq(Ref("row"), what="rows", nullable=False), required=True,
          missing="{owner} needs rows", expected="rows:\n  - {id: …, when: [...], then: [...]}"),
    Field("replace", Scalar("bool", what="replace",
                            desc="Replace the table of the same id from an earlier rulebook (all its rows)")),
    *_provenance_fields(),
), what="a decision table", owner=lambda t: f"table '{t.get('table')}'" if isinstance(t.get("table"), str)
    else "a decision table", type_message="each decision table must be a mapping")

NAMES = Seq(Scalar("str", what="a name"), what="names", single=True)
PERCENT = Either((Scalar("str", what="a percent"), Scalar("number", what="a percent")), what="a percent",
                 desc="A percent: 20% (or a fraction within ±1: 0.2)", expected="20%")


def _labelled(name: str, *fields: Field, what: str) -> Map:
    return Map(name, (Field("key", Scalar("str", what="key"), required=True, missing="{owner} needs a key"),
                      Field("label", TEXT), *fields), what=what,
               owner=lambda v: f"{what} '{v.get('key')}'" if isinstance(v.get("key"), str) else what)


PLAYBOOK = Map("playbook", (
    Field("summary", Map("", (
        Field("dimensions", NAMES), Field("scores", NAMES), Field("figures", NAMES),
    ), what="summary", desc="What the playbook's summary shows: dimensions, scores and key figures")),
    Field("families", Table(TEXT, key=Key(pattern=r"[a-z_]+", what="concept family"), what="families",
                            desc="Concept families (standard, misconception …) → their names")),
    Field("concepts", Table(TEXT, key=Key(pattern=CONCEPT_PATTERN, what="concept key", expected="family.name"),
                            what="concepts", desc="Concept keys → their names")),
    Field("analysis", Seq(_labelled(
        "analysis_step",
        Field("ask", TEXT),
        Field("known", NAMES),
        Field("date", Scalar("str", what="date fact", desc="The fact holding the date the step was last done")),
        what="analysis step"), what="analysis",
        desc="The six-step analysis, in order: each step's name, what to find out, the facts that show what is "
             "known, and the fact holding the date it was last done")),
    Field("buying_roles", NAMES),
    Field("relationships", Map("", (
        Field("metrics", NAMES), Field("gaps", NAMES),
    ), what="relationships", desc="The relationship map's metrics, and the concepts shown as its gaps")),
    Field("management", Seq(_labelled("management_part", what="management part"), what="management",
                            desc="The eight parts of management, in order (concept management.<key>)")),
    Field("service", Map("", (
        Field("fact", Scalar("str", what="fact")),
        Field("steps", Seq(TEXT, what="steps")),
        Field("ready", Map("", (
            Field("dimension", Scalar("str", what="dimension")),
            Field("values", NAMES),
        ), what="ready", desc="The dimension saying which step the account qualifies for, and its value for each "
                              "step, from the bottom: the next step is shown only while the account qualifies for "
                              "more than its current one")),
    ), what="service", desc="The service ladder: the fact holding the step, each step's name, and the dimension "
                            "saying which step the account qualifies for")),
    Field("scorecard", Map("", (
        Field("dimension", Scalar("str", what="dimension")),
        Field("quadrants", Table(Scalar("str", choices=("tl", "tr", "bl", "br"), what="quadrant position",
                                        code="value", message="quadrant position {value} is not known"),
                                 key=Key(), what="quadrants")),
        Field("flight", Seq(_labelled(
            "gauge",
            Field("metric", Scalar("str", what="metric"), required=True, missing="{owner} needs a metric"),
            Field("kind", Scalar("str", choices=("scale", "growth", "cost"), what="gauge kind", code="value",
                                 message="gauge kind {value} is not known")),
            Field("good", Scalar("str", what="parameter")),
            Field("low", Scalar("str", what="parameter")),
            Field("high", Scalar("str", what="parameter")),
            what="gauge"), what="flight")),
    ), what="scorecard", desc="The 2×2 scorecard chart: its dimension, where each value sits, and the flight gauges")),
    Field("due_days", Table(Scalar("int", what="days"), key=Key(), what="due_days",
                            desc="Suggested days to act, by severity (when a rule gives no horizon)")),
    Field("horizons", Table(Map("horizon", (
        Field("days", Scalar("int", what="days", message="a horizon's days must be a whole number",
                             schema_extra={"minimum": 0}),
              required=True, missing="a horizon needs its days", expected="days: 7"),
        Field("label", TEXT),
    ), what="horizon"), key=Key(pattern="|".join(HORIZONS), what="horizon", code="horizon",
                                expected=" | ".join(HORIZONS)), what="horizons",
        desc="Each horizon's days (due = as of + days) and its label ('this week' / 本周)")),
    Field("owners", Table(TEXT, key=Key(pattern="|".join(OWNER_ROLES), what="owner role", code="owner",
                                        expected=" | ".join(OWNER_ROLES)), what="owners",
                          desc="Each owner role's label (rep → 客户经理 / account manager); the action plan groups "
                               "by them, in this order")),
    Field("brief", Map("", (
        Field("verdict", TAGS),
        Field("ask", TAGS),
        Field("causes", Scalar("int", what="number of causes", message="brief.causes must be a whole number",
                               desc="How many root causes the brief shows (default 3)")),
        Field("walk_away", Map("", tuple(
            Field(k, Scalar("str", pattern=NAME_PATTERN, what="fact", desc=d))
            for k, d in (("revenue", "this year's revenue (money)"), ("gross_margin", "gross margin (percent)"),
                         ("discount", "average discount off list price (percent)"), ("rebates", "rebates (money)"),
                         ("free_services", "cost of free services (money)"), ("cost_to_serve", "cost to serve (money)"))),
            what="walk_away", desc="The facts the walk-away price is computed from: shown only when all are known")),
        Field("talking_points", Table(Map("talking_points", (
            Field("wants", TEXT), Field("say", TEXT), Field("ask", TEXT),
        ), what="talking points"), key=Key(pattern=r"[a-z_]+", what="buying role"), what="talking_points",
            desc="说对话 per buying role (a value of the contacts' role): what they want, what to say, what to ask "
                 "them for")),
        Field("stances", Table(TEXT, key=Key(pattern=r"[a-z_]+", what="stance"), what="stances",
                               desc="How to handle a contact by stance (a value of the contacts' support): one line "
                                    "each")),
    ), what="brief", desc="The meeting brief: the tags of findings that state the verdict and what to ask for, "
                          "how many causes, the walk-away price's facts, and what to say to each buying role")),
    Field("portfolio", Map("", (
        Field("dimensions", NAMES), Field("scores", NAMES),
        Field("rank", Map("", (
            Field("profit", Scalar("str", what="fact or metric", desc="An account's profit, e.g. margin_after_cts")),
            Field("revenue", Scalar("str", what="fact or metric", desc="An account's revenue, e.g. revenue")),
            Field("by", Scalar("str", choices=("auto", "profit", "revenue"), what="rank by", code="value",
                               message="rank by {value} is not known",
                               desc="auto (default): profit when every account with a revenue gives it, else "
                                    "revenue")),
        ), what="rank", desc="What ranks the accounts within the portfolio (the pyramid, ABC, the whale curve)")),
        Field("pyramid", Map("", (
            Field("fact", Scalar("str", what="fact", desc="The supplied enum fact that receives the tier by rank")),
            Field("source", SOURCE),
            Field("bands", Table(PERCENT, key=Key(), what="bands",
                                 desc="Tier → share of accounts, top first; the shares add up to 100% "
                                      "(Curry: platinum 1%, gold 4%, iron 15%, lead 80%)")),
        ), what="pyramid", desc="The value pyramid by rank within the portfolio")),
        Field("abc", Map("", (
            Field("a", PERCENT), Field("b", PERCENT),
        ), what="abc", desc="ABC analysis: A while the cumulative share of the ranked measure is below a "
                            "(default 80%), B below b (95%), C the rest")),
        Field("calibrate", Table(Map("", (
            Field("of", Scalar("str", what="fact or metric"), required=True, missing="{owner} needs of:",
                  expected="{of: revenue, top: 20%}"),
            Field("top", PERCENT, required=True, missing="{owner} needs top:", expected="{of: revenue, top: 20%}"),
        ), what="a calibration"), key=Key(), what="calibrate",
            desc="`--calibrate`: parameter → the value of `of` at the top `top` share of the portfolio's accounts")),
        Field("checks", NAMES),
        Field("verdicts", Map("", (
            Field("one_class", PERCENT), Field("pareto_holds", PERCENT), Field("pareto_flat", PERCENT),
            Field("hhi_moderate", PERCENT), Field("hhi_high", PERCENT),
        ), what="verdicts", desc="Where the summary's verdicts change: one class for (nearly) everyone, the 80/20 "
                                 "law holding or a flat portfolio, the Herfindahl–Hirschman index (as a share: "
                                 "15% = 1,500)")),
    ), what="portfolio", desc="What `kamrules portfolio` shows per account, how it ranks them, and its verdicts")),
), what="playbook", desc="What the playbook knows about the course: its steps, roles, labels and layout. An overlay "
                         "replaces any of these sections.")

RULEBOOK = Map("", (
    Field("rulebook", Scalar("str", pattern=ID_PATTERN, what="id", code="id",
                             message="the rulebook needs an id: 'rulebook: <id>'",
                             expected="lowercase letters, digits, . _ -",
                             desc="The rulebook id: lowercase letters, digits, . _ -"),
          required=True, missing="the rulebook needs an id: 'rulebook: <id>'", missing_code="id",
          expected="lowercase letters, digits, . _ -"),
    Field("version", Either((Scalar("str"), Scalar("number")), what="version",
                            desc="The rulebook's own version, e.g. 1.0.0")),
    Field("title", TEXT),
    Field("description", TEXT),
    Field("lang", Scalar("str", choices=("zh", "en"), what="lang", code="lang",
                         message="lang {value} is not supported", expected="zh or en",
                         desc="Default output language")),
    Field("currency", Scalar("str", pattern=r"[A-Z]{3}", what="currency", code="currency",
                             message="currency {value} is not an ISO 4217 code",
                             expected="three capital letters: CNY, USD, EUR …",
                             desc="The currency the rulebook's amounts are in (ISO 4217, e.g. CNY): money from an "
                                  "export in another currency is converted or refused, never compared as it is")),
    Field("requires", Map("", (
        Field("kamrules", Scalar("str", pattern=REQUIRES_PATTERN, what="the version requirement", code="requires",
                                 message="cannot read the version requirement {value}", expected='">=0.1"',
                                 desc='Minimum kamrules version, e.g. ">=0.1"')),
    ), what="requires")),
    Field("extends", Seq(Scalar("str", what="an extends entry",
                                message="each extends entry is a rulebook id or a path"),
                         what="extends", single=True,
                         desc="Built-in rulebook ids (course, course.standards) or paths relative to this file")),
    Field("facts", Table(Ref("fact"), key=NAME, what="facts",
                         desc="What an account file may say: name → declaration (dotted names are nested in the "
                              "account)")),
    Field("parameters", Table(Either((Ref("parameter"), Scalar("any", what="a parameter value"))),
                              key=_named("parameter"), what="parameters",
                              desc="Tunable thresholds, read in conditions as params.<name>; each needs a source")),
    Field("metrics", Table(Either((Scalar("str", what="formula"), Ref("metric"))), key=_named("metric"),
                           what="metrics",
                           desc="Derived metrics: formulas over facts, computed before any rule runs")),
    Field("derived", Table(Ref("derived"), key=_named("derived fact"), what="derived",
                           desc="Facts that rules assert for other rules (forward chaining)")),
    Field("dimensions", Table(Ref("dimension"), key=_named("dimension"), what="dimensions",
                              desc="Classification dimensions, each with a hit policy")),
    Field("scores", Table(Ref("score"), key=_named("score"), what="scores",
                          desc="Named scores that rules add points to")),
    Field("rules", Seq(Ref("rule"), what="rules", expected="- id: …")),
    Field("tables", Seq(Ref("table"), what="tables", expected="- table: …",
                        desc="Decision tables: families of band or score rules, one rule per row")),
    Field("disable", Seq(Either((Scalar("str", what="a rule id"), DISABLE)), what="disable",
                         expected="- {rule: id, reason: why}",
                         desc="Overlays: rules switched off, each with the reason shown in the playbook")),
    Field("override", Table(Ref("override"), key=Key(), what="override",
                            desc="Overlays: rule id → the parts to change")),
    Field("lock", Seq(Scalar("str", what="a rule id"), what="lock",
                      desc="Overlays: rule ids that later overlays may not change")),
    Field("causes", Table(Ref("cause"), key=Key(pattern=CAUSE_PATTERN, what="cause", code="cause",
                                                expected="lowercase letters, digits and _"), what="causes",
                          desc="Root causes: id → title and explanation. A warning names its cause with cause: <id>; "
                               "the playbook leads with causes and lists their symptoms under them")),
    Field("invariants", Seq(Ref("invariant"), what="invariants", expected="- id: …\n  never: [tag:a, tag:b]",
                            desc="Properties of the advice that must hold for every account: checked by `kamrules "
                                 "check` (statically) and `kamrules test` (generated accounts)")),
    Field("playbook", Ref("playbook")),
    Field("templates", Scalar("str", what="templates", message="templates must be a folder path",
                              desc="A folder of playbook templates that shadow the built-in ones: a relative path "
                                   "inside the overlay's own folder (no .., no link out of it)")),
), what="the rulebook", expected="rulebook: <id>, rules: […]", type_code="not-mapping",
    type_message="a rulebook must be a YAML mapping")

CAUSE_DEF = Map("cause", (
    Field("title", TEXT, required=True, missing="{owner} needs a title", expected="title: {zh: …, en: …}"),
    Field("explanation", TEXT),
    Field("source", SOURCE),
), what="a cause", owner=lambda c: "a cause")

INVARIANT = Map("invariant", (
    Field("id", Scalar("str", pattern=RULE_ID_PATTERN, what="id", code="invariant-id",
                       message="an invariant id must be letters, digits, - _ . (not {value})",
                       expected="letters, digits, - _ ."),
          required=True, missing="an invariant needs an id", missing_code="invariant-id",
          expected="letters, digits, - _ ."),
    Field("title", TEXT),
    Field("description", TEXT),
    Field("source", SOURCE, required=True, missing="{owner} needs a source", missing_code="source",
          expected=SOURCE_EXPECTED),
    Field("never", Seq(SELECTOR, what="never", nullable=False,
                       desc="At most one of these may be in the advice (unsuppressed): never two together")),
    Field("only_if", Map("", (
        Field("advice", Seq(SELECTOR, what="advice", single=True, nullable=False,
                            desc="The advice this invariant limits (any of these selectors)"),
              required=True, missing="only_if needs advice: <selector>", expected="advice: tag:ladder_up"),
        Field("when", WHEN, required=True, missing="only_if needs when: <condition>",
              expected='when: "executive_contacts >= 1"'),
    ), what="only_if", desc="The advice only when the condition holds")),
), what="an invariant", owner=lambda v: f"invariant '{v.get('id')}'" if isinstance(v.get("id"), str)
    else "an invariant", type_message="each invariant must be a mapping",
    expected="- id: …\n  source: recon\n  never: [tag:loss, tag:invest]")

GRAMMAR = Grammar(
    root=RULEBOOK,
    defs={"fact": FACT, "parameter": PARAMETER, "metric": METRIC, "derived": DERIVED, "dimension": DIMENSION,
          "score": SCORE, "message": MESSAGE, "rule": RULE, "override": OVERRIDE, "table": TABLE, "row": ROW,
          "playbook": PLAYBOOK, "cause": CAUSE_DEF, "invariant": INVARIANT},
    id="https://kamrules.invalid/schemas/rulebook.schema.json",
    title="kamrules rulebook",
    desc="A kamrules rulebook or company overlay (docs/rulebook-language.md). Editors use this for completion "
         "and structure; `kamrules check` does the full check (names, types, conditions, lint). Generated from "
         "kamrules/rulebook/grammar.py.",
)
