"""The only module that touches PyYAML.

Reads a file safely and returns plain Python data plus the line/column of every key and
value, so later stages can point at the exact spot. Refuses what PyYAML would accept
silently or dangerously: duplicate keys, non-safe tags, alias bombs, huge or binary files.
"""
from __future__ import annotations

import math
import operator
import os
import re
from dataclasses import field
from typing import Any, Protocol, Union

import yaml

from kamrules.core import inputs, settings
from kamrules.core.errors import InputError, Location, Problem
from kamrules.core.record import dataclass

try:  # libyaml is ~5x faster and caps flow nesting itself
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Base = yaml.SafeLoader

_SCALAR, _SEQUENCE = yaml.ScalarNode, yaml.SequenceNode


def _implicit_table(base: Any) -> tuple[dict[str, tuple[tuple[str, Any], ...]], tuple[tuple[str, Any], ...]]:
    """The implicit resolvers a plain scalar is tried against, by its first character (the
    wildcard ones appended), as BaseResolver.resolve lists them for every scalar."""
    table = base.yaml_implicit_resolvers
    wildcard = tuple(table.get(None, []))
    return {k: tuple(v) + wildcard for k, v in table.items() if k is not None}, wildcard


class _FastLoader(_Base):  # type: ignore[misc]
    """The safe loader with the composer's per-node calls into Python made cheaper: the same tags.

    The composer calls `descend_resolver(parent, index)` and `ascend_resolver()` for every node
    and `resolve(kind, value, implicit)` for every node without an explicit tag (~15,600 of each
    for the course's files): BaseResolver's methods for path resolvers, which the safe loader has
    none of, and a resolver that builds a list of candidates per scalar. Here the first two are
    C functions that do nothing (`operator.is_` takes the two arguments; `tuple()` none), and
    `resolve` tries the same implicit resolvers in the same order from a table made once: a fifth
    of composing the course (213 → 170 M instructions, callgrind). tests/test_yamlio.py compares
    the nodes with the stock loader's."""

    descend_resolver = operator.is_
    ascend_resolver = staticmethod(tuple)

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        # the table from module globals: a class attribute read through `self` has no fast path
        # on Python 3.11 (~4 M instructions of composing the course, two reads a node, callgrind)
        if kind is _SCALAR:
            if implicit[0]:
                for tag, regexp in _IMPLICIT.get(value[:1], _WILDCARD):
                    if regexp.match(value):
                        return str(tag)
            return _STR_TAG
        return _SEQ_TAG if kind is _SEQUENCE else _MAP_TAG


_IMPLICIT, _WILDCARD = _implicit_table(_Base)


# path resolvers (PyYAML's experimental add_path_resolver) would need the real hooks and resolve
_Loader: Any = _Base if _Base.yaml_path_resolvers else _FastLoader

PathKey = Union[str, int]
Path = tuple[PathKey, ...]

# the largest file read: settings.max_file_bytes() (KAMRULES_MAX_FILE_BYTES), read when a file is
# read, so a bad setting is a usage error and not an exception at import
MAX_NODES = 500_000  # nodes after expanding aliases: a 10,000-contact account is ~170,000
MAX_DEPTH = 64

_SAFE_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_ScalarNode = yaml.ScalarNode


class YamlMark(Protocol):
    """Where a YAML node starts (yaml's Mark, from libyaml or the pure-Python parser): 0-based."""

    @property
    def line(self) -> int: ...
    @property
    def column(self) -> int: ...


@dataclass
class Doc:
    """A parsed file: plain data, plus marks for every path in it: (line, column), 1-based, or
    the YAML parser's own mark of the node, read only when a location is asked for (a YAML file
    has a mark for every key and value; making each a tuple was ~2 % of an uncached advise)."""

    file: str
    data: Any
    key_marks: dict[Path, tuple[int, int] | YamlMark] = field(default_factory=dict)
    value_marks: dict[Path, tuple[int, int] | YamlMark] = field(default_factory=dict)
    encoding: str = "utf-8"

    def loc(self, path: Path, *, key: bool = True) -> Location:
        """Location of a path: its key if it has one, else its value, else the nearest parent."""
        marks = (self.key_marks, self.value_marks) if key else (self.value_marks, self.key_marks)
        p = tuple(path)
        while True:
            for m in marks:
                if p in m:
                    mark = m[p]
                    if isinstance(mark, tuple):
                        return Location(self.file, *mark)
                    return Location(self.file, mark.line + 1, mark.column + 1)
            if not p:
                return Location(self.file, 1, 1)
            p = p[:-1]

    def value_loc(self, path: Path) -> Location:
        return self.loc(path, key=False)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _problem(code: str, msg: str, file: str, line: int = 1, col: int = 1, hint: str = "",
             path: str = "") -> InputError:
    return InputError([Problem(code, msg, Location(file, line, col), path=path, hint=hint)])


