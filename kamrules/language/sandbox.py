"""The bounded Jinja sandbox that every company template and rule message runs in.

Jinja's SandboxedEnvironment stops templates from reaching Python internals, but not from
spending the machine: `{% for a in range(99999) %}{% for b in range(99999) %}` runs for hours,
`{{ 9 ** 999999999 }}` computes a billion-bit integer, `{{ 'x' * 10**10 }}` allocates ten
gigabytes, a macro that calls itself or a template that extends itself ends in a RecursionError
with no location. Templates and messages come from company overlays that people share, so
every evaluation here is bounded (Limits), and a bound that is hit raises LimitExceeded, a
SecurityError: the caller reports it as bad input (exit 2) at the template's file and line.

How, through the sandbox's own hooks (no fork of Jinja):
* time: one deadline per render, checked at every loop iteration, call, filter and operator;
* loops: every `{% for %}` iterates through a counter (the code generator wraps the loop's
  iterable), shared by all loops of the render, so nested loops multiply into one budget;
  recursive loops are counted the same way; `range()` is capped;
* arithmetic: `**` and `*` are checked before they run (the size of the integer, string or
  list they would build); `+`, `~` and every filter and method result after;
* text: the rendered output and every buffer Jinja joins (macro bodies, blocks, `{% set %}`
  blocks) are capped; so are the widths a filter or method pads to (center, indent, format,
  ljust, …) before the string is built;
* recursion: calls (macros, `caller()`, recursive loops) and nested templates (extends,
  include, import) are capped; a RecursionError anyway is the template's fault, with its line.

Rendering must go through Template.render (the budget starts in Environment.concat, which
render calls); kamrules never streams templates.
"""
from __future__ import annotations

import dataclasses
import marshal
import re
import sys
import threading
import time
import types
from collections import abc, deque
from functools import partial
from itertools import compress, repeat
from string import Formatter
from typing import Any, Callable, Iterable, Iterator, Mapping

import jinja2
from jinja2 import nodes, pass_context
from jinja2.bccache import BytecodeCache, Bucket
from jinja2.compiler import CodeGenerator, Frame
from jinja2.idtracking import VAR_LOAD_PARAMETER
from jinja2.parser import Parser
from jinja2.exceptions import SecurityError, TemplateRuntimeError, TemplateSyntaxError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import internalcode, missing
from jinja2.visitor import NodeTransformer
from kamrules.core.record import dataclass


@dataclass(frozen=True)
class Limits:
    seconds: float  # one render, start to end
    size: int  # characters of any one value a template builds (strings; lists and dicts counted deep)
    items: int  # items of any one list, tuple or dict a template builds
    output: int  # characters emitted by one render in all (a macro's text counts again where it is output)
    iterations: int  # loop iterations of one render, all loops together
    depth: int  # nested calls (macros, recursive loops) and nested templates (extends, include, import)
    range: int  # items of one range()
    int_bits: int  # an integer a template computes


# A real playbook renders in well under a second, a few hundred kB, a few thousand iterations.
PLAYBOOK = Limits(seconds=10.0, size=2_000_000, items=100_000, output=8_000_000, iterations=1_000_000, depth=32,
                  range=100_000, int_bits=4096)
# A rule message is a sentence; it is rendered per finding per account.
MESSAGE = Limits(seconds=2.0, size=100_000, items=10_000, output=400_000, iterations=10_000, depth=16,
                 range=10_000, int_bits=1024)


class LimitExceeded(SecurityError):
    """A bound of the sandbox was hit: the template's (or message's) fault, not kamrules'."""


class _Budget:
    __slots__ = ("deadline", "iterations", "depth", "emitted", "limits")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.seconds
        self.iterations = limits.iterations
        self.depth = 0
        self.emitted = 0

    def emit(self, n: int) -> None:
        self.emitted += n
        if self.emitted > self.limits.output:
            raise LimitExceeded(f"the template wrote more than {self.limits.output:,} characters")

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitExceeded(f"the template ran longer than {self.limits.seconds:g} seconds")

    def tick(self) -> None:
        self.iterations -= 1
        if self.iterations < 0:
            raise LimitExceeded(f"the loops ran more than {self.limits.iterations:,} times in all "
                                "(nested loops multiply)")
        self.check_time()


_ITER = "_kam_iter"  # the filter the code generator inserts around a loop's iterable; harmless if a template uses it


class _Bounder(NodeTransformer):
    """Every loop iterates through the budget; everything a template outputs is counted, its
    static text included (a loop body that writes the same kilobyte a million times into a
    macro's buffer is caught before the buffer is joined). The code generator below does the
    rest without new nodes: each value an `Output` writes passes through `_emitted`, each `~`
    result through `_sized`. (Wrapping them in filter nodes here, as before, doubled the nodes
    of the playbook's tree, and Jinja's code generator walks subtrees again and again: it
    compiled 2.4 times slower.)"""

    merge_static = True  # tests turn it off to compare with a marker for every Output

    def __init__(self, env: jinja2.Environment, static: dict[int, int], extra: dict[int, int]) -> None:
        self.env = env
        self.static = static  # id of a marker node appended to an Output → its static characters
        self.extra = extra  # id of an Output's last value → the static characters counted with it

    def _wrap(self, node: nodes.Expr, name: str, *args: nodes.Expr) -> nodes.Filter:
        f = nodes.Filter(node, name, list(args), [], None, None, lineno=node.lineno)
        # the new node only: the parser gave every node of the tree this environment already
        # (set_environment walks the whole subtree again, with Jinja's generic child listing)
        f.environment = self.env
        for a in args:
            a.set_environment(self.env)
        return f

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)  # in place: children of an Output stay expressions
        self.mark_output(node)
        return node

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        self.wrap_loop(node)
        return node

    def mark_output(self, node: nodes.Output) -> None:
        # one pass over the Output's children: its static characters and its last value (Jinja has
        # no subclass of TemplateData: a class test is isinstance's answer)
        static, last, data = 0, None, nodes.TemplateData
        for c in node.nodes:
            if type(c) is data:
                static += len(c.data)
            else:
                last = c
        if static:
            lineno = node.nodes[-1].lineno if node.nodes else node.lineno
            # The static text is counted with the Output's last value when that value is on the
            # marker's line: after it come only constants, which count nothing at run time, so the
            # budget sees the same total at the same point and a limit is reported at the same line
            # and with the same message; a marker is one call more in the generated code (128 in
            # the Markdown playbook's: ≈ 6 M instructions of Python's compile alone).
            if self.merge_static and last is not None and last.lineno == lineno:
                self.extra[id(last)] = static
                return
            # Jinja allows no node types of our own: a Const the code generator knows by identity
            marker = nodes.Const(static, lineno=lineno)
            self.static[id(marker)] = static
            node.nodes.append(marker)

    def wrap_loop(self, node: nodes.For) -> None:
        node.iter = self._wrap(node.iter, _ITER)  # type: ignore[arg-type]  # the iterable stays an Expr


