"""Hypothesis strategies and fuzz helpers shared by the property tests, the CI fuzz run and
benchmarks/fuzz.py.

- `account_data(book)`: a valid account (as YAML-ready data) built from a rulebook's declared
  facts, respecting types and ranges, in friendly forms, with optional facts sometimes missing.
- `conditions()` / `fact_values()`: typed IR conditions over a small declared fact set
  (`IR_RULEBOOK`) and matching fact values, concentrated near the thresholds.
- `mutate(data, rnd)` and the `check_*` targets: mutated inputs for every loader, where only
  kamrules' own InputError may escape.
"""
from __future__ import annotations

import datetime as _dt
import math
import random
from pathlib import Path
from typing import Any, Callable

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from kamrules.core.values import format_money, format_percent
from kamrules.language import ir
from kamrules.rulebook.model import FactDef, Rulebook

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"

# Deterministic in CI whatever profile is loaded: derandomized, no deadline, modest sizes.
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ = settings(PROPERTY, max_examples=150)

# ----------------------------------------------------------------------------- valid accounts

_WORD = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-"), min_size=1, max_size=20)
ACCOUNT_ID = st.builds(lambda a, b: a + b, st.sampled_from("abcdefghijklmnopqrstuvwxyz"), _WORD)
# Anything a person might type in a text field: any script, punctuation, odd spaces; not NUL
# (refused on purpose) and not lone surrogates (not text).
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=0, max_size=40)

_BIG = 1e12


def _bounds(f: FactDef, lo: float, hi: float) -> tuple[float, float]:
    return (f.min if f.min is not None else lo), (f.max if f.max is not None else hi)


def _inside(x: float, lo: float, hi: float) -> bool:
    # friendly forms round to 12 significant digits: keep them away from the range's edges
    margin = 1e-9 * max(abs(lo), abs(hi), 1.0)
    return lo + margin < x < hi - margin


def _money(f: FactDef) -> st.SearchStrategy[Any]:
    lo, hi = _bounds(f, -_BIG, _BIG)

    def forms(x: float) -> st.SearchStrategy[Any]:
        out: list[Any] = [x]
        if _inside(x, lo, hi):
            out += [format_money(x, "zh", exact=True), format_money(x, "en", exact=True)]
        if x == int(x) and abs(x) < 1e15:
            out.append(int(x))
        return st.sampled_from(out)

    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).flatmap(forms)


def _percent(f: FactDef) -> st.SearchStrategy[Any]:
    lo, hi = _bounds(f, -2.0, 5.0)

    def forms(x: float) -> st.SearchStrategy[Any]:
        return st.sampled_from([x, format_percent(x, exact=True)] if _inside(x, lo, hi) else [x])

    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).flatmap(forms)


def _integer(f: FactDef) -> st.SearchStrategy[Any]:
    lo, hi = _bounds(f, -10**6, 10**9)
    return st.integers(math.ceil(lo), math.floor(hi))


def _enum(f: FactDef) -> st.SearchStrategy[Any]:
    forms = [v for v, _ in f.values] + [t for _, label in f.values for t in (label.zh, label.en) if t]
    return st.sampled_from(forms)


def scalar_value(f: FactDef, type_: str) -> st.SearchStrategy[Any]:
    if type_ == "money":
        return _money(f)
    if type_ == "percent":
        return _percent(f)
    if type_ == "integer":
        return _integer(f)
    if type_ == "number":
        lo, hi = _bounds(f, -_BIG, _BIG)
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    if type_ == "bool":
        return st.sampled_from([True, False, "是", "否", "yes", "no"])
    if type_ == "enum":
        return _enum(f)
    if type_ == "date":
        return st.dates(_dt.date(1990, 1, 1), _dt.date(2100, 12, 31)).flatmap(
            lambda d: st.sampled_from([d, f"{d.year}年{d.month}月{d.day}日"]))
    return TEXT


def fact_value(f: FactDef) -> st.SearchStrategy[Any]:
    if f.type != "list":
        return scalar_value(f, f.type)
    if f.items:
        item = st.fixed_dictionaries({}, optional={i.name: scalar_value(i, i.type) for i in f.items})
        return st.lists(item, max_size=6)
    return st.lists(scalar_value(f, f.item_type or "string"), max_size=6)


