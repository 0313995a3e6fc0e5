"""A stratum's rules as ONE generated Python function, for runs that evaluate many accounts.

The reference engine's closures (reference.py: `compile_stratum`, `fires_of`, `compile_fires`,
`compile_cond`) are the definition. They cost a Python call per node: per account of a CRM
export ≈ 85 shared tests, ≈ 70 conditions and their Kleene junctions, each a closure call. Here
the same steps are written out as straight-line source text, compiled once per Program, the way
dataclasses and attrs generate `__init__`: the shared tests, each rule's guards and the rest of its
condition, the Kleene and/or steps, comparisons, facts, constants and arithmetic inline; a
function, an aggregate, and a value of an unexpected type in a "fact against a constant" test
call the very closure the closure engine would call.

Nothing from a rulebook is ever written into the source. Fact names, constants, the comparisons
handed to the bounds — every value the rulebook chooses — reach the function as closure cells
`k0`, `k1`, … bound from a tuple; an operator picks one of the fixed spellings of `_OPS` and
`_ARITH`; rule ids never reach the generator (a stratum's function answers with indexes). The
text holds only names and whole numbers made here, no string literal (tests/test_generate.py
feeds hostile names and constants and checks the text), and it runs with no builtins: `float`,
`str`, `type`, `compare`, `_tidy` and `Exception` are names of its own namespace. This is `exec`
of our own text, not `eval` of anybody's.

Generating and compiling the course's ≈ 210 rules costs ≈ 300 M instructions (≈ 0.1 s): worth it
for a portfolio's worker, never for one `advise`. ReferenceBackend.run generates a Program after
GENERATE_AFTER accounts of it (engine/backends.py).
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Callable, Optional, Sequence

from kamrules.engine.reference import (
    BOUNDS,
    Env,
    _compile_cmp,
    _tidy,
    _never,
    compare,
    compile_cond,
    compile_fires,
    compile_term,
    split_guards,
)
from kamrules.language import ir

# (the indexes of the rules that fired, in order; the index of the rule that raised or -1; the exception)
StratumFn = Callable[[Env, _dt.date], tuple[list[int], int, Optional[BaseException]]]

# The only operator spellings the source ever holds: the rulebook's operator is a key here.
_OPS = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ARITH = {"+": "+", "-": "-", "*": "*"}  # and "/", written with its test of a zero divisor

# Deeper conditions call their closure instead (the source stays far from Python's nesting limits).
_MAX_DEPTH = 12
_MAX_GUARDS = 24


class _Source:
    """The text of one stratum function and the values its cells hold."""

    def __init__(self, ask: Callable[[ir.Cmp], Any] | None = None, key: Callable[[ir.Cmp], int] | None = None) -> None:
        self.ask = ask  # a comparison → its generated question (engine/boundsgen.py), or None
        self.key = key  # a comparison → the key its decision is remembered under (Bounds._decided), or None
        self.memo = False  # whether the text reads the account's remembered decisions (D)
        self.values: list[Any] = []
        self._cells: dict[Any, str] = {}
        self.lines: list[str] = []
        self.temps = 0

    def cell(self, value: Any) -> str:
        """The name of a cell holding `value`: one per text (fact names recur) and per object
        otherwise (a comparison handed to the bounds twice; `values` keeps it alive)."""
        key: Any = value if type(value) is str else id(value)
        name = self._cells.get(key)
        if name is None:
            self.values.append(value)
            name = self._cells[key] = f"k{len(self.values) - 1}"
        return name

    def temp(self) -> str:
        self.temps += 1
        return f"v{self.temps}"

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def decide(self, c: ir.Cmp) -> str:
        """`B.decide(c)`, or the call of its generated question when there is one (the same answer,
        without Bounds.decide's look-up of the comparison and the closures' calls)."""
        question = None if self.ask is None else self.ask(c)
        if question is None:
            return f"B.decide({self.cell(c)})"
        k = -1 if self.key is None else self.key(c)
        if k < 0:
            return f"{self.cell(question)}(B)"
        # a question's first step, without its call: most answers are remembered (engine/undecided.py
        # pre-fills those an account's presence pattern cannot decide)
        self.memo = True
        return f"(D[{int(k)}] if {int(k)} in D else {self.cell(question)}(B))"


def _const_test(c: ir.Cmp) -> tuple[str, Any] | None:
    """(fact name, constant) when `c` is a fact, metric or resolved value against a text or number
    constant: the comparisons reference._compile_cmp tests in one step (`fact_vs_const`)."""
    left, right = c.left, c.right
    if type(left) is not ir.Ref or left.kind == "item" or type(right) is not ir.Const:
        return None
    value = right.value
    if value is None or isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return left.name, value


def _emit_fact_vs_const(src: _Source, depth: int, target: str, c: ir.Cmp, name: str, right: Any,
                        bounded: bool | None) -> None:
    """`target = ` _compile_cmp(c, bounded)(env, as_of, None) (bounded True or False), or
    `_holds_plain(c)`'s answer (None: True when the test holds, else False). The two usual cases
    are written out — the value has the constant's type (one test), or it is missing (unknown,
    unless the bounds decide it) —; any other (an int against a number, a boolean, another type)
    calls the closure itself, which decides it as `compare` does."""
    numeric = not isinstance(right, str)
    a = src.temp()
    src.emit(depth, f"{a} = g({src.cell(name)})")
    src.emit(depth, f"if T({a}) is {'F' if numeric else 'S'}:")
    src.emit(depth + 1, f"{target} = {a} {_OPS[c.op]} {src.cell(float(right) if numeric else right)}")
    src.emit(depth, f"elif {a} is None:")
    if bounded is None:
        src.emit(depth + 1, f"{target} = False")
    elif bounded:
        src.emit(depth + 1, f"{target} = None if B is None else {src.decide(c)}")
    else:
        src.emit(depth + 1, f"{target} = None")
    src.emit(depth, "else:")
    closure = src.cell(_compile_cmp(c, bool(bounded)))
    src.emit(depth + 1, f"{target} = {closure}(env, as_of, None){' is True' if bounded is None else ''}")


def _emit_term(src: _Source, depth: int, target: str, t: ir.Term, level: int = 0) -> None:
    """`target = compile_term(t)(env, as_of, None)`: a constant, a fact or metric and arithmetic
    written out; a function, an aggregate or an item's field call the closure engine's own step."""
    match t:
        case ir.Const():
            src.emit(depth, f"{target} = {src.cell(t.value)}")
        case ir.Ref() if t.kind != "item":
            src.emit(depth, f"{target} = g({src.cell(t.name)})")
        case ir.Arith() if level < _MAX_DEPTH:
            # reference.compile_term's arith: the right side only when the left is known
            a, b = src.temp(), src.temp()
            _emit_term(src, depth, a, t.left, level + 1)
            src.emit(depth, f"if {a} is None:")
            src.emit(depth + 1, f"{target} = None")
            src.emit(depth, "else:")
            _emit_term(src, depth + 1, b, t.right, level + 1)
            src.emit(depth + 1, f"if {b} is None:")
            src.emit(depth + 2, f"{target} = None")
            src.emit(depth + 1, "else:")
            src.emit(depth + 2, f"{a} = F({a})")
            src.emit(depth + 2, f"{b} = F({b})")
            if t.op == "/":
                src.emit(depth + 2, f"{target} = None if {b} == 0 else TD({a} / {b})")
            else:
                src.emit(depth + 2, f"{target} = TD({a} {_ARITH[t.op]} {b})")
        case _:
            src.emit(depth, f"{target} = {src.cell(compile_term(t))}(env, as_of, None)")


def _emit_cmp(src: _Source, depth: int, target: str, c: ir.Cmp, bounded: bool) -> None:
    """`target = _compile_cmp(c, bounded)(env, as_of, None)` for a comparison that is not a fact
    against a constant: both sides computed, then `compare` — after the one-step test when the
    right side is a text or number constant and the left has its type —, and the bounds asked
    when it is unknown and they may decide it."""
    right = c.right.value if type(c.right) is ir.Const else None
    a = src.temp()
    _emit_term(src, depth, a, c.left)
    op = src.cell(c.op)
    inner = depth
    if right is not None and not isinstance(right, bool) and isinstance(right, (str, int, float)):
        numeric = not isinstance(right, str)
        src.emit(depth, f"if T({a}) is {'F' if numeric else 'S'}:")
        src.emit(depth + 1, f"{target} = {a} {_OPS[c.op]} {src.cell(float(right) if numeric else right)}")
        src.emit(depth, "else:")
        inner = depth + 1
        src.emit(inner, f"{target} = C({op}, {a}, {src.cell(right)})")
    else:
        b = src.temp()
        _emit_term(src, depth, b, c.right)
        src.emit(depth, f"{target} = C({op}, {a}, {b})")
    if bounded:
        src.emit(inner, f"if {target} is None and B is not None:")
        src.emit(inner + 1, f"{target} = {src.decide(c)}")


def _emit_cond(src: _Source, depth: int, target: str, c: ir.Cond, may_bound: Callable[[ir.Cmp], bool],
               level: int = 0) -> None:
    """`target = compile_cond(c, may_bound)(env, as_of, None)`, written out (True, False or None)."""
    if level >= _MAX_DEPTH:
        src.emit(depth, f"{target} = {src.cell(compile_cond(c, may_bound))}(env, as_of, None)")
        return
    match c:
        case ir.Cmp():
            bounded = may_bound(c)
            plain = _const_test(c)
            if plain is not None:
                _emit_fact_vs_const(src, depth, target, c, plain[0], plain[1], bounded)
            else:
                _emit_cmp(src, depth, target, c, bounded)
        case ir.Exists():
            ref = c.ref
            if ref.kind != "item":
                value = f"g({src.cell(ref.name)})"
            else:  # pragma: no cover - an item's field outside an aggregate does not check
                value = f"{src.cell(compile_term(ref))}(env, as_of, None)"
            src.emit(depth, f"{target} = {value} is {'not ' if c.positive else ''}None")
        case ir.And() | ir.Or():
            # reference._junction: parts in order until one is decisive; unknown if any was
            decisive = "True" if type(c) is ir.Or else "False"
            src.emit(depth, f"{target} = {'False' if decisive == 'True' else 'True'}")
            for n, part in enumerate(c.items):
                inner = depth
                if n:
                    src.emit(depth, f"if {target} is not {decisive}:")
                    inner = depth + 1
                v = src.temp()
                _emit_cond(src, inner, v, part, may_bound, level + 1)
                src.emit(inner, f"if {v} is {decisive}:")
                src.emit(inner + 1, f"{target} = {decisive}")
                src.emit(inner, f"elif {v} is None:")
                src.emit(inner + 1, f"{target} = None")
        case ir.Not():
            v = src.temp()
            _emit_cond(src, depth, v, c.item, may_bound, level + 1)
            src.emit(depth, f"{target} = None if {v} is None else not {v}")
        case ir.Truth():
            src.emit(depth, f"{target} = {src.cell(c.value)}")
        case _:
            ir.unknown(c)


def _emit_fires(src: _Source, depth: int, target: str, c: ir.Cond, may_bound: Callable[[ir.Cmp], bool]) -> None:
    """`target = compile_fires(c, may_bound)(env, as_of, None)` (a bool), written out: a junction
    is first evaluated without the bounds, and only its unknown parts the bounds may decide are
    then asked with them (see compile_fires)."""
    def boundable(x: ir.Cond) -> bool:
        return any(type(lit) is ir.Cmp and may_bound(lit) for lit in ir.literals(x))

    if not boundable(c) or type(c) not in (ir.And, ir.Or):
        v = src.temp()
        _emit_cond(src, depth, v, c, may_bound)
        src.emit(depth, f"{target} = {v} is True")
        return
    assert isinstance(c, (ir.And, ir.Or))
    is_and = type(c) is ir.And
    pending: list[tuple[str, ir.Cond]] = []
    src.emit(depth, f"{target} = {'True' if is_and else 'False'}")
    for n, part in enumerate(c.items):
        q = src.temp() if boundable(part) else ""  # whether the part is to be asked with the bounds
        if q:
            src.emit(depth, f"{q} = False")
            pending.append((q, part))
        inner = depth
        if n:  # all_hold stops at the first part that is not true; any_holds at the first true one
            src.emit(depth, f"if {target}:" if is_and else f"if not {target}:")
            inner = depth + 1
        v = src.temp()
        _emit_cond(src, inner, v, part, _never)
        if is_and:
            src.emit(inner, f"if {v} is not True:")
            if q:
                src.emit(inner + 1, f"if {v} is None:")
                src.emit(inner + 2, f"{q} = True")
                src.emit(inner + 1, "else:")
                src.emit(inner + 2, f"{target} = False")
            else:
                src.emit(inner + 1, f"{target} = False")
        else:
            src.emit(inner, f"if {v} is True:")
            src.emit(inner + 1, f"{target} = True")
            if q:
                src.emit(inner, f"elif {v} is None:")
                src.emit(inner + 1, f"{q} = True")
    if not pending:  # pragma: no cover - a boundable junction has a boundable part
        return
    any_pending = " or ".join(q for q, _ in pending)
    if is_and:
        src.emit(depth, f"if {target} and ({any_pending}):")
        src.emit(depth + 1, "if not H:")
        src.emit(depth + 2, f"{target} = False")
        for q, part in pending:
            src.emit(depth + 1, f"if {target} and {q}:")
            v = src.temp()
            _emit_cond(src, depth + 2, v, part, may_bound)
            src.emit(depth + 2, f"if {v} is not True:")
            src.emit(depth + 3, f"{target} = False")
    else:
        src.emit(depth, f"if not {target} and H and ({any_pending}):")
        for q, part in pending:
            src.emit(depth + 1, f"if not {target} and {q}:")
            v = src.temp()
            _emit_cond(src, depth + 2, v, part, may_bound)
            src.emit(depth + 2, f"if {v} is True:")
            src.emit(depth + 3, f"{target} = True")


def generate_stratum(conds: Sequence[ir.Cond], may_bound: Callable[[ir.Cmp], bool],
                     ask: Callable[[ir.Cmp], Any] | None = None,
                     key: Callable[[ir.Cmp], int] | None = None) -> tuple[str, StratumFn]:
    """(source text, function) for a stratum's conditions: `function(env, as_of)` →
    (the indexes of the conditions that fire, in order — `fires_of` for each —, and, when one
    raised, its index and the exception; else -1 and None). The conditions are evaluated in
    order and the first that raises ends the stratum, as in ReferenceBackend.run. `ask(c)`: the
    generated question of a comparison handed to the bounds (boundsgen.generate_questions), called
    with the account's Bounds instead of `B.decide(c)`; None (or no `ask`) for `B.decide(c)`.
    `key(c)`: the key a question remembers its decision under (BoundsTable._decider_entry), read
    by the text before calling the question."""
    src = _Source(ask, key)
    index: dict[ir.Cmp, str] = {}  # a shared test → its memo variable (compile_stratum's tests)
    sure: set[str] = set()  # memo variables surely computed at this point of the straight line
    lazy: list[str] = []  # memo variables computed where they are first needed: None until then
    for i, c in enumerate(conds):
        src.emit(2, f"r = {i}")
        tests, rest = split_guards(c, may_bound)
        guards: list[tuple[str, ir.Cmp]] = []
        for p in tests:
            m = index.get(p)
            if m is None:
                m = index[p] = f"m{len(index)}"
            guards.append((m, p))
        depth = 2
        for n, (m, test) in enumerate(guards):
            if n >= _MAX_GUARDS:  # pragma: no cover - no rule has this many; keeps the nesting bounded
                rest = [*(t for _, t in guards[n:]), *rest]
                break
            if m not in sure:
                inner = depth
                if n or m in lazy:  # may not be reached, or was already asked on some path
                    if m not in lazy:
                        lazy.append(m)
                    src.emit(depth, f"if {m} is None:")
                    inner = depth + 1
                plain = _const_test(test)
                if plain is not None:
                    _emit_fact_vs_const(src, inner, m, test, plain[0], plain[1], None)
                else:  # _holds_plain's fallback (a boolean or other constant)
                    src.emit(inner, f"{m} = {src.cell(_compile_cmp(test, False))}(env, as_of, None) is True")
                if not n:  # the first guard of a rule is always asked: known from here on
                    sure.add(m)
            src.emit(depth, f"if {m}:")
            depth += 1
        if not guards:
            _emit_fires(src, depth, "f", c, may_bound)
            src.emit(depth, "if f:")
            src.emit(depth + 1, f"out.append({i})")
        elif not rest:
            src.emit(depth, f"out.append({i})")
        else:
            _emit_fires(src, depth, "f", rest[0] if len(rest) == 1 else ir.And(tuple(rest)), may_bound)
            src.emit(depth, "if f:")
            src.emit(depth + 1, f"out.append({i})")
    head = ["def make(K):"]
    if src.values:
        head.append(f"    {', '.join(f'k{n}' for n in range(len(src.values)))}, = K")
    head += ["    def stratum(env, as_of):",
             "        g = env.get",
             "        H = KB in env",
             "        B = g(KB)",
             *(["        D = None if B is None else B._decided"] if src.memo else []),
             "        out = []",
             "        r = -1"]
    head += [f"        {m} = None" for m in lazy]
    head.append("        try:")
    tail = ["            pass",
            "        except X as e:",
            "            return out, r, e",
            "        return out, -1, None",
            "    return stratum"]
    text = "\n".join([*head, *("    " + line for line in src.lines), *tail]) + "\n"
    # no builtins: what the text uses is named here
    namespace: dict[str, Any] = {"__builtins__": {}, "F": float, "S": str, "T": type, "C": compare,
                                 "X": Exception, "KB": BOUNDS, "TD": _tidy}
    exec(compile(text, "<kamrules stratum>", "exec"), namespace)  # noqa: S102 - the text is ours alone (docstring)
    make = namespace["make"]
    return text, make(tuple(src.values))


def generate_program(strata: Sequence[Sequence[ir.Cond]], may_bound: Callable[[ir.Cmp], bool],
                     ask: Callable[[ir.Cmp], Any] | None = None,
                     key: Callable[[ir.Cmp], int] | None = None) -> tuple[StratumFn, ...]:
    return tuple(generate_stratum(conds, may_bound, ask, key)[1] for conds in strata)
