"""The bounds' questions for runs that evaluate many accounts: one function per comparison.

Bounds.decide answers a comparison through its compiled decider (engine/bounds.py): closures over
(lo, hi) pairs, a Python call per node of the comparison and of each missing metric's formula
(`arith_`, `ref`, `metric_ends`, …), after a look-up of the decider by the comparison's identity.
A generated stratum (engine/generate.py) knows which comparison it asks, so here each comparison
a Program's strata may hand to the bounds gets ONE function of the account's Bounds, its `question`,
which the stratum calls instead of `B.decide(c)`: the same answer, remembered in
`Bounds._decided` under the same key as Bounds.decide remembers it.

- `fact or metric <op> constant` (most of what an account asks; also a constant written as
  arithmetic, `0 - params.max_margin_decline`, computed now): a closure per operator, the
  constant's ends known now — its steps are few and flat, and text would save no call.
- every other comparison: generated text, the general decider's steps written out.
- each missing metric's interval: generated text, remembered in `Bounds._ivs` as
  Bounds.metric_ends remembers it: the account's values read inline (a point, a declared range,
  another metric's interval), arithmetic by bounds.ARITH — the very functions the closures call
  (the engine's float operations, `_tidy` at every end, None for a divisor that may be 0 or an
  overflow at a corner) —, integer metrics rounded. `abs`, `min`, `max`, `days_since` and
  aggregates call the closure bounds.py compiles for them.

The closures stay the definition: tests/test_boundsgen.py holds the questions to them and to
Bounds.decide_tree. As in generate.py, nothing from a rulebook is written into the source: fact and
metric names, constants and the declared ranges' ends reach it as closure cells `k0`, `k1`, …
bound from a tuple; an operator picks one of the fixed spellings below; the text holds only the
generator's own names and whole numbers (the decisions' keys), and it runs with no builtins.

Built with the strata (Program.generate, after backends.GENERATE_AFTER accounts): ≈ 43 M
instructions for the course (700 lines), so `advise` and a small portfolio never pay for it.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from kamrules.engine.bounds import _DECIDE_OPS, ARITH, Bounds, BoundsTable, Ends, _compile_ends, _ends_of, _point_ends
from kamrules.engine.generate import _Source
from kamrules.engine.reference import Truth3
from kamrules.language import ir
from kamrules.language.intervals import INF

# A comparison's question: Bounds.decide(c) for one account's Bounds.
Question = Callable[[Bounds], Truth3]
# A missing metric's interval: Bounds.metric_ends(name) for one account's Bounds.
MetricFn = Callable[[Bounds], "Ends | None"]


class _Text(_Source):
    """The text of the generated functions and the values its cells hold (generate._Source), with
    a float's cell shared by its repr (which tells −0.0 from 0.0): the same constant recurs across
    the questions as distinct objects."""

    def cell(self, value: Any) -> str:
        t = type(value)
        key: Any = (t, value) if t is str else (t, repr(value)) if t is float else (t, id(value))
        name = self._cells.get(key)
        if name is None:
            self.values.append(value)
            name = self._cells[key] = f"k{len(self.values) - 1}"
        return name


def _isinf(x: str) -> str:
    """math.isinf(x) for the float named x (NaN is not infinite)."""
    return f"({x} == PI or {x} == NI)"


# The names the text calls bounds.ARITH's functions by: the rulebook's operator is a key here.
_ARITH = {"+": "P", "-": "M", "*": "X", "/": "D"}


def _constant(t: ir.Term) -> bool:
    """Is the term arithmetic on constants alone?"""
    match t:
        case ir.Const():
            return True
        case ir.Arith():
            return _constant(t.left) and _constant(t.right)
        case _:
            return False


def _constant_ends(t: ir.Term) -> Ends | None:
    """_compile_ends(t) of a term _constant says is constant (its value for any account)."""
    if type(t) is ir.Arith:
        a, b = _constant_ends(t.left), _constant_ends(t.right)
        return None if a is None or b is None else ARITH[t.op](a[0], a[1], b[0], b[1])
    assert type(t) is ir.Const
    return _point_ends(t.value)


class _Ends:
    """Writes `Bounds.interval`'s compiled form (bounds._compile_ends) out as statements: the
    interval of a term in two local floats, or `fail` (None) as soon as a part has none."""

    def __init__(self, src: _Text, table: BoundsTable, metric_fn: Callable[[str], str]) -> None:
        self.src, self.table, self.metric_fn = src, table, metric_fn

    def term(self, depth: int, t: ir.Term, fail: list[str]) -> tuple[str, str]:
        src = self.src
        match t:
            case ir.Const():
                ends = _point_ends(t.value)
                if ends is None:
                    return self._none(depth, fail)
                return src.cell(ends[0]), src.cell(ends[1])
            case ir.Ref() if t.kind != "item":
                return self._ref(depth, t, fail)
            case ir.Arith() if _constant(t):
                # constants only (`0 - params.revenue_drop_alert`): the same for every account, so
                # computed now, by the function the text would call
                ends = _constant_ends(t)
                if ends is None:
                    return self._none(depth, fail)
                return src.cell(ends[0]), src.cell(ends[1])
            case ir.Arith():
                a0, a1 = self.term(depth, t.left, fail)
                b0, b1 = self.term(depth, t.right, fail)
                return self._arith(depth, t.op, (a0, a1), (b0, b1), fail)
            case ir.Ref() | ir.Fn() | ir.Agg():
                # an item outside an aggregate (None), abs / min / max / days_since and the
                # aggregates: the closure bounds.py compiles for them (rare in a formula)
                r = src.temp()
                src.emit(depth, f"{r} = {src.cell(_compile_ends(self.table, t, None))}(env, B)")
                return self._unpack(depth, r, fail)
            case _:
                ir.unknown(t)

    def _none(self, depth: int, fail: list[str]) -> tuple[str, str]:
        """A part that never has an interval: fail here (what follows is never reached)."""
        for line in fail:
            self.src.emit(depth, line)
        return "PI", "PI"

    def _unpack(self, depth: int, r: str, fail: list[str]) -> tuple[str, str]:
        src = self.src
        src.emit(depth, f"if {r} is None:")
        for line in fail:
            src.emit(depth + 1, line)
        lo, hi = src.temp(), src.temp()
        src.emit(depth, f"{lo}, {hi} = {r}")
        return lo, hi

    def _ref(self, depth: int, t: ir.Ref, fail: list[str]) -> tuple[str, str]:
        """_compile_ends' Ref case: the value as a point when the account has it (bounds._point_ends:
        a float, an int as a float, anything else none); else a metric's own interval, a fact's
        declared range, or none."""
        src, table = self.src, self.table
        v, lo, hi = src.temp(), src.temp(), src.temp()
        src.emit(depth, f"{v} = env.get({src.cell(t.name)})")
        src.emit(depth, f"if {v} is None:")
        if t.kind == "metric" and t.name in table.metric_terms:
            r = src.temp()
            src.emit(depth + 1, f"{r} = {self.metric_fn(t.name)}(B)")
            src.emit(depth + 1, f"if {r} is None:")
            for line in fail:
                src.emit(depth + 2, line)
            src.emit(depth + 1, f"{lo}, {hi} = {r}")
        else:
            rng = table.ranges.get(t.name) if t.kind == "fact" else None
            if rng is None:  # a classification, score or derived fact no rule set: None
                for line in fail:
                    src.emit(depth + 1, line)
            else:
                lo_end, hi_end = _ends_of(rng)
                src.emit(depth + 1, f"{lo} = {src.cell(lo_end)}")
                src.emit(depth + 1, f"{hi} = {src.cell(hi_end)}")
        src.emit(depth, f"elif T({v}) is F:")
        src.emit(depth + 1, f"{lo} = {hi} = {v}")
        src.emit(depth, f"elif T({v}) is I:")
        src.emit(depth + 1, f"{lo} = {hi} = F({v})")
        src.emit(depth, "else:")
        for line in fail:
            src.emit(depth + 1, line)
        return lo, hi

    def _arith(self, depth: int, op: str, a: tuple[str, str], b: tuple[str, str],
               fail: list[str]) -> tuple[str, str]:
        """bounds._arith_ends(op, a, b): its function of the four ends (bounds.ARITH), called."""
        r = self.src.temp()
        self.src.emit(depth, f"{r} = {_ARITH[op]}({a[0]}, {a[1]}, {b[0]}, {b[1]})")
        return self._unpack(depth, r, fail)


def _test(src: _Text, depth: int, target: str, op: str, a: tuple[str, str], b: tuple[str, str]) -> None:
    """`target = bounds._DECIDE_OPS[op](a, b)`: < and <= (and > and >=, the sides swapped) written
    out as _lt_ends and _le_ends are; == and != call their function."""
    if op in (">", ">="):
        a, b = b, a
    (a0, a1), (b0, b1) = a, b
    if op in ("==", "!="):
        src.emit(depth, f"{target} = {src.cell(_DECIDE_OPS[op])}(({a0}, {a1}), ({b0}, {b1}))")
        return
    src.emit(depth, f"if {a0} > {a1} or ({a0} == {a1} and {_isinf(a0)}) or {b0} > {b1} or ({b0} == {b1} and {_isinf(b0)}):")
    src.emit(depth + 1, f"{target} = None")  # an empty side
    if op in ("<", ">"):
        src.emit(depth, f"elif {a1} < {b0} or ({a1} == {b0} and {_isinf(a1)}):")
        src.emit(depth + 1, f"{target} = True")
        src.emit(depth, f"elif {b1} <= {a0}:")
    else:
        src.emit(depth, f"elif {a1} <= {b0}:")
        src.emit(depth + 1, f"{target} = True")
        src.emit(depth, f"elif {b1} < {a0} or ({b1} == {a0} and {_isinf(b1)}):")
    src.emit(depth + 1, f"{target} = False")
    src.emit(depth, "else:")
    src.emit(depth + 1, f"{target} = None")


class _Generator:
    def __init__(self, table: BoundsTable) -> None:
        self.table = table
        self.src = _Text()
        self.ends = _Ends(self.src, table, self.metric_fn)
        self._metrics: dict[str, str] = {}  # metric name → its generated function's name
        self._todo: list[str] = []

    def metric_fn(self, name: str) -> str:
        """The name of the function that is Bounds.metric_ends(name), generated once."""
        fn = self._metrics.get(name)
        if fn is None:
            fn = self._metrics[name] = f"e{len(self._metrics)}"
            self._todo.append(name)
        return fn

    def metrics(self) -> None:
        while self._todo:
            name = self._todo.pop(0)
            self._metric(name)

    def _metric(self, name: str) -> None:
        """Bounds.metric_ends(name): remembered per account (None first: a cycle bounds nothing),
        the formula's interval, an integer metric's finite ends rounded as build_facts rounds it."""
        src, key = self.src, self.src.cell(name)
        src.emit(0, f"def {self._metrics[name]}(B):")
        src.emit(1, "ivs = B._ivs")
        src.emit(1, f"if {key} in ivs:")
        src.emit(2, f"return ivs[{key}]")
        src.emit(1, f"ivs[{key}] = None")
        src.emit(1, "env = B.env")
        term = self.table.metric_terms[name]
        if type(term) is ir.Arith and self.table.metric_types.get(name) != "integer":
            # the formula's last operation gives the interval as it is (None too: already remembered)
            a = self.ends.term(1, term.left, ["return None"])
            b = self.ends.term(1, term.right, ["return None"])
            r = src.temp()
            src.emit(1, f"{r} = {_ARITH[term.op]}({a[0]}, {a[1]}, {b[0]}, {b[1]})")
            src.emit(1, f"ivs[{key}] = {r}")
            src.emit(1, f"return {r}")
            return
        lo, hi = self.ends.term(1, term, ["return None"])
        if self.table.metric_types.get(name) == "integer":
            for end in (lo, hi):
                src.emit(1, f"if not {_isinf(end)}:")
                src.emit(2, f"{end} = F(R({end}))")
        r = src.temp()
        src.emit(1, f"{r} = {lo}, {hi}")
        src.emit(1, f"ivs[{key}] = {r}")
        src.emit(1, f"return {r}")

    def question(self, c: ir.Cmp, key: int, fn: str) -> None:
        """Bounds.decide(c) for a comparison that is not a fact or metric against a constant (those
        are _ref_question's): the decision remembered under its key, else decided as
        bounds._compile_decider's general decider decides it."""
        src, table = self.src, self.table
        k = str(int(key))
        src.emit(0, f"def {fn}(B):")
        src.emit(1, "d = B._decided")
        src.emit(1, f"if {k} in d:")
        src.emit(2, f"return d[{k}]")
        fail = [f"d[{k}] = None", "return None"]
        src.emit(1, "env = B.env")
        names = table.names(c)  # a candidate reads some: none would be `if True`
        src.emit(1, f"if {' and '.join(f'env.get({src.cell(n)}) is not None' for n in names) or 'True'}:")
        src.emit(2, f"d[{k}] = None")  # nothing it reads is missing: the engine decides it
        src.emit(2, "return None")
        a = self.ends.term(1, c.left, fail)
        b = self.ends.term(1, c.right, fail)
        v = src.temp()
        _test(src, 1, v, c.op, a, b)
        src.emit(1, f"d[{k}] = {v}")
        src.emit(1, f"return {v}")


def _ref_vs_const(c: ir.Cmp) -> tuple[ir.Ref, Ends | None] | None:
    """(the fact or metric, the constant's interval) of a comparison bounds._compile_decider gives
    _ref_vs_const_decider; and of `fact or metric <op> arithmetic on constants` (`gross_margin_change
    <= 0 - params.max_margin_decline`), which its general decider decides the same way — the name
    missing, then the name's interval, then the constant's, known now (when it has one)."""
    left, right = c.left, c.right
    if type(left) is not ir.Ref or left.kind not in ("fact", "metric"):
        return None
    if type(right) is ir.Const:
        return left, _point_ends(right.value)
    if type(right) is ir.Arith and _constant(right):
        ends = _constant_ends(right)
        return None if ends is None else (left, ends)  # none: the general decider's order (left first)
    return None


def _ref_question(table: BoundsTable, c: ir.Cmp, ref: ir.Ref, b: Ends | None, key: int,
                  metric: MetricFn | None) -> Question:
    """Bounds.decide(c) for `fact or metric <op> constant` (most of what an account asks), as
    bounds._ref_vs_const_decider decides it: a closure, not text — its steps are few and flat (the
    one name it reads, the metric's generated interval `metric`, the constant's interval known
    now), so writing them out would save no call and cost the compiling."""
    name = ref.name
    if not table.candidate(c) or b is None:  # no decider, or a constant that is no number
        return _never(key)
    if metric is None:  # a missing fact's answer is its declared range's, the same for every account
        rng = table.ranges.get(name) if ref.kind == "fact" else None
        return _static(key, name, None if rng is None else _DECIDE_OPS[c.op](_ends_of(rng), b))
    point = _POINT_TESTS.get(c.op) if b[0] == b[1] and b[0] - b[0] == 0 else None
    if point is not None:
        return point(key, name, metric, b[0])
    test, ends = _DECIDE_OPS[c.op], b  # == and !=, or no finite point: the closures' own test

    def metric_vs_const(bounds: Bounds) -> Truth3:
        decided = bounds._decided
        if key in decided:
            return decided[key]
        value: Truth3 = None
        if bounds.env.get(name) is None:
            ivs = bounds._ivs  # Bounds.metric_ends' memo, looked at here: most metrics are asked again
            a = ivs[name] if name in ivs else metric(bounds)
            value = None if a is None else test(a, ends)
        decided[key] = value
        return value
    return metric_vs_const


def _never(key: int) -> Question:
    """Bounds.decide(c) for a comparison with no decider: None, remembered."""
    def never(bounds: Bounds) -> Truth3:
        decided = bounds._decided
        if key in decided:
            return decided[key]
        decided[key] = None
        return None
    return never


def _static(key: int, name: str, value: Truth3) -> Question:
    """Bounds.decide(c) for a fact against a constant: `value` when the fact is missing."""
    def fact_vs_const(bounds: Bounds) -> Truth3:
        decided = bounds._decided
        if key in decided:
            return decided[key]
        got = decided[key] = None if bounds.env.get(name) is not None else value
        return got
    return fact_vs_const


# `metric <op> c` for a finite constant c: bounds._lt_ends and _le_ends (sides swapped for > and
# >=) with the constant's side [c, c], which is not empty and has no infinite end, so their tests
# reduce to these. Each is remembered under the comparison's key, as Bounds.decide remembers it.


def _below(key: int, name: str, metric: MetricFn, c: float) -> Question:
    def below(bounds: Bounds) -> Truth3:  # metric < c
        decided = bounds._decided
        if key in decided:
            return decided[key]
        value: Truth3 = None
        if bounds.env.get(name) is None:  # else the engine decides it from the value
            ivs = bounds._ivs  # Bounds.metric_ends' memo, looked at here: most metrics are asked again
            a = ivs[name] if name in ivs else metric(bounds)
            if a is not None:
                lo, hi = a
                if not (lo > hi or (lo == hi and lo - lo != 0)):  # an empty interval decides nothing
                    value = True if hi < c else False if c <= lo else None
        decided[key] = value
        return value
    return below


def _at_most(key: int, name: str, metric: MetricFn, c: float) -> Question:
    def at_most(bounds: Bounds) -> Truth3:  # metric <= c
        decided = bounds._decided
        if key in decided:
            return decided[key]
        value: Truth3 = None
        if bounds.env.get(name) is None:
            ivs = bounds._ivs  # Bounds.metric_ends' memo, looked at here: most metrics are asked again
            a = ivs[name] if name in ivs else metric(bounds)
            if a is not None:
                lo, hi = a
                if not (lo > hi or (lo == hi and lo - lo != 0)):
                    value = True if hi <= c else False if c < lo else None
        decided[key] = value
        return value
    return at_most


def _above(key: int, name: str, metric: MetricFn, c: float) -> Question:
    def above(bounds: Bounds) -> Truth3:  # metric > c
        decided = bounds._decided
        if key in decided:
            return decided[key]
        value: Truth3 = None
        if bounds.env.get(name) is None:
            ivs = bounds._ivs  # Bounds.metric_ends' memo, looked at here: most metrics are asked again
            a = ivs[name] if name in ivs else metric(bounds)
            if a is not None:
                lo, hi = a
                if not (lo > hi or (lo == hi and lo - lo != 0)):
                    value = True if c < lo else False if hi <= c else None
        decided[key] = value
        return value
    return above


def _at_least(key: int, name: str, metric: MetricFn, c: float) -> Question:
    def at_least(bounds: Bounds) -> Truth3:  # metric >= c
        decided = bounds._decided
        if key in decided:
            return decided[key]
        value: Truth3 = None
        if bounds.env.get(name) is None:
            ivs = bounds._ivs  # Bounds.metric_ends' memo, looked at here: most metrics are asked again
            a = ivs[name] if name in ivs else metric(bounds)
            if a is not None:
                lo, hi = a
                if not (lo > hi or (lo == hi and lo - lo != 0)):
                    value = True if c <= lo else False if hi < c else None
        decided[key] = value
        return value
    return at_least


_POINT_TESTS: dict[str, Callable[[int, str, MetricFn, float], Question]] = {
    "<": _below, "<=": _at_most, ">": _above, ">=": _at_least}


def generate_questions(table: BoundsTable, comparisons: Iterable[ir.Cmp]) -> tuple[str, Callable[[ir.Cmp], Question | None]]:
    """(source text, `ask`) for the comparisons a Program's strata may hand to the bounds:
    `ask(c)` is the generated Bounds.decide(c) for one of them (None for any other comparison)."""
    gen = _Generator(table)
    first: dict[int, ir.Cmp] = {}  # a decision's key (equal comparisons share one) → the first comparison
    keys: dict[int, tuple[ir.Cmp, int]] = {}  # id(c) → (c, its key)
    named: dict[int, str] = {}  # key → its generated function's name (the general comparisons)
    for c in comparisons:
        if id(c) in keys:
            continue
        key = table._decider_entry(c)[2]
        keys[id(c)] = (c, key)  # holding c keeps its id from being reused
        if key in first:
            continue
        first[key] = c
        ref = _ref_vs_const(c)
        if ref is None:
            if table.candidate(c):
                named[key] = f"q{len(named)}"
                gen.question(c, key, named[key])
        elif ref[0].kind == "metric" and ref[0].name in table.metric_terms and table.candidate(c):
            gen.metric_fn(ref[0].name)
    gen.metrics()
    src = gen.src
    head = ["def make(K):"]
    if src.values:
        head.append(f"    {', '.join(f'k{n}' for n in range(len(src.values)))}, = K")
    fns = [*named.values(), *gen._metrics.values()]
    tail = [f"    return {', '.join(fns)}," if fns else "    return ()"]
    text = "\n".join([*head, *("    " + line for line in src.lines), *tail]) + "\n"
    # no builtins: what the text uses is named here
    namespace: dict[str, Any] = {"__builtins__": {}, "F": float, "I": int, "T": type, "R": round,
                                 "PI": INF, "NI": -INF, **{_ARITH[op]: fn for op, fn in ARITH.items()}}
    exec(compile(text, "<kamrules bounds>", "exec"), namespace)  # noqa: S102 - the text is ours alone (docstring)
    functions = dict(zip(fns, namespace["make"](tuple(src.values))))
    by_key: dict[int, Question] = {}
    for key, c in first.items():
        ref = _ref_vs_const(c)
        if key in named:
            by_key[key] = functions[named[key]]
        elif ref is not None:
            metric = gen._metrics.get(ref[0].name) if ref[0].kind == "metric" else None
            by_key[key] = _ref_question(table, c, ref[0], ref[1], key, None if metric is None else functions[metric])
        else:  # not a candidate: never decided
            by_key[key] = _never(key)

    def ask(c: ir.Cmp) -> Question | None:
        hit = keys.get(id(c))
        return None if hit is None or hit[0] is not c else by_key[hit[1]]
    return text, ask