def _put(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value


@st.composite
def account_data(draw: st.DrawFn, book: Rulebook) -> dict[str, Any]:
    """A valid account for `book` as plain data; optional facts are often missing."""
    data: dict[str, Any] = {}
    for f in book.facts.values():
        if f.name == "id":
            value: Any = draw(ACCOUNT_ID)
        elif f.name == "name":
            value = draw(TEXT.filter(lambda s: s.strip() != ""))
        elif not f.required and draw(st.booleans()):
            continue
        else:
            value = draw(fact_value(f))
        _put(data, f.name, value)
    return data


def dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


# ----------------------------------------------------------------------------- IR conditions

IR_RULEBOOK = """\
rulebook: prop
version: 0.0.1
lang: en
facts:
  id: {type: string, required: true}
  name: {type: string, required: true}
  n: {type: number}
  m: {type: money}
  p: {type: percent}
  k: {type: integer}
  e: {type: enum, values: [a, b, c]}
  e2: {type: enum, values: [a, b, c]}
  b: {type: bool}
  d: {type: date}
  s: {type: string}
  items:
    type: list
    items:
      v: {type: number}
      tag: {type: enum, values: [x, y]}
parameters:
  lim: {type: percent, value: 15%, source: recon}
  big: {type: money, value: 10M, source: recon}
"""
AS_OF = _dt.date(2026, 6, 30)

NUMERIC_REFS = {n: ir.Ref(n, t, "fact") for n, t in (("n", "number"), ("m", "money"), ("p", "percent"),
                                                    ("k", "integer"))}
ENUM_VALUES = ("a", "b", "c")
E = ir.Ref("e", "enum", "fact", ENUM_VALUES)
E2 = ir.Ref("e2", "enum", "fact", ENUM_VALUES)
B = ir.Ref("b", "bool", "fact")
D = ir.Ref("d", "date", "fact")
S = ir.Ref("s", "string", "fact")
ITEMS = ir.Ref("items", "list", "fact")
ITEM_V = ir.Ref("v", "number", "item")
ITEM_TAG = ir.Ref("tag", "enum", "item", ("x", "y"))
ALL_REFS = (*NUMERIC_REFS.values(), E, E2, B, D, S, ITEMS)

# Thresholds and the values just around them: where backends that encode, round or compare
# differently would disagree.
THRESHOLDS = (0.0, -0.0, 1.0, -1.0, 0.15, 0.15000000000000002, 0.14999999999999997, 0.1 + 0.2, 0.3,
              1e7, 1e7 + 1e-6, 123456.789, 2.0**53, 2.0**53 + 2, 1e15, 1e-300, 1e200, -1e200)
STRINGS = ("", "a", "A", "$eq", "$m", "中文", "a'b\"c", "x" * 300, "1", "1.0", "true", "null")
DATES = (_dt.date(2026, 6, 30), _dt.date(2026, 7, 1), _dt.date(2025, 6, 30), _dt.date(1970, 1, 1),
         _dt.date(1900, 1, 1), _dt.date(2200, 12, 31))

number = st.one_of(st.sampled_from(THRESHOLDS),
                   st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False),
                   st.integers(-1000, 1000).map(float))


def numeric_consts() -> st.SearchStrategy[ir.Term]:
    return st.one_of(
        number.map(lambda x: ir.Const(x, "number")),
        st.just(ir.Const(0.15, "percent", param="lim")),
        st.just(ir.Const(1e7, "money", param="big")),
    )


def numeric_terms(depth: int = 2) -> st.SearchStrategy[ir.Term]:
    leaves = st.one_of(st.sampled_from(tuple(NUMERIC_REFS.values())), numeric_consts(),
                       st.just(ir.Fn("days_since", (D,), "integer")),
                       st.just(ir.Agg("count", ITEMS, None, "integer")),
                       st.sampled_from(("sum", "max", "min")).map(lambda f: ir.Agg(f, ITEMS, ITEM_V, "number")))
    if depth == 0:
        return leaves
    sub = numeric_terms(depth - 1)
    return st.one_of(
        leaves,
        st.builds(lambda op, a, b: ir.Arith(op, a, b, "number"), st.sampled_from("+-*/"), sub, sub),
        st.builds(lambda a: ir.Fn("abs", (a,), "number"), sub),
        st.builds(lambda f, a, b: ir.Fn(f, (a, b), "number"), st.sampled_from(("min", "max")), sub, sub),
    )


OPS = st.sampled_from(("==", "!=", "<", "<=", ">", ">="))
EQ_OPS = st.sampled_from(("==", "!="))


def literals() -> st.SearchStrategy[ir.Cond]:
    item_cond = st.one_of(
        st.builds(lambda op, v: ir.Cmp(op, ITEM_TAG, ir.Const(v, "enum")), EQ_OPS, st.sampled_from(("x", "y"))),
        st.builds(lambda op, c: ir.Cmp(op, ITEM_V, c), OPS, numeric_consts()),
    )
    return st.one_of(
        st.builds(ir.Cmp, OPS, numeric_terms(), numeric_terms()),
        st.builds(ir.Cmp, OPS, st.sampled_from(tuple(NUMERIC_REFS.values())), numeric_consts()),
        st.builds(lambda op, v: ir.Cmp(op, E, ir.Const(v, "enum")), EQ_OPS, st.sampled_from(ENUM_VALUES)),
        st.builds(lambda op: ir.Cmp(op, E, E2), EQ_OPS),
        st.builds(lambda op, v: ir.Cmp(op, B, ir.Const(v, "bool")), EQ_OPS, st.booleans()),
        st.builds(lambda op, v: ir.Cmp(op, D, ir.Const(v, "date")), OPS, st.sampled_from(DATES)),
        st.builds(lambda op, v: ir.Cmp(op, S, ir.Const(v, "string")), EQ_OPS, st.sampled_from(STRINGS)),
        st.builds(ir.Exists, st.sampled_from(ALL_REFS), st.booleans()),
        st.builds(lambda f, body: ir.Cmp("==", ir.Agg(f, ITEMS, body, "bool"), ir.Const(True, "bool")),
                  st.sampled_from(("any", "all")), item_cond),
        st.builds(lambda body, op, c: ir.Cmp(op, ir.Agg("count", ITEMS, body, "integer"), c),
                  item_cond, OPS, numeric_consts()),
        st.booleans().map(ir.Truth),
    )


