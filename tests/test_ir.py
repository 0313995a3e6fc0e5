"""The IR is a closed set of node classes, walked by exhaustive matches: every class is named by
the unions, `children` lists every class's sub-nodes, a walk rejects what is not a node, and
mypy rejects a walk that forgets a class."""
from __future__ import annotations

import dataclasses
import datetime as _dt
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import get_args

import pytest

from kamrules.engine import reference
from kamrules.language import ir

ROOT = Path(__file__).resolve().parent.parent

X = ir.Ref("revenue", "money", "fact")
P = ir.Const(0.15, "percent", param="max_discount")
ITEMS = ir.Ref("contacts", "list", "fact")
IT = ir.Ref("rating", "integer", "item")
CMP = ir.Cmp(">", X, P)
BODY = ir.Cmp(">", IT, ir.Const(3, "number", param="min_rating"))

# one example of every node class, with its children in order
EXAMPLES: list[tuple[ir.Node, tuple[ir.Node, ...]]] = [
    (P, ()),
    (X, ()),
    (ir.Arith("*", X, P, "money"), (X, P)),
    (ir.Fn("max", (X, P), "number"), (X, P)),
    (ir.Agg("count", ITEMS, BODY, "integer"), (ITEMS, BODY)),
    (ir.Agg("count", ITEMS, None, "integer"), (ITEMS,)),
    (CMP, (X, P)),
    (ir.Exists(X), (X,)),
    (ir.And((CMP, ir.Truth(True))), (CMP, ir.Truth(True))),
    (ir.Or((CMP, ir.Exists(X))), (CMP, ir.Exists(X))),
    (ir.Not(CMP), (CMP,)),
    (ir.Truth(False), ()),
]


def test_the_unions_name_every_node_class() -> None:
    defined = {c for _, c in inspect.getmembers(ir, inspect.isclass)
               if c.__module__ == ir.__name__ and dataclasses.is_dataclass(c)}
    assert set(get_args(ir.Node)) == defined
    assert set(get_args(ir.Term)) | set(get_args(ir.Cond)) == defined
    assert {type(node) for node, _ in EXAMPLES} == defined


@pytest.mark.parametrize("node, kids", EXAMPLES, ids=lambda x: type(x).__name__ if not isinstance(x, tuple) else "")
def test_children_lists_the_sub_nodes_in_order(node: ir.Node, kids: tuple[ir.Node, ...]) -> None:
    assert ir.children(node) == kids


def test_refs_and_params_walk_through_children() -> None:
    cond = ir.And((CMP, ir.Cmp(">", ir.Agg("count", ITEMS, BODY, "integer"), ir.Const(1, "number")),
                   ir.Not(ir.Exists(ir.Ref("owner", "string", "fact")))))
    # the aggregate's list is read; its body reads items, not the account
    assert [r.name for r in ir.refs(cond)] == ["revenue", "contacts", "owner"]
    # parameters are found everywhere, aggregate bodies included
    assert list(ir.params(cond)) == ["max_discount", "min_rating"]


class Stranger:
    """Not an IR node (a subclass of one cannot exist: the node classes are @final)."""


@pytest.mark.parametrize("walk", [
    ir.children, ir.show, lambda n: list(ir.refs(n)), lambda n: list(ir.params(n)), ir.nnf,
    lambda n: list(ir.literals(n)), reference.compile_term, reference.compile_cond,
    lambda n: reference.eval_term(n, reference.Context({}, _dt.date(2026, 1, 1))),
    lambda n: reference.eval_cond(n, reference.Context({}, _dt.date(2026, 1, 1))),
])
def test_a_walk_rejects_what_is_not_a_node(walk: object) -> None:
    with pytest.raises(TypeError, match="not an IR node"):
        walk(Stranger())  # type: ignore[operator]


def test_mypy_rejects_a_walk_that_forgets_a_class(tmp_path: Path) -> None:
    src = tmp_path / "walk.py"
    src.write_text(textwrap.dedent("""
        from kamrules.language import ir

        def depth(c: ir.Cond) -> int:
            match c:
                case ir.And() | ir.Or():
                    return 1 + max(depth(i) for i in c.items)
                case ir.Not():
                    return 1 + depth(c.item)
                case ir.Cmp() | ir.Exists():
                    return 0
                case _:
                    ir.unknown(c)  # Truth is missing
    """), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(src)], cwd=str(ROOT),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'incompatible type "Truth"' in proc.stdout, proc.stdout
    src.write_text(src.read_text(encoding="utf-8").replace("ir.Cmp() | ir.Exists()", "ir.Cmp() | ir.Exists() | ir.Truth()"),
                   encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(src)], cwd=str(ROOT),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
