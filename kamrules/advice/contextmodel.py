"""The playbook template context, typed: what `playbook.md.j2` / `playbook.html.j2` (and a
company's own templates) can read. advice/context.py builds it from an Advice; each field's
`doc` is the reference documentation — the tables in docs/playbook-context.md are generated from
these classes (tests/test_context_docs.py keeps them in step).

Templates read fields as attributes (`f.message`) or by key (`f["message"]`): Jinja accepts both.
The classes are records (core/record.py: frozen dataclasses without generated code) with no
__eq__ or __repr__: nothing compares or prints them, and every `advise` creates them at start-up.
"""
from __future__ import annotations

from dataclasses import field
from typing import Any, Mapping

from kamrules.core.record import record


def doc(text: str) -> Any:
    """A field documented for template writers."""
    return field(metadata={"doc": text})


@record(eq=False, repr=False)
class Evidence:
    """One condition of a finding's rule that held."""

    fact: str = doc("the fact, metric or expression tested (`discount_rate`, `days_since(team.plan_reviewed)`)")
    label: str = doc("its name in `lang`")
    value: Any = doc("the account's value (dates as ISO text); null for a condition decided by bounds although a "
                     "fact is missing (`text` then says so: `Whatever the rebates (≥ 0) … are, margin after cost to "
                     "serve is at most -2M: < 0 holds`)")
    op: str = doc("`>`, `>=`, `<`, `<=`, `==`, `!=`, `exists`, `missing`")
    against: Any = doc("the threshold or value compared with")
    param: str = doc("the parameter the threshold came from, or `\"\"`")
    text: str = doc("the sentence to print: `平均折扣率 22%，高于大客户折扣上限（15%）`")


@record(eq=False, repr=False)
class Finding:
    """A warning, recommendation or rulebook conflict, in `lang`."""

    rule: str = doc("rule id")
    concept: str = doc("concept key (DESIGN §5), e.g. `misconception.over_concession`")
    kind: str = doc("`warning` | `recommendation` | `conflict`")
    severity: str = doc("`critical` | `high` | `medium` | `low` | `info`")
    severity_label: str = doc("the severity in `lang` (`高` / `high`)")
    priority: int = doc("the rule's priority (higher first within a severity)")
    title: str = doc("the rule's title")
    message: str = doc("the message with the account's figures filled in")
    remedy: str = doc("what to do, or `\"\"`")
    owner: str = doc("who should act: the fact the rule names, resolved (`李明`); when the account lacks it, the "
                     "role's label with `ui.to_be_named`; `\"\"` when the rule names none")
    because: tuple[Evidence, ...] = doc("the conditions that held")
    source: str = doc("`deck` | `recon` | `lit:<name>` | `company:<who>`")
    source_kind: str = doc("`deck`, `lit`, `recon`, `company`")
    source_label: str = doc("the source in words (`文献：Gainsight` / `literature: Gainsight`)")
    at: str = doc("`file:line:col` of the rule")
    rulebook: str = doc("the id of the rulebook that defined the rule")
    family: str = doc("the concept's family (`misconception`)")
    concept_label: str = doc("the concept's name (`误区五：优惠越多越好`)")
    words: str = doc("a verbatim quote of the course deck (zh) when the rule has one, else `\"\"`: only then is "
                     "the finding the course's words (`ui.course_words`); a `deck` source alone is the course's idea")
    threshold_label: str = doc("where the threshold or prescription comes from when the rule says "
                               "(`重构` / `literature: McKinsey`), else `\"\"`")
    cause: str = doc("the root cause id it is a symptom of, or `\"\"`")
    cause_title: str = doc("that cause's title in `lang`, or `\"\"`")


@record(eq=False, repr=False)
class DimensionEvidence:
    rule: str = doc("a rule that gave the winning value")
    title: str = doc("its title")
    source: str = doc("its source")
    source_kind: str = doc("`deck`, `lit`, `recon`, `company`")
    source_label: str = doc("the source in words")
    because: tuple[str, ...] = doc("one sentence per condition that held "
                                   "(`年交易额 1200万，不低于银卡年交易额下限（300万）`)")