def conditions(max_leaves: int = 8) -> st.SearchStrategy[ir.Cond]:
    return st.recursive(
        literals(),
        lambda sub: st.one_of(
            st.lists(sub, min_size=2, max_size=3).map(lambda xs: ir.And(tuple(xs))),
            st.lists(sub, min_size=2, max_size=3).map(lambda xs: ir.Or(tuple(xs))),
            sub.map(ir.Not),
        ),
        max_leaves=max_leaves,
    )


def _maybe(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), s)  # None: the fact is missing


@st.composite
def fact_values(draw: st.DrawFn) -> dict[str, Any]:
    """Typed values for IR_RULEBOOK's facts, as account.load_account would produce them."""
    values: dict[str, Any] = {
        "id": "acc", "name": "Acc",
        "n": draw(_maybe(number)), "m": draw(_maybe(number)), "p": draw(_maybe(number)),
        "k": draw(_maybe(st.integers(-10**6, 10**6))),
        "e": draw(_maybe(st.sampled_from(ENUM_VALUES))), "e2": draw(_maybe(st.sampled_from(ENUM_VALUES))),
        "b": draw(_maybe(st.booleans())), "d": draw(_maybe(st.sampled_from(DATES) | st.dates())),
        "s": draw(_maybe(st.sampled_from(STRINGS))),
        "items": draw(_maybe(st.lists(st.fixed_dictionaries(
            {}, optional={"v": number, "tag": st.sampled_from(("x", "y"))}), max_size=4).map(tuple))),
    }
    return {k: v for k, v in values.items() if v is not None}


# ----------------------------------------------------------------------------- fuzzing

def seed_files() -> list[Path]:
    """Real inputs to mutate: accounts, rulebooks, overlays and rule tests from the repo."""
    pats = ["examples/accounts/*.yaml", "tests/data/bad/*.yaml", "tests/data/bad/rulebooks/*.yaml",
            "tests/data/layering/**/*.yaml", "rules/course/*.yaml"]
    return sorted({p for pat in pats for p in ROOT.glob(pat) if p.is_file() and p.stat().st_size < 200_000})


_TOKENS = ["\t", "\n", " ", ":", "- ", "&a", "*a", "!!python/object:os.system", "!x", "{", "}", "[", "]", "'", '"',
           "%", "万", "亿", "NaN", ".inf", "-", "1e999", "null", "~", "<<: *a", "---", "...", "#", "?", "|", ">",
           "\x00", "\ufeff", "__import__('os')", "params.", "{{", "}}", "{%", "and", "or", "not", " in [", "==",
           "2026-02-30", "true", "\u2028", "\x85", "💥", "0x1F", "0o17", "1_000", "12万元x", "0.001%", "1e-05", "1e17", "0.00001",
           "-0", "9999999999999999999",
           # a newcomer's (issue 9, classes 11–13): separators inside { … }, units, Chinese enum values, group keys
           "{v: 8,000,000}", ", 000", "1,200万", "24,5%", "90天", "68分", "第二台阶", "3 days", " points", "支持", "很高",
           "中等", "team:", "team.", "account_manager: 李明", "客户经理", "  revenue: 12M", "company: {revenue: 3,000,000}"]


def mutate(text: str, rnd: random.Random, rounds: int = 3) -> str:
    """Structure-aware-ish mutations of YAML text: tokens, line edits, byte-level noise."""
    lines = text.splitlines(keepends=True) or [""]
    for _ in range(rnd.randint(1, rounds)):
        op = rnd.randrange(8)
        i = rnd.randrange(len(lines))
        if op == 0:  # insert a token somewhere in a line
            j = rnd.randint(0, len(lines[i]))
            lines[i] = lines[i][:j] + rnd.choice(_TOKENS) + lines[i][j:]
        elif op == 1 and len(lines) > 1:  # delete a line
            del lines[i]
        elif op == 2:  # duplicate a line (duplicate keys, repeated rules)
            lines.insert(i, lines[i])
        elif op == 3:  # swap two lines (indentation chaos)
            k = rnd.randrange(len(lines))
            lines[i], lines[k] = lines[k], lines[i]
        elif op == 4 and ":" in lines[i]:  # replace a value
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {rnd.choice(_TOKENS)}{rnd.choice(['', '1', 'x', '12%', '3M', '0.001%', '1e-05'])}\n"
        elif op == 5:  # re-indent
            lines[i] = " " * rnd.choice([0, 1, 2, 3, 4, 8]) + lines[i].lstrip(" ")
        elif op == 6:  # truncate the document
            lines = lines[: i + 1]
            lines[-1] = lines[-1][: rnd.randint(0, len(lines[-1]))]
        else:  # flip a character
            s = lines[i]
            if s:
                j = rnd.randrange(len(s))
                lines[i] = s[:j] + chr(rnd.choice([0x20, 0x2D, 0x3A, 0x7B, 0x5B, 0x27, 0x09, rnd.randrange(0x20, 0x3000)])) \
                    + s[j + 1:]
    return "".join(lines)


