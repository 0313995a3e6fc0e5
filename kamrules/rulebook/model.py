"""Frozen dataclasses for everything a rulebook and an account contain, each with its origin."""
from __future__ import annotations

import dataclasses
import datetime as _dt
import operator
from dataclasses import field
from functools import cached_property
from typing import Any, Callable, Iterator, Mapping, TypeVar

from kamrules.core.errors import Location
from kamrules.core.i18n import LANGS as LANGS
from kamrules.core.i18n import Text as Text
from kamrules.core.record import record
from kamrules.language import ir
from kamrules.rulebook.vocabulary import HIT_POLICIES as HIT_POLICIES
from kamrules.rulebook.vocabulary import SEVERITIES as SEVERITIES

_R = TypeVar("_R")

# per record class: (a getter of every field's value, in field order; field name → its position)
_BY_POSITION: dict[type, tuple[Callable[[Any], tuple[Any, ...]], dict[str, int]] | None] = {}


def _by_position(cls: type) -> tuple[Callable[[Any], tuple[Any, ...]], dict[str, int]] | None:
    declared = getattr(cls, "__dataclass_fields__", {})
    fields = dataclasses.fields(cls) if declared else ()
    # only plain fields that __init__ takes (no InitVar or ClassVar among the declared ones)
    if not fields or len(fields) != len(declared) or not all(f.init for f in fields):
        return None
    names = [f.name for f in fields]
    get = operator.attrgetter(*names)
    if len(names) == 1:  # attrgetter of one name returns the value, not a tuple
        return (lambda o: (get(o),)), {names[0]: 0}
    return get, {n: i for i, n in enumerate(names)}


def replaced(obj: _R, **changes: Any) -> _R:
    """`dataclasses.replace(obj, **changes)`, the record built by position: replace reads every
    field in a Python loop and passes them all by keyword, which the record's __init__ then checks
    name by name: ~90,000 instructions for a RuleDef, 26 M of checking the course (callgrind; 280
    calls). The same __init__ runs, with the same values. A class with a field that __init__ does
    not take or an InitVar, or a name that is no field, goes to dataclasses.replace (which
    raises for the last). tests/test_replaced.py holds it to dataclasses.replace."""
    cls = type(obj)
    if cls not in _BY_POSITION:
        _BY_POSITION[cls] = _by_position(cls)
    plan = _BY_POSITION[cls]
    if plan is None:
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    get, position = plan
    values = list(get(obj))
    for name, value in changes.items():
        i = position.get(name)
        if i is None:
            return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
        values[i] = value
    return cls(*values)


@record
class Origin:
    rulebook: str  # id of the rulebook that defined or last changed the element
    location: Location

    def __str__(self) -> str:
        return str(self.location)


@record
class FactDef:
    name: str
    type: str
    label: Text
    origin: Origin
    help: Text = Text()
    unit: str = ""
    min: float | None = None  # hard range: a value outside it is an error (impossible)
    max: float | None = None
    values: tuple[tuple[str, Text], ...] = ()  # enum values with labels
    aliases: tuple[str, ...] = ()
    example: Any = None
    group: str = ""
    required: bool = False
    items: tuple["FactDef", ...] = ()  # fields of a list of mappings
    item_type: str = ""  # scalar type of a list of scalars
    supplier: str = ""  # the rulebook's `supplied:` ("portfolio": the portfolio's ranking sets it)
    # where real values usually lie (None: open on that side); a value outside is evaluated and
    # listed as a data check, never refused. () when the fact declares none.
    plausible: tuple[float | None, float | None] | tuple[()] = ()

    @property
    def value_names(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self.values)

    @property
    def supplied(self) -> str:
        """Who supplies the fact when it is not the account: "history" for the reserved group
        `history` (the review store fills these in, kamrules.history.trend); the rulebook's
        `supplied:` otherwise ("portfolio": `kamrules portfolio` sets it from the account's rank
        before the account is evaluated); "" for the rest. A supplied fact is never asked of
        the user: not a missing fact, not in templates."""
        return "history" if self.group == "history" else self.supplier


@record
class ParamDef:
    name: str
    type: str
    value: Any
    source: str
    label: Text
    origin: Origin
    help: Text = Text()
    unit: str = ""  # display only; pp: percentage points