@record(eq=False, repr=False)
class DimensionValue:
    value: str = doc("a value of the dimension")
    label: str = doc("its label in `lang`")
    current: bool = doc("whether it is the winning value")


@record(eq=False, repr=False)
class Dimension:
    """A classification dimension and its verdict."""

    name: str = doc("the dimension (`tier`)")
    label: str = doc("its name (`客户价值金字塔层级`)")
    value: str | None = doc("the winning value (`silver`) or null when no rule classified it")
    value_label: str = doc("its label (`银卡` / `Silver`), or `ui.not_classified`")
    rules: tuple[str, ...] = doc("ids of the rules that gave the winning value (each once)")
    hit_policy: str = doc("`unique` | `first` | `priority` | `any`")
    evidence: tuple[DimensionEvidence, ...] = doc("per winning rule")
    values: tuple[DimensionValue, ...] = doc("every value of the dimension in order")


@record(eq=False, repr=False)
class ScorePart:
    rule: str = doc("a rule that added points")
    points: float = doc("the points it added (negative: taken away)")
    title: str = doc("its title")
    source_label: str = doc("its source in words")


@record(eq=False, repr=False)
class Score:
    """A score and how it adds up."""

    name: str = doc("the score (`health`)")
    label: str = doc("its name")
    value: float | None = doc("the number, or null when no rule scored it")
    min: float = doc("the lowest value it can take")
    max: float = doc("the highest value it can take")
    band: str | None = doc("`red` | `yellow` | `green` for colour: the value of the dimension `<name>_band` when the "
                           "rulebook has one, else Gainsight's bands (≤ 50 red, ≤ 75 yellow); null without a value")
    band_label: str = doc("the label of the dimension `<name>_band` if the rulebook has one (health → `黄灯`), else `\"\"`")
    text: str = doc("the value formatted (`53`, `—`)")
    ratio: float | None = doc("`(value - min) / (max - min)` (0..1), or null")
    parts: tuple[ScorePart, ...] = doc("each rule that added points")


@record(eq=False, repr=False)
class Figure:
    """A fact or metric the account gives."""

    name: str = doc("the fact or metric")
    label: str = doc("its name")
    value: Any = doc("the value")
    text: str = doc("the value formatted in `lang` (`1200万`, `18%`, `是`)")


@record(eq=False, repr=False)
class FactLine:
    name: str = doc("the fact")
    label: str = doc("its name")
    group: str = doc("its group in the rulebook (`transaction`, `financial` …)")
    value: Any = doc("the value")
    text: str = doc("the value formatted in `lang`")


@record(eq=False, repr=False)
class Action:
    """One line of the action plan."""

    n: int = doc("1, 2, 3 …")
    action: str = doc("what to do: the finding's remedy, or a recommendation's message")
    title: str = doc("the rule's title")
    owner: str = doc("the finding's owner, else the account manager on file, else `ui.unassigned`")
    due: str = doc("suggested date (ISO): `as_of` plus the rulebook's `playbook.due_days` for the severity")
    severity: str = doc("the finding's severity")
    severity_label: str = doc("in `lang`")
    rule: str = doc("the rule id")
    concept: str = doc("the concept key")
    source_label: str = doc("the source in words")
    role: str = doc("the owner role: `rep` | `account_team` | `sales_management` | `leadership` | `finance`")
    role_label: str = doc("the role in `lang` (the rulebook's `playbook.owners`)")
    horizon: str = doc("`this_week` … `this_year`, or `\"\"` (the severity's default)")
    horizon_label: str = doc("the horizon in `lang` (`本周`), or `\"\"`")


@record(eq=False, repr=False)
class OwnerGroup:
    """The action plan of one owner role."""

    role: str = doc("the role")
    label: str = doc("the role in `lang`")
    company: bool = doc("a company-level role (sales management, leadership, finance): never the rep's")
    actions: tuple[Action, ...] = doc("its actions, soonest first")


@record(eq=False, repr=False)
class RootCause:
    """A cause several findings share: said once, its findings listed under it."""

    id: str = doc("the cause id")
    title: str = doc("in `lang`")
    explanation: str = doc("in `lang`, or `\"\"`")
    findings: tuple[Finding, ...] = doc("its symptoms, most severe first")
    warnings: tuple[Finding, ...] = doc("its symptoms of kind `warning`")


