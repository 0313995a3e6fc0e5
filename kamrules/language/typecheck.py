"""Syntax tree → typed IR, checked against the declared names of the effective rulebook.

Errors carry the offset in the expression, so loaders can report file:line:col, and end
with a hint: the nearest declared name, the allowed enum values, or the right operator.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import field
from typing import Any, Mapping

from kamrules.core.errors import suggest
from kamrules.core.values import NUMERIC_TYPES, ValueProblem, parse_date
from kamrules.core.record import dataclass
from kamrules.language import ir
from kamrules.language import parser as ast
from kamrules.language.parser import ParseError

COMPARISONS = frozenset(ir.NEGATE)  # == != < <= > >=

FUNCTIONS = {
    "exists": "exists(x): true when x has a value",
    "missing": "missing(x): true when x has no value",
    "days_since": "days_since(date): days from the date to the evaluation date",
    "abs": "abs(x)",
    "min": "min(a, b) or min(list, item expression)",
    "max": "max(a, b) or max(list, item expression)",
    "count": "count(list) or count(list, item condition)",
    "any": "any(list, item condition)",
    "all": "all(list, item condition)",
    "sum": "sum(list, item expression)",
}


@dataclass
class Scope:
    names: Mapping[str, ir.Ref]
    params: Mapping[str, tuple[str, Any]]  # name → (type, value)
    list_items: Mapping[str, Mapping[str, ir.Ref]] = field(default_factory=dict)  # list → field refs
    list_scalar: Mapping[str, str] = field(default_factory=dict)  # list → item scalar type
    item: Mapping[str, ir.Ref] | None = None  # inside an aggregate body


def _err(msg: str, node: Any, hint: str = "") -> ParseError:
    return ParseError(msg, getattr(node, "pos", 0), hint)


class Checker:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    # -- names
    def name(self, node: ast.Name) -> ir.Term:
        parts = node.parts
        dotted = node.dotted
        if "__" in dotted and any(p.startswith("__") for p in parts):  # (a "__" part has "__" in it)
            raise _err(f"'{dotted}' is not available", node, "names starting with '__' never are")
        if parts[0] == "params":
            if len(parts) != 2:
                raise _err(f"'{dotted}' is not a parameter", node, "write params.<name>")
            if parts[1] not in self.scope.params:
                raise _err(f"unknown parameter '{parts[1]}'", node, suggest(parts[1], self.scope.params))
            type_, value = self.scope.params[parts[1]]
            return ir.Const(value, type_, param=parts[1])
        if self.scope.item is not None:
            if dotted in self.scope.item:
                return self.scope.item[dotted]
            raise _err(f"'{dotted}' is not a field of the list item", node,
                       suggest(dotted, self.scope.item) or "fields: " + ", ".join(sorted(self.scope.item)))
        if dotted in self.scope.names:
            return self.scope.names[dotted]
        for prefix in ("classification.", "score.", "scores."):
            if dotted.startswith(prefix) and dotted[len(prefix):] in self.scope.names:
                return self.scope.names[dotted[len(prefix):]]
        raise _err(f"unknown name '{dotted}'", node, suggest(dotted, self.scope.names) or
                   "declare it under facts:, metrics: or derived:, or use params.<name>")

    # -- terms
    def term(self, node: ast.Node) -> ir.Term:
        if type(node) is ast.Name:  # the commonest term first, by exact type (an isinstance is a call)
            return self.name(node)
        if isinstance(node, ast.Num):
            return ir.Const(node.value, "percent" if node.text.endswith("%") else "number")
        if isinstance(node, ast.Str):
            return ir.Const(node.value, "string")
        if isinstance(node, ast.BoolLit):
            return ir.Const(node.value, "bool")
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Unary) and node.op == "-":
            inner = self.term(node.operand)
            self.numeric(inner, node.operand)
            match inner:
                case ir.Const() if not inner.param:
                    return ir.Const(-inner.value, inner.type)
                case _:
                    return ir.Arith("-", ir.Const(0.0, "number"), inner, inner.type)
        if isinstance(node, ast.Binary) and node.op in "+-*/":
            left, right = self.term(node.left), self.term(node.right)
            self.numeric(left, node.left)
            self.numeric(right, node.right)
            return ir.Arith(node.op, left, right, _arith_type(node.op, left.type, right.type))
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.ListLit):
            raise _err("a list can only stand after 'in'", node, "write x in [a, b]")
        if isinstance(node, (ast.Binary, ast.Unary)):
            # a condition used as a value: only booleans can be, via == true
            return ir.Const(None, "cond")  # replaced below by callers; never reaches backends
        raise _err("not a value", node)  # pragma: no cover

    def numeric(self, t: ir.Term, node: Any) -> None:
        if t.type not in NUMERIC_TYPES and t.type != "number":
            raise _err(f"'{ir.show(t)}' is {t.type}, not a number", node,
                       "arithmetic works on numbers, money and percents only")

    def call(self, node: ast.Call) -> ir.Term:
        f, args = node.func, node.args
        if f not in FUNCTIONS:
            raise _err(f"unknown function '{f}'", node,
                       (suggest(f, FUNCTIONS) + " " if suggest(f, FUNCTIONS) else "") +
                       "available: " + ", ".join(sorted(FUNCTIONS)))
        if f in ("exists", "missing"):
            raise _err(f"{f}(…) is a condition, not a value", node, f"use it on its own: {f}(x) and …")
        if f == "days_since":
            self.arity(node, 1)
            t = self.term(args[0])
            if t.type != "date":
                raise _err(f"days_since needs a date, got {t.type}", args[0])
            return ir.Fn("days_since", (t,), "integer")
        if f == "abs":
            self.arity(node, 1)
            t = self.term(args[0])
            self.numeric(t, args[0])
            return ir.Fn("abs", (t,), t.type)
        first = args[0] if args else None
        is_list = isinstance(first, ast.Name) and (first.dotted in self.scope.list_items or first.dotted in self.scope.list_scalar)
        if f in ("min", "max") and not is_list:
            self.arity(node, 2)
            a, b = self.term(args[0]), self.term(args[1])
            self.numeric(a, args[0])
            self.numeric(b, args[1])
            return ir.Fn(f, (a, b), a.type if a.type == b.type else "number")
        # aggregates over a list fact
        if not is_list:
            raise _err(f"{f}(…) needs a list fact as its first argument", first or node,
                       suggest(getattr(first, "dotted", ""), list(self.scope.list_items) + list(self.scope.list_scalar)))
        assert isinstance(first, ast.Name)
        lst = self.scope.names[first.dotted]
        if f == "count" and len(args) == 1:
            return ir.Agg("count", lst, None, "integer")
        self.arity(node, 2)
        if first.dotted in self.scope.list_items:
            item_scope = dict(self.scope.list_items[first.dotted])
        else:
            item_scope = {"it": ir.Ref("it", self.scope.list_scalar[first.dotted], "item")}
        inner = Checker(Scope(self.scope.names, self.scope.params, self.scope.list_items,
                              self.scope.list_scalar, item_scope))
        if f in ("count", "any", "all"):
            return ir.Agg(f, lst, inner.cond(args[1]), "integer" if f == "count" else "bool")
        body = inner.term(args[1])
        inner.numeric(body, args[1])
        return ir.Agg(f, lst, body, body.type)

    def arity(self, node: ast.Call, n: int) -> None:
        if len(node.args) != n:
            raise _err(f"{node.func} takes {n} argument{'s' if n > 1 else ''}, got {len(node.args)}", node,
                       FUNCTIONS[node.func])

    # -- conditions
    def cond(self, node: ast.Node) -> ir.Cond:
        if isinstance(node, ast.Binary) and node.op in ("and", "or"):
            flat: list[ir.Cond] = []
            for i in (self.cond(node.left), self.cond(node.right)):
                match i:  # a and (b and c) is one `and` of three
                    case ir.And() if node.op == "and":
                        flat.extend(i.items)
                    case ir.Or() if node.op == "or":
                        flat.extend(i.items)
                    case _:
                        flat.append(i)
            return ir.And(tuple(flat)) if node.op == "and" else ir.Or(tuple(flat))
        if isinstance(node, ast.Unary) and node.op == "not":
            return ir.Not(self.cond(node.operand))
        if isinstance(node, ast.Binary) and node.op in ("in", "not in"):
            return self.membership(node)
        if isinstance(node, ast.Binary) and node.op in COMPARISONS:
            return self.compare(node)
        if isinstance(node, ast.Call) and node.func in ("exists", "missing"):
            if len(node.args) != 1 or not isinstance(node.args[0], ast.Name):
                raise _err(f"{node.func} takes one name", node, f"write {node.func}(gross_margin)")
            match self.name(node.args[0]):
                case ir.Ref() as ref:
                    return ir.Exists(ref, node.func == "exists")
                case _:
                    raise _err(f"{node.func} needs a fact, not a parameter", node.args[0])
        if isinstance(node, ast.BoolLit):
            return ir.Truth(node.value)
        t = self.term(node)
        if t.type == "bool":
            return ir.Cmp("==", t, ir.Const(True, "bool"))
        raise _err(f"'{ir.show(t)}' is {t.type}, not a condition", node,
                   "compare it: e.g. revenue > 1000000")

    def operand(self, node: ast.Node, other: ir.Term | None) -> ir.Term:
        """A comparison side; a bare word next to an enum is one of its values."""
        if isinstance(node, ast.Name) and len(node.parts) == 1 and other is not None and other.type == "enum":
            word = node.parts[0]
            allowed: tuple[str, ...] = getattr(other, "values", ())
            if word in allowed:
                return ir.Const(word, "enum")
            if self.scope.item is not None and word in self.scope.item or word in self.scope.names:
                return self.term(node)
            raise _err(f"'{word}' is not a value of {ir.show(other)}", node,
                       suggest(word, allowed) or "allowed: " + ", ".join(allowed))
        return self.term(node)

    def compare(self, node: ast.Binary) -> ir.Cond:
        left_is_word = isinstance(node.left, ast.Name) and len(node.left.parts) == 1
        if left_is_word and not isinstance(node.right, ast.Name):
            right = self.term(node.right)
            left = self.operand(node.left, right)
        else:
            left = self.term(node.left)
            right = self.enum_word(left, self.operand(node.right, left), node.right)
        left, right = self.unify(left, right, node)
        if node.op not in ("==", "!=") and left.type in ("enum", "string", "bool"):
            raise _err(f"'{node.op}' cannot compare {left.type} values", node,
                       "use == / != or 'in [...]'")
        return ir.Cmp(node.op, left, right)

    def enum_word(self, left: ir.Term, right: ir.Term, node: ast.Node) -> ir.Term:
        """A string compared with an enum must be one of its values: it becomes that value."""
        if left.type != "enum" or right.type != "string":
            return right  # (the case's guard, asked first: most comparisons; a match of two classes costs more)
        match left, right:
            case ir.Ref(), ir.Const() if left.type == "enum" and right.type == "string":
                if right.value not in left.values:
                    raise _err(f"'{right.value}' is not a value of {ir.show(left)}", node,
                               suggest(str(right.value), left.values) or "allowed: " + ", ".join(left.values))
                return ir.Const(right.value, "enum")
            case _:
                return right

    def unify(self, left: ir.Term, right: ir.Term, node: ast.Binary) -> tuple[ir.Term, ir.Term]:
        lt, rt = left.type, right.type
        if lt == "date" or rt == "date":  # (both cases' guards need a date: most comparisons skip the match)
            match left, right:
                case _, ir.Const() if lt == "date" and rt == "string":
                    return left, ir.Const(self.date(right.value, node.right), "date")
                case ir.Const(), _ if rt == "date" and lt == "string":
                    return ir.Const(self.date(left.value, node.left), "date"), right
        if lt in NUMERIC_TYPES and rt in NUMERIC_TYPES:
            if {lt, rt} == {"money", "percent"}:
                raise _err(f"'{ir.show(left)}' ({lt}) is compared with '{ir.show(right)}' ({rt})", node,
                           "a money amount compared with a percent is almost always a mistake")
            return left, right
        if lt == "enum" and rt == "enum":
            match left, right:
                case ir.Ref(), ir.Ref() if set(left.values) != set(right.values):
                    raise _err(f"'{left.name}' and '{right.name}' have different values", node)
            return left, right
        if lt == rt:
            return left, right
        if "string" in (lt, rt) and "enum" in (lt, rt):
            return left, right
        raise _err(f"cannot compare '{ir.show(left)}' ({lt}) with '{ir.show(right)}' ({rt})", node,
                   _type_hint(lt, rt))

    def date(self, value: Any, node: Any) -> _dt.date:
        try:
            return parse_date(value)
        except ValueProblem as e:
            raise _err(e.message, node, "dates are written \"2026-03-01\"") from None

    def membership(self, node: ast.Binary) -> ir.Cond:
        left = self.term(node.left)
        if not isinstance(node.right, ast.ListLit):
            raise _err("'in' needs a list on its right", node.right, "write x in [a, b]")
        if not node.right.items:
            raise _err("the list after 'in' is empty", node.right)
        cmps: list[ir.Cond] = []
        negated = node.op == "not in"
        for item in node.right.items:
            right = self.enum_word(left, self.operand(item, left), item)
            left2, right = self.unify(left, right, node)
            cmps.append(ir.Cmp("!=" if negated else "==", left2, right))
        if len(cmps) == 1:
            return cmps[0]
        return ir.And(tuple(cmps)) if negated else ir.Or(tuple(cmps))


def _arith_type(op: str, lt: str, rt: str) -> str:
    if op in "+-":
        return lt if lt == rt else ("money" if "money" in (lt, rt) else "number")
    if op == "*":
        if "money" in (lt, rt):
            return "money"
        return "percent" if lt == rt == "percent" else "number"
    if lt == rt:
        return "number"  # a ratio
    return lt if rt in ("number", "integer") else "number"


def _type_hint(lt: str, rt: str) -> str:
    if "bool" in (lt, rt):
        return "booleans compare with true or false"
    if "date" in (lt, rt):
        return "compare dates with \"YYYY-MM-DD\" or use days_since(date) > 365"
    return "both sides must be of the same kind"


def check_condition(src: str, scope: Scope) -> ir.Cond:
    return Checker(scope).cond(ast.parse(src))


def check_term(src: str, scope: Scope) -> ir.Term:
    node = ast.parse(src)
    t = Checker(scope).term(node)
    if t.type == "cond":
        raise ParseError("expected a value, got a condition", 0)
    return t