@record
class MetricDef:
    name: str
    type: str
    formula: str
    label: Text
    origin: Origin
    help: Text = Text()
    unit: str = ""  # display only; pp: percentage points (a difference of two percents)
    term: ir.Term = ir.UNKNOWN  # the checked formula (a Rulebook keeps only metrics whose formula checks)


@record
class DerivedDef:
    name: str
    type: str
    label: Text
    origin: Origin
    values: tuple[tuple[str, Text], ...] = ()


@record
class DimensionDef:
    name: str
    label: Text
    hit_policy: str
    values: tuple[tuple[str, Text], ...]
    origin: Origin

    def value_label(self, value: str, lang: str) -> str:
        for v, t in self.values:
            if v == value:
                return t.get(lang) or v
        return value


@record
class ScoreDef:
    name: str
    label: Text
    origin: Origin
    min: float = 0.0
    max: float = 100.0


@record
class Message:
    severity: str
    message: Text
    remedy: Text = Text()
    owner: str = ""  # the fact that names the person who acts (team.account_manager); "" = none
    location: Location | None = None  # of the message text, for load errors
    role: str = ""  # owner role (vocabulary.OWNER_ROLES); "" = not said (the rep, unless company-level)
    horizon: str = ""  # vocabulary.HORIZONS; "" = the severity's due_days
    cause: str = ""  # the root cause (Rulebook.causes) this finding is a symptom of


@record
class RuleDef:
    id: str
    concept: str
    source: str
    title: Text
    when: str
    origin: Origin
    when_location: Location
    priority: int = 0
    classify: tuple[tuple[str, str], ...] = ()
    score: tuple[tuple[str, str], ...] = ()  # score name, expression text
    derive: tuple[tuple[str, Any], ...] = ()
    warn: Message | None = None
    recommend: Message | None = None
    tags: tuple[str, ...] = ()  # what the advice does (invest, loss …): relations and invariants name them
    suppresses: tuple[str, ...] = ()  # selectors (tag:x, rule:id, concept:f.n, dim=value) this rule withdraws
    words: Text = Text()  # a verbatim quote of the deck (zh), when there is one
    threshold: str = ""  # where the threshold or prescription comes from when not the deck: recon | lit:… | company:…
    locked: bool = False
    changed_by: tuple[str, ...] = ()  # overlays that overrode parts of it
    table: str = ""  # the decision table this rule is a row of
    # where each part of a table row's generated condition was written: (start, end) offsets in
    # `when`, and the cell's location in the file (errors point at the cell, not the whole row)
    cells: tuple[tuple[int, int, Location], ...] = ()
    # filled by checking (until then, and when `when` does not check, the rule never fires):
    cond: ir.Cond = ir.NEVER
    score_terms: tuple[tuple[str, ir.Term], ...] = ()  # score name, checked expression


@record
class TableDef:
    """A decision table: its rows are ordinary rules (`rows` holds their ids, in table order)."""

    id: str
    hit_policy: str  # unique | first | priority | collect
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]  # classify.<dim> | score.<name> | derive.<name>
    rows: tuple[str, ...]
    origin: Origin
    complete: bool = False
    title: Text = Text()
    when: str = ""  # the precondition every row shares ("" = none)
    cond: ir.Cond = ir.Truth(True)  # the precondition, checked (filled by checking)


@record
class Labelled:
    key: str
    label: Text


@record
class AnalysisStep:
    key: str  # concept analysis.<key>
    label: Text
    ask: Text  # what to find out
    known: tuple[str, ...]  # facts and metrics that show what is known for the step
    date: str  # the fact holding the date the step was last done ("" = not tracked)


@record
class Gauge:
    """One gauge of the scorecard's flight image: a metric against thresholds (parameters)."""

    key: str
    label: Text
    metric: str
    kind: str  # scale | growth | cost
    good: str = ""  # parameter: the level that is good (scale, growth)
    low: str = ""  # parameter: low cost
    high: str = ""  # parameter: high cost


@record
class Calibration:
    """`--calibrate`: a parameter set to the value at the top `top` share of the portfolio's `of`."""

    param: str
    of: str  # a fact or metric
    top: float  # share of accounts, 0 < top < 1