@record(eq=False, repr=False)
class RoomContact:
    """A contact in the meeting brief: who they are and what to say to them (说对话)."""

    name: str = doc("the contact's name")
    title: str = doc("job title, or `\"\"`")
    role: str = doc("buying role code, or `\"\"`")
    role_label: str = doc("buying role in `lang`")
    stance: str = doc("support code, or `\"\"`")
    stance_label: str = doc("support in `lang`")
    wants: str = doc("what this buying role wants (`playbook.brief.talking_points`)")
    say: str = doc("what to say to them")
    ask: str = doc("what to ask them for")
    handle: str = doc("how to handle their stance (`playbook.brief.stances`)")


@record(eq=False, repr=False)
class WalkAway:
    """The walk-away price (docs/advice.md): computed from the account's own figures."""

    max_discount: str = doc("the largest average discount that still covers the cost to serve, formatted")
    discount: str = doc("today's average discount, formatted")
    room: str = doc("the discount room left in percentage points, formatted (negative: already past it)")
    floor_revenue: str = doc("the lowest revenue at today's volume that covers the cost to serve, formatted")
    revenue: str = doc("today's revenue, formatted")
    crossed: bool = doc("today's discount is already past the walk-away")
    text: str = doc("the whole line in `lang`")


@record(eq=False, repr=False)
class ContactAsk:
    names: str = doc("the contacts' names, joined")
    ask: str = doc("what to ask them for")


@record(eq=False, repr=False)
class Brief:
    """The meeting brief: what a rep reads in two minutes before meeting the customer."""

    verdict: str = doc("the verdict in one sentence")
    verdict_rule: str = doc("the rule of the finding that gave the verdict, or `\"\"` (then the class and the most "
                            "severe finding speak)")
    causes: tuple[RootCause, ...] = doc("the top root causes (`playbook.brief.causes`, default 3)")
    room: tuple[RoomContact, ...] = doc("who will be in the room: the contacts, economic buyer first")
    asks: tuple[str, ...] = doc("what to ask for: the findings tagged as asks (`playbook.brief.ask`)")
    contact_asks: tuple[ContactAsk, ...] = doc("what to ask each contact for (说对话), contacts with the same ask "
                                               "together")
    walk_away: WalkAway | None = doc("null unless revenue, gross margin, discount, rebates, free services and cost "
                                     "to serve are all known")


@record(eq=False, repr=False)
class Summary:
    dimensions: tuple[Dimension, ...] = doc("the rulebook's `playbook.summary.dimensions` that exist, else all dimensions")
    scores: tuple[Score, ...] = doc("the rulebook's `playbook.summary.scores` that exist, else all scores")
    figures: tuple[Figure, ...] = doc("the key figures (`playbook.summary.figures`) the account gives")
    actions: tuple[Action, ...] = doc("the first three entries of `action_plan`")


@record(eq=False, repr=False)
class SeverityGroup:
    severity: str = doc("a severity that has warnings")
    label: str = doc("its label in `lang`")
    findings: tuple[Finding, ...] = doc("its warnings")


@record(eq=False, repr=False)
class Family:
    key: str = doc("a concept family (`standard`, `misconception`, … `rulebook`)")
    label: str = doc("its name in `lang`")
    findings: tuple[Finding, ...] = doc("the findings of that family")


@record(eq=False, repr=False)
class AnalysisStep:
    """A step of the six-step analysis (the rulebook's `playbook.analysis`)."""

    key: str = doc("`industry`, `competition`, … (concept `analysis.<key>`)")
    n: int = doc("1 … 6")
    label: str = doc("its name (`行业分析`)")
    concept: str = doc("`analysis.<key>`")
    date: str | None = doc("the ISO date the step was last done, or null")
    age_days: int | None = doc("days from `date` to `as_of`, or null")
    age_text: str = doc("`121 天前` / `121 days ago`, or `\"\"`")
    status: str = doc("`current`, `stale` (older than the parameter `analysis_max_age_days`, or — without it — a "
                      "finding says so), `missing` (no date), `untracked` (the rulebook has no date fact for it)")
    status_label: str = doc("the status in `lang`")
    find_out: str = doc("the question the step answers")
    known: tuple[Figure, ...] = doc("what the account already says that bears on it")
    findings: tuple[Finding, ...] = doc("findings of concept `analysis.<key>`")