def _bound_and_remember(root: nodes.Node, bounder: _Bounder,
                        deps: dict[int, tuple[set[str], set[str]]] | None = None) -> None:
    """_Bounder's transform, and each node remembering its children, in one walk down the tree.

    Jinja's code generator walks subtrees again and again (the symbols of every frame, the
    dependencies of every block, `loop` and `self` lookups in every for loop and block): compiling
    the playbook asks ~26,000 times for the children of its ~1,600 nodes, and each answer goes
    through `iter_fields`' generic filtering. Once the tree is final (the code generator never
    changes it), each node answers from a tuple, and `find_all` from its descendants listed once.
    Same answers in the same order, so the same code is generated (tests/test_sandbox_codegen.py
    compares it); about a sixth of generating the playbook's code. The walk lists a node's children
    from its fields directly, gives each node a `functools.partial` (not an object with __init__
    and __call__), and finds where a subtree ends from its last child's (no sum per node): a
    third of what the walk cost (callgrind: an uncached advise 1,873 → 1,861 M instructions).

    The transform is done on the same walk (it was a walk of its own, through NodeTransformer's
    generic field-by-field machinery): an Output or a For is changed before its children are
    listed, and neither change puts an Output or a For where the other looks (an Output's children
    and a loop's iterable are expressions), so changing them on the way down, or on the way up as
    `_Bounder.visit` does, gives the same tree.

    `find_all` is answered from the list for the nodes Jinja's code generator searches (the
    template, each loop, each assignment: _SEARCHED), ~90 of the playbook's ~1,400 nodes; any
    other node searches as Jinja does, through the children it remembers, with the same answer.
    Where such a subtree ends is read when a marker pushed under its children comes off the stack,
    and a node without children shares one answer: giving all ~1,400 nodes a `find_all` and a
    `functools.partial` each cost more than the walk itself (callgrind: 26.1 → 14.9 M
    instructions for the playbook).

    `deps` gets, for the template's body and each block's body (by the list's id, as Jinja's
    code generator passes them to pull_dependencies), the filter and test names under it, not
    looking into inner blocks: what _dependencies finds by a walk of its own per body (5.3 M
    instructions for the playbook), collected on this walk (the block a node is in changes when a
    block's marker, pushed under its children, comes off the stack)."""
    output, loop, node_class, end_of = nodes.Output, nodes.For, nodes.Node, tuple
    block, filter_, test = nodes.Block, nodes.Filter, nodes.Test
    searched = _SEARCHED
    order: list[nodes.Node] = []  # every node, in the order Node.find_all visits them (depth first)
    current: tuple[set[str], set[str]] = (set(), set())  # the filters and tests of the body being walked
    if deps is not None and type(root) is nodes.Template:
        deps[id(root.body)] = current
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        kind = type(node)  # exactly as NodeTransformer dispatches: by the class's own name
        if kind is end_of:
            if node[0] is None:  # (None, outer): the end of a block, the body around it goes on
                current = node[1]
                continue
            top, start = node  # (node, start): the node's descendants are order[start:] so far
            top.find_all = partial(_find_all, order, start, len(order))
            continue
        if kind is output:
            bounder.mark_output(node)
        elif kind is loop:
            bounder.wrap_loop(node)
        elif kind is filter_:
            current[0].add(node.name)
        elif kind is test:
            current[1].add(node.name)
        elif kind is block and deps is not None:
            stack.append((None, current))
            current = deps[id(node.body)] = (set(), set())
        # Node.iter_child_nodes() without its two generator layers: the nodes among the fields
        # that are set, a list field's nodes in their order
        kids: list[nodes.Node] = []
        for name in node.fields:
            item = getattr(node, name, None)
            if isinstance(item, list):
                kids.extend(n for n in item if isinstance(n, node_class))
            elif isinstance(item, node_class):
                kids.append(item)
        order.append(node)
        if kids:
            node.iter_child_nodes = partial(_child_nodes, node, tuple(kids))
            if kind in searched:
                stack.append((node, len(order)))
            stack.extend(reversed(kids))
        else:
            node.iter_child_nodes = _no_child_nodes
            if kind in searched:
                node.find_all = _no_child_nodes


# The node classes whose descendants Jinja 3.1's code generator searches (`find_all`, `find`):
# the template (blocks, imports, extends), a loop (blocks, names) and an assignment (namespace refs)
_SEARCHED = frozenset({nodes.Template, nodes.For, nodes.Assign})


