"""Generated accounts for checking advice invariants (`kamrules test --invariants N`, and the
property tests a rulebook's authors point at their course).

A hypothesis strategy built from the rulebook's declared facts: every fact is sometimes missing,
and a value is typed and inside the fact's declared range. Numbers gather where the advice turns:
the constants the rules compare each fact with (thresholds and parameters), just below and above
them, and — for money — the scale of the rulebook's money parameters, so that revenue, cost to
serve, rebates and margin land on both sides of each other. Lists of contacts or opportunities
get 0–5 items whose fields are drawn the same way. Hypothesis then shrinks a failing account to
a minimal one: few facts, round values.

The values are already typed (what account validation produces), so generation skips the
reader: an invariant check spends its time in the engines, not in parsing.
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from hypothesis import strategies as st

from kamrules.language import ir
from kamrules.rulebook.model import Account, FactDef, Rulebook

AS_OF = _dt.date(2026, 6, 30)  # when a test file gives no as_of: any fixed date keeps runs repeatable
_NEAR = (0.5, 0.9, 0.99, 1.0, 1.01, 1.1, 2.0)  # around a threshold
_WORDS = ("张三", "李四", "王五", "Acme")


def _walk(node: Any) -> Iterable[Any]:
    yield node
    for child in ir.children(node):
        yield from _walk(child)


def thresholds(book: Rulebook) -> dict[str, set[float]]:
    """fact (or list-item field) name → the numbers rules compare it with."""
    out: dict[str, set[float]] = {}
    conds: list[Any] = [r.cond for r in book.rules] + [t.cond for t in book.tables.values()]
    conds += [i.cond for i in book.invariants]
    for cond in conds:
        for node in _walk(cond):
            if not isinstance(node, ir.Cmp):
                continue
            for a, b in ((node.left, node.right), (node.right, node.left)):
                if isinstance(a, ir.Ref) and isinstance(b, ir.Const) and isinstance(b.value, (int, float)) \
                        and not isinstance(b.value, bool):
                    out.setdefault(a.name, set()).add(float(b.value))
    return out


def _scale(book: Rulebook, type_: str) -> list[float]:
    return sorted({float(p.value) for p in book.params.values()
                   if p.type == type_ and isinstance(p.value, (int, float)) and not isinstance(p.value, bool)})


def _clamp(x: float, f: FactDef) -> float:
    lo = f.min if f.min is not None else -math.inf
    hi = f.max if f.max is not None else math.inf
    return min(max(x, lo), hi)


# An account is ONE draw of bytes, read by a fixed layout: a byte says whether an optional fact is
# given (below _PRESENT_BELOW: missing, about 30 %), the next picks its value from the fact's
# table (interesting values first, then a grid over the range). Drawing dozens of facts one by
# one made hypothesis' bookkeeping ten times the cost of evaluating the account; one byte string
# is cheap, and hypothesis shrinks it byte by byte towards 0: towards "missing", then towards
# the simplest values.
_PRESENT_BELOW = 77
_WIDE = 40  # grid points over a numeric range
_MAX_ITEMS = 5


@dataclass(frozen=True)
class Choice:
    """The values a fact (or a list item's field) takes, simplest first."""

    values: tuple[Any, ...]

    def pick(self, b: int) -> Any:
        return self.values[b % len(self.values)]


def _numbers(f: FactDef, type_: str, near: set[float], scale: list[float]) -> list[Any]:
    points = {_clamp(t * k, f) for t in near | set(scale) for k in _NEAR} | {_clamp(0.0, f)}
    if type_ == "percent":
        lo, hi = (f.min if f.min is not None else -1.0), (f.max if f.max is not None else 2.0)
    elif type_ == "money":
        top = max(scale + sorted(near) + [1e6]) * 3
        lo, hi = (f.min if f.min is not None else -top), (f.max if f.max is not None else top)
    else:
        lo = f.min if f.min is not None else min([-10.0, *near])
        hi = f.max if f.max is not None else max([100.0, *(x * 2 for x in near)])
    grid = {_clamp(lo + (hi - lo) * k / _WIDE, f) for k in range(_WIDE + 1)}
    if type_ == "percent":
        grid = {round(x, 2) for x in grid}
    elif type_ == "money":
        grid = {float(round(x / 1000) * 1000) for x in grid}
    ordered = sorted(points, key=abs) + sorted(grid - points, key=abs)
    if type_ == "integer":
        return list(dict.fromkeys(int(round(x)) for x in ordered))
    return list(dict.fromkeys(float(x) for x in ordered))[:256]


def choice(f: FactDef, type_: str, near: Mapping[str, set[float]], book: Rulebook, as_of: _dt.date) -> Choice:
    """The values one fact (or a list item's field) takes."""
    if type_ in ("money", "percent", "integer", "number"):
        values: list[Any] = _numbers(f, type_, set(near.get(f.name, ())),
                                     _scale(book, type_) if type_ == "money" else [])
    elif type_ == "bool":
        values = [False, True]
    elif type_ == "enum":
        values = [v for v, _ in f.values]
    elif type_ == "date":
        values = [as_of - _dt.timedelta(days=d) for d in (0, 1, 30, 89, 91, 180, 364, 365, 366, 400, 730, 1100)]
    else:
        values = list(_WORDS)
    return Choice(tuple(values))


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def byte(self) -> int:
        b = self.data[self.at]
        self.at += 1
        return b


@dataclass(frozen=True)
class _Fact:
    name: str
    optional: bool
    scalar: Choice | None = None  # a scalar fact
    fields: tuple[tuple[str, Choice], ...] = ()  # a list of mappings
    items: Choice | None = None  # a list of scalars

    @property
    def size(self) -> int:
        n = int(self.optional)
        if self.scalar is not None:
            return n + 1
        if self.fields:
            return n + 1 + _MAX_ITEMS * 2 * len(self.fields)
        return n + 1 + _MAX_ITEMS

    def read(self, r: _Reader) -> Any:
        start = r.at
        present = not self.optional or r.byte() >= _PRESENT_BELOW
        value: Any = None
        if present:
            if self.scalar is not None:
                value = self.scalar.pick(r.byte())
            else:
                count = r.byte() % (_MAX_ITEMS + 1)
                out: list[Any] = []
                for k in range(_MAX_ITEMS):
                    if self.fields:
                        item = {}
                        for name, c in self.fields:
                            given, b = r.byte(), r.byte()
                            if given >= _PRESENT_BELOW:
                                item[name] = c.pick(b)
                        if k < count:
                            out.append(item)
                    else:
                        b = r.byte()
                        if k < count and self.items is not None:
                            out.append(self.items.pick(b))
                value = tuple(out)
        r.at = start + self.size
        return value


def layout(book: Rulebook, as_of: _dt.date) -> tuple[_Fact, ...]:
    near = thresholds(book)
    out = []
    for f in book.facts.values():
        if f.name in ("id", "name"):
            continue
        opt = not f.required
        if f.type != "list":
            out.append(_Fact(f.name, opt, scalar=choice(f, f.type, near, book, as_of)))
        elif f.items:
            out.append(_Fact(f.name, opt, fields=tuple((i.name, choice(i, i.type, near, book, as_of))
                                                       for i in f.items)))
        else:
            out.append(_Fact(f.name, opt, items=choice(f, f.item_type or "string", near, book, as_of)))
    return tuple(out)


def accounts(book: Rulebook, as_of: _dt.date = AS_OF) -> st.SearchStrategy[Account]:
    """Accounts for the rulebook: each optional fact given or missing, typed and in range."""
    facts = layout(book, as_of)
    size = sum(f.size for f in facts)

    def build(data: bytes) -> Account:
        r = _Reader(data)
        values = {f.name: f.read(r) for f in facts}
        kept = {n: v for n, v in values.items() if v is not None}
        return Account(id="generated", name="generated", file="<generated>",
                       values={"id": "generated", "name": "generated", **kept}, as_of=as_of)

    return st.binary(min_size=size, max_size=size).map(build)


def describe(account: Account) -> str:
    """The facts of an account, one `name: value` a line (a counterexample as a reader sees it)."""
    lines = []
    for k, v in account.values.items():
        if k in ("id", "name"):
            continue
        if isinstance(v, tuple):
            v = list(v)
        if isinstance(v, _dt.date):
            v = v.isoformat()
        lines.append(f"{k}: {v}")
    return "\n".join(lines) or "(no facts)"
