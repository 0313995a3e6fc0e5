"""Decision tables → ordinary rules, one per row.

A table is how a consultant writes a family of band or score rules: input columns, one row per
band, and a hit policy (DMN's unique / first / priority / collect). Each row becomes a RuleDef
whose condition is the written cells joined with `and` — the same text a consultant would have
typed as a rule (`revenue >= params.medium_revenue_min and revenue < params.key_revenue_min`) —
so rows get their own ids, evidence, explanations, overrides and rule tests, and both engines
see nothing new. `first` rows also carry the negation of every earlier row, so at most one
fires by construction.

Cells (docs/rulebook-language.md, "Decision tables"):
  -  (or empty)            any value
  < e  <= e  > e  >= e     compare the input with an expression e (a number, params.x, a fact …)
  == e  = e  != e          equal / not equal
  [a..b]  [a..b)  (a..b]   an interval; square brackets include the end
  a, b, c                  one of these values
  not(cell)                the opposite of another cell
  exists  missing          the input is given / not given
  a value                  equal to it (high, 3, true)
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from kamrules.core.errors import Collector, Location
from kamrules.core.i18n import Text
from kamrules.core.yamlio import Doc, format_path
from kamrules.core.yamlio import Path as YPath
from kamrules.core.record import dataclass

_CMP = re.compile(r"^(<=|>=|==|!=|<|>|=)(?![=<>])\s*(.*)$", re.S)
_INTERVAL = re.compile(r"^([\[(])\s*(.+?)\s*\.\.\s*(.+?)\s*([\])])$", re.S)
_NOT = re.compile(r"^not\s*\((.*)\)$", re.S)
_NAME = re.compile(r"^[^\W\d][\w]*(\.[^\W\d][\w]*)*$")


class CellError(ValueError):
    pass


def _operand(expr: str) -> str:
    expr = expr.strip()
    if not expr:
        raise CellError("a comparison needs something to compare with")
    return expr


def _input(expr: str) -> str:
    expr = expr.strip()
    return expr if _NAME.match(expr) else f"({expr})"


def _split_top(text: str) -> list[str]:
    """'a, b, c' → ['a', 'b', 'c'], leaving commas inside brackets or quotes alone."""
    parts, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch in ",，" and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        cur += ch
    parts.append(cur)
    return [p.strip() for p in parts]


def cell_condition(inp: str, cell: Any) -> str | None:
    """One cell → condition text over the input, or None for 'any'. Raises CellError."""
    if cell is None:
        return None
    if isinstance(cell, bool):
        return f"{inp} == {'true' if cell else 'false'}"
    if isinstance(cell, (int, float)):
        return f"{inp} == {cell:g}" if isinstance(cell, float) else f"{inp} == {cell}"
    text = str(cell).strip()
    if text in ("", "-", "—", "any"):
        return None
    if text == "exists":
        return f"exists({inp})"
    if text == "missing":
        return f"missing({inp})"
    m = _NOT.match(text)
    if m:
        inner = cell_condition(inp, m[1])
        if inner is None:
            raise CellError("not(-) would match nothing")
        return f"not ({inner})"
    m = _INTERVAL.match(text)
    if m:
        lo_op = ">=" if m[1] == "[" else ">"
        hi_op = "<=" if m[4] == "]" else "<"
        return f"{inp} {lo_op} {_operand(m[2])} and {inp} {hi_op} {_operand(m[3])}"
    if text[0] in "[(" and ".." in text:
        raise CellError(f"cannot read the interval {text!r}: write it as [a..b], [a..b), (a..b] or (a..b)")
    m = _CMP.match(text)
    if m:
        op = "==" if m[1] == "=" else m[1]
        return f"{inp} {op} {_operand(m[2])}"
    items = _split_top(text)
    if len(items) > 1:
        if any(not i for i in items):
            raise CellError(f"an empty value in the list {text!r}")
        return f"{inp} in [{', '.join(items)}]"
    return f"{inp} == {text}"


def _needs_parens(cond: str) -> bool:
    """A condition joined with `and` needs parentheses when it has a top-level `or`."""
    depth = 0
    for m in re.finditer(r"[()]|\bor\b", cond):
        tok = m.group(0)
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif depth == 0:
            return True
    return False


def row_condition(pre: tuple[str, Location] | None, inputs: tuple[str, ...], cells: list[tuple[Any, Location]]
                  ) -> tuple[str, tuple[tuple[int, int, Location], ...]]:
    """The row's condition text, and for each written piece its span in the text and its location.
    Raises CellError with the index of the bad cell in its args[1]."""
    parts: list[tuple[str, Location]] = []
    if pre is not None:
        text, loc = pre
        parts.append((f"({text})" if _needs_parens(text) else text, loc))
    for i, (inp, (cell, loc)) in enumerate(zip(inputs, cells)):
        try:
            cond = cell_condition(_input(inp), cell)
        except CellError as e:
            raise CellError(str(e), i) from None
        if cond is not None:
            parts.append((cond, loc))
    if not parts:
        return "true", ()
    out, spans = "", []
    for text, loc in parts:
        if out:
            out += " and "
        spans.append((len(out), len(out) + len(text), loc))
        out += text
    return out, tuple(spans)


def negate_earlier(own: str, earlier: list[str]) -> str:
    """A `first` row: it holds, and no earlier row does."""
    if not earlier:
        return own
    head = f"({own})" if _needs_parens(own) else own
    return head + "".join(f" and not ({e})" for e in earlier)


@dataclass
class ExpandedRow:
    id: str
    when: str
    spans: tuple[tuple[int, int, Location], ...]
    spec: Mapping[str, Any]  # the row as the grammar read it
    path: YPath


def expand(table: Mapping[str, Any], path: YPath, doc: Doc, out: Collector) -> list[ExpandedRow]:
    """Rows → condition texts (with spans), reporting cells that cannot be read and rows whose
    number of cells or outputs does not match the columns."""
    tid = table["table"]
    inputs = tuple(i for i in table.get("inputs") or [] if isinstance(i, str))
    outputs = tuple(o for o in table.get("outputs") or [] if isinstance(o, str))
    pre_raw = table.get("when")
    pre: tuple[str, Location] | None = None
    if isinstance(pre_raw, bool):
        pre_raw = "true" if pre_raw else "false"
    if isinstance(pre_raw, str) and pre_raw.strip():
        pre = (pre_raw, doc.value_loc(path + ("when",)))
    rows: list[ExpandedRow] = []
    for n, row in enumerate(table.get("rows") or [], start=1):
        rpath = path + ("rows", n - 1)
        if not isinstance(row, dict) or not isinstance(row.get("when"), list) or not isinstance(row.get("then"), list):
            continue
        rid = row["id"] if isinstance(row.get("id"), str) else f"{tid}-{n}"
        cells = row["when"]
        single = not isinstance(_raw(doc, rpath + ("when",)), list)  # a lone cell written without [ ]
        if len(cells) != len(inputs):
            out.add("rulebook.table-row", f"row '{rid}' of table '{tid}' has {len(cells)} cell"
                    f"{'s' if len(cells) != 1 else ''} for {len(inputs)} input column{'s' if len(inputs) != 1 else ''}",
                    doc.value_loc(rpath + ("when",)), format_path(rpath + ("when",)),
                    f"one cell per input: {', '.join(inputs)}", 'use "-" for an input the row does not test')
            continue
        if len(row["then"]) != len(outputs):
            out.add("rulebook.table-row", f"row '{rid}' of table '{tid}' has {len(row['then'])} output"
                    f"{'s' if len(row['then']) != 1 else ''} for {len(outputs)} output column"
                    f"{'s' if len(outputs) != 1 else ''}", doc.value_loc(rpath + ("then",)),
                    format_path(rpath + ("then",)), f"one value per output: {', '.join(outputs)}")
            continue
        located = [(c, doc.value_loc(rpath + ("when",) if single else rpath + ("when", i))) for i, c in enumerate(cells)]
        try:
            when, spans = row_condition(pre, inputs, located)
        except CellError as e:
            i = e.args[1] if len(e.args) > 1 else 0
            out.add("rulebook.table-cell", f"row '{rid}' of table '{tid}': {e.args[0]}", located[i][1],
                    format_path(rpath + ("when", i)), "a cell such as -, >= params.x, [a..b), high or a, b")
            continue
        rows.append(ExpandedRow(rid, when, spans, row, rpath))
    if table.get("hit_policy") == "first":
        plain = [r.when for r in rows]
        for i, r in enumerate(rows):
            r.when = negate_earlier(plain[i], plain[:i])
    return rows


def _raw(doc: Doc, path: YPath) -> Any:
    """The value at a path of the parsed file, as written (None when there is none)."""
    node: Any = doc.data
    for p in path:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def title(table_title: Text, row_title: Text | None) -> Text:
    return row_title if row_title is not None and (row_title.zh or row_title.en) else table_title