def _dependencies(roots: Iterable[nodes.Node]) -> tuple[set[str], set[str]]:
    """The filter and test names used under these nodes, not looking into blocks: what Jinja's
    DependencyFinderVisitor collects (its visit_Filter, visit_Test and visit_Block are chosen by
    the node class's name), by a walk of the children the nodes remember."""
    filters: set[str] = set()
    tests: set[str] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        kind = type(node).__name__
        if kind == "Block":
            continue
        if kind == "Filter":
            filters.add(node.name)  # type: ignore[attr-defined]
        elif kind == "Test":
            tests.add(node.name)  # type: ignore[attr-defined]
        stack.extend(node.iter_child_nodes())
    return filters, tests


def _child_nodes(node: nodes.Node, kids: tuple[nodes.Node, ...], exclude: Any = None,
                 only: Any = None) -> Iterator[nodes.Node]:
    if exclude is None and only is None:
        return iter(kids)
    return nodes.Node.iter_child_nodes(node, exclude, only)


def _no_child_nodes(*unused: Any, **unused_too: Any) -> Iterator[Any]:
    """The children (or descendants of any type) of a node that has none, whatever is asked."""
    return iter(())


def _find_all(order: list[nodes.Node], start: int, end: int, node_type: Any) -> Iterator[Any]:
    """The node's descendants are order[start:end]; those of the type, lazily, in C."""
    below = order[start:end]
    return compress(below, map(isinstance, below, repeat(node_type)))