def decode(raw: bytes, file: str) -> tuple[str, str]:
    """Bytes → text, in ONE encoding decided for the whole file.

    UTF-8 (with or without BOM) first, strictly; UTF-16 only with its BOM. GBK (read as its
    superset GB18030) only when the file is not UTF-8 *and* shows no UTF-8 text at all: GB18030
    decodes almost any bytes, so a UTF-8 export with one row pasted from a GBK file would
    otherwise turn every Chinese name into mojibake and exit 0. A file that mixes the two is
    refused, naming the first line that does not fit.
    """
    bom = raw.startswith(b"\xef\xbb\xbf")
    if bom:
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as e:
            raise _problem("file.encoding", f"the file starts with a UTF-16 mark but is not UTF-16 text ({e.reason})",
                           file, hint="save the file as UTF-8") from None
    if b"\x00" in raw[:8192]:
        raise _problem("file.binary", "this is not a text file (it contains NUL bytes)", file,
                       hint="pass a YAML or JSON file saved as UTF-8")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        utf8_error = e
    bad, utf8 = _line_encodings(raw)
    if bom or utf8:
        _refuse_mixed(file, bad, utf8, bom)
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        line = raw[: utf8_error.start].count(b"\n") + 1
        raise _problem("file.encoding", "the file is neither UTF-8 nor GBK text", file, line,
                       hint="save the file as UTF-8") from None
    # GB18030 decodes almost any byte soup; accept it only when it reads like text.
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t")
    if printable < 0.95 * max(len(text), 1):
        raise _problem("file.binary", "this is not a text file", file,
                       hint="pass a YAML or JSON file saved as UTF-8")
    return text, "gbk"


def _line_encodings(raw: bytes) -> tuple[list[int], list[int]]:
    """(lines that are not UTF-8, lines that are unmistakably UTF-8), 1-based.

    Unmistakable: valid UTF-8 with at least two characters of three or more bytes (CJK is three).
    A short GBK name is often valid two-byte UTF-8 by accident; two 3-byte characters never
    were in 200,000 random lines of common (GB2312 level 1) characters, and were in ~1 line in
    6,000 of three characters drawn from all of GB2312 (docs/security.md)."""
    bad: list[int] = []
    utf8: list[int] = []
    for n, chunk in enumerate(raw.split(b"\n"), start=1):
        if chunk.isascii():
            continue
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(n)
            continue
        if sum(1 for ch in text if ord(ch) >= 0x800) >= 2:
            utf8.append(n)
    return bad, utf8


def _refuse_mixed(file: str, bad: list[int], utf8: list[int], bom: bool) -> None:
    """Name the first line of the minority encoding: in a UTF-8 file the GBK line, and the other
    way round."""
    if bom or len(utf8) >= len(bad):
        other = f"line {utf8[0]} is" if utf8 else "the file starts with a UTF-8 byte-order mark"
        raise _problem("file.mixed-encoding",
                       f"line {bad[0]} is not UTF-8 text, but {other}: the file mixes encodings"
                       + (f"; {len(bad) - 1} more line{'s' if len(bad) > 2 else ''} like it" if len(bad) > 1 else ""),
                       file, bad[0],
                       hint="this line was probably pasted from a GBK (Windows Chinese) file: retype it, or save "
                            "the whole file as UTF-8 (Excel: Save As → CSV UTF-8)")
    raise _problem("file.mixed-encoding",
                   f"line {utf8[0]} is UTF-8 text, but the rest of the file is GBK (line {bad[0]}, for one): the file "
                   "mixes encodings", file, utf8[0],
                   hint="save the whole file as UTF-8 (Excel: Save As → CSV UTF-8)")


def size_text(n: int) -> str:
    """Bytes for a message: 20.0 MiB, 512 KiB, 100 bytes."""
    if n >= 1024 * 1024:
        return f"{n // 1048576} MiB" if n % 1048576 == 0 else f"{n / 1048576:.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n} bytes"


def too_large(file: str, size: int | None, limit: int) -> InputError:
    what = (f"the file is {size_text(size)}; the limit is {size_text(limit)}" if size is not None
            else f"the input is larger than the limit of {size_text(limit)}")
    return _problem("file.too-large", what, file,
                    hint="split it, or raise KAMRULES_MAX_FILE_BYTES if it is genuine")


