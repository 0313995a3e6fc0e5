"""The JSON output contract of `kamrules advise --format json` (DESIGN §6), declared once.

render.to_json builds the object; this grammar describes it, and `kamrules schema output` (and
the shipped kamrules/schemas/output.schema.json, regenerated and compared by
tests/test_grammar.py) is generated from it. New keys may be added in minor versions; the ones
here keep their meaning.
"""
from __future__ import annotations

from kamrules.core.grammar import (
    Anything,
    Either,
    Field,
    Grammar,
    Map,
    Ref,
    Scalar,
    Seq,
    Table,
)
from kamrules.rulebook.grammar import CONCEPT_PATTERN, SEVERITIES
from kamrules.rulebook.vocabulary import HORIZONS, OWNER_ROLES

STRING = Scalar("str")
NAMED = Table(Scalar("str", nullable=True), nullable=False)


def _closed(name: str, *fields: Field, desc: str = "") -> Map:
    return Map(name, fields, desc=desc)


def _req(key: str, node: Scalar | Map | Seq | Table | Either | Ref | Anything) -> Field:
    return Field(key, node, required=True)


FINDING = _closed(
    "finding",
    _req("rule", STRING),
    _req("concept", Scalar("str", pattern=CONCEPT_PATTERN, desc="Concept key (DESIGN §5)")),
    _req("kind", Scalar("str", choices=("warning", "recommendation", "conflict"))),
    _req("severity", Scalar("str", choices=SEVERITIES)),
    _req("priority", Scalar("int")),
    _req("title", STRING),
    _req("message", STRING),
    _req("remedy", STRING),
    _req("because", Seq(_closed(
        "",
        _req("fact", STRING),
        _req("value", Ref("value")),
        _req("op", STRING),
        _req("against", Either((Ref("value"), Seq(Anything(), nullable=False)))),
        Field("param", Scalar("str", desc="The parameter the threshold came from")),
        Field("bounded", Scalar("bool", desc="Decided by bounds: a side is missing, yet every value its declared "
                                             "range allows gives the same outcome (value is then null)")),
        Field("interval", Seq(Scalar("number", nullable=True), nullable=False,
                              desc="With bounded: [lo, hi] where the left side lies (null: unbounded on that side)",
                              schema_extra={"minItems": 2, "maxItems": 2})),
        Field("against_interval", Seq(Scalar("number", nullable=True), nullable=False,
                                      desc="With bounded, when the threshold is itself unknown: where it lies",
                                      schema_extra={"minItems": 2, "maxItems": 2})),
    ), nullable=False)),
    _req("source", Scalar("str", desc="deck | recon | lit:<name> | company:<who>")),
    _req("at", Scalar("str", desc="file:line:col of the rule")),
    Field("suppressed_by", Scalar("str", desc="Only under `suppressed`: the rule that withdrew this finding")),
    Field("threshold", Scalar("str", desc="Where the rule's threshold or prescription comes from when not the "
                                          "source's: recon | lit:<name> | company:<who>")),
    Field("words", Scalar("str", desc="A verbatim quote of the course deck (zh), when the rule has one; without "
                                      "it a deck rule states the course's idea in kamrules' words")),
    Field("cause", Scalar("str", desc="The root cause (an id under `causes`) this finding is a symptom of")),
    Field("action", _closed(
        "",
        _req("owner_role", Scalar("str", choices=OWNER_ROLES, desc="Who acts; company-level roles "
                                                                   "(sales_management, leadership, finance) are "
                                                                   "never the rep")),
        _req("owner", Scalar("str", nullable=True, desc="The person, when the rule names the fact and the account "
                                                        "gives it")),
        _req("horizon", Scalar("str", nullable=True, choices=HORIZONS, desc="null: the severity's default")),
        _req("due", Scalar("str", pattern=r"\d{4}-\d{2}-\d{2}", desc="as_of + the horizon's days",
                           schema_extra={"format": "date"})),
        desc="What the finding asks for: absent when it asks nothing (no remedy, not a recommendation)")),
)