def check_problems(e: Exception) -> None:
    """An InputError a loader raised must be printable and located, problem by problem."""
    from kamrules.core.errors import InputError

    assert isinstance(e, InputError) and e.problems, repr(e)
    for p in e.problems:
        assert p.render() and p.location.file, p


def check_loader(load: Callable[[], Any]) -> None:
    """Run one loader: it may return, or raise kamrules' InputError; anything else is a bug."""
    from kamrules.core.errors import InputError

    try:
        load()
    except InputError as e:
        check_problems(e)


# ----------------------------------------------------------------------------- fuzz targets
#
# Each target takes an input (text or bytes) and a scratch folder, runs one loader, and — when
# the input loads — the stage after it, so a loader that lets a poisoned value through is
# caught where it explodes. Only InputError may escape a loader; after a successful load,
# evaluation must not raise at all (EngineError included: no rule action can fail here).

MINI = DATA / "bad" / "mini.yaml"
GOOD = DATA / "bad" / "good.yaml"
TEST_FILE_SEED = f"""\
rulebook: {MINI}
as_of: 2026-06-30
base: {{id: t, name: T}}
cases:
  - name: gold
    given: {{revenue: 12M, discount_rate: 22%, contacts: [{{name: A, role: coach}}]}}
    expect: {{classification: {{tier: gold}}, fires: [gold, over], not_fires: [silver], scores: {{health: 50}}}}
  - name: silver
    given: {{revenue: 2M, contacts: [{{name: B, role: user_buyer}}]}}
    expect: {{classification: {{tier: silver}}, concepts: [nine.find_right_people]}}
"""
CONDITION_TOKENS = ["revenue", "discount_rate", "gross_margin", "employees", "listed", "plan_reviewed",
                    "strategic_fit", "contacts", "coaches", "margin", "tier", "health", "name", "params.max_discount",
                    "params.", "role", "rating", "it", "high", "gold", "coach", "and", "or", "not", "in", "not in",
                    "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "(", ")", "[", "]", ",", ".", "15%", "1.2M",
                    "120万", "0", "-1", "1e999", '"2026-01-01"', '"x"', "'", "true", "false", "exists(", "missing(",
                    "count(", "any(", "all(", "sum(", "max(", "min(", "abs(", "days_since(", "__class__", "__import__",
                    "lambda", ":", "=", "!", "&&", "%", "\\", "\n", "\t", "中文"]


def _write(folder: Path, name: str, data: str | bytes) -> Path:
    p = folder / name
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data, encoding="utf-8", errors="surrogatepass")
    return p


def _evaluate_everywhere(account: Any, book: Rulebook) -> None:
    """Advise a loaded account on every engine. An engine may still refuse the rulebook as
    input (durable_rules' limits are checked when its ruleset is built: exit 2, located); an
    EngineError or any other exception is a fault."""
    from kamrules.advice.render import render
    from kamrules.core.errors import InputError
    from kamrules.engine.backends import durable_available
    from kamrules.pipeline import evaluate

    for engine in ("durable", "reference") if durable_available() else ("reference",):
        try:
            advice = evaluate(account, book, as_of=AS_OF, engine=engine)
            # messages render when the findings are first read (here, by the JSON output): a
            # message that goes past a bound of the sandbox is a located input error there
            render(advice, "json")
        except InputError as e:
            check_problems(e)


def fuzz_yaml(data: str | bytes, folder: Path) -> None:
    from kamrules.core import yamlio

    check_loader(lambda: yamlio.load(str(_write(folder, "in.yaml", data))))


def fuzz_account(data: str | bytes, folder: Path, book: Rulebook) -> None:
    from kamrules.core.errors import InputError
    from kamrules.io.account import load_account

    try:
        account = load_account(str(_write(folder, "account.yaml", data)), book)
    except InputError as e:
        check_problems(e)
        return
    _evaluate_everywhere(account, book)


