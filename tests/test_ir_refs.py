"""language/ir.refs takes the commonest nodes by exact type before its class patterns: every
Ref it lists, in order, must be what the plain walk over ir.children lists, for every condition
and score term of the course and for hand-made trees with every kind of node."""
from __future__ import annotations

from kamrules.language import ir
from kamrules.rulebook.load import load_rulebook


def plain_refs(node: ir.Node) -> list[ir.Ref]:
    if isinstance(node, ir.Ref):
        return [node] if node.kind != "item" else []
    if isinstance(node, ir.Agg):
        return [node.list]
    if isinstance(node, ir.Exists):
        return [node.ref]
    return [r for child in ir.children(node) for r in plain_refs(child)]


def test_every_course_condition_and_term() -> None:
    book = load_rulebook("course")
    nodes: list[ir.Node] = [r.cond for r in book.rules] + [t for r in book.rules for _, t in r.score_terms]
    nodes += [m.term for m in book.metrics.values()] + [i.cond for i in book.invariants]
    assert sum(len(plain_refs(n)) for n in nodes) > 300
    for n in nodes:
        assert list(ir.refs(n)) == plain_refs(n)


def test_every_kind_of_node() -> None:
    a = ir.Ref("a", "number", "fact")
    item = ir.Ref("x", "number", "item")
    lst = ir.Ref("l", "list", "fact")
    agg = ir.Agg("sum", lst, ir.Arith("+", item, a, "number"), "number")
    tree = ir.Or((ir.And((ir.Cmp(">", ir.Arith("*", a, ir.Const(2.0, "number"), "number"), ir.Fn("abs", (a,), "number")),
                          ir.Not(ir.Exists(ir.Ref("b", "string", "fact"), True)))),
                  ir.Cmp("==", agg, item), ir.Truth(True)))
    assert list(ir.refs(tree)) == plain_refs(tree) == [a, a, ir.Ref("b", "string", "fact"), lst]