@record
class PortfolioDef:
    """What `kamrules portfolio` shows and how it ranks (the playbook section's `portfolio:`)."""

    dimensions: tuple[str, ...] = ()
    scores: tuple[str, ...] = ()
    rank_profit: str = ""  # the fact or metric that is an account's profit ("" = rank by revenue only)
    rank_revenue: str = "revenue"
    rank_by: str = "auto"  # auto: profit when every ranked account has it, else revenue
    pyramid_fact: str = ""  # the supplied enum fact that receives the tier by rank ("" = no pyramid by rank)
    pyramid_bands: tuple[tuple[str, float], ...] = ()  # (tier, share of accounts), top first; shares add up to 1
    pyramid_source: str = ""
    abc: tuple[float, float] = (0.8, 0.95)  # A up to 80 % of the cumulative measure, B up to 95 %, C the rest
    calibrate: tuple[Calibration, ...] = ()
    checks: tuple[str, ...] = ()  # concepts whose findings are data checks
    one_class: float = 0.9  # a dimension with this share of accounts in one value "puts everyone in one class"
    pareto_holds: float = 0.7  # the top 20 % bring at least this: the 80/20 law holds
    pareto_flat: float = 0.5  # below this the portfolio is flat
    hhi_moderate: float = 0.15  # Herfindahl–Hirschman index (0–1): moderately concentrated from here
    hhi_high: float = 0.25


@record
class Horizon:
    key: str  # vocabulary.HORIZONS
    days: int
    label: Text


@record
class TalkingPoints:
    """说对话 for one buying role: what they want, what to say, what to ask them for."""

    role: str
    wants: Text = Text()
    say: Text = Text()
    ask: Text = Text()


@record
class BriefDef:
    """The meeting brief: which findings state the verdict and what to ask for (by tag), how many
    causes it shows, the facts of the walk-away price, and 说对话 per buying role."""

    verdict_tags: tuple[str, ...] = ()
    ask_tags: tuple[str, ...] = ()
    causes: int = 3
    walk_away: Mapping[str, str] = field(default_factory=dict)  # part (revenue, discount …) → fact
    talking_points: Mapping[str, TalkingPoints] = field(default_factory=dict)  # buying role → 说对话
    stances: Mapping[str, Text] = field(default_factory=dict)  # support value → how to handle the contact


WALK_AWAY_PARTS = ("revenue", "gross_margin", "discount", "rebates", "free_services", "cost_to_serve")


@record
class PlaybookDef:
    """What the playbook knows about the course (the rulebook's `playbook:` section), so an overlay
    can change it: the steps and roles it walks, their names, what the summary shows."""

    summary_dimensions: tuple[str, ...] = ()
    summary_scores: tuple[str, ...] = ()
    summary_figures: tuple[str, ...] = ()
    families: Mapping[str, Text] = field(default_factory=dict)
    concepts: Mapping[str, Text] = field(default_factory=dict)
    analysis: tuple[AnalysisStep, ...] = ()
    buying_roles: tuple[str, ...] = ()
    relationship_metrics: tuple[str, ...] = ()
    relationship_gaps: tuple[str, ...] = ()
    management: tuple[Labelled, ...] = ()
    service_fact: str = ""
    service_steps: tuple[Text, ...] = ()
    service_ready: str = ""  # the dimension saying which step the account qualifies for
    service_ready_values: tuple[str, ...] = ()  # its value for step 1, 2, …
    scorecard_dimension: str = ""
    quadrants: Mapping[str, str] = field(default_factory=dict)  # dimension value → tl | tr | bl | br
    flight: tuple[Gauge, ...] = ()
    due_days: Mapping[str, int] = field(default_factory=dict)  # severity → days
    portfolio_dimensions: tuple[str, ...] = ()
    portfolio_scores: tuple[str, ...] = ()
    horizons: Mapping[str, Horizon] = field(default_factory=dict)
    owners: Mapping[str, Text] = field(default_factory=dict)  # owner role → label, in plan order
    brief: BriefDef = BriefDef()
    portfolio: PortfolioDef = PortfolioDef()

    def concept_label(self, concept: str, lang: str) -> str:
        t = self.concepts.get(concept)
        return (t.get(lang) if t else "") or concept

    def family_label(self, family: str, lang: str) -> str:
        t = self.families.get(family)
        return (t.get(lang) if t else "") or family


