"""The small typed intermediate form that both backends consume.

Terms compute values; conditions compute truth. Parameters are folded into constants that
remember their parameter name (for explanations). Everything is frozen and hashable so the
compiler can share synthetic terms between rules.

The node classes are a closed set: each is `@final`, and `Term` / `Cond` / `Node` name every
one of them. A walk over the IR is one `match` on the node classes ending in
`case _: unknown(node)`, so mypy proves the walk handles every class (a missing case is a type
error at `unknown`) and an object that is not an IR node fails loudly at run time. Walks that
only gather something from the sub-nodes use `children()`, the one place that lists them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, NoReturn, Union, final

NUMERIC = frozenset({"number", "integer", "money", "percent"})


@final
@dataclass(frozen=True)
class Const:
    value: Any
    type: str
    param: str = ""  # parameter name when the constant came from params.*


@final
@dataclass(frozen=True)
class Ref:
    name: str
    type: str
    kind: str  # fact | metric | derived | dimension | score | item
    values: tuple[str, ...] = ()  # enum / dimension values


@final
@dataclass(frozen=True)
class Arith:
    op: str  # + - * /
    left: Term
    right: Term
    type: str


@final
@dataclass(frozen=True)
class Fn:
    name: str  # days_since | abs | min | max
    args: tuple[Term, ...]
    type: str


@final
@dataclass(frozen=True)
class Agg:
    func: str  # count | any | all (body: a Cond, or None for count(list)) | sum | max | min (body: a Term)
    list: Ref
    body: Term | Cond | None
    type: str


@final
@dataclass(frozen=True)
class Cmp:
    op: str  # == != < <= > >=
    left: Term
    right: Term


@final
@dataclass(frozen=True)
class Exists:
    ref: Ref
    positive: bool = True


@final
@dataclass(frozen=True)
class And:
    items: tuple[Cond, ...]


@final
@dataclass(frozen=True)
class Or:
    items: tuple[Cond, ...]


@final
@dataclass(frozen=True)
class Not:
    item: Cond


@final
@dataclass(frozen=True)
class Truth:
    value: bool


Term = Union[Const, Ref, Arith, Fn, Agg]
Cond = Union[Cmp, Exists, And, Or, Not, Truth]
Node = Union[Term, Cond]

# Placeholders until a rulebook is checked (and for a condition that does not check): a rule
# that never fires, a metric whose value is unknown. A checked Rulebook holds real IR.
NEVER: Cond = Truth(False)
UNKNOWN: Term = Const(None, "number")


def unknown(node: NoReturn) -> NoReturn:
    """The last case of every walk. mypy only accepts a call here once every class is handled
    (the node's type is then empty); at run time it rejects whatever is not an IR node."""
    raise TypeError(f"not an IR node: {node!r}")


def not_nnf(c: Cond) -> NoReturn:
    """For walks of a condition in negation normal form, which has no `not` left."""
    raise ValueError(f"not in negation normal form: {show(c)}")


def children(node: Node) -> tuple[Node, ...]:
    """The node's direct sub-nodes, in source order (an aggregate: its list, then its body)."""
    match node:
        case Const() | Ref() | Truth():
            return ()
        case Arith(_, left, right) | Cmp(_, left, right):
            return (left, right)
        case Fn(_, args):
            return args
        case Agg(_, lst, body):
            return (lst,) if body is None else (lst, body)
        case Exists(ref):
            return (ref,)
        case And(items) | Or(items):
            return items
        case Not(item):
            return (item,)
        case _:
            unknown(node)


NEGATE = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
FLIP = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


def param_of(node: Node) -> str:
    """The parameter a constant came from ('' for anything else)."""
    match node:
        case Const(param=name):
            return name
        case _:
            return ""


def refs(node: Node) -> Iterator[Ref]:
    """Every Ref the node reads (item refs inside aggregates excluded; the list itself included)."""
    match node:
        case Ref(kind="item"):
            return
        case Ref():
            yield node
        case Agg(_, lst):
            yield lst  # the body reads the list's items, not the account
        case Exists(ref):
            yield ref
        case _:
            for child in children(node):
                yield from refs(child)


def params(node: Node) -> Iterator[str]:
    """The parameter names the node uses (aggregate bodies included)."""
    match node:
        case Const(param=name):
            if name:
                yield name
        case _:
            for child in children(node):
                yield from params(child)


def nnf(c: Cond, negate: bool = False) -> Cond:
    """Negation normal form: `not` pushed onto comparisons and exists, which then flip.

    Under Kleene logic with 'comparison on a missing value is unknown', NNF preserves the
    truth value, and a literal is false whenever it is unknown — which is exactly how
    durable_rules treats a missing property.
    """
    match c:
        case Not(item):
            return nnf(item, not negate)
        case And(items):
            parts = tuple(nnf(i, negate) for i in items)
            return Or(parts) if negate else And(parts)
        case Or(items):
            parts = tuple(nnf(i, negate) for i in items)
            return And(parts) if negate else Or(parts)
        case Cmp(op, left, right):
            return Cmp(NEGATE[op], left, right) if negate else c
        case Exists(ref, positive):
            return Exists(ref, positive != negate)
        case Truth(value):
            return Truth(value != negate)
        case _:
            unknown(c)


def literals(c: Cond) -> Iterator[Cond]:
    """The comparisons, exists and constants under the and / or / not of a condition."""
    match c:
        case And(items) | Or(items):
            for i in items:
                yield from literals(i)
        case Not(item):
            yield from literals(item)
        case Cmp() | Exists() | Truth():
            yield c
        case _:
            unknown(c)


def show(node: Node) -> str:
    """Readable text of an IR node (for explanations and lint)."""
    match node:
        case Const(value, type_, param):
            if param:
                return f"params.{param}"
            if isinstance(value, str):
                return value
            if type_ == "percent":
                from kamrules.core.values import format_percent

                return format_percent(value)
            if isinstance(value, bool):
                return "true" if value else "false"
            return f"{value:g}" if isinstance(value, float) else str(value)
        case Ref(name):
            return name
        case Arith(op, left, right):
            return f"({show(left)} {op} {show(right)})"
        case Fn(name, args):
            return f"{name}({', '.join(show(a) for a in args)})"
        case Agg(func, lst, body):
            tail = f", {show(body)}" if body is not None else ""
            return f"{func}({lst.name}{tail})"
        case Cmp(op, left, right):
            return f"{show(left)} {op} {show(right)}"
        case Exists(ref, positive):
            return f"{'exists' if positive else 'missing'}({ref.name})"
        case And(items):
            return " and ".join(_paren(i) for i in items)
        case Or(items):
            return " or ".join(_paren(i) for i in items)
        case Not(item):
            return f"not {_paren(item)}"
        case Truth(value):
            return "true" if value else "false"
        case _:
            unknown(node)


def _paren(c: Cond) -> str:
    match c:
        case And() | Or():
            return f"({show(c)})"
        case _:
            return show(c)