def fuzz_rulebook(data: str | bytes, folder: Path) -> None:
    """A rulebook or overlay; when it loads, the good account is advised with it."""
    from kamrules.core.errors import InputError
    from kamrules.io.account import load_account
    from kamrules.rulebook.load import load_rulebook

    if isinstance(data, str):
        data = data.replace("../mini.yaml", str(MINI))  # corpus overlays name their base relatively
    try:
        book = load_rulebook(str(_write(folder, "rulebook.yaml", data)))
        account = load_account(str(GOOD), book)
    except InputError as e:
        check_problems(e)
        return
    _evaluate_everywhere(account, book)


def fuzz_test_file(data: str | bytes, folder: Path) -> None:
    """The rule-test loader (kamrules.authoring.ruletests.reader), and running what it loads."""
    from kamrules.authoring.ruletests import reader, runner
    from kamrules.core.errors import InputError

    try:
        tf = reader.read_test_file(str(_write(folder, "rules.test.yaml", data)))
    except InputError as e:
        check_problems(e)
        return
    for case in tf.cases:
        runner.run_case(tf, case)


def fuzz_condition(text: str, folder: Path) -> None:
    """A `when:` written by someone: the rulebook loads or is refused with a located error."""
    body = (f"rulebook: fuzz\nextends: [{MINI}]\nrules:\n  - id: fuzz\n    concept: misconception.big_order\n"
            f"    source: recon\n    when: {json_quote(text)}\n    then: {{warn: {{message: {{en: fuzz}}}}}}\n")
    fuzz_rulebook(body, folder)


def json_quote(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


def condition_text(rnd: random.Random, max_tokens: int = 12) -> str:
    return " ".join(rnd.choice(CONDITION_TOKENS) for _ in range(rnd.randint(1, max_tokens)))


RICH_ACCOUNT = """\
id: rich
name: 华信钢铁
revenue: 1.2亿
discount_rate: 22%
gross_margin: 0.18
employees: 8,000
listed: 是
plan_reviewed: 2026-05-10
strategic_fit: high
notes: free text
as_of: 2026-06-30
contacts:
  - {name: 王总, role: economic_buyer, rating: 3}
  - {name: 小陈, role: coach, rating: -2}
"""


def account_seeds() -> list[str]:
    """Accounts for the mini rulebook (fast); benchmarks/fuzz.py adds the course examples."""
    return [GOOD.read_text(encoding="utf-8"), RICH_ACCOUNT]


def rulebook_seeds() -> list[Path]:
    """Small rulebooks and overlays (the course files are fuzzed by benchmarks/fuzz.py: they load slowly)."""
    return [MINI, *sorted((DATA / "bad" / "rulebooks").glob("*.yaml")), *sorted((DATA / "core").glob("*.yaml"))]


# ----------------------------------------------------------------------------- templates, messages, cache
#
# issue 9: a company template or a rule message may do anything Jinja allows, and must end
# within its bounds with a located InputError; a cache entry may be anything, and must never
# change the answer.

TEMPLATE_TOKENS = [
    "{% for x in range(99999) %}", "{% for y in range(99999) %}", "{% endfor %}", "{{ x }}", "{{ 9 ** 99999999 }}",
    "{{ 'x' * 9999999999 }}", "{{ [1] * 99999999 }}", "{% extends 'playbook.md.j2' %}", "{% include 'playbook.md.j2' %}",
    "{% extends 'default:playbook.md.j2' %}", "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(1) }}",
    "{% set ns = namespace(s='ab') %}", "{% set ns.s = ns.s ~ ns.s %}", "{{ ns.s|length }}", "{{ '%0999999999d' % 1 }}",
    "{{ 'x'|center(999999999) }}", "{{ '{:>999999999}'.format(1) }}", "{% for x in [[1]] recursive %}{{ loop([[x]]) }}",
    "{{ account.__class__ }}", "{{ self }}", "{{ lipsum(99) }}", "{{ range(10**12) }}", "{{ 1 // 0 }}", "{{ 10.0 ** 999 }}",
    "{% include '../../etc/passwd' %}", "{% import 'playbook.md.j2' as p %}", "((((((", "))", "{{", "}}", "{%", "%}",
    "{#", "#}", "|join", "|batch(99999999, 0)", "|replace('', 'xxxxxxxx')", "|indent(9999999)", "|sum(start=[])",
    "|round(-99999999)", "\x00", "\ufeff", "中文", "{{ account.name }}", "{{ findings|length }}", "{% raw %}", "{% endraw %}",
]


def mutate_template(text: str, rnd: random.Random, rounds: int = 3) -> str:
    """Token-level mutations of Jinja text: hostile constructs inserted, lines cut and repeated."""
    lines = text.splitlines(keepends=True) or [""]
    for _ in range(rnd.randint(1, rounds)):
        op = rnd.randrange(4)
        i = rnd.randrange(len(lines))
        if op == 0:
            j = rnd.randint(0, len(lines[i]))
            lines[i] = lines[i][:j] + rnd.choice(TEMPLATE_TOKENS) + lines[i][j:]
        elif op == 1 and len(lines) > 1:
            del lines[i]
        elif op == 2:
            lines.insert(i, lines[i])
        else:
            lines = lines[: i + 1]
    return "".join(lines)


def template_seeds() -> list[str]:
    """The built-in playbooks (big: the mutations land inside real loops and macros) and
    small templates made of hostile tokens."""
    seeds = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "playbooks").glob("*.md.j2"))]
    return seeds + ["{{ account.name }}\n", "".join(TEMPLATE_TOKENS[:6]), "{% for f in findings %}{{ f }}{% endfor %}\n"]