def read_text(file: str, *, stdin_text: str | None = None) -> tuple[str, str]:
    limit = settings.max_file_bytes()
    if stdin_text is not None:
        raw = stdin_text.encode("utf-8", "surrogateescape")
    else:
        try:
            size = os.path.getsize(file)
        except OSError as e:
            raise _problem("file.unreadable", f"cannot read the file: {e.strerror or e}", file, 0, 0,
                           hint="check the path") from None
        if size > limit:
            raise too_large(file, size, limit)
        try:
            with open(file, "rb") as fh:
                raw = fh.read(limit + 1)
                inputs.note_fd(file, fh.fileno())  # never an output target (io/output.py)
        except OSError as e:
            raise _problem("file.unreadable", f"cannot read the file: {e.strerror or e}", file, 0, 0,
                           hint="check the path and its permissions") from None
        if os.path.isdir(file):  # pragma: no cover - open() already fails on Linux
            raise _problem("file.unreadable", "this is a folder, not a file", file)
    if len(raw) > limit:
        raise too_large(file, None, limit)
    return decode(raw, file)


def load(file: str, *, text: str | None = None, encoding: str = "utf-8") -> Doc:
    """Parse YAML (or JSON) into a Doc. Raises InputError with file:line on any problem."""
    if text is None:
        text, encoding = read_text(file)
    try:
        if _may_expand(text):
            _precheck(text, file)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        msg = (e.problem or str(e)).strip()
        hint = "check the indentation and quoting near this line"
        bad_line = text.splitlines()[mark.line] if mark is not None and mark.line < len(text.splitlines()) else ""
        at_tab = "\t" in bad_line[: (mark.column + 1) if mark is not None else 0]
        if at_tab or "'\\t'" in msg:
            msg = "a tab character is used for indentation"
            hint = "YAML allows only spaces for indentation; replace tabs with spaces"
        elif "nesting depth" in msg:
            hint = f"nesting deeper than {MAX_DEPTH} levels is refused"
        elif "found duplicate anchor" in msg:
            hint = "each &anchor name may be defined once"
        raise _problem("yaml.syntax", f"YAML syntax error: {msg}", file, line, col, hint=hint) from None
    except yaml.YAMLError as e:
        raise _problem("yaml.syntax", f"YAML error: {e}", file) from None
    except RecursionError:
        raise _problem("yaml.too-deep", f"the document is nested too deeply (limit {MAX_DEPTH} levels)", file) from None
    doc = Doc(file=file, data=None, encoding=encoding)
    if node is None:
        return doc
    conv = _Converter(doc)
    doc.data = conv.convert(node, ())
    if conv.problems:
        raise InputError(conv.problems)
    return doc


_ANCHOR = re.compile(r"(?:^|[\s\[{,:?-])&[^\s\[\]{},]")


def _may_expand(text: str) -> bool:
    """Whether the document could hold more than MAX_NODES nodes. Without an anchor nothing is
    expanded, and each node takes at least one character of the text: a small file without
    anchors (every rulebook and account we ship) skips the second parse `_precheck` needs.

    The same answer as `_ANCHOR.search(text)`, tried only where there is an `&`: the pattern has
    no literal prefix for the regex engine to skip ahead by, so a search tried every position of
    the course's 425 kB (~11 ms of every uncached start), and half its files have an `&` in prose."""
    if len(text) > MAX_NODES:
        return True
    i = text.find("&")
    while i >= 0:
        # from the character before the `&`: `^` still matches only at the start of the text
        if _ANCHOR.match(text, max(i - 1, 0)) is not None:
            return True
        i = text.find("&", i + 1)
    return False


def _precheck(text: str, file: str) -> None:
    """Count the nodes the document expands to, from the event stream, before building any.

    Composing a million nodes costs seconds and hundreds of megabytes, and an alias bomb
    expands to billions; the event stream costs neither. Aliases count as the size of what
    they point to, so nested anchors are refused at the first alias that crosses the cap.
    """
    sizes: dict[str, int] = {}
    stack: list[list[Any]] = []  # [subtree size so far, anchor]
    expanded = 0
    for ev in yaml.parse(text, Loader=_Loader):
        if isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            stack.append([1, ev.anchor])
            n = 1
        elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            size, anchor = stack.pop()
            if anchor:
                sizes[anchor] = size
            if stack:
                stack[-1][0] += size
            continue
        elif isinstance(ev, yaml.ScalarEvent):
            n = 1
            if ev.anchor:
                sizes[ev.anchor] = 1
        elif isinstance(ev, yaml.AliasEvent):
            n = sizes.get(ev.anchor or "", 1)
        else:
            continue
        if stack and not isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            stack[-1][0] += n
        expanded += n
        if expanded > MAX_NODES:
            mark = ev.start_mark
            line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            hint = ("this usually means nested &anchors/*aliases (an 'alias bomb'); write the data out"
                    if isinstance(ev, yaml.AliasEvent) else "split the data into several files")
            raise InputError([Problem("yaml.too-large", f"the document expands to more than {MAX_NODES:,} nodes",
                                      Location(file, line, col), hint=hint)])