@record(eq=False, repr=False)
class Column:
    name: str = doc("a contact field (`role`)")
    label: str = doc("its name")


@record(eq=False, repr=False)
class Contact:
    fields: Mapping[str, Any] = doc("the contact's raw fields by name (`p.fields.name`)")
    cells: tuple[str, ...] = doc("display strings in `columns` order: enum labels, rating as `+3`, `ui.nobody` when "
                                 "nobody covers them")
    support: str = doc("the contact's support value (`supporter`, …) or `\"\"`")
    uncovered: bool = doc("nobody on our side holds the relationship")


@record(eq=False, repr=False)
class Role:
    role: str = doc("a buying-role value of the contacts' `role`")
    label: str = doc("its name")
    count: int = doc("how many contacts have it")
    covered: bool = doc("at least one")
    required: bool = doc("one of the rulebook's `playbook.buying_roles` (Miller Heiman's four in the course)")


@record(eq=False, repr=False)
class Relationships:
    columns: tuple[Column, ...] = doc("the contact fields shown")
    contacts: tuple[Contact, ...] = doc("one per contact")
    roles: tuple[Role, ...] = doc("per buying role")
    gaps: tuple[Finding, ...] = doc("findings of the nine characters (`nine.*`) and of the concepts in "
                                    "`playbook.relationships.gaps`")
    metrics: tuple[Figure, ...] = doc("the contact-map counts the account yields (`playbook.relationships.metrics`)")


@record(eq=False, repr=False)
class ServiceStep:
    n: int = doc("1 … 5")
    label: str = doc("its name (`合格供货` … `战略伙伴`)")
    step_label: str = doc("`第 3 台阶` / `Step 3`")
    current: bool = doc("the account's step")
    next: bool = doc("the step after it, when the account qualifies for it (or that is not judged)")
    target: bool = doc("the step the account qualifies for (the playbook's service.ready), when judged")


@record(eq=False, repr=False)
class Service:
    step: int | None = doc("the account's step, or null")
    steps: tuple[ServiceStep, ...] = doc("every step, from the bottom")
    current: ServiceStep | None = doc("the account's step, or null")
    next: ServiceStep | None = doc("the next step to climb to, or null (unknown step, at the top, or the account "
                                   "does not qualify for more)")
    target: ServiceStep | None = doc("the step the account qualifies for, or null (not judged: no service.ready, "
                                     "or its dimension undecided)")
    move: str = doc("`up` (qualifies for more), `hold` (qualifies for its step), `down` (over-served: qualifies "
                    "for less), or empty (not judged)")
    cost: tuple[Figure, ...] = doc("cost to serve and its rate, when given")
    findings: tuple[Finding, ...] = doc("findings of concept `service.step`")


@record(eq=False, repr=False)
class MissingFact:
    fact: str = doc("a fact")
    label: str = doc("its name")


@record(eq=False, repr=False)
class DataCheck:
    """A given value outside its fact's `plausible` range: evaluated as given, worth a second look."""

    fact: str = doc("the fact")
    label: str = doc("its name")
    value: Any = doc("the value as given (a number)")
    value_text: str = doc("the value formatted in `lang`")
    plausible: list[Any] = doc("`[lo, hi]`: the fact's plausible range, null for an open side")
    text: str = doc("the check in words: `Gross margin is -116%, outside the usual range (-50% to 80%): evaluated "
                    "as given; check the figure`")


@record(eq=False, repr=False)
class ManagementPart:
    key: str = doc("`strategy`, `tiering`, … (the rulebook's `playbook.management`)")
    concept: str = doc("`management.<key>`")
    label: str = doc("its name")
    status: str = doc("`attention` (a rule of that part fired), `ok` (its rules were decided and none fired), "
                      "`partial` (none fired, some lacked data), `unknown` (no rule, or every one lacked data)")
    status_label: str = doc("the status in `lang`")
    findings: tuple[Finding, ...] = doc("its findings")
    missing: tuple[MissingFact, ...] = doc("facts that would let its undecided rules decide")