class _BoundedCodeGenerator(CodeGenerator):
    remember_children = True  # tests turn it off to compare the code generated

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        self._static: dict[int, int] = {}
        self._extra: dict[int, int] = {}  # an Output's last value → its static characters (_Bounder)
        self._written: set[int] = set()  # Outputs' Getattr values that visit_Getattr writes whole
        bounder = _Bounder(self.environment, self._static, self._extra)  # the tree lives until the code is generated
        self._deps: dict[int, tuple[set[str], set[str]]] = {}  # body list → its filters and tests
        if self.remember_children:
            _bound_and_remember(node, bounder, self._deps)
        else:
            bounder.visit(node)
        super().visit_Template(node, frame)

    # Jinja's NodeVisitor finds the method for each node by formatting its name and looking it
    # up (`getattr(self, f"visit_{type(node).__name__}")`), ~11,000 times for the playbook: the
    # answer per node class is remembered (per generator class; the same methods are called)
    _methods: dict[tuple[type, type], Any] = {}

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        key = (type(self), type(node))
        try:
            method = self._methods[key]
        except KeyError:
            method = self._methods[key] = getattr(type(self), f"visit_{type(node).__name__}", None)
        if method is not None:
            return method(self, node, *args, **kwargs)
        return self.generic_visit(node, *args, **kwargs)

    # `environment` is a name in every function Jinja generates (root, blocks, macros); a
    # template cannot reach it (template names are compiled to l_<n>_<name>).

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()  # counted at run time, as it is written (static text is, by its marker)
        return super()._output_child_to_const(node, frame, finalize)

    # A value written as text, Jinja's `str(environment._emitted(x, 0))`, is written as one call,
    # `environment._out(x)`: the Markdown playbook has ~250 of them, and Python's parser pays for
    # every nesting level (callgrind, compiling its generated code: 106 → 99 M instructions).
    # Autoescaped (HTML) and volatile outputs, and a finalize, stay as Jinja writes them.
    # The static-text marker of an Output (visit_Const) is written bare there: it is text already.
    def _plain_output(self, frame: Frame, finalize: Any) -> bool:
        return finalize.src is None and not frame.eval_ctx.volatile and not frame.eval_ctx.autoescape

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if self._plain_output(frame, finalize):
            if type(node) is nodes.Getattr and not self.environment.is_async:
                self._written.add(id(node))  # visit_Getattr writes the whole call
            elif id(node) not in self._static:
                self.write("environment._out(")
            return
        super()._output_child_pre(node, frame, finalize)
        if id(node) not in self._static:
            self.write("environment._emitted(")

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        extra = self._extra.get(id(node))
        if self._plain_output(frame, finalize):
            if id(node) not in self._static and id(node) not in self._written:
                self.write(")" if extra is None else f", {int(extra)})")
            return
        if id(node) not in self._static:
            self.write(f", {int(extra or 0)})")
        super()._output_child_post(node, frame, finalize)

    def pull_dependencies(self, nodes: Any) -> None:
        """Jinja's, with each filter and test fetched by one call (`environment._dependency`), not
        by a try/except that defines a function raising TemplateRuntimeError when it is missing
        (25 of those in the playbook's code: ~4 % of compiling it). The same names, the same
        error at the same moment (a missing filter inside an `if` fails when it is called). The
        names are found as DependencyFinderVisitor finds them, without its visitor dispatch: on
        the walk of _bound_and_remember for the template's and the blocks' bodies."""
        found = self._deps.get(id(nodes))
        filters, tests = found if found is not None else _dependencies(nodes)
        for id_map, names, dependency in ((self.filters, filters, "filters"), (self.tests, tests, "tests")):
            for name in sorted(names):
                if name not in id_map:
                    id_map[name] = self.temporary_identifier()
                self.writeline(f"{id_map[name]} = environment._dependency({dependency!r}, {name!r})")

    def visit_Const(self, node: nodes.Const, frame: Frame) -> None:
        count = self._static.get(id(node))
        if count is None:
            super().visit_Const(node, frame)
        else:
            self.write(f"environment._static({int(count)})")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment._sized(")
        super().visit_Concat(node, frame)
        self.write(")")

    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        """`x.attr` of a name read (`environment.getattr(environment._defined(l_0_x, 'x'), 'attr')`,
        ~180 in the playbook) is written as one call, `environment._attr(l_0_x, 'x', 'attr')`,
        which does the same two steps (compiling the generated code: 99 → 95 M instructions).
        The value of an Output that is an attribute is written `environment._out_attr(…)` or
        `environment._out_get(obj, 'attr')`: `_out` of the same `getattr`."""
        inner = node.node
        out = id(node) in self._written  # the value an Output writes: `_out_attr`, `_out_get`
        extra = self._extra.get(id(node)) if out else None
        tail = ")" if extra is None else f", {int(extra)})"  # the Output's static characters, when counted here
        if not self.environment.is_async and isinstance(inner, nodes.Name) and inner.ctx == "load":
            ref = self._name_read(inner, frame)
            if ref is not None:
                self.write(f"environment.{'_out_attr' if out else '_attr'}({ref}, {inner.name!r}, {node.attr!r}"
                           + (tail if out else ")"))
                return
        if out:
            self.write("environment._out_get(")
            self.visit(inner, frame)
            self.write(f", {node.attr!r}{tail}")
            return
        super().visit_Getattr(node, frame)

    def _name_read(self, node: nodes.Name, frame: Frame) -> str | None:
        """The reference a loaded name is read from when it may be missing (written through
        `_defined`), or None when Jinja writes it bare (a parameter that is always given)."""
        ref: str = frame.symbols.ref(node.name)
        load = frame.symbols.find_load(ref)
        if load is not None and load[0] == VAR_LOAD_PARAMETER and not self.parameter_is_undeclared(ref):
            return None
        return ref

    def visit_Name(self, node: nodes.Name, frame: Frame) -> None:
        """A name read as Jinja reads it, written shorter: `environment._defined(l_0_x, 'x')` for
        Jinja's `(undefined(name='x') if l_0_x is missing else l_0_x)`. Python's parser pays for
        the parenthesised conditional in every one of the playbook's ~235 name reads, most of them
        inside a call: ~14 % of compiling its generated code (115 → 98 M instructions, callgrind).
        A parameter that is always given is still written bare, as Jinja does."""
        if node.ctx == "load":
            ref = self._name_read(node, frame)
            if ref is not None:
                self.write(f"environment._defined({ref}, {node.name!r})")
                return
        super().visit_Name(node, frame)


# Objects Jinja's sandbox judges by their class (is_internal_attribute, modifies_known_mutable):
# a record of one of these kinds is never read past its checks (BoundedEnvironment.read_records)
_CHECKED_KINDS = (types.FunctionType, types.MethodType, type, types.CodeType, types.TracebackType, types.FrameType,
                  types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType, abc.MutableSet,
                  abc.MutableMapping, abc.MutableSequence, deque)
# Values the sandbox hands out wrapped (`str.format`, wrap_str_format): never read past its checks
_METHODS = (types.MethodType, types.BuiltinMethodType)
# The names a dict answers as attributes (`ui.items` is the method): any other name, Jinja's
# getattr reads as a key (`ui.sep` is `ui["sep"]`)
_DICT_ATTRIBUTES = frozenset(dir({}))
_UNSEEN: frozenset[str] = frozenset({"(a record class not yet looked at)"})

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


# Names Jinja's parser reads as something other than a variable where an expression starts
# (`not x`, the constants true/false/none)
_NOT_A_VARIABLE = frozenset({"not", "true", "false", "True", "False", "none", "None"})
# Tokens that no level of Jinja's expression grammar continues with (no operator, filter, test,
# call, subscript or condition): an expression followed by one of them ends there
_EXPRESSION_ENDS = frozenset({"variable_end", "block_end", "comma", "rparen", "rbracket"})


class _BoundedParser(Parser):
    """Jinja's parser, with its commonest expression read directly: a variable or a dotted
    attribute chain (`f.title`, `ui.sep`, `loop.index`) that ends the expression (`}}`, `%}`, `,`,
    `)`, `]`). Jinja parses every expression through its 13 levels of precedence (condition, or,
    and, not, comparison, sum, concatenation, product, power, unary, primary, postfix, filters),
    each testing the next token for its operator: ~260 of the Markdown playbook's expressions are
    such chains (callgrind: parsing it 137.2 → 128.7 M instructions). The nodes built are those
    Jinja builds (Name, Getattr; the same line numbers: tests/test_sandbox_parser.py compares
    the trees of every built-in template and of generated templates), and anything else — an
    operator, a filter, a call, a subscript, a keyword — is handed back to Jinja's parser with the
    tokens read pushed back into the stream, so it parses, or fails, as before."""

    def parse(self) -> nodes.Template:
        """Jinja's: the template's statements under a Template node, every node given the
        environment. Jinja's set_environment reaches each node through a deque and two generator
        layers (iter_child_nodes over iter_fields): ~14 M instructions for the Markdown playbook's
        ~1,400 nodes; this walk of the same fields gives the same nodes the environment in ~7 M
        (tests/test_sandbox_parser.py checks every node of every built-in template has it)."""
        result = nodes.Template(self.subparse(), lineno=1)
        environment, node_class = self.environment, nodes.Node
        stack: list[Any] = [result]
        while stack:
            node = stack.pop()
            if isinstance(node, node_class):  # a list field may hold other values (import names)
                node.environment = environment
                for name in node.fields:
                    item = getattr(node, name, None)
                    if isinstance(item, list):
                        stack.extend(item)
                    elif isinstance(item, node_class):
                        stack.append(item)
        return result

    def parse_expression(self, with_condexpr: bool = True) -> nodes.Expr:
        stream = self.stream
        first = stream.current
        if first.type != "name" or first.value in _NOT_A_VARIABLE:
            return super().parse_expression(with_condexpr)
        taken = [first]  # the tokens read, to push back if this is not such a chain
        next(stream)
        node: nodes.Expr = nodes.Name(first.value, "load", lineno=first.lineno)
        while stream.current.type == "dot":
            dot = next(stream)
            attr = stream.current
            taken.append(dot)
            if attr.type != "name":  # `x.0`, or an error: Jinja's to read
                break
            taken.append(attr)
            next(stream)
            node = nodes.Getattr(node, attr.value, "load", lineno=dot.lineno)
        else:
            if stream.current.type in _EXPRESSION_ENDS:
                return node
        # Not such a chain: the stream back as it was. A stream holds at most one pushed token
        # (TokenStream.look's), and at least one was read since: none is pending, so the tokens
        # pushed come next, in their order, then the rest of the template.
        rest = stream.current
        stream.current = first
        for token in (*taken[1:], rest):
            stream.push(token)
        return super().parse_expression(with_condexpr)


# _BoundedCodeGenerator counts what a template writes through these methods of Jinja's code
# generator, which are not public API: should a Jinja release rename one, the override would be
# silently skipped and output would go uncounted. Fail closed instead (an unexpected error, exit 3).
_HOOKS = ("visit_Template", "visit_Const", "visit_Concat", "_output_child_to_const", "_output_child_pre",
          "_output_child_post")


def _require_code_generator_hooks() -> None:
    missing = [h for h in _HOOKS if not callable(getattr(CodeGenerator, h, None))]
    if missing:
        raise RuntimeError(f"Jinja {jinja2.__version__}'s code generator has no {', '.join(missing)}: the "
                           "template bounds cannot be applied (kamrules needs a Jinja it was tested with)")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """ImmutableSandboxedEnvironment with Limits. One budget per render, per thread."""

    intercepted_binops = frozenset({"*", "**", "+", "-", "%", "//", "/"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, *, limits: Limits, **options: Any) -> None:
        _require_code_generator_hooks()
        # Jinja's optimizer folds constant expressions before the code is generated: another walk
        # over the whole tree (~10 % of compiling the playbook) that changes no line of the code
        # generated for the built-in playbooks, and a folded expression is worth nothing here
        # (the sandbox intercepts the operators that could be folded at run time anyway)
        options.setdefault("optimized", False)
        super().__init__(**options)
        self.limits = limits
        self._local = threading.local()
        self._records: dict[type, frozenset[str]] = {}  # read_records
        self.globals.pop("lipsum", None)  # lipsum(n=10**9): text without bound, and no use here
        self.globals["range"] = self._range
        self.filters.pop("random", None)  # output must be deterministic
        self.filters = {name: _guarded(self, name, f) for name, f in self.filters.items()}
        self.filters[_ITER] = pass_context(lambda _ctx, it: self._counted(it))

    # ------------------------------------------------------------------ the per-render budget

    def budget(self) -> _Budget | None:
        """The budget of the render running on this thread, if any."""
        b: _Budget | None = getattr(self._local, "budget", None)
        return b

    def concat(self, parts: Iterable[str]) -> str:
        """Template.render joins the whole output here, and compiled code joins every buffer
        (macro bodies, blocks, {% set %} blocks) with it: the budget starts with the outermost
        join and every join is size-checked before it allocates."""
        local = self._local
        limit = self.limits.output
        if getattr(local, "budget", None) is not None:
            buf = parts if isinstance(parts, list) else list(parts)
            if sum(map(len, buf)) > limit:
                raise LimitExceeded(f"the template built a text of more than {limit:,} characters")
            return "".join(buf)
        local.budget = _Budget(self.limits)
        try:
            # every piece was counted as it was written (_kam_out), so the list is bounded
            out = list(parts)
        finally:
            local.budget = None
        if sum(map(len, out)) > limit:
            raise LimitExceeded(f"the output is larger than {limit:,} characters")
        return "".join(out)

    def _counted(self, it: Iterable[Any]) -> Iterator[Any]:
        budget = self.budget()
        if budget is None:
            yield from it
            return
        for x in it:
            budget.tick()
            yield x

    def _defined(self, value: Any, name: str) -> Any:
        """What the code generator writes for a name read (_BoundedCodeGenerator.visit_Name):
        the value, or Jinja's undefined for the name when the context has none."""
        return self.undefined(name=name) if value is missing else value

    def _attr(self, value: Any, name: str, attribute: str) -> Any:
        """`getattr(_defined(value, name), attribute)`: an attribute of a name read, in one call
        (_BoundedCodeGenerator.visit_Getattr)."""
        return self.getattr(self.undefined(name=name) if value is missing else value, attribute)

    def _out(self, value: Any, extra: int = 0) -> str:
        """`str(_emitted(value, extra))`: a value an Output writes, counted (with the Output's
        `extra` static characters when it is the last value, _Bounder.mark_output), as text, in
        one call (_BoundedCodeGenerator._output_child_pre)."""
        budget: _Budget | None = getattr(self._local, "budget", None)
        if budget is not None:
            budget.emit(extra + (len(value) if type(value) is str else _deep_size(value, self.limits.output)))
        return str(value)

    def _out_attr(self, value: Any, name: str, attribute: str, extra: int = 0) -> str:
        """`_out(_attr(value, name, attribute), extra)`, in one call."""
        return self._out(self.getattr(self.undefined(name=name) if value is missing else value, attribute), extra)

    def _out_get(self, obj: Any, attribute: str, extra: int = 0) -> str:
        """`_out(getattr(obj, attribute), extra)`, in one call."""
        return self._out(self.getattr(obj, attribute), extra)

    def _static(self, n: int) -> str:
        """`_emitted('', n)`: an Output's n characters of static text counted (the marker
        _Bounder appends), as text."""
        budget: _Budget | None = getattr(self._local, "budget", None)
        if budget is not None:
            budget.emit(n)
        return ""

    def _dependency(self, kind: str, name: str) -> Any:
        """A filter or test the compiled code uses (`kind` "filters" or "tests"), or, when the
        environment has none, a function that raises what Jinja's generated code raises."""
        try:
            return (self.filters if kind == "filters" else self.tests)[name]
        except KeyError:
            message = f"No {kind[:-1]} named {name!r} found."

            @internalcode
            def missing_dependency(*unused: Any) -> Any:
                raise TemplateRuntimeError(message)

            return missing_dependency

    def _emitted(self, value: Any, extra: int) -> Any:
        budget: _Budget | None = getattr(self._local, "budget", None)
        if budget is not None:
            budget.emit(extra + (len(value) if type(value) is str else _deep_size(value, self.limits.output)))
        return value

    def _sized(self, value: Any) -> Any:
        """A value the template built: bounded in characters (counted deep) and items."""
        if isinstance(value, str):
            if len(value) > self.limits.size:
                raise LimitExceeded(f"the template built a text of more than {self.limits.size:,} characters")
        elif isinstance(value, (list, tuple, dict)):
            if len(value) > self.limits.items:
                raise LimitExceeded(f"the template built a list of more than {self.limits.items:,} items")
            if _deep_size(value, self.limits.size) > self.limits.size:
                raise LimitExceeded(f"the template built a value of more than {self.limits.size:,} characters")
        elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > self.limits.int_bits:
            raise LimitExceeded(f"the template computed an integer of more than {self.limits.int_bits:,} bits")
        return value

    def check_size(self, n: int, what: str = "characters") -> None:
        limit = self.limits.items if what == "items" else self.limits.size
        if n > limit:
            raise LimitExceeded(f"the template would build a value of more than {limit:,} {what}")

    def _range(self, *args: int) -> range:
        try:
            r = range(*args)
            n = len(r)
        except OverflowError:
            n = sys.maxsize
        if n > self.limits.range:
            raise LimitExceeded(f"range() of more than {self.limits.range:,} numbers")
        return r

    # ------------------------------------------------------------------ nested templates

    def _check_nesting(self) -> None:
        """extends, include and import run the other template's root function inside this
        one's: count the root functions of this environment on the stack."""
        budget = self.budget()
        if budget is None:
            return
        budget.check_time()
        depth, frame = 0, sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name == "root" and frame.f_globals.get("environment") is self:
                depth += 1
            frame = frame.f_back  # type: ignore[assignment]
        if depth >= self.limits.depth:
            raise LimitExceeded(f"templates are nested more than {self.limits.depth} deep "
                                "(does a template extend or include itself?)")

    def get_template(self, name: Any, parent: str | None = None,
                     globals: Any = None) -> jinja2.Template:
        self._check_nesting()
        return super().get_template(name, parent, globals)

    def select_template(self, names: Any, parent: str | None = None,
                        globals: Any = None) -> jinja2.Template:
        self._check_nesting()
        return super().select_template(names, parent, globals)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Jinja's, with its parser's commonest expression read directly (_BoundedParser)."""
        return _BoundedParser(self, source, name, filename).parse()

    def compile(self, source: Any, name: str | None = None, filename: str | None = None,
                raw: bool = False, defer_init: bool = False) -> Any:
        try:
            return super().compile(source, name, filename, raw, defer_init)  # type: ignore[call-overload]
        except (RecursionError, MemoryError, SyntaxError) as e:
            if isinstance(e, TemplateSyntaxError):
                raise
            raise TemplateSyntaxError("the template is nested too deeply to compile", 1, name, filename) from None

    # ------------------------------------------------------------------ sandbox hooks

    def read_records(self, classes: Iterable[type]) -> None:
        """Dataclasses whose fields templates read as plain data (the playbook context): `x.field`
        of an instance of exactly such a class is read without asking the sandbox's checks, whose
        answer is known — the field's value, as SandboxedEnvironment.getattr gives it: a field name
        does not start with `_`, the class is none of the kinds the sandbox judges by class
        (functions, types, frames, generators, mutable collections: _CHECKED_KINDS), and a value
        the sandbox would wrap (a method) still goes through it. Any other attribute or object
        is read by Jinja's getattr. A class is looked at when a template first reads one (the
        class checks cost what the sandbox's own first read of it costs)."""
        self._records.update(dict.fromkeys(classes, _UNSEEN))

    def _record_fields(self, cls: type) -> frozenset[str]:
        names: frozenset[str] = frozenset()
        if dataclasses.is_dataclass(cls) and not issubclass(cls, _CHECKED_KINDS):
            names = frozenset(f.name for f in dataclasses.fields(cls) if not f.name.startswith("_"))
        self._records[cls] = names
        return names

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Jinja's sandboxed `obj.attribute`, answered directly where its answer is known: a key of
        a dict that is not a dict attribute (`ui.sep`: Jinja's fallback to `obj[attribute]` after
        an AttributeError raised and caught), and a field of a record class (read_records). The
        Markdown playbook reads ~1,400 attributes a render, each through ~10 checks (callgrind:
        rendering it 41.3 → 18.6 M instructions)."""
        kind = type(obj)
        if kind is dict:
            if type(attribute) is str and attribute not in _DICT_ATTRIBUTES:
                try:
                    return obj[attribute]
                except KeyError:
                    return self.undefined(obj=obj, name=attribute)
        else:
            names = self._records.get(kind)
            if names is not None:
                if names is _UNSEEN:
                    names = self._record_fields(kind)
                if attribute in names:
                    value = getattr(obj, attribute)
                    if not isinstance(value, _METHODS):
                        return value
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = self.budget()
        if budget is not None:
            budget.check_time()
        if operator == "**":
            self._check_pow(left, right)
        elif operator == "*":
            self._check_mul(left, right)
        elif operator == "%" and isinstance(left, str):
            self._check_percent_format(left)
        try:
            rv = super().call_binop(context, operator, left, right)
        except (ArithmeticError, TypeError, ValueError) as e:
            raise TemplateRuntimeError(f"cannot compute {_short(left)} {operator} {_short(right)}: {e}") from None
        return self._sized(rv)

    def _check_pow(self, left: Any, right: Any) -> None:
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            if right > self.limits.int_bits or right * abs(left).bit_length() > self.limits.int_bits:
                raise LimitExceeded(f"{_short(left)} ** {_short(right)} is larger than "
                                    f"{self.limits.int_bits:,} bits")

    def _check_mul(self, left: Any, right: Any) -> None:
        seq, n = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and n > 0:
            if not isinstance(seq, str):
                self.check_size(len(seq) * n, "items")
            self.check_size(_deep_size(seq, self.limits.size) * n)
        elif isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > self.limits.int_bits:
                raise LimitExceeded(f"the product is larger than {self.limits.int_bits:,} bits")

    def _check_percent_format(self, fmt: str) -> None:
        for m in _PERCENT_SPEC.finditer(fmt):
            for part in m.groups():
                if part == "*":
                    raise SecurityError("'%*d'-style widths are not available in templates")
                if part and int(part) > self.limits.size:
                    self.check_size(int(part))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """str.format / str.format_map, which the sandbox hands out as a wrapper: widths and
        precisions are checked before the text is built."""
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            self._check_brace_format(fmt)
            return str(self._sized(wrapper(*args, **kwargs)))

        return checked

    def _check_brace_format(self, fmt: str) -> None:
        try:
            fields = list(Formatter().parse(fmt))
        except ValueError as e:
            raise TemplateRuntimeError(f"bad format string: {e}") from None
        for _, _, spec, _ in fields:
            if spec and "{" in spec:
                raise SecurityError("nested format fields are not available in templates")
            for d in _DIGITS.findall(spec or ""):
                self.check_size(int(d) if len(d) < 12 else 10 ** 12)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = __self.budget()
        if budget is not None:
            budget.check_time()
            if budget.depth >= __self.limits.depth:
                raise LimitExceeded(f"calls are nested more than {__self.limits.depth} deep "
                                    "(a macro or a recursive loop that calls itself?)")
        args = __self._precheck_call(__obj, args, kwargs)
        if isinstance(__obj, LoopContext) and args:  # loop(children) of a recursive loop
            args = (__self._counted(args[0]), *args[1:])
        if budget is not None:
            budget.depth += 1
        try:
            rv = super().call(__context, __obj, *args, **kwargs)
        finally:
            if budget is not None:
                budget.depth -= 1
        return __self._sized(rv)

    def _precheck_call(self, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """str methods that can build a string far larger than their inputs, checked first."""
        if not (isinstance(obj, types.BuiltinMethodType) and isinstance(obj.__self__, str)):
            return args
        s, name = obj.__self__, obj.__name__
        if name in ("center", "ljust", "rjust", "zfill"):
            width = args[0] if args else kwargs.get("width", 0)
            if isinstance(width, int):
                self.check_size(width)
        elif name == "expandtabs":
            tab = args[0] if args else kwargs.get("tabsize", 8)
            if isinstance(tab, int):
                self.check_size(len(s) + s.count("\t") * max(tab, 0))
        elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
            self.check_size(_replaced_size(s, args[0], args[1], args[2] if len(args) > 2 else -1))
        elif name == "join" and args:
            items = list(self._counted(args[0]))
            self.check_size(_deep_size(items, self.limits.size) + len(s) * max(len(items) - 1, 0))
            return (items, *args[1:])
        return args


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "…"


def _deep_size(value: Any, limit: int) -> int:
    """Characters a value stands for (strings by length, containers by their contents, other
    values as one), counted until the count passes `limit`: `[big] * 1000` is small as a list
    and huge as text."""
    total, stack = 0, [value]
    while stack and total <= limit:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v)
        elif isinstance(v, (list, tuple)):
            total += 1
            stack.extend(v)
        elif isinstance(v, dict):
            total += 1
            stack.extend(v.keys())
            stack.extend(v.values())
        else:
            total += 1
    return total


def _replaced_size(s: str, old: str, new: str, count: Any) -> int:
    n = len(s) + 1 if old == "" else s.count(old)
    if isinstance(count, int) and count >= 0:
        n = min(n, count)
    return len(s) + n * (len(new) - len(old))


# --------------------------------------------------------------------------- filters

def _guarded(env: BoundedEnvironment, name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    """Jinja's built-in filters, with the deadline, their amplifying arguments checked before
    they run and their result's size after. The pass_context/… marker is kept."""
    pre = _PRECHECKS.get(name)

    def filter_(*args: Any, **kwargs: Any) -> Any:
        budget = env.budget()
        if budget is not None:
            budget.check_time()
        if pre is not None:
            args = pre(env, args, kwargs)
        return env._sized(f(*args, **kwargs))

    filter_.__name__ = getattr(f, "__name__", name)
    filter_.__doc__ = f.__doc__
    if hasattr(f, "jinja_pass_arg"):
        filter_.jinja_pass_arg = f.jinja_pass_arg  # type: ignore[attr-defined]
    return filter_


Args = tuple[Any, ...]


def _arg(args: Args, kwargs: Mapping[str, Any], i: int, name: str, default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(name, default)


def _pre_center(env: BoundedEnvironment, args: Args, kwargs: dict[str, Any]) -> Args:
    width = _arg(args, kwargs, 1, "width", 80)
    if isinstance(width, int):
        env.check_size(width)
    return args


def _pre_indent(env: BoundedEnvironment, args: Args, kwargs: dict[str, Any]) -> Args:
    s, width = str(_arg(args, kwargs, 0, "s", "")), _arg(args, kwargs, 1, "width", 4)
    per_line = width if isinstance(width, int) else len(str(width))
    env.check_size(len(s) + (s.count("\n") + 1) * max(per_line, 0))
    return args


def _pre_format(env: BoundedEnvironment, args: Args, kwargs: dict[str, Any]) -> Args:
    if args and isinstance(args[0], str):
        env._check_percent_format(args[0])
    return args


def _pre_count_arg(i: int, name: str) -> Callable[[BoundedEnvironment, Args, dict[str, Any]], Args]:
    def pre(env: BoundedEnvironment, args: Args, kwargs: dict[str, Any]) -> Args:
        n = _arg(args, kwargs, i, name, 0)
        if isinstance(n, int):
            env.check_size(n, "items")
        return args
    return pre


def _pre_replace(env: BoundedEnvironment, args: Args, kwargs: dict[str, Any]) -> Args:
    # do_replace(eval_ctx, s, old, new, count=None); only a longer `new` can grow the text
    if len(args) >= 4 and not kwargs:
        s, old, new = args[1], args[2], args[3]
    else:
        s, old, new = _arg(args, kwargs, 1, "s", ""), _arg(args, kwargs, 2, "old", ""), _arg(args, kwargs, 3, "new", "")
    if isinstance(new, str) and isinstance(old, str) and len(new) > len(old) and isinstance(s, str):
        count = _arg(args, kwargs, 4, "count", None)
        env.check_size(_replaced_size(s, old, new, count if count is not None else -1))
    return args


def _pre_join(env: BoundedEnvironment, args: Args, kwargs: dict[str, Any]) -> Args:
    # do_join(eval_ctx, value, d="", attribute=None): count what would be joined first
    if len(args) < 2:
        return args
    items = list(env._counted(args[1]))
    sep = _arg(args, kwargs, 2, "d", "")
    env.check_size(_deep_size(items, env.limits.size) + len(str(sep)) * max(len(items) - 1, 0))
    return (args[0], items, *args[2:])


def _pre_sum(env: BoundedEnvironment, args: Args, kwargs: dict[str, Any]) -> Args:
    # do_sum(environment, iterable, attribute=None, start=0): lists and tuples add up in size
    if len(args) < 2:
        return args
    items = list(env._counted(args[1]))
    start = _arg(args, kwargs, 3, "start", 0)
    if isinstance(start, (list, tuple)) or any(isinstance(x, (list, tuple)) for x in items):
        env.check_size(sum(len(x) for x in [start, *items] if isinstance(x, (list, tuple))), "items")
        env.check_size(_deep_size([start, *items], env.limits.size))
    return (args[0], items, *args[2:])


def _pre_wordwrap(env: BoundedEnvironment, args: Args, kwargs: dict[str, Any]) -> Args:
    # do_wordwrap(environment, s, width=79, break_long_words=True, wrapstring=None, …)
    s, width = str(_arg(args, kwargs, 1, "s", "")), _arg(args, kwargs, 2, "width", 79)
    wrap = _arg(args, kwargs, 4, "wrapstring", None)
    if isinstance(width, int):
        env.check_size(len(s) + (len(s) // max(width, 1) + 1) * len(str(wrap or "\n")))
    return args


def _pre_round(env: BoundedEnvironment, args: Args, kwargs: dict[str, Any]) -> Args:
    precision = _arg(args, kwargs, 1, "precision", 0)
    if isinstance(precision, int) and abs(precision) > 100:
        raise LimitExceeded("round() to more than 100 digits")
    return args


_PRECHECKS: dict[str, Callable[[BoundedEnvironment, Args, dict[str, Any]], Args]] = {
    "center": _pre_center,
    "indent": _pre_indent,
    "format": _pre_format,
    "batch": _pre_count_arg(1, "linecount"),
    "slice": _pre_count_arg(1, "slices"),
    "replace": _pre_replace,
    "join": _pre_join,
    "sum": _pre_sum,
    "wordwrap": _pre_wordwrap,
    "round": _pre_round,
    "truncate": lambda env, args, kwargs: args,
}


# --------------------------------------------------------------------------- compiled templates on disk

class SignedBytecodeCache(BytecodeCache):
    """Jinja's compiled templates in kamrules' cache (core/cache.py): signed entries, keyed by
    the template's real path and content checksum (Jinja's bucket) and by the environment's
    options, so a template repointed, edited or compiled with other options is recompiled."""

    def _key(self, bucket: Bucket) -> str:
        from kamrules.core import cache

        env = bucket.environment
        options = (jinja2.__version__, env.autoescape, env.trim_blocks, env.lstrip_blocks, env.keep_trailing_newline,
                   type(env).__name__)
        return cache.key("jinja", repr(options), bucket.key, bucket.checksum)

    def load_bytecode(self, bucket: Bucket) -> None:
        from kamrules.core import cache

        data = cache.get_bytes("jinja", self._key(bucket))
        if data is None:
            return
        try:
            code = marshal.loads(data)
        except Exception:
            return
        if isinstance(code, types.CodeType):
            bucket.code = code

    def dump_bytecode(self, bucket: Bucket) -> None:
        from kamrules.core import cache

        if bucket.code is not None:
            cache.put_bytes("jinja", self._key(bucket), marshal.dumps(bucket.code))