class _Converter:
    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.visits = 0
        self.problems: list[Problem] = []
        self.constructor = yaml.constructor.SafeConstructor()
        self.scalars: dict[tuple[str, str], Any] = {}  # (tag, text) → the value built for it

    def _loc(self, node: yaml.Node) -> Location:
        return Location(self.doc.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def _fail(self, code: str, msg: str, node: yaml.Node, path: Path, hint: str = "") -> None:
        self.problems.append(Problem(code, msg, self._loc(node), format_path(path), hint=hint))

    def convert(self, node: yaml.Node, path: Path) -> Any:
        self.visits += 1
        if self.visits > MAX_NODES:
            raise InputError([Problem(
                "yaml.too-large", f"the document expands to more than {MAX_NODES:,} nodes",
                self._loc(node), format_path(path),
                hint="this usually means nested &anchors/*aliases (an 'alias bomb'); write the data out")])
        if len(path) > MAX_DEPTH:
            raise InputError([Problem("yaml.too-deep", f"nesting deeper than {MAX_DEPTH} levels",
                                      self._loc(node), format_path(path[:8]) + "…")])
        self.doc.value_marks.setdefault(path, node.start_mark)
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP_TAG:
                self._fail("yaml.tag", f"the tag {node.tag} is not allowed", node, path,
                           "kamrules reads plain YAML only: remove the !tag")
                return None
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                self._fail("yaml.tag", f"the tag {node.tag} is not allowed", node, path,
                           "kamrules reads plain YAML only: remove the !tag")
                return None
            return [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.tag not in _SAFE_SCALAR_TAGS:
            self._fail("yaml.tag", f"the tag {node.tag} is not allowed", node, path,
                       "kamrules never constructs objects from YAML tags: remove the !tag")
            return None
        if node.tag == _STR_TAG:
            return node.value  # what SafeConstructor builds for a string (its construct_scalar), without its bookkeeping
        # an int, float, bool, null or timestamp is a function of its tag and text alone (the safe
        # constructor reads nothing else of a scalar node), and immutable: each distinct one is
        # built once (the course's files repeat a few hundred numbers and booleans ~1,000 times;
        # construct_object costs ~10,000 instructions a call)
        memo_key = (node.tag, node.value)
        if memo_key in self.scalars:
            return self.scalars[memo_key]
        try:
            value = self.constructor.construct_object(node)
        except (ValueError, yaml.constructor.ConstructorError, OverflowError) as e:
            kind = "date" if node.tag.endswith("timestamp") else "value"
            self._fail("yaml.value", f"'{node.value}' is not a valid {kind}: {e}", node, path,
                       "dates are written YYYY-MM-DD" if kind == "date" else "")
            return None
        # (NaN and infinity are kept as they are: the typed stages reject them with the fact's name)
        self.scalars[memo_key] = value
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        pairs = node.value
        if node.flow_style and len(pairs) > 1:  # (a number split at its comma needs two pairs)
            skip = self._split_numbers(pairs, path)
            if skip:
                pairs = [pair for i, pair in enumerate(pairs) if i not in skip]
        key_marks, value_marks = self.doc.key_marks, self.doc.value_marks
        # a string leaf (most values) is converted here, as convert() would, without the call:
        # a third of converting the course's files; anything else, or a leaf at a limit, goes there
        leaf_ok = len(path) < MAX_DEPTH
        for key_node, value_node in pairs:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._fail("yaml.merge", "merge keys (<<) are not supported", key_node, path,
                           "write the keys out")
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._fail("yaml.key", "a key must be a plain word, not a list or mapping", key_node, path)
                continue
            key = str(key_node.value)
            kpath = path + (key,)
            if key in out:  # (every key read is in out, its mark under its path: the first one's)
                first = key_marks[kpath]
                line = first[0] if isinstance(first, tuple) else first.line + 1
                self._fail("yaml.duplicate-key",
                           f"duplicate key '{key}' (first defined on line {line})",
                           key_node, kpath, "YAML keeps only the last one; remove or rename one of them")
                continue
            key_marks[kpath] = key_node.start_mark
            if leaf_ok and type(value_node) is _ScalarNode and value_node.tag == _STR_TAG and self.visits < MAX_NODES:
                self.visits += 1
                if kpath not in value_marks:
                    value_marks[kpath] = value_node.start_mark
                out[key] = value_node.value
            else:
                out[key] = self.convert(value_node, kpath)
        return out

    def _split_numbers(self, pairs: list[tuple[yaml.Node, yaml.Node]], path: Path) -> set[int]:
        """Numbers with thousands separators inside { … }: in a flow mapping a comma separates
        entries, so `{value: 8,000,000}` reads as value: 8 plus two keys `000` (a "duplicate
        key '000'", or silently 8 and an unknown key). Each such number is one problem, at
        the number, saying what to write; the pieces are not read as keys. Returns the
        indexes of the pieces."""
        pieces: set[int] = set()
        for i, (key_node, value_node) in enumerate(pairs):
            head = getattr(value_node, "value", None)
            if type(head) is str and head and not _may_start_number(head[0]):
                continue  # (most values: text) no call of _is_number_head and its pattern
            if i in pieces or not _is_number_head(value_node):
                continue
            end = value_node.end_mark.index
            tail: list[str] = []
            j = i + 1
            while j < len(pairs) and _is_number_piece(pairs[j], end):
                tail.append(str(pairs[j][0].value))
                end = pairs[j][0].end_mark.index
                pieces.add(j)
                j += 1
            if not tail:
                continue
            key = str(getattr(key_node, "value", ""))
            whole = ",".join([str(value_node.value), *tail])
            plain = whole.replace(",", "")
            if not all(_THOUSANDS_PIECE.fullmatch(t) for t in tail):
                # not groups of three digits (1,5 · 18,5%): a decimal comma, which no quoting
                # makes a number kamrules reads; the decimal point does
                point = f"{value_node.value}.{tail[0]}" if len(tail) == 1 else plain
                self._fail("yaml.number-comma",
                           f"the number {whole} is split at its comma{'s' if len(tail) > 1 else ''}: inside {{ … }} "
                           f"a comma separates entries, so '{key}: {whole}' reads as {key}: {value_node.value} and the "
                           f"key{'s' if len(tail) > 1 else ''} " + ", ".join(tail),
                           value_node, path + (key,),
                           f"a comma in a number only separates thousands (1,200,000); write a decimal with a point: "
                           f"{key}: {point}")
                continue
            self._fail("yaml.number-comma",
                       f"the number {whole} is split at its commas: inside {{ … }} a comma separates entries, so "
                       f"'{key}: {whole}' reads as {key}: {value_node.value} and the key{'s' if len(tail) > 1 else ''} "
                       + ", ".join(tail),
                       value_node, path + (key,),
                       f"quote the number or drop the commas: {key}: '{whole}' or {key}: {plain}")
        return pieces


_NUMBER_HEAD = re.compile(r"[-+]?[¥￥$]?\d{1,3}")
_HEAD_START = "-+¥￥$"  # (see _may_start_number)
_NUMBER_PIECE = re.compile(r"\d+(?:\.\d+)?[^\W\d_]*%?")  # 000, 000.5, 200万, 000元, 500k; 5 of 1,5
_THOUSANDS_PIECE = re.compile(r"\d{3}(?:\.\d+)?[^\W\d_]*%?")  # a group of a thousands separator


def _may_start_number(c: str) -> bool:
    """Whether _NUMBER_HEAD can match text starting with c: a sign, a currency sign, or a decimal
    digit (`\\d` is Unicode category Nd, what str.isdecimal is true for)."""
    return c in _HEAD_START or c.isdecimal()


def _is_number_head(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and not node.style and bool(_NUMBER_HEAD.fullmatch(node.value))


def _is_number_piece(pair: tuple[yaml.Node, yaml.Node], after: int) -> bool:
    """`,000` right after a number: a plain key of digits with no value, written directly
    after the comma that ended the number before it (a key after a space is a key)."""
    key, value = pair
    return (isinstance(key, yaml.ScalarNode) and not key.style and bool(_NUMBER_PIECE.fullmatch(key.value))
            and key.start_mark.index == after + 1
            and isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:null" and value.value == "")
