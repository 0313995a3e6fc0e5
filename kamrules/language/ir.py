"""The small typed intermediate form that both backends consume.

Terms compute values; conditions compute truth. Parameters are folded into constants that
remember their parameter name (for explanations). Everything is frozen and hashable so the
compiler can share synthetic terms between rules.

The node classes are a closed set: each is `@final`, and `Term` / `Cond` / `Node` name every
one of them. A walk over the IR is one `match` on the node classes ending in
`case _: unknown(node)`, so mypy proves the walk handles every class (a missing case is a type
error at `unknown`) and an object that is not an IR node fails loudly at run time. Walks that
only gather something from the sub-nodes use `children()`, the one place that lists them.

Cases match the bare class (`case Cmp():`, then `node.left`), with a guard where a field
decides: on CPython 3.11 a class pattern with sub-patterns (`Cmp(op, left, right)`,
`Ref(kind="item")`) costs about three isinstance checks per case, measured, and these walks
run for every rule of every account.
"""
from __future__ import annotations

from typing import Any, Iterator, NoReturn, Union, final

from kamrules.core.record import record

NUMERIC = frozenset({"number", "integer", "money", "percent"})


@final
@record
class Const:
    value: Any
    type: str
    param: str = ""  # parameter name when the constant came from params.*


@final
@record
class Ref:
    name: str
    type: str
    kind: str  # fact | metric | derived | dimension | score | item
    values: tuple[str, ...] = ()  # enum / dimension values


@final
@record
class Arith:
    op: str  # + - * /
    left: Term
    right: Term
    type: str


@final
@record
class Fn:
    name: str  # days_since | abs | min | max
    args: tuple[Term, ...]
    type: str


@final
@record
class Agg:
    func: str  # count | any | all (body: a Cond, or None for count(list)) | sum | max | min (body: a Term)
    list: Ref
    body: Term | Cond | None
    type: str


@final
@record
class Cmp:
    op: str  # == != < <= > >=
    left: Term
    right: Term


@final
@record
class Exists:
    ref: Ref
    positive: bool = True


@final
@record
class And:
    items: tuple[Cond, ...]


@final
@record
class Or:
    items: tuple[Cond, ...]


@final
@record
class Not:
    item: Cond


@final
@record
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
    match node:  # the commonest inner nodes first
        case Cmp() | Arith():
            return (node.left, node.right)
        case And() | Or():
            return node.items
        case Not():
            return (node.item,)
        case Fn():
            return node.args
        case Agg():
            return (node.list,) if node.body is None else (node.list, node.body)
        case Exists():
            return (node.ref,)
        case Const() | Ref() | Truth():
            return ()
        case _:
            unknown(node)


NEGATE = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
FLIP = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


def param_of(node: Node) -> str:
    """The parameter a constant came from ('' for anything else)."""
    match node:
        case Const():
            return node.param
        case _:
            return ""


def refs(node: Node) -> Iterator[Ref]:
    """Every Ref the node reads (item refs inside aggregates excluded; the list itself included)."""
    out: list[Ref] = []
    _refs(node, out)
    return iter(out)


def _refs(node: Node, out: list[Ref]) -> None:
    # into a list rather than through nested generators: this runs for every literal traced.
    # The commonest nodes by exact type first (an `is` each, where each class pattern below is an
    # isinstance): stratifying the course walks ~2,500 nodes, 13.6 M instructions with the class
    # patterns alone (callgrind). Anything else, a subclass included, goes to the match.
    kind = type(node)
    if kind is Cmp or kind is Arith:
        _refs(node.left, out)  # type: ignore[union-attr]
        _refs(node.right, out)  # type: ignore[union-attr]
        return
    if kind is Ref:
        if node.kind != "item":  # type: ignore[union-attr]
            out.append(node)  # type: ignore[arg-type]
        return
    if kind is Const or kind is Truth:
        return
    if kind is And or kind is Or:
        for item in node.items:  # type: ignore[union-attr]
            _refs(item, out)
        return
    match node:
        case Ref():
            if node.kind != "item":
                out.append(node)
        case Agg():
            out.append(node.list)  # the body reads the list's items, not the account
        case Exists():
            out.append(node.ref)
        case _:
            for child in children(node):
                _refs(child, out)


def params(node: Node) -> Iterator[str]:
    """The parameter names the node uses (aggregate bodies included)."""
    out: list[str] = []
    _params(node, out)
    return iter(out)


def _params(node: Node, out: list[str]) -> None:
    match node:
        case Const():
            if node.param:
                out.append(node.param)
        case _:
            for child in children(node):
                _params(child, out)


def nnf(c: Cond, negate: bool = False) -> Cond:
    """Negation normal form: `not` pushed onto comparisons and exists, which then flip.

    Under Kleene logic with 'comparison on a missing value is unknown', NNF preserves the
    truth value, and a literal is false whenever it is unknown — which is exactly how
    durable_rules treats a missing property.
    """
    match c:
        case Not():
            return nnf(c.item, not negate)
        case And():
            parts = tuple(nnf(i, negate) for i in c.items)
            return Or(parts) if negate else And(parts)
        case Or():
            parts = tuple(nnf(i, negate) for i in c.items)
            return And(parts) if negate else Or(parts)
        case Cmp():
            return Cmp(NEGATE[c.op], c.left, c.right) if negate else c
        case Exists():
            return Exists(c.ref, c.positive != negate)
        case Truth():
            return Truth(c.value != negate)
        case _:
            unknown(c)


def literals(c: Cond) -> Iterator[Cond]:
    """The comparisons, exists and constants under the and / or / not of a condition."""
    match c:
        case And() | Or():
            for i in c.items:
                yield from literals(i)
        case Not():
            yield from literals(c.item)
        case Cmp() | Exists() | Truth():
            yield c
        case _:
            unknown(c)


def show(node: Node) -> str:
    """Readable text of an IR node (for explanations and lint)."""
    match node:
        case Const():
            value = node.value
            if node.param:
                return f"params.{node.param}"
            if isinstance(value, str):
                return value
            if node.type == "percent":
                from kamrules.core.values import format_percent

                return format_percent(value)
            if isinstance(value, bool):
                return "true" if value else "false"
            return f"{value:g}" if isinstance(value, float) else str(value)
        case Ref():
            return node.name
        case Arith():
            return f"({show(node.left)} {node.op} {show(node.right)})"
        case Fn():
            return f"{node.name}({', '.join(show(a) for a in node.args)})"
        case Agg():
            body = f", {show(node.body)}" if node.body is not None else ""
            return f"{node.func}({node.list.name}{body})"
        case Cmp():
            return f"{show(node.left)} {node.op} {show(node.right)}"
        case Exists():
            return f"{'exists' if node.positive else 'missing'}({node.ref.name})"
        case And():
            return " and ".join(_paren(i) for i in node.items)
        case Or():
            return " or ".join(_paren(i) for i in node.items)
        case Not():
            return f"not {_paren(node.item)}"
        case Truth():
            return "true" if node.value else "false"
        case _:
            unknown(node)


def _paren(c: Cond) -> str:
    match c:
        case And() | Or():
            return f"({show(c)})"
        case _:
            return show(c)