OUTPUT = _closed(
    "",
    _req("kamrules", Scalar("str", pattern=r"\d+\.\d+.*", desc="The kamrules version that produced it")),
    _req("account", _closed("", _req("id", STRING), _req("name", STRING))),
    _req("rulebook", _closed(
        "",
        _req("id", STRING),
        _req("version", STRING),
        _req("digest", Scalar("str", pattern=r"sha256:[0-9a-f]{64}", desc="Content digest of the effective rulebook")),
    )),
    _req("engine", Scalar("str", choices=("durable", "reference"))),
    _req("as_of", Scalar("str", pattern=r"\d{4}-\d{2}-\d{2}", desc="The evaluation date",
                         schema_extra={"format": "date"})),
    _req("lang", Scalar("str", choices=("zh", "en"))),
    _req("classification", _closed(
        "",
        _req("final", Scalar("str", nullable=True,
                             desc="key | medium | small | unprofitable, or null when not classified")),
        _req("by_standard", Table(Scalar("str", nullable=True), nullable=False,
                                  desc="The three standards: single_indicator, pyramid, scorecard")),
        _req("dimensions", Table(Scalar("str", nullable=True), nullable=False,
                                 desc="Every dimension of the rulebook → its value (null: no rule classified it)")),
    )),
    _req("scores", Table(Scalar("number", nullable=True), nullable=False,
                         desc="score → value (null: no rule added to it)")),
    _req("score_parts", Table(Seq(_closed("", _req("rule", STRING), _req("points", Scalar("number"))), nullable=False),
                              nullable=False,
                              desc="score → the points each rule added to it (negative points take away), by rule: "
                                   "the score is their sum, clamped to the score's range. The review store's 'why a "
                                   "score moved' reads it")),
    _req("findings", Seq(Ref("finding"), nullable=False)),
    _req("causes", Seq(_closed(
        "",
        _req("id", STRING),
        _req("title", STRING),
        _req("explanation", STRING),
        _req("symptoms", Seq(STRING, nullable=False, desc="The rules of the findings that declare this cause, most "
                                                          "severe first")),
    ), nullable=False, desc="Root causes shared by findings, most severe symptom first (each said once)")),
    Field("walk_away", _closed(
        "",
        _req("max_discount", Scalar("number", desc="The largest average discount at which the margin after cost "
                                                   "to serve stays >= 0 (can be negative: not even list price)")),
        _req("floor_revenue", Scalar("number", desc="The lowest revenue at today's volume that covers it")),
        _req("discount", Scalar("number", desc="Today's average discount")),
        _req("revenue", Scalar("number", desc="Today's revenue")),
        _req("margin_after_cts", Scalar("number", desc="Today's margin after cost to serve")),
        desc="Present when the account gives revenue, gross margin, discount, rebates, free services and cost to "
            "serve (docs/judgement.md)")),
    _req("missing_facts", Seq(STRING, nullable=False, desc="Facts whose absence left rules undecided",
                              schema_extra={"uniqueItems": True})),
    _req("data_checks", Seq(_closed(
        "",
        _req("fact", STRING),
        _req("value", Scalar("number")),
        _req("plausible", Seq(Scalar("number", nullable=True), nullable=False,
                              desc="[lo, hi]: the fact's plausible range (null: open on that side)",
                              schema_extra={"minItems": 2, "maxItems": 2})),
        _req("text", Scalar("str", desc="The check in words, in the output language")),
    ), nullable=False, desc="Given values outside their fact's plausible range: evaluated as given, worth a "
                            "second look (outside the hard min/max a value is an error instead)")),
    _req("blocked", Seq(_closed("", _req("rule", STRING), _req("concept", STRING),
                                _req("missing", Seq(STRING, nullable=False))), nullable=False)),
    _req("disabled", Seq(_closed("", _req("rule", STRING), _req("reason", STRING),
                                 _req("by", Scalar("str", desc="The overlay that disabled it"))),
                         nullable=False, desc="Rules a company overlay switched off, with the reason")),
    Field("suppressed", Seq(_closed(
        "",
        _req("rule", STRING),
        _req("concept", STRING),
        _req("by", Seq(STRING, nullable=False, desc="The rules that withdrew it (they fired), in rule order")),
        _req("findings", Seq(Ref("finding"), nullable=False,
                             desc="Its warning or recommendation as it would have read, with suppressed_by")),
        _req("classify", Table(STRING, nullable=False, desc="dimension → the value withdrawn")),
        _req("score", Table(Scalar("number"), nullable=False, desc="score → the points withdrawn")),
        _req("derive", Table(Ref("value"), nullable=False, desc="derived fact → the value withdrawn")),
    ), nullable=False, desc="Rules whose condition held but whose outputs a rule's `suppresses:` withdrew; not "
                            "part of the advice (docs/judgement.md)")),
    Field("history", Map("", (_req("previous", Anything()), _req("changes", Anything())), closed=False,
                         desc="With a review store and an earlier review: the previous review and what changed "
                              "since (as `kamrules diff --format json`; docs/history.md)")),
    Field("overrides", Seq(Map("", (_req("kind", Scalar("str", choices=("dimension", "accept"))),
                                    _req("target", STRING), _req("status", STRING)), closed=False),
                           nullable=False,
                           desc="With a review store: a manager's overrides of this account (class, tier, accepted "
                                "warnings), in force or lapsed, each with the computed value beside it")),
    Field("explain", Seq(Map("", (_req("rule", STRING),
                                  _req("status", Scalar("str", choices=("fired", "suppressed", "not_fired",
                                                                        "disabled")))),
                             closed=False), nullable=False,
                         desc="Present with --explain: one entry per rule (see kamrules explain --format json)")),
)

GRAMMAR = Grammar(
    root=OUTPUT,
    defs={"finding": FINDING,
          "value": Scalar("any", nullable=True,
                          desc="A fact value: number, text, boolean, null (missing) or an ISO date string")},
    id="https://kamrules.invalid/schemas/output.schema.json",
    title="kamrules advise --format json",
    desc="The JSON output contract (DESIGN §6): one object per account. New keys may be added in minor versions; "
         "the ones here keep their meaning. Generated from kamrules/advice/contract.py.",
)