@record(eq=False, repr=False)
class QuadrantCell:
    value: str = doc("a value of the scorecard dimension")
    label: str = doc("its label")
    pos: str = doc("`tl` | `tr` | `bl` | `br` (the rulebook's `playbook.scorecard.quadrants`)")
    current: bool = doc("the account's quadrant")


@record(eq=False, repr=False)
class Mark:
    ratio: float = doc("where the reference line sits on the 0..1 gauge")
    label: str = doc("the parameter's name")
    text: str = doc("its value formatted")


@record(eq=False, repr=False)
class Gauge:
    key: str = doc("`altitude`, `speed`, `fuel` (the rulebook's `playbook.scorecard.flight`)")
    label: str = doc("its caption")
    metric: str = doc("the metric it shows")
    metric_label: str = doc("the metric's name")
    value: Any = doc("the metric's value")
    text: str = doc("formatted")
    ratio: float | None = doc("where the value sits on the 0..1 gauge, or null; the gauge's middle is its reference "
                              "(for growth, zero growth is the middle and the good growth three quarters)")
    marks: tuple[Mark, ...] = doc("the reference lines")
    tone: str = doc("`good` | `warn` | `bad` | `\"\"`")


@record(eq=False, repr=False)
class Scorecard:
    current: Score = doc("the score `current_value`")
    potential: Score = doc("the score `potential_value`")
    current_high: float | None = doc("the parameter `current_value_high` (the 2×2 split), or null")
    potential_high: float | None = doc("the parameter `potential_value_high`, or null")
    quadrant: Dimension | None = doc("the scorecard dimension (`playbook.scorecard.dimension`), or null")
    cells: tuple[QuadrantCell, ...] = doc("its values placed on the 2×2")
    flight: tuple[Gauge, ...] = doc("the flight image's gauges [recon reading]")


@record(eq=False, repr=False)
class Pyramid:
    label: str = doc("the tier dimension's name")
    levels: tuple[DimensionValue, ...] = doc("its values from the top")
    current: str | None = doc("the account's tier, or null")
    current_label: str = doc("its label")


@record(eq=False, repr=False)
class Missing:
    fact: str = doc("a fact whose absence kept rules from being decided")
    label: str = doc("its name")
    unlocks: tuple[str, ...] = doc("concept keys it would unlock")
    unlock_labels: tuple[str, ...] = doc("their names")


@record(eq=False, repr=False)
class DisabledRule:
    rule: str = doc("a rule a company overlay disabled")
    reason: str = doc("why")
    by: str = doc("the overlay's id")


@record(eq=False, repr=False)
class ProvenanceFinding:
    rule: str = doc("rule id")
    title: str = doc("its title")
    kind: str = doc("`warning` | `recommendation` | `conflict`")


@record(eq=False, repr=False)
class Source:
    source: str = doc("`lit:Gainsight`")
    label: str = doc("in words")
    name: str = doc("the part after `lit:` (`Gainsight`) or `\"\"`")
    count: int = doc("how many findings cite it")
    findings: tuple[ProvenanceFinding, ...] = doc("those findings")


@record(eq=False, repr=False)
class Provenance:
    kind: str = doc("`deck`, `lit`, `recon`, `company`, then others")
    label: str = doc("the kind in words")
    count: int = doc("findings of that kind")
    count_text: str = doc("`9 条` / `9 findings`")
    sources: tuple[Source, ...] = doc("each source of that kind")


@record(eq=False, repr=False)
class AccountInfo:
    id: str = doc("the account id")
    name: str = doc("its name")
    industry: str = doc("as written in the account, or `\"\"`")
    region: str = doc("as written in the account, or `\"\"`")
    account_manager: str = doc("`team.account_manager`, or `\"\"`")


@record(eq=False, repr=False)
class RulebookInfo:
    id: str = doc("the effective rulebook's id")
    version: str = doc("its version")
    digest: str = doc("`sha256:…` of the effective rulebook (the first 19 characters identify it in a footer)")
    title: str = doc("its title in `lang`")
    chain: tuple[str, ...] = doc("the rulebook ids it was built from, base first")