def fuzz_template(data: str | bytes, folder: Path, account: Any = None) -> None:
    """A company overlay whose playbook.md.j2 is `data`: advise renders it, or refuses it with
    a located InputError (template.*), within the sandbox's bounds."""
    from kamrules.advice.render import render
    from kamrules.core.errors import InputError
    from kamrules.io.account import load_account
    from kamrules.pipeline import evaluate
    from kamrules.rulebook.load import load_rulebook

    (folder / "templates").mkdir(exist_ok=True)
    _write(folder / "templates", "playbook.md.j2", data)
    overlay = _write(folder, "o.yaml", f"rulebook: o\nextends: [{MINI}]\ntemplates: templates\n")
    try:
        book = load_rulebook(str(overlay))
        advice = evaluate(account or load_account(str(GOOD), book), book, as_of=AS_OF, engine="reference")
        render(advice, "md")
    except InputError as e:
        check_problems(e)
        assert all(p.location.file for p in e.problems)


def fuzz_message(text: str, folder: Path) -> None:
    """A rule whose message is `text`: refused when the rulebook loads, or rendered (bounded)."""
    body = (f"rulebook: fuzz\nextends: [{MINI}]\nrules:\n  - id: fuzz\n    concept: misconception.big_order\n"
            f"    source: recon\n    when: revenue > 1M\n    then: {{warn: {{message: {{en: {json_quote(text)}}}}}}}\n")
    fuzz_rulebook(body, folder)


def fuzz_cache_entry(mutation: Callable[[bytes], bytes], folder: Path) -> None:
    """Warm a private cache for the mini rulebook, mutate every entry, and load again: the
    answer must be the one an empty cache gives."""
    import os

    from kamrules.advice.render import render
    from kamrules.io.account import load_account
    from kamrules.pipeline import evaluate
    from kamrules.rulebook.load import load_rulebook

    old = os.environ.get("KAMRULES_CACHE_DIR")
    os.environ["KAMRULES_CACHE_DIR"] = str(folder / "cache")
    try:
        def run() -> tuple[str, str]:
            book = load_rulebook(str(MINI))
            advice = evaluate(load_account(str(GOOD), book), book, as_of=AS_OF, engine="reference")
            return book.digest, render(advice, "md")

        first = run()
        for p in (folder / "cache").iterdir():
            if p.is_file() and p.name != "key":
                p.write_bytes(mutation(p.read_bytes()))
        assert run() == first
    finally:
        if old is None:
            os.environ.pop("KAMRULES_CACHE_DIR", None)
        else:
            os.environ["KAMRULES_CACHE_DIR"] = old


# ----------------------------------------------------------------------------- the first hour (issue 9, classes 11–13)
#
# What a newcomer writes into a real account of the course: numbers with thousands separators
# (or a decimal comma) inside { … }, values carrying a unit (zh or en, the fact's own or
# another's: 90天, 68分, 第二台阶, 3 days), enum values in Chinese (labels, near misses, a
# label of another field), keys moved into or out of their group (account_manager at the top,
# revenue under team:), Chinese labels as keys. An account is rendered from the values an
# example account loads to, with these defects placed by a seeded random.Random: the CLI must
# answer exit 0 or 2, never 3, without a traceback, and write nothing on error.

COURSE_ACCOUNTS = ROOT / "examples" / "accounts"
_NEAR = ("很", "非常", "比较")  # what a Chinese speaker puts before an adjective (很高 for 高)


class Raw(str):
    """A scalar written exactly as a user types it (8,000,000 · 90天 · 支持), unquoted."""


def first_hour_seeds() -> list[str]:
    """The course's example accounts (their file names): the values the mutations start from."""
    return sorted(p.name for p in COURSE_ACCOUNTS.glob("*.yaml"))


_SEED_VALUES: dict[str, dict[str, Any]] = {}


def _seed_values(name: str, book: Rulebook) -> dict[str, Any]:
    if name not in _SEED_VALUES:
        from kamrules.io.account import load_account

        values = dict(load_account(str(COURSE_ACCOUNTS / name), book).values)
        _SEED_VALUES[name] = {k: v for k, v in values.items() if k in book.facts and not book.facts[k].supplied}
    return dict(_SEED_VALUES[name])


def _plain(v: Any, type_: str) -> Any:
    """A value as the example files write it (before any defect)."""
    if isinstance(v, Raw):
        return v
    if type_ == "percent" and isinstance(v, (int, float)):
        return Raw(f"{v * 100:.6g}%")
    if type_ in ("money", "number") and isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _scalar(v: Any) -> str:
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (_dt.date, int, float)) or v is None:
        return "null" if v is None else (v.isoformat() if isinstance(v, _dt.date) else repr(v))
    import json

    return json.dumps(str(v), ensure_ascii=False)


