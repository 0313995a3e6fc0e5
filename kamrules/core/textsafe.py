"""Text from input, neutralised for the medium it is written to.

Account and contact names, CSV cells and headers, file names, rulebook titles, labels and
messages come from files kamrules does not control. Written out raw they can drive a terminal
(ESC/CSI sequences move the cursor or recolour text, OSC sequences set the window title, C1
controls do the same on some terminals), reorder what a reader sees (bidi overrides and
isolates: 'Trojan Source'), fake structure in a Markdown playbook (a line break followed by
`# ` or `- [ ]`), or run as a formula in a spreadsheet.

The data itself is never changed; each writer calls the function for its medium, where the
text is written:

    terminal(text)     a whole output the CLI prints: line breaks and tabs stay, every other
                       control is shown as a visible escape (\\x1b, \\u202e)
    line(text)         one value inside a line (an error message, a file name): line breaks
                       are shown as \\n too, so a value cannot start a line of its own
    markdown(text)     one value inside a Markdown document: line breaks become spaces,
                       characters that would start a heading, list, task item, quote, table
                       cell, link, code span or HTML tag are backslash-escaped
    html(text)         one value inside HTML, before Jinja's autoescape: controls and bidi shown
    csv_cell(text)     one text cell of a CSV export: formula starts prefixed with ', controls shown
    json_dumps(obj)    JSON: no NaN/Infinity, no -0.0, and C1 controls, bidi controls and line
                       separators written as \\u escapes (lossless: a JSON reader gets the text back)
    json_pieces(obj)   the same text as json_dumps(obj) (indent 2), in pieces, with `Stream`s:
                       arrays whose items are made as they are written

Visible escapes rather than deletion: a reader sees that something was there, and what.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from json.encoder import encode_basestring
from typing import Any, Callable, Iterable, Iterator

from kamrules.core.lazyre import LazyPattern

# Characters that are never written raw: C0 controls (tab and line feed are handled per
# medium), DEL, C1 controls, the bidi embeddings/overrides/isolates and marks, the Unicode
# line and paragraph separators, invisible operators and a BOM that is not the first character.
# Zero-width (non-)joiners U+200C/U+200D are kept: emoji sequences and Persian, Arabic and Indic
# text need them, and they cannot move or hide text.
_CONTROL_CLASS = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
    "\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb"
)
# A class with characters beyond U+00FF and more than two runs compiles to a 64k-entry bitmap,
# ~2.5 M instructions each (callgrind): this one is compiled once, and the patterns below use it
# beside cheap ones rather than being compiled with it again.
_CONTROLS = re.compile(f"[{_CONTROL_CLASS}]")
_LONE_CR = LazyPattern("\r(?!\n)")  # a lone CR rewrites the line
# the same characters as [\r\n\x0b\x0c\x85\u2028\u2029], as two classes of at most two runs each,
# which compile to ranges (0.4 M instructions, not 1.3 M)
_LINE_BREAKS = re.compile("\r\n|[\n-\r\x85]|[\u2028\u2029]")

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet runs as a formula


def _visible(m: re.Match[str]) -> str:
    ch = m.group()
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def has_controls(text: str) -> bool:
    """True when any character of the text would be escaped by terminal() or line()."""
    return bool(_CONTROLS.search(text)) or "\r" in text or "\n" in text


def terminal(text: str) -> str:
    """A whole output for a terminal: keep \\n, \\t and \\r\\n; show every other control.

    A leading BOM is kept: the CSV export starts with one so Excel reads it as UTF-8."""
    if text.startswith("\ufeff"):
        return "\ufeff" + _terminal(text[1:])
    return _terminal(text)


def _terminal(text: str) -> str:
    # a lone CR is not a control character: each shown on its own, the same as one pattern
    # for both (_visible writes neither a CR nor a control)
    text = _CONTROLS.sub(_visible, text)
    return _LONE_CR().sub(_visible, text) if "\r" in text else text


def line(text: str) -> str:
    """One value inside a line of text: line breaks are shown (\\n) like any other control."""
    return _CONTROLS.sub(_visible, text).replace("\r", "\\r").replace("\n", "\\n")


def block(text: str, indent: str) -> str:
    """A value that may span lines (an 'expected:' example): controls shown, and every line
    after the first indented, so no line of it can pass for a line of its own."""
    lines = _LINE_BREAKS.split(text)
    return ("\n" + indent).join(_CONTROLS.sub(_visible, part) for part in lines)


# --------------------------------------------------------------------------- Markdown

# Escaped anywhere: \ (so no escape of ours can be undone), ` (code spans), * (emphasis),
# [ and ] (links, images, task items, footnotes), | (table cells).
_MD_ANYWHERE = re.compile(r"([\\`*\[\]|])")
# Escaped where they would open HTML or an entity: <tag, </tag, <!--, <?, <http://…>, &name; &#…;
_MD_HTML = re.compile(r"<(?=[A-Za-z/!?])|&(?=#?\w+;)")
# A value can land at the start of a line (a table row, after a list marker): escape the first
# character when it would start a heading, list item, quote, fence, thematic break or setext line.
_MD_BLOCK_START = re.compile(
    r"^(\s*)("
    r"#{1,6}(?=\s|$)"          # heading
    r"|[-+](?=\s|$)"           # bullet (* is escaped everywhere)
    r"|>"                      # block quote
    r"|\d{1,9}(?=[.)](?:\s|$))"  # ordered list: 1. or 1)
    r"|[-_=~](?=[-_=~\s]*$)"   # --- ___ === ~~~ alone: thematic break, setext underline, fence
    r"|~~~"                    # fence with an info string
    r")"
)


# Anything markdown() could change: most text (a Chinese name, a sentence) has none of it. These
# characters or a control (_CONTROLS), searched for apart: one class of both was a second 64k-entry
# bitmap to compile (2.7 M instructions of every start, callgrind; the two searches of a value
# cost ~0.3 M in a playbook's 900 values).
_MD_TOUCHES = re.compile("[\\\\`*\\[\\]|<&\r\n\x85]")


def markdown(text: str) -> str:
    """One value inside a Markdown document, shown as the text it is."""
    if not _MD_TOUCHES.search(text) and not _CONTROLS.search(text) and not _MD_BLOCK_START.match(text):
        return text
    text = _LINE_BREAKS.sub(" ", text)
    text = _MD_ANYWHERE.sub(r"\\\1", text)
    text = _MD_HTML.sub(lambda m: "\\" + m.group(), text)
    m = _MD_BLOCK_START.match(text)
    if m:
        # 1. → 1\.  (the digits stay, the delimiter is escaped); # → \#, - → \-, > → \>
        at = m.end() if m.group(2)[0].isdigit() else m.start(2)
        text = text[:at] + "\\" + text[at:]
    return _CONTROLS.sub(_visible, text)


# --------------------------------------------------------------------------- HTML, CSV

def html(text: str) -> str:
    """One value inside HTML: controls and bidi shown; Jinja's autoescape does < > & " '."""
    return _CONTROLS.sub(_visible, text)


def csv_cell(text: str) -> str:
    """One text cell of a CSV export: a cell a spreadsheet would run as a formula (=HYPERLINK(…),
    +cmd, -1+1, @SUM) is prefixed with ' so it shows as text; line breaks become spaces (one
    account, one line) and other controls are shown. Numbers are written as numbers and never
    pass here."""
    text = "'" + text if text.startswith(FORMULA_START) else text
    return _CONTROLS.sub(_visible, _LINE_BREAKS.sub(" ", text))


# --------------------------------------------------------------------------- JSON

_JSON_UNSAFE = re.compile(f"[{_CONTROL_CLASS}]")  # after json.dumps, only inside strings


def _json_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def json_ready(obj: Any) -> Any:
    """The data with -0.0 as 0.0; NaN or Infinity anywhere is a bug in kamrules (ValueError),
    never JSON that a strict parser refuses."""
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"{obj} cannot be written as JSON")
        return obj + 0.0  # -0.0 + 0.0 == 0.0
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    return obj


def json_dumps(obj: Any, *, indent: int | None = 2, default: Callable[[Any], Any] | None = None,
               sort_keys: bool = False) -> str:
    """JSON text that every strict parser accepts and that is safe to print to a terminal."""
    encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=indent, default=default,
                               sort_keys=sort_keys, separators=(",", ": ") if indent is not None else None)
    # json.dumps would gather every small piece of the text in one list before joining them: for a
    # portfolio summary listing 100,000 accounts that list is many times the text. Join as it goes.
    pieces: list[str] = []
    batch: list[str] = []
    for chunk in encoder.iterencode(json_ready(obj)):
        batch.append(chunk)
        if len(batch) >= 8192:
            pieces.append("".join(batch))
            batch.clear()
    pieces.append("".join(batch))
    text = "".join(pieces)
    del pieces, batch
    return _JSON_UNSAFE.sub(_json_escape, text)


class Stream:
    """A JSON array whose items are made as they are written (json_pieces): `fn(x)` for every x
    of `items`, which is iterated once per writing. A portfolio summary lists every account (its
    rank, its point on the whale curve): as a list of dicts, and then as text, that is many times
    the few numbers per account the run keeps."""

    __slots__ = ("items", "fn")

    def __init__(self, items: Iterable[Any], fn: Callable[[Any], Any] | None = None) -> None:
        self.items = items
        self.fn = fn

    def __iter__(self) -> Iterator[Any]:
        fn = self.fn
        return iter(self.items) if fn is None else (fn(x) for x in self.items)


_PIECE = 4096  # bits of text (a key, a number, a bracket) gathered before a piece is handed on


def json_pieces(obj: Any) -> Iterator[str]:
    """json_dumps(obj) (indent 2), byte for byte, as pieces of text: a `Stream` anywhere in obj
    is written item by item, so neither its items nor its text are ever held whole."""
    out: list[str] = []
    for _ in _walk(obj, 0, out):
        yield "".join(out)
        out.clear()
    if out:
        yield "".join(out)


def _has_stream(o: Any) -> bool:
    if isinstance(o, Stream):
        return True
    if isinstance(o, dict):
        return any(_has_stream(v) for v in o.values())
    if isinstance(o, (list, tuple)):
        return any(_has_stream(v) for v in o)
    return False


def _walk(o: Any, level: int, out: list[str]) -> Iterator[None]:
    """Frame the containers that hold a Stream; encode everything else with _encode. Yields
    (nothing) when `out` is worth handing on."""
    if not _has_stream(o):
        _encode(o, level, out)
        return
    inner = "\n" + "  " * (level + 1)
    if isinstance(o, dict):
        if not o:  # pragma: no cover - a dict holding a Stream is not empty
            out.append("{}")
            return
        out.append("{")
        first = True
        for k, v in o.items():
            out.append(inner if first else "," + inner)
            first = False
            out.append(_key(k) + ": ")
            yield from _walk(v, level + 1, out)
        out.append("\n" + "  " * level + "}")
        return
    if isinstance(o, Stream):
        yield from _walk_stream(o, level, out)
        return
    first = True
    for item in o:  # a list or a tuple
        out.append("[" + inner if first else "," + inner)
        first = False
        yield from _walk(item, level + 1, out)
    out.append("[]" if first else "\n" + "  " * level + "]")


def _walk_stream(o: Stream, level: int, out: list[str]) -> Iterator[None]:
    """A Stream's items: runs of flat dicts (_flat) by json's C encoder, the rest as _walk does."""
    inner = "\n" + "  " * (level + 1)
    first = True
    batch: list[dict[str, Any]] = []
    for item in o:
        if _flat(item):
            batch.append(item)
            if len(batch) < _BATCH:
                continue
        if batch:
            out.append("[" + inner if first else "," + inner)
            first = False
            _flat_dicts(batch, level + 1, out)
            flushed = batch[-1] is item
            batch = []
            yield None
            if flushed:
                continue
        out.append("[" + inner if first else "," + inner)
        first = False
        if _has_stream(item):
            yield from _walk(item, level + 1, out)
            continue
        _encode(item, level + 1, out)
        if len(out) >= _PIECE:
            yield None
    if batch:
        out.append("[" + inner if first else "," + inner)
        first = False
        _flat_dicts(batch, level + 1, out)
    out.append("[]" if first else "\n" + "  " * level + "]")


# A Stream's items are mostly flat dicts (a ranked account: its id, rank, share, tier). _encode
# makes a dozen Python calls per item: ≈ 2.7 s for the 200,000 items of a 100,000-account
# summary, in the main process after the workers are done. json's C encoder writes a run of them
# in one call. It has no indent, but its item separator may be any text; a flat dict needs no
# indent beyond the one after each comma, and the text between two dicts ("}" + that separator
# + "{", with a raw newline no JSON string holds) is then rewritten into json's framing.
_C_ENCODER: Callable[..., Any] | None = getattr(json.encoder, "c_make_encoder", None)
_FLAT = frozenset({str, int, float, bool, type(None)})
_FLAT_ENCODERS: dict[int, Callable[[Any, int], Any]] = {}
_BATCH = 256  # flat dicts encoded in one call: ≈ 40 KB of text, handed on as one piece


def _flat(item: Any) -> bool:
    """A non-empty dict whose values are all str, int, float, bool or None."""
    return type(item) is dict and bool(item) and _FLAT.issuperset(map(type, item.values()))


def _flat_dicts(items: list[dict[str, Any]], level: int, out: list[str]) -> None:
    """`_encode` of each item (at `level`), joined by "," and the list's indent, in one call of
    json's C encoder. Falls back to _encode — the definition, which tests/test_output_stream.py
    holds this to — when the C encoder is not there, refuses something (NaN, infinity, an odd
    key: _encode raises its own error) or writes a -0.0 (json_dumps writes 0.0)."""
    enc = _FLAT_ENCODERS.get(level) if _C_ENCODER is not None else None
    if enc is None and _C_ENCODER is not None:
        enc = _FLAT_ENCODERS[level] = _C_ENCODER(
            None, None, encode_basestring, None, ": ", ",\n" + "  " * (level + 1), False, False, False)
    text = None
    if enc is not None:
        try:
            text = "".join(enc(items, 0))
        except (ValueError, TypeError):
            text = None
    if text is None or "-0.0" in text:  # -0.0 (and -0.01, or a text holding it: rare)
        sep = ""
        for item in items:
            out.append(sep)
            sep = ",\n" + "  " * level
            _encode(item, level, out)
        return
    if _JSON_UNSAFE.search(text):  # only inside strings: the indent's newlines are not in the class
        text = _JSON_UNSAFE.sub(_json_escape, text)
    inner, outer = "\n" + "  " * (level + 1), "\n" + "  " * level
    text = text[2:-2].replace("}," + inner + "{", outer + "}," + outer + "{" + inner)
    out.append("{" + inner + text + outer + "}")


def _string(s: str) -> str:
    text = encode_basestring(s)
    return _JSON_UNSAFE.sub(_json_escape, text) if _JSON_UNSAFE.search(text) else text


def _key(k: Any) -> str:
    """A dict key as json writes it (str, or a number, bool or None written as a string)."""
    if isinstance(k, str):
        return _string(k)
    if k is True:
        return '"true"'
    if k is False:
        return '"false"'
    if k is None:
        return '"null"'
    if isinstance(k, float):
        return _string(_float(k))
    if isinstance(k, int):
        return _string(int.__repr__(k))
    raise TypeError(f"keys must be str, int, float, bool or None, not {k.__class__.__name__}")


def _float(x: float) -> str:
    if not math.isfinite(x):
        raise ValueError(f"{x} cannot be written as JSON")
    return float.__repr__(x + 0.0)  # -0.0 + 0.0 == 0.0


def _encode(o: Any, level: int, out: list[str]) -> None:
    """What json's own encoder writes with indent 2 and separators (",", ": "), plus json_ready
    and the escapes of json_dumps."""
    if isinstance(o, str):
        out.append(_string(o))
    elif o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif isinstance(o, int):
        out.append(int.__repr__(o))
    elif isinstance(o, float):
        out.append(_float(o))
    elif isinstance(o, (list, tuple)):
        if not o:
            out.append("[]")
            return
        inner = "\n" + "  " * (level + 1)
        sep = "[" + inner
        for v in o:
            out.append(sep)
            sep = "," + inner
            _encode(v, level + 1, out)
        out.append("\n" + "  " * level + "]")
    elif isinstance(o, dict):
        if not o:
            out.append("{}")
            return
        inner = "\n" + "  " * (level + 1)
        sep = "{" + inner
        for k, v in o.items():
            out.append(sep + _key(k) + ": ")
            sep = "," + inner
            _encode(v, level + 1, out)
        out.append("\n" + "  " * level + "}")
    elif isinstance(o, Stream):
        _encode(list(o), level, out)
    else:
        raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


# --------------------------------------------------------------------------- whole structures

def deep(obj: Any, fn: Callable[[str], str]) -> Any:
    """Every string inside dicts, lists, tuples and dataclasses passed through fn (keys are left alone: they
    are names the template reads, not text it shows). A structure shared by several parts of
    the input (the playbook context lists each finding in several places) is converted once,
    and stays shared."""
    memo: dict[int, Any] = {}
    texts: dict[str, str] = {}

    def walk(o: Any) -> Any:
        if isinstance(o, str):
            done = texts.get(o)
            if done is None:
                done = texts[o] = fn(o)
            return done
        names = _dataclass_fields(type(o))
        if names is None and not isinstance(o, (dict, list, tuple)):
            return o
        key = id(o)
        if key in memo:
            return memo[key]
        out: Any
        if names is not None:  # a frozen dataclass of the typed playbook context: a copy with its text converted
            values = {n: walk(getattr(o, n)) for n in names}
            if names and type(o) in _PLAIN_COPY:
                out = object.__new__(type(o))
                out.__dict__.update(values)  # what dataclasses.replace builds, without __init__
            else:
                out = dataclasses.replace(o, **values)
            memo[key] = out
            return out
        if isinstance(o, dict):
            out = memo[key] = {}
            out.update((k, walk(v)) for k, v in o.items())
        elif isinstance(o, list):
            out = memo[key] = []
            out.extend(walk(v) for v in o)
        else:
            out = memo[key] = tuple(walk(v) for v in o)
        return out

    return walk(obj)


_FIELDS: dict[type, tuple[str, ...] | None] = {}
# dataclasses whose copy needs no __init__: every field an init field, no __post_init__, a
# __dict__ (a copy made by __init__ and one made by filling the __dict__ are then the same)
_PLAIN_COPY: set[type] = set()


def _dataclass_fields(cls: type) -> tuple[str, ...] | None:
    """The init fields of a dataclass (what dataclasses.replace copies), None for any other type."""
    try:
        return _FIELDS[cls]
    except KeyError:
        pass
    names: tuple[str, ...] | None = None
    if dataclasses.is_dataclass(cls):
        fields = dataclasses.fields(cls)
        names = tuple(f.name for f in fields if f.init)
        if (len(names) == len(fields) and not hasattr(cls, "__post_init__") and "__slots__" not in cls.__dict__
                and all("__slots__" not in b.__dict__ for b in cls.__mro__[1:-1])):
            _PLAIN_COPY.add(cls)
    _FIELDS[cls] = names
    return names
