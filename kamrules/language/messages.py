"""Bilingual rule messages: Jinja text rendered with the facts that triggered the rule.

One small environment with StrictUndefined and the bounded sandbox (language/sandbox.py:
messages come from rulebooks, which companies share, so every evaluation is bounded in time,
size, loops and recursion). Variables are checked at load time against the declared names.

A metric the account misses but that bounds still pin down on one side (engine/bounds.py) is an
`Interval` here: arithmetic works on it (`-margin_after_cts`), and the number filters write it
as a bound ("at least 2.1M" / "至少210万"). A rule decided from bounds can so state what it knows.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any, Callable, Iterator, Mapping

from jinja2 import StrictUndefined
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.utils import missing

from kamrules.core import i18n
from kamrules.core.errors import Location, Problem
from kamrules.core.values import format_money, format_number, format_percent, format_points
from kamrules.language.intervals import Interval
from kamrules.language.sandbox import MESSAGE, BoundedEnvironment, LimitExceeded



def bound_text(iv: Interval, fmt: Callable[[float], str], lang: str) -> str:
    """An interval as a reader says it: 'at least 2.1M', 'at most −5%', '1M to 2M' (zh: 至少210万 …)."""
    lo, hi = iv.lo, iv.hi
    if math.isinf(lo) and math.isinf(hi):
        return "—"
    if math.isinf(hi):
        return i18n.t("bounds.at_least", lang, v=fmt(lo))
    if math.isinf(lo):
        return i18n.t("bounds.at_most", lang, v=fmt(hi))
    if lo == hi:
        return fmt(lo)
    return i18n.t("bounds.between", lang, lo=fmt(lo), hi=fmt(hi))


def _number_filter(fmt: Callable[[float], str], lang: str) -> Callable[[Any], str]:
    def number(x: Any) -> str:
        if x is None:
            return "—"
        if isinstance(x, Interval):
            return bound_text(x, fmt, lang)
        return fmt(float(x))
    return number


def _date(x: Any) -> str:
    if isinstance(x, _dt.date):
        return x.isoformat()
    return "—" if x is None else str(x)


Labels = Mapping[str, Mapping[str, Mapping[str, str]]]  # fact/dimension → value → {zh, en}


class NamedLabels(Extension):
    """`{{ final|label }}` reads as `{{ final|label('final') }}`: a value's label is looked up
    under the name it was read from. Without the name, 'medium' (中客户 for the class, 中 for
    price pressure) had no single label and reached a Chinese sentence as the English code.
    A name inside a loop (`c.role`) is looked up by its last part (the list field `role`)."""

    def filter_stream(self, stream: TokenStream) -> TokenStream:
        toks = list(stream)
        out: list[Token] = []
        for i, t in enumerate(toks):
            out.append(t)
            if not (t.type == "name" and t.value == "label" and i >= 2 and toks[i - 1].type == "pipe"):
                continue
            if i + 1 < len(toks) and toks[i + 1].type == "lparen":
                continue  # the name is given
            parts, j = [], i - 2
            while j >= 0 and toks[j].type == "name":
                parts.append(str(toks[j].value))
                if j >= 1 and toks[j - 1].type == "dot":
                    j -= 2
                    continue
                break
            if not parts or (j >= 1 and toks[j - 1].type in ("pipe", "dot", "rparen", "rbracket")):
                continue  # not a plain name (a filter chain, a call): the value alone decides
            name = ".".join(reversed(parts))
            out += [Token(t.lineno, "lparen", "("), Token(t.lineno, "string", name), Token(t.lineno, "rparen", ")")]
        return TokenStream(iter(out), stream.name, stream.filename)


def make_env(lang: str, labels: Labels | None = None) -> BoundedEnvironment:
    env = BoundedEnvironment(limits=MESSAGE, undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False,
                             extensions=[NamedLabels])
    # the formatters are looked up at each call (lambdas), not bound now: tests patch them
    env.filters["pct"] = _number_filter(lambda x: format_percent(x), lang)
    env.filters["money"] = _number_filter(lambda x: format_money(x, lang), lang)
    env.filters["num"] = _number_filter(lambda x: format_number(x), lang)
    env.filters["pp"] = _number_filter(lambda x: format_points(x, lang), lang)
    env.filters["days"] = _number_filter(lambda x: f"{int(x)}", lang)
    env.filters["date"] = _date
    by_name = labels or {}
    # Without a name, a value's label is used only when every enum that has the value agrees
    # on it: 'medium' is 中客户 for the class but 中 for price pressure.
    seen: dict[str, set[str]] = {}
    for table in by_name.values():
        for value, texts in table.items():
            seen.setdefault(value, set()).add(texts.get(lang, value))
    unique = {v: next(iter(ls)) for v, ls in seen.items() if len(ls) == 1}

    def label(x: Any, name: str | None = None) -> str:
        if x is None:
            return "—"
        if name is not None:
            for key in (name, name.rsplit(".", 1)[-1]):  # team.incentives; c.role → role
                texts = by_name.get(key, {}).get(str(x))
                if texts is not None:
                    return str(texts.get(lang, x))
        return unique.get(str(x), str(x))

    env.filters["label"] = label
    return env


# --------------------------------------------------------------------------- plain messages

# Most messages are text with `{{ name.attr|filter(literal, …) }}` outputs (34 of the 36 a course
# account shows). Compiling one through Jinja (lexer, parser, code generator, Python's compile)
# costs about half a millisecond, the largest part of rendering a rulebook's messages the first
# time. A plain message is rendered here instead, doing exactly what the code Jinja generates for
# it does (language/sandbox.py's bounded environment, StrictUndefined, the NamedLabels extension):
# each name looked up in the variables or made undefined, each attribute read through the
# sandbox's getattr, each filter called as Jinja calls it, each value counted (`_emitted`) and
# converted with str, the static text counted at the end, all inside the environment's concat,
# which holds the render's budget. Anything else goes through Jinja. tests/test_plain_messages.py
# compares both on every message of the course and on generated ones.

_NUM = r"-?(?:0|[1-9]\d*)(?:\.\d+)?"
_STR = r"'[^'\\{}\r\n]*'|\"[^\"\\{}\r\n]*\""
# one filter and its literal arguments: `|name`, `|name()`, `|name(1, 'a')`
_FILTER_SYNTAX = rf"\s*\|\s*([A-Za-z_]\w*)(\((\s*(?:(?:{_NUM}|{_STR})\s*(?:,\s*(?:{_NUM}|{_STR})\s*)*)?)\))?"
_PLAIN_OUTPUT = re.compile(rf"\{{\{{ *([A-Za-z_]\w*)((?:\.[A-Za-z]\w*)*)((?:{_FILTER_SYNTAX})*) *\}}\}}", re.ASCII)
# The filters of an output _PLAIN_OUTPUT matched, and their arguments, are well formed already:
# these only find where each filter and literal starts and ends (a string may hold | ( ) or ,), the
# same groups as _FILTER_SYNTAX and the literals themselves, with patterns that cost 1.2 M
# instructions to compile, not 3.6 M (callgrind). tests/test_plain_readers.py holds them equal.
_FILTER_CALL = re.compile(r"""\|\s*([A-Za-z_]\w*)(\(((?:[^)'"]|'[^']*'|"[^"]*")*)\))?""", re.ASCII)
_ARG = re.compile("-?[.0-9]+|'[^']*'|\"[^\"]*\"", re.ASCII)
_NEWLINE = re.compile(r"(\r\n|\r|\n)")
# Jinja reads these as constants, operators or its own names, not as variables
_NOT_NAMES = frozenset({"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if",
                        "else", "elif", "for", "recursive", "with", "without", "import", "from", "as", "block",
                        "endblock", "self", "super", "loop", "caller", "varargs", "kwargs"})

Output = tuple[str, tuple[str, ...], tuple[tuple[str, tuple[Any, ...]], ...]]  # name, attributes, filters


def _literal(text: str) -> Any:
    if text[0] in "'\"":
        return text[1:-1]
    return float(text) if "." in text else int(text)


class PlainMessage:
    """A message Jinja need not compile: its static pieces and outputs (see above)."""

    __slots__ = ("pieces", "static")

    def __init__(self, pieces: tuple[str | Output, ...], static: int) -> None:
        self.pieces = pieces
        self.static = static

    def render(self, env: BoundedEnvironment, variables: Mapping[str, Any]) -> str:
        return str(env.concat(self._parts(env, variables)))

    def _parts(self, env: BoundedEnvironment, variables: Mapping[str, Any]) -> Iterator[str]:
        filters, undefined, getattr_, emitted = env.filters, env.undefined, env.getattr, env._emitted
        for piece in self.pieces:
            if isinstance(piece, str):
                yield piece
                continue
            name, attrs, calls = piece
            value = variables.get(name, missing)
            if value is missing:
                value = undefined(name=name)
            for attr in attrs:
                value = getattr_(value, attr)
            for fname, args in calls:
                value = filters[fname](value, *args)
            yield str(emitted(value, 0))
        yield str(emitted("", self.static))


def plain_message(text: str, env: BoundedEnvironment) -> PlainMessage | None:
    """The message as a PlainMessage when it is text and plain outputs whose filters `env`
    calls with the value alone (no context, environment or eval context); else None."""
    if env.keep_trailing_newline or env.finalize is not None or env.autoescape is not False:
        return None  # the message environment's options (make_env) are the ones done here
    named = any(isinstance(x, NamedLabels) for x in env.extensions.values())
    # what Jinja's lexer does to the source first: newlines normalised, one trailing newline dropped
    lines = _NEWLINE.split(text)[::2]
    if lines[-1] == "":
        del lines[-1]
    source = "\n".join(lines)
    pieces: list[str | Output] = []
    static = pos = 0
    for m in _PLAIN_OUTPUT.finditer(source):
        data = source[pos:m.start()]
        if "{" in data or "}" in data:
            return None
        name = m.group(1)
        if name in _NOT_NAMES:
            return None
        calls: list[tuple[str, tuple[Any, ...]]] = []
        for i, f in enumerate(_FILTER_CALL.finditer(m.group(3))):
            fname, parens, arg_text = f.group(1), f.group(2), f.group(3) or ""
            func = env.filters.get(fname)
            if func is None or getattr(func, "jinja_pass_arg", None) is not None:
                return None
            args = tuple(_literal(a.group()) for a in _ARG.finditer(arg_text))
            if named and fname == "label" and parens is None and i == 0:
                args = (name + m.group(2),)  # NamedLabels: `x.y|label` reads as `x.y|label('x.y')`
            calls.append((fname, args))
        if data:
            pieces.append(data)
            static += len(data)
        pieces.append((name, tuple(m.group(2).split(".")[1:]), tuple(calls)))
        pos = m.end()
    tail = source[pos:]
    if "{" in tail or "}" in tail:
        return None
    if tail:
        pieces.append(tail)
        static += len(tail)
    return PlainMessage(tuple(pieces), static)


CHECK_ENV = make_env("en")  # parses message text at load time; filters and tests as at run time
FILTERS = ("pct", "pp", "money", "num", "days", "date", "label")


def message_problem(e: BaseException, rule: str, kind: str, account: str, at: Location) -> Problem:
    """A message that went past a bound of the sandbox, or failed on its own terms (a name it
    cannot read, an operation on the wrong type): the rulebook's fault, at the message."""
    if isinstance(e, (LimitExceeded, RecursionError, MemoryError)):
        what = str(e) if isinstance(e, LimitExceeded) else "it is nested too deeply"
        return Problem("template.limit", f"rule '{rule}': its {kind} message went past a limit for account "
                       f"'{account}': {what}", at, f"rules[{rule}]",
                       hint="messages are bounded in time, size, loops and nesting (docs/security.md)")
    return Problem("template.error", f"rule '{rule}': its {kind} message cannot be rendered for account "
                   f"'{account}': {e}", at, f"rules[{rule}]", hint="check the message against the facts it uses")