def _flow(d: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in d.items()) + "}"


def _render(doc: dict[str, Any], flow: set[str]) -> str:
    """YAML for a nested account: mappings named in `flow` (a group, or 'contacts[0]') on one
    line in { … }, the rest in block style; scalars through _scalar."""
    out: list[str] = []
    for key, v in doc.items():
        if isinstance(v, dict):
            if key in flow:
                out.append(f"{key}: {_flow(v)}")
            else:
                out.append(f"{key}:")
                out += [f"  {k}: {_flow_list(x) if isinstance(x, (list, tuple)) else _scalar(x)}" for k, x in v.items()]
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, dict) for x in v):
            out.append(f"{key}:")
            for i, item in enumerate(v):
                if f"{key}[{i}]" in flow:
                    out.append(f"  - {_flow(item)}")
                else:
                    lines = [f"{k}: {_scalar(x)}" for k, x in item.items()] or ["{}"]
                    out += [f"  - {lines[0]}", *(f"    {line}" for line in lines[1:])]
        elif isinstance(v, (list, tuple)):
            out.append(f"{key}: {_flow_list(v)}")
        else:
            out.append(f"{key}: {_scalar(v)}")
    return "\n".join(out) + "\n"


def _flow_list(v: Any) -> str:
    return "[" + ", ".join(_scalar(x) for x in v) + "]"


def _number_with_commas(v: float, type_: str, rnd: random.Random) -> Raw:
    """A number as a user types it with separators: 8,000,000 · 1,200万 · 24,5% · 3,5."""
    if type_ == "percent":
        x = v * 100
        return Raw(f"{int(x):,}%" if rnd.random() < 0.3 else f"{x:.1f}%".replace(".", ","))
    if rnd.random() < 0.2:
        return Raw(f"{v:.1f}".replace(".", ","))  # a decimal comma
    if rnd.random() < 0.3 and abs(v) >= 10_000:
        return Raw(f"{int(v / 10_000):,}万")
    return Raw(f"{int(v) * rnd.choice([1, 1000, 1_000_000]):,}")


def _with_unit(v: float, rnd: random.Random) -> Raw:
    from kamrules.core.values import UNITS

    word = rnd.choice([w for u in UNITS.values() for w in u.words] + ["个月", "次", "元", "万元", "points", "%"])
    n = int(v) if float(v).is_integer() else v
    if rnd.random() < 0.15:
        cn = "零一二三四五六七八九十"
        return Raw(f"第{cn[int(n) % 11]}台阶")
    return Raw(f"{n}{rnd.choice(['', ' '])}{word}")


def _enum_like(choices: Any, all_labels: list[str], rnd: random.Random) -> Raw:
    names = [n for n, _ in choices]
    zh = [lab.zh for _, lab in choices if lab.zh] or names
    en = [lab.en for _, lab in choices if lab.en] or names
    pick = rnd.randrange(7)
    if pick == 0:
        return Raw(rnd.choice(zh))
    if pick == 1:
        return Raw(rnd.choice(en).upper() if rnd.random() < 0.5 else rnd.choice(en))
    if pick == 2:
        return Raw(rnd.choice(zh)[:-1] or rnd.choice(zh))  # 支持 for 支持者
    if pick == 3:
        return Raw(rnd.choice(_NEAR) + rnd.choice(zh))  # 很高 for 高
    if pick == 4:
        return Raw(rnd.choice(all_labels))  # the label of another field (教练 for 态度)
    if pick == 5:
        return Raw(rnd.choice(names) + rnd.choice(["s", "_", "ed", ""]))
    return Raw("".join(rnd.choice(zh + ["的", "不", "中", "高"]) for _ in range(rnd.randint(1, 3))))


def _all_labels(book: Rulebook) -> list[str]:
    out = []
    for f in book.facts.values():
        for fd in (f, *(f.items or ())):
            for _, lab in fd.values or ():
                out += [t for t in (lab.zh, lab.en) if t]
    return sorted(set(out))