@record(eq=False, repr=False)
class HistoryLine:
    text: str = doc("one change since the last review, a sentence")
    rules: tuple[str, ...] = doc("for a score's move: the per-rule points behind it (`health-no-sponsor −10`)")


@record(eq=False, repr=False)
class HistorySection:
    key: str = doc("`by_facts`, `by_rulebook` (the rulebook changed) or `mixed` (it changed and the two "
                   "could not be told apart)")
    heading: str = doc("the section's heading in `lang`")
    lines: tuple[HistoryLine, ...] = doc("the changes")


@record(eq=False, repr=False)
class History:
    """Filled in by the review store (docs/history.md) when the account has an earlier review."""

    title: str = doc("\"Since the last review\"")
    intro: str = doc("the last review's date, record number and who recorded it")
    notes: tuple[str, ...] = doc("said when the rulebook changed between the reviews")
    sections: tuple[HistorySection, ...] = doc("what changed, kept apart by cause")
    facts: str = doc("the facts that changed, one sentence (\"\" when none)")
    previous: Mapping[str, Any] = doc("`{review, as_of, recorded_by, recorded_at, final, tier}` of the last review")
    changes: Mapping[str, Any] = doc("the raw diff (`kamrules diff --format json`)")


@record(eq=False, repr=False)
class Overrides:
    """A manager's overrides in force, or lapsed since the last review (the review store)."""

    title: str = doc("\"Manager overrides\"")
    lines: tuple[str, ...] = doc("one sentence per override: the computed value beside the manager's, reason, "
                                 "author, expiry, or that it lapsed")
    dimensions: Mapping[str, str] = doc("dimension → a short \"overridden to … by … until …\" shown beside the "
                                        "computed value")
    accepted: Mapping[str, str] = doc("rule → \"accepted by … until …: reason\", shown under that warning")


NO_OVERRIDES = Overrides("", (), {}, {})


@record(eq=False, repr=False)
class PlaybookContext:
    """The top level: what every playbook template receives."""

    kamrules: str = doc("kamrules version, e.g. `0.1.0`")
    lang: str = doc("`zh` | `en`: the output language")
    as_of: str = doc("evaluation date, ISO; every staleness judgement uses it")
    engine: str = doc("`durable` | `reference`: the backend that ran")
    ui: Mapping[str, str] = doc("every fixed string of the built-in templates in `lang` (see [ui](#ui))")
    account: AccountInfo = doc("the account")
    rulebook: RulebookInfo = doc("the effective rulebook")
    dimensions: tuple[Dimension, ...] = doc("every classification dimension, rulebook order")
    classification: Mapping[str, Dimension] = doc("the same dimensions by name (`classification.tier.value_label`)")
    final: Dimension | None = doc("`classification.final` when the rulebook declares it, else null")
    tier: Dimension | None = doc("`classification.tier` when declared, else null")
    scores: tuple[Score, ...] = doc("every score, rulebook order")
    score: Mapping[str, Score] = doc("the same scores by name (`score.health.text`)")
    summary: Summary = doc("what the first page shows")
    standards_notes: tuple[Finding, ...] = doc("findings of concept `misconception.single_indicator`")
    findings: tuple[Finding, ...] = doc("every finding, most severe first")
    warnings: tuple[Finding, ...] = doc("kind `warning` or `conflict`")
    recommendations: tuple[Finding, ...] = doc("kind `recommendation`")
    top_actions: tuple[Finding, ...] = doc("the first three findings with a remedy (rulebook conflicts excluded)")
    warnings_by_severity: tuple[SeverityGroup, ...] = doc("per severity that has warnings, most severe first")
    families: tuple[Family, ...] = doc("per concept family with findings, in the rulebook's `playbook.families` "
                                       "order")
    analysis: tuple[AnalysisStep, ...] = doc("the six-step analysis; empty when the rulebook tracks no step")
    relationships: Relationships | None = doc("the relationship map; null when the rulebook declares no `contacts`")
    service: Service | None = doc("the service ladder; null when the rulebook declares no service-step fact")
    management: tuple[ManagementPart, ...] = doc("the eight-part checklist; empty when no rule has a "
                                                 "`management.*` concept")
    action_plan: tuple[Action, ...] = doc("one action per finding with a remedy and per recommendation, most "
                                          "severe first")
    action_plan_by_owner: tuple[OwnerGroup, ...] = doc("the action plan grouped by owner role, in the rulebook's "
                                                       "`playbook.owners` order")
    root_causes: tuple[RootCause, ...] = doc("root causes shared by findings, most severe symptom first")
    other_warnings_by_severity: tuple[SeverityGroup, ...] = doc("like `warnings_by_severity`, without the warnings "
                                                                "listed under a root cause")
    brief: Brief = doc("the meeting brief")
    scorecard: Scorecard | None = doc("the charts; null unless the scores `current_value` and `potential_value` exist")
    pyramid: Pyramid | None = doc("null unless a dimension `tier` exists")
    facts: tuple[FactLine, ...] = doc("every scalar fact the account gives")
    missing: tuple[Missing, ...] = doc("facts whose absence kept rules from being decided, sorted by fact")
    data_checks: tuple[DataCheck, ...] = doc("given values outside their fact's plausible range, evaluated as given, "
                                             "in declaration order (may be empty)")
    disabled: tuple[DisabledRule, ...] = doc("rules a company overlay disabled")
    provenance: tuple[Provenance, ...] = doc("where the advice comes from, per source kind")
    explain: tuple[Mapping[str, Any], ...] = doc("the `--explain` appendix (see `kamrules explain --format json`); "
                                                  "empty without `--explain`")
    severities: tuple[str, ...] = doc("`critical`, `high`, `medium`, `low`, `info`")
    generated_by: str = doc("the footer line")
    history: History | None = field(default=None, metadata={
        "doc": "with a review store and an earlier review of the account: \"since the last review\"; null otherwise"})
    overrides: Overrides = field(default=NO_OVERRIDES, metadata={
        "doc": "a manager's overrides in force or lapsed since the last review; empty (`lines: []`) without a store"})