@record
class CauseDef:
    """A root cause: findings that declare it are listed under it, and it is said once."""

    id: str
    title: Text
    origin: Origin
    explanation: Text = Text()
    source: str = ""


@record
class InvariantDef:
    """A property of the advice: `never` (at most one of the selectors is in the advice) or
    `only_if` (advice matching the selectors only when `when` holds)."""

    id: str
    kind: str  # never | only_if
    selectors: tuple[str, ...]
    source: str
    origin: Origin
    title: Text = Text()
    description: Text = Text()
    when: str = ""  # only_if's condition as written
    when_location: Location | None = None
    cond: ir.Cond = ir.Truth(True)  # filled by checking


@record
class Disabled:
    rule: str
    reason: str
    origin: Origin


@record
class TemplateFolder:
    """A company overlay's `templates:` folder, confined to the overlay's own folder tree
    (rulebook/templates.py): every template is read only when its real path is inside `root`."""

    folder: str  # the overlay's folder (real path) joined with the setting, not resolved further
    root: str  # the overlay's own folder, real path: the boundary
    overlay: str  # the overlay file (as found), for messages and the cache check
    setting: str  # as written


@record
class Rulebook:
    """The effective (merged and checked) rulebook."""

    id: str
    version: str
    title: Text
    lang: str
    files: tuple[str, ...]
    facts: Mapping[str, FactDef]
    params: Mapping[str, ParamDef]
    metrics: Mapping[str, MetricDef]
    derived: Mapping[str, DerivedDef]
    dimensions: Mapping[str, DimensionDef]
    scores: Mapping[str, ScoreDef]
    rules: tuple[RuleDef, ...]
    disabled: tuple[Disabled, ...] = ()
    digest: str = ""
    metric_order: tuple[str, ...] = ()  # topological
    templates: tuple[TemplateFolder, ...] = ()  # company template folders, nearest overlay first
    chain: tuple[str, ...] = ()  # rulebook ids, base first
    strata: Mapping[str, int] = field(default_factory=dict)  # rule id → stratum
    tables: Mapping[str, TableDef] = field(default_factory=dict)
    playbook: PlaybookDef = PlaybookDef()
    currency: str = ""  # ISO 4217 code of its money amounts; "" when the rulebook does not say
    causes: Mapping[str, CauseDef] = field(default_factory=dict)
    invariants: tuple[InvariantDef, ...] = ()
    suppressors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # rule id → rules that suppress it

    def rule(self, rule_id: str) -> RuleDef | None:
        return self._rules_by_id.get(rule_id)

    @cached_property
    def _rules_by_id(self) -> dict[str, RuleDef]:
        # durable's action callback looks a rule up for every match: a scan was 2 % of a run
        by_id: dict[str, RuleDef] = {}
        for r in self.rules:
            by_id.setdefault(r.id, r)
        return by_id


class Places(Mapping[str, Location]):
    """Where each fact of an account read from one file was written: its line and column, a
    `Location` made when one is asked for. A CSV export's reader would otherwise make a dataclass
    per cell that a portfolio run never reads (≈ 1 µs each, twelve a row of a CRM export); equal
    to the dict of the same Locations (Mapping's ==)."""

    __slots__ = ("file", "at")

    def __init__(self, file: str, at: dict[str, tuple[int, int]]) -> None:
        self.file = file
        self.at = at  # fact name → (line, column)

    def __getitem__(self, name: str) -> Location:
        line, col = self.at[name]
        return Location(self.file, line, col)

    def __contains__(self, name: object) -> bool:
        return name in self.at

    def __iter__(self) -> Iterator[str]:
        return iter(self.at)

    def __len__(self) -> int:
        return len(self.at)

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        return Places, (self.file, self.at)


@record
class Account:
    """A validated account: typed values for the declared facts it gives."""

    id: str
    name: str
    file: str
    values: Mapping[str, Any]  # fact name → typed value (lists: tuple of dicts/scalars)
    locations: Mapping[str, Location] = field(default_factory=dict)
    as_of: _dt.date | None = None

    def with_values(self, values: Mapping[str, Any]) -> Account:
        """`dataclasses.replace(self, values=values)`, built by position: a portfolio's worker does
        it for every account, and replace's walk of the fields was ≈ 2 % of its time.
        (tests/test_record.py holds it to replace.)"""
        return Account(self.id, self.name, self.file, values, self.locations, self.as_of)