def first_hour_account(seed: str, rnd: random.Random, book: Rulebook, defects: int = 3) -> str:
    """An example account of the course with 1..`defects` newcomer's defects (see above)."""
    values = _seed_values(seed, book)
    labels = _all_labels(book)
    flow: set[str] = set()
    moved: dict[str, str] = {}  # fact name → the key path it is written under
    for _ in range(rnd.randint(1, defects)):
        kind = rnd.randrange(5)
        names = sorted(values)
        if kind == 0:  # thousands separators (or a decimal comma) inside { … }
            groups = sorted({n.split(".")[0] for n in names if "." in n})
            items = [f"{n}[{i}]" for n in names if book.facts[n].items for i in range(len(values[n]))]
            target = rnd.choice(groups + items) if groups + items else None
            if target is None:
                continue
            flow.add(target)
            if "[" in target:
                name, i = target[:-1].split("[")
                item = dict(values[name][int(i)])
                nums = [k for k, x in item.items() if isinstance(x, (int, float)) and not isinstance(x, bool)]
                types = {fd.name: fd.type for fd in book.facts[name].items or ()}
                if nums:
                    k = rnd.choice(nums)
                    item[k] = _number_with_commas(float(item[k]), types.get(k, "number"), rnd)
                rows = list(values[name])
                rows[int(i)] = item
                values[name] = tuple(rows)
            else:
                nums = [n for n in names if n.startswith(target + ".") and book.facts[n].type in
                        ("money", "percent", "integer", "number") and isinstance(values[n], (int, float))]
                if nums:
                    n = rnd.choice(nums)
                    values[n] = _number_with_commas(float(values[n]), book.facts[n].type, rnd)
        elif kind == 1:  # a value with a unit, the fact's own or another's, in zh or en
            nums = [n for n in names if book.facts[n].type in ("money", "percent", "integer", "number")
                    and isinstance(values[n], (int, float)) and not isinstance(values[n], bool)]
            if nums:
                n = rnd.choice(nums)
                values[n] = _with_unit(float(values[n]), rnd)
        elif kind == 2:  # an enum value in Chinese, near or not
            enums = [n for n in names if book.facts[n].type == "enum"]
            items = [(n, i, fd.name, fd.values) for n in names for fd in book.facts[n].items or () if fd.type == "enum"
                     for i in range(len(values[n]))]
            if items and (not enums or rnd.random() < 0.5):
                n, i, field, choices = rnd.choice(items)
                rows = [dict(r) for r in values[n]]
                key = field if rnd.random() < 0.5 else next((fd.label.zh for fd in book.facts[n].items or ()
                                                            if fd.name == field and fd.label.zh), field)
                rows[i].pop(field, None)
                rows[i][key] = _enum_like(choices, labels, rnd)
                values[n] = tuple(rows)
            elif enums:
                n = rnd.choice(enums)
                values[n] = _enum_like(book.facts[n].values, labels, rnd)
        elif kind == 3:  # a key moved into or out of its group
            grouped = [n for n in names if "." in n and n not in moved]
            top = [n for n in names if "." not in n and n not in ("id", "name") and n not in moved]
            if grouped and (not top or rnd.random() < 0.6):
                n = rnd.choice(grouped)
                moved[n] = rnd.choice([n.split(".", 1)[1], n])  # at the top, bare or dotted
            elif top:
                n = rnd.choice(top)
                moved[n] = f"{rnd.choice(['team', 'company', 'competition'])}.{n}"
        else:  # a key written as its Chinese label, or one character off it
            cands = [n for n in names if "." not in n and book.facts[n].label.zh and n not in ("id", "name")]
            if cands:
                n = rnd.choice(cands)
                label = book.facts[n].label.zh
                moved[n] = label if rnd.random() < 0.6 else label[:-1] + rnd.choice("量值率数额")
    doc: dict[str, Any] = {}
    for n in values:
        type_ = book.facts[n].type
        path = moved.get(n, n).split(".", 1)
        v = values[n]
        if type_ == "list" and book.facts[n].items:
            v = [{k: _plain(x, next((fd.type for fd in book.facts[n].items or () if fd.name == k), "string"))
                  for k, x in row.items()} for row in v]
        else:
            v = _plain(v, type_)
        if len(path) == 1:
            if path[0] in doc and isinstance(doc[path[0]], dict):
                continue  # a moved key that collides with a group: left out, as a user would notice
            doc[path[0]] = v
        else:
            group = doc.setdefault(path[0], {})
            if isinstance(group, dict):
                group[path[1]] = v
    return _render(doc, flow)


def fuzz_first_hour(text: str, folder: Path) -> None:
    """advise on a newcomer's account, through the CLI as a user runs it: exit 0 (the playbook
    written) or 2 (located, nothing written); never 3, never a traceback."""
    import re

    from click.testing import CliRunner

    from kamrules.cli import main

    acc = _write(folder, "account.yaml", text)
    out = folder / "out" / "playbook.md"
    out.parent.mkdir(exist_ok=True)
    res = CliRunner().invoke(main, ["advise", str(acc), "-o", str(out), "--as-of", AS_OF.isoformat(),
                                    "--engine", "reference"])
    assert res.exit_code in (0, 2), f"exit {res.exit_code}:\n{res.output}\n--- account:\n{text}"
    assert "Traceback" not in res.output and "internal error" not in res.stderr, res.output
    if res.exit_code == 2:
        assert re.search(r"account\.yaml:\d+(:\d+)?: error\[[a-z]+\.[a-z-]+\]", res.stderr), res.stderr
        assert "nothing was written" in res.stderr, res.stderr
        assert list(out.parent.iterdir()) == [], "an output (or a temporary file) was left on error"
    else:
        assert out.is_file() and out.stat().st_size > 0
