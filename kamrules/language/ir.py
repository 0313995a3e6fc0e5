"""The small typed intermediate form that both backends consume.

Terms compute values; conditions compute truth. Parameters are folded into constants that
remember their parameter name (for explanations). Everything is frozen and hashable so the
compiler can share synthetic terms between rules.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Union

NUMERIC = frozenset({"number", "integer", "money", "percent"})


@dataclass(frozen=True)
class Const:
    value: Any
    type: str
    param: str = ""  # parameter name when the constant came from params.*


@dataclass(frozen=True)
class Ref:
    name: str
    type: str
    kind: str  # fact | metric | derived | dimension | score | item
    values: tuple[str, ...] = ()  # enum / dimension values


@dataclass(frozen=True)
class Arith:
    op: str  # + - * /
    left: "Term"
    right: "Term"
    type: str


@dataclass(frozen=True)
class Fn:
    name: str  # days_since | abs | min | max
    args: tuple["Term", ...]
    type: str


@dataclass(frozen=True)
class Agg:
    func: str  # count | any | all | sum | max | min
    list: Ref
    body: Union["Term", "Cond", None]
    type: str


@dataclass(frozen=True)
class Cmp:
    op: str  # == != < <= > >=
    left: "Term"
    right: "Term"


@dataclass(frozen=True)
class Exists:
    ref: Ref
    positive: bool = True


@dataclass(frozen=True)
class And:
    items: tuple["Cond", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Cond", ...]


@dataclass(frozen=True)
class Not:
    item: "Cond"


@dataclass(frozen=True)
class Truth:
    value: bool


Term = Union[Const, Ref, Arith, Fn, Agg]
Cond = Union[Cmp, Exists, And, Or, Not, Truth]

NEGATE = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
FLIP = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


def refs(node: Any) -> Iterator[Ref]:
    """Every Ref the node reads (item refs inside aggregates excluded; the list itself included)."""
    if isinstance(node, Ref):
        if node.kind != "item":
            yield node
    elif isinstance(node, Arith):
        yield from refs(node.left)
        yield from refs(node.right)
    elif isinstance(node, Fn):
        for a in node.args:
            yield from refs(a)
    elif isinstance(node, Agg):
        yield node.list
    elif isinstance(node, Cmp):
        yield from refs(node.left)
        yield from refs(node.right)
    elif isinstance(node, Exists):
        yield node.ref
    elif isinstance(node, (And, Or)):
        for i in node.items:
            yield from refs(i)
    elif isinstance(node, Not):
        yield from refs(node.item)


def params(node: Any) -> Iterator[str]:
    if isinstance(node, Const):
        if node.param:
            yield node.param
    elif isinstance(node, Arith):
        yield from params(node.left)
        yield from params(node.right)
    elif isinstance(node, Fn):
        for a in node.args:
            yield from params(a)
    elif isinstance(node, Agg):
        if node.body is not None:
            yield from params(node.body)
    elif isinstance(node, Cmp):
        yield from params(node.left)
        yield from params(node.right)
    elif isinstance(node, (And, Or)):
        for i in node.items:
            yield from params(i)
    elif isinstance(node, Not):
        yield from params(node.item)


def nnf(c: Cond, negate: bool = False) -> Cond:
    """Negation normal form: `not` pushed onto comparisons and exists, which then flip.

    Under Kleene logic with 'comparison on a missing value is unknown', NNF preserves the
    truth value, and a literal is false whenever it is unknown — which is exactly how
    durable_rules treats a missing property.
    """
    if isinstance(c, Not):
        return nnf(c.item, not negate)
    if isinstance(c, And):
        items = tuple(nnf(i, negate) for i in c.items)
        return Or(items) if negate else And(items)
    if isinstance(c, Or):
        items = tuple(nnf(i, negate) for i in c.items)
        return And(items) if negate else Or(items)
    if isinstance(c, Cmp):
        return Cmp(NEGATE[c.op], c.left, c.right) if negate else c
    if isinstance(c, Exists):
        return Exists(c.ref, c.positive != negate)
    if isinstance(c, Truth):
        return Truth(c.value != negate)
    raise TypeError(c)  # pragma: no cover


def literals(c: Cond) -> Iterator[Cond]:
    if isinstance(c, (And, Or)):
        for i in c.items:
            yield from literals(i)
    elif isinstance(c, Not):
        yield from literals(c.item)
    else:
        yield c


def show(node: Any) -> str:
    """Readable text of an IR node (for explanations and lint)."""
    if isinstance(node, Const):
        if node.param:
            return f"params.{node.param}"
        if isinstance(node.value, str):
            return node.value
        if node.type == "percent":
            from kamrules.core.values import format_percent

            return format_percent(node.value)
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        return f"{node.value:g}" if isinstance(node.value, float) else str(node.value)
    if isinstance(node, Ref):
        return node.name
    if isinstance(node, Arith):
        return f"({show(node.left)} {node.op} {show(node.right)})"
    if isinstance(node, Fn):
        return f"{node.name}({', '.join(show(a) for a in node.args)})"
    if isinstance(node, Agg):
        body = f", {show(node.body)}" if node.body is not None else ""
        return f"{node.func}({node.list.name}{body})"
    if isinstance(node, Cmp):
        return f"{show(node.left)} {node.op} {show(node.right)}"
    if isinstance(node, Exists):
        return f"{'exists' if node.positive else 'missing'}({node.ref.name})"
    if isinstance(node, And):
        return " and ".join(_paren(i) for i in node.items)
    if isinstance(node, Or):
        return " or ".join(_paren(i) for i in node.items)
    if isinstance(node, Not):
        return f"not {_paren(node.item)}"
    if isinstance(node, Truth):
        return "true" if node.value else "false"
    return repr(node)  # pragma: no cover


def _paren(c: Cond) -> str:
    return f"({show(c)})" if isinstance(c, (And, Or)) else show(c)