TYPES = (PlaybookContext, AccountInfo, RulebookInfo, Dimension, DimensionEvidence, DimensionValue, Score, ScorePart,
         Summary, Figure, FactLine, Finding, Evidence, SeverityGroup, Family, AnalysisStep, Relationships, Column,
         OwnerGroup, RootCause, Brief, RoomContact, ContactAsk, WalkAway,
         Contact, Role, Service, ServiceStep, ManagementPart, MissingFact, DataCheck, Action, Scorecard, QuadrantCell, Gauge,
         Mark, Pyramid, Missing, DisabledRule, Provenance, Source, ProvenanceFinding,
         History, HistorySection, HistoryLine, Overrides)


def _type_text(t: Any) -> str:
    """`tuple[Finding, ...] | None` → `list of [finding](#finding) or null`."""
    import re

    text = str(t).replace("typing.", "").replace("kamrules.advice.contextmodel.", "")
    text = text.replace("tuple[", "list of ").replace(", ...]", "").replace(" | None", " or null")
    text = re.sub(r"Mapping\[str, (\w+)\]", r"mapping of name → \1", text)
    names = {c.__name__: _anchor(c) for c in TYPES}
    return re.sub(r"\b[A-Z]\w+\b", lambda m: f"[{names[m[0]]}](#{names[m[0]].replace(' ', '-')})"
                  if m[0] in names else m[0], text)


def _anchor(cls: type) -> str:
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in cls.__name__).strip()
    return words


def reference_markdown() -> str:
    """The reference tables of docs/playbook-context.md, from the types above (one per class)."""
    import dataclasses

    out: list[str] = []
    for cls in TYPES:
        title = "Top-level keys" if cls is PlaybookContext else _anchor(cls)
        out += [f"### {title}", ""]
        if cls.__doc__ and cls is not PlaybookContext and not cls.__doc__.startswith(cls.__name__ + "("):
            out += [" ".join(cls.__doc__.split()), ""]
        out += ["| field | type | what it is |", "|---|---|---|"]
        for f in dataclasses.fields(cls):
            kind = _type_text(f.type).replace("|", "\\|")
            out.append(f"| `{f.name}` | {kind} | {f.metadata['doc'].replace('|', chr(92) + '|')} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
