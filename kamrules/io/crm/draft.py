"""`kamrules init mapping FILE...`: a starting mapping from the exports' headers and values.

Each table of each file (every sheet of a workbook) is read; its headers are matched to facts by
the rulebook's names, labels and aliases, then to the column names of common CRMs (columns.yaml,
data rather than code); units and currencies in brackets are read apart ("金额(万元)", "Amount
(USD)"). The deals table is the one with an amount, a stage or won flag and a close date, and a
column naming an account that repeats across rows; the accounts table is the best of the others.
Stage, status, yes/no and enum columns get value maps from their values; dates their order.
Whatever could not be placed is written as a TODO with the nearest candidates, so the file
loads as it is and shows what is left to decide.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from kamrules.core import i18n, textsafe, yamlio
from kamrules.core.errors import InputError, Location, Problem
from kamrules.core.values import ValueProblem, parse_bool, parse_enum
from kamrules.io.account import ID_RE, KeyIndex, key_index
from kamrules.io.crm import convert
from kamrules.io.crm.mapping import COMPUTED_FIELDS, DEAL_FIELDS, MONEY_UNITS, PERCENT_UNITS, PLAIN_UNITS, stage_words
from kamrules.io.crm.sources import Sheet, kind_of, read_sheet, sheet_names
from kamrules.io.csvio import lookup_fact
from kamrules.rulebook.model import FactDef, Rulebook

_UNIT = re.compile(r"^(?P<base>.+?)\s*[（(\[]\s*(?P<unit>[^()（）\[\]]+?)\s*[)）\]]$")
_MAX_DISTINCT = 40  # values listed in a value map


def loose(text: str) -> str:
    """How CRM column names are compared: 'CloseDate', 'close_date' and 'Close Date' are one."""
    return re.sub(r"[\s_\-./:：()（）\[\]]+", "", unicodedata.normalize("NFKC", text).casefold())


@dataclass(frozen=True)
class Vocabulary:
    names: frozenset[str]  # every column name, as written (for finding the header row)
    accounts: dict[str, tuple[str, int]]  # loose name → (fact, rank)
    deals: dict[str, tuple[str, int]]  # loose name → (deal field or account/account_name, rank)
    stages: dict[str, str]  # loose name → stage
    status: dict[str, str]
    ignore: frozenset[str]


def vocabulary() -> Vocabulary:
    doc = yamlio.load(str(Path(__file__).with_name("columns.yaml")))
    data = doc.data

    def names(section: dict[str, list[Any]]) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        for target, listed in section.items():
            for rank, n in enumerate(listed):
                out.setdefault(loose(str(n)), (target, rank + 1))
        return out

    def words(section: dict[str, list[Any]]) -> dict[str, str]:
        return {loose(str(n)): target for target, listed in section.items() for n in listed}

    written = frozenset(str(n) for section in ("accounts", "deals") for listed in data[section].values()
                        for n in listed)
    return Vocabulary(written, names(data["accounts"]), names(data["deals"]), words(data["stages"]),
                      words(data["status"]), frozenset(loose(str(n)) for n in data["ignore"]))


# --------------------------------------------------------------------------- placing columns

@dataclass(frozen=True)
class Placement:
    target: str
    rank: int  # lower is a better match
    unit: str = ""  # a money unit or %
    currency: str = ""
    note: str = ""  # what the unit in the header said, when it means nothing here


@dataclass
class Candidate:
    file: str
    sheet: str | None
    data: Sheet
    accounts: dict[int, Placement] = field(default_factory=dict)
    deals: dict[int, Placement] = field(default_factory=dict)
    raw: dict[str, dict[int, Placement]] = field(default_factory=dict)  # role → every match, before choosing

    @property
    def label(self) -> str:
        return self.data.name

    def column(self, i: int) -> list[Any]:
        return [r.cells[i].value for r in self.data.rows if i < len(r.cells) and not r.cells[i].empty]

    def placed(self, role: str, target: str) -> int | None:
        placements = self.accounts if role == "accounts" else self.deals
        return next((i for i, p in placements.items() if p.target == target), None)


def _split_unit(header: str) -> tuple[str, str]:
    m = _UNIT.match(header)
    if m:
        return m["base"].strip(), m["unit"].strip()
    if len(header) > 1 and header.rstrip().endswith(("%", "％")):  # "Gross Margin %"
        return header.rstrip()[:-1].strip(), "%"
    return header, ""


def _unit(unit: str, type_: str, own: str = "") -> tuple[str, str, str]:
    """(unit, currency, note) a header's bracketed unit gives a column of this type."""
    if not unit:
        return "", "", ""
    u = unit.casefold()
    code = unit.upper() if re.fullmatch(r"[A-Za-z]{3}", unit) and u not in MONEY_UNITS and u not in PERCENT_UNITS \
        else ""
    for word, cur in (("美元", "USD"), ("欧元", "EUR"), ("英镑", "GBP"), ("港币", "HKD"), ("人民币", "CNY")):
        if word in unit:
            code = cur
    if type_ == "money":
        if code:
            return "", code, ""
        if u in MONEY_UNITS:
            return unit, "", ""
        if u.endswith("元") and u[:-1] in MONEY_UNITS:
            return u[:-1] or "元", "CNY" if "人民币" in unit else "", ""
    if type_ == "percent" and u in PERCENT_UNITS:
        return "%", "", ""
    if own and PLAIN_UNITS.get(u) == own:
        return "", "", ""
    return "", "", f"the header's unit '{unit}' is not read"


def place_accounts(header: str, book: Rulebook, index: KeyIndex, vocab: Vocabulary) -> Placement | None:
    """A CRM's own column name first (Salesforce's "Annual Revenue" is the customer's revenue, not
    ours, whatever a label says), then the rulebook's names, labels and aliases."""
    base, unit = _split_unit(header)
    for name in (header, base):
        hit = vocab.accounts.get(loose(name))
        if hit and hit[0] in book.facts:
            fact = book.facts[hit[0]]
            u, cur, note = _unit(unit if name == base else "", fact.type, fact.unit)
            return Placement(hit[0], hit[1], u, cur, note)
    for name in (header, base):
        target = lookup_fact(index, name)
        if target and not target.startswith("prefix:"):
            fact = book.facts[target]
            if fact.type == "list" and fact.items:
                return None
            u, cur, note = _unit(unit if name == base else "", fact.type, fact.unit)
            return Placement(target, 0, u, cur, note)
    return None


def place_deals(header: str, vocab: Vocabulary) -> Placement | None:
    base, unit = _split_unit(header)
    for name in (header, base):
        hit = vocab.deals.get(loose(name))
        if hit:
            kind = DEAL_FIELDS.get(hit[0], "")
            u, cur, note = _unit(unit if name == base else "", kind)
            return Placement(hit[0], hit[1], u, cur, note)
    return None


def _best(placements: dict[int, Placement]) -> dict[int, Placement]:
    """One column per target: the best-ranked (then the leftmost)."""
    best: dict[str, int] = {}
    for i, p in sorted(placements.items()):
        j = best.get(p.target)
        if j is None or p.rank < placements[j].rank:
            best[p.target] = i
    return {i: placements[i] for i in sorted(best.values())}


def _repeats(values: list[Any]) -> bool:
    return len(values) >= 4 and len(set(values)) < 0.9 * len(values)


def deals_score(c: Candidate) -> int:
    t = {p.target for p in c.deals.values()}
    score = 2 * ("amount" in t) + 2 * bool(t & {"stage", "status", "won"}) + 2 * bool(t & {"close_date"})
    score += 2 * bool(t & {"account", "account_name"})
    account = c.placed("deals", "account")
    account = account if account is not None else c.placed("deals", "account_name")
    if account is not None and _repeats(c.column(account)):
        score += 2
    return score


def accounts_score(c: Candidate) -> int:
    t = {p.target for p in c.accounts.values()}
    score = 2 * bool(t & {"id", "name"}) + min(3, len(t - {"id", "name"}))
    key = c.placed("accounts", "id")
    key = key if key is not None else c.placed("accounts", "name")
    if key is not None and not _repeats(c.column(key)):
        score += 2
    return score


# --------------------------------------------------------------------------- value maps, dates, currency

@dataclass(frozen=True)
class ValueMap:
    mapped: tuple[tuple[str, str], ...]  # export value → kamrules value
    todo: tuple[str, ...]  # export values left to decide
    choices: str  # what they could be


def _distinct(values: Iterable[Any]) -> list[str]:
    counts = Counter(str(v).strip() for v in values if str(v).strip())
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:_MAX_DISTINCT]


def stage_map(values: list[Any], vocab: Vocabulary, book: Rulebook) -> ValueMap:
    words = stage_words(book)
    labels = _stage_labels(book)
    mapped, todo = [], []
    for v in _distinct(values):
        k = loose(v)
        target = vocab.stages.get(k) or next((w for w in words if loose(w) == k), None)
        if target is None and labels:
            try:
                target = parse_enum(v, labels)
            except ValueProblem:
                target = None
        target = target or convert.STATUS_WORDS.get(k)
        if target is not None and target in words:
            mapped.append((v, target))
        else:
            todo.append(v)
    return ValueMap(tuple(mapped), tuple(todo), ", ".join(words))


def status_map(values: list[Any], vocab: Vocabulary) -> ValueMap:
    mapped, todo = [], []
    distinct = _distinct(values)
    numeric = all(v in ("0", "1", "2") for v in distinct)
    for v in distinct:
        k = loose(v)
        target = convert.STATUS_WORDS.get(k) or vocab.status.get(k) if (numeric or not k.isdigit()) else None
        if target:
            mapped.append((v, target))
        else:
            todo.append(v)
    return ValueMap(tuple(mapped), tuple(todo), "won, lost, open")


def bool_map(values: list[Any]) -> ValueMap:
    todo = []
    for v in _distinct(values):
        try:
            parse_bool(v)
        except ValueProblem:
            todo.append(v)
    return ValueMap((), tuple(todo), "true, false")


def enum_map(values: list[Any], fact: FactDef) -> ValueMap:
    todo = []
    for v in _distinct(values):
        try:
            parse_enum(v, dict(fact.values))
        except ValueProblem:
            todo.append(v)
    return ValueMap((), tuple(todo), ", ".join(fact.value_names))


def date_order(values: list[Any]) -> tuple[str, str]:
    """(YMD | MDY | DMY, doubt): how text dates of a column are ordered."""
    texts = [str(v) for v in values if isinstance(v, str)][:2000]
    parts = [m for t in texts if (m := re.match(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})\b", t))]
    if not parts:
        return "YMD", ""
    if any(int(m[1]) > 12 for m in parts):
        return "DMY", ""
    if any(int(m[2]) > 12 for m in parts):
        return "MDY", ""
    return "MDY", "every day in the sample is 12 or less: DMY (day/month/year) reads them too"


def _stage_labels(book: Rulebook) -> dict[str, Any]:
    opp = book.facts.get("opportunities")
    st = next((f for f in opp.items if f.name == "stage"), None) if opp else None
    return dict(st.values) if st is not None and st.type == "enum" else {}


# --------------------------------------------------------------------------- the draft

AGGREGATES: tuple[tuple[str, str, str], ...] = (
    ("revenue", "{sum: amount, where: {status: won, period: last_12_months}}",
     "won deals closed in the 12 months up to --as-of"),
    ("revenue_last_year", "{sum: amount, where: {status: won, period: previous_12_months}}",
     "won deals closed in the 12 months before those"),
    ("transactions", "{count: deals, where: {status: won, period: last_12_months}}", "won deals, same 12 months"),
    ("largest_order", "{max: amount, where: {status: won, period: last_12_months}}", "the largest of them"),
    ("win_rate", "{ratio: count, where: {status: won, period: last_12_months}, of: {status: closed, period: "
                 "last_12_months}}", "won / (won + lost), same 12 months"),
    ("pipeline", "{sum: amount, where: {status: open}}", "open deals"),
    ("days_since_activity", "{min: days_since_activity}", "days since the latest activity on any deal"),
)
# an open deal as the rulebook's opportunities list sees it: item ← deal field (a list reads only
# fields the deals table gives, or computes: the draft leaves the others out so that it loads)
OPPORTUNITY_ITEMS = (("name", "name"), ("value", "amount"), ("stage", "stage"),
                     ("last_activity_days", "days_since_activity"))


def _w(key: str, lang: str, **kw: Any) -> str:
    # the words go into YAML comments, and the values (headers, cells, file names) come from the
    # exports: a line break would end the comment and write a live key (core/textsafe.line)
    return i18n.t(key, lang, **{k: textsafe.line(v) if isinstance(v, str) else v for k, v in kw.items()})


_PLAIN_KEY = re.compile(r"^[^\s\-?:,\[\]{}#&*!|>'\"%@`][^:#\n]*$")


def _key(text: str) -> str:
    """A YAML key written safely: plain when it reads back as written, else double-quoted."""
    t = text.strip()
    if _PLAIN_KEY.match(t) and not t.endswith(" ") and t.lower() not in ("yes", "no", "true", "false", "null", "on",
                                                                         "off", "~", "y", "n") \
            and not re.fullmatch(r"[-+]?[\d.]+(e[-+]?\d+)?", t.lower()) and yamlio.load(
                "<draft>", text=f"{t}: 1\n").data == {t: 1}:
        return t
    return textsafe.json_dumps(t, indent=None)  # a YAML double-quoted scalar; controls as \u escapes


def _value(text: str) -> str:
    return _key(text)


def candidates(files: Sequence[str], book: Rulebook, vocab: Vocabulary) -> list[Candidate]:
    index = key_index(book)
    expect = set(vocab.names) | {alt for f in book.facts.values() for alt in (f.name, f.label.zh, f.label.en,
                                                                          *f.aliases) if alt}
    out: list[Candidate] = []
    problems: list[Problem] = []
    for f in files:
        sheets: list[str | None] = list(sheet_names(f)) if kind_of(f) == "xlsx" else [None]
        for s in sheets:
            try:
                data = read_sheet(f, s, expect=expect)
            except InputError as e:
                if s is not None and all(p.code == "crm.empty" for p in e.problems):
                    continue  # an empty sheet of a workbook
                problems.extend(e.problems)
                continue
            c = Candidate(f, s, data)
            raw_acc = {i: p for i, cell in enumerate(data.header)
                       if cell.text and (p := place_accounts(cell.text, book, index, vocab))}
            raw_deals = {i: p for i, cell in enumerate(data.header) if cell.text and (p := place_deals(cell.text, vocab))}
            c.accounts, c.deals = _best(raw_acc), _best(raw_deals)
            c.raw = {"accounts": raw_acc, "deals": raw_deals}
            out.append(c)
    if problems:
        raise InputError(problems)
    if not out:
        raise InputError([Problem("crm.empty", "none of the files holds a table", Location(files[0]))])
    return out


def draft_mapping(files: Sequence[str], book: Rulebook, lang: str) -> str:
    vocab = vocabulary()
    cands = candidates(files, book, vocab)
    deals = max(cands, key=deals_score) if cands else None
    if deals is not None and deals_score(deals) < 6:
        deals = None
    others = [c for c in cands if c is not deals]
    accounts = max(others, key=accounts_score) if others else None
    return _Writer(book, lang, vocab, files).text(accounts, deals, [c for c in cands if c not in (accounts, deals)])


class _Writer:
    def __init__(self, book: Rulebook, lang: str, vocab: Vocabulary, files: Sequence[str]) -> None:
        self.book, self.lang, self.vocab, self.files = book, lang, vocab, files
        self.index = key_index(book)
        self.near_pool = self._near_pool()

    def _near_pool(self) -> dict[str, str]:
        pool: dict[str, str] = {}
        for f in self.book.facts.values():
            if f.type == "list" and f.items:
                continue
            for alt in (f.name, f.label.zh, f.label.en, *f.aliases):
                if alt:
                    pool.setdefault(loose(alt), f.name)
        for k, (target, _) in self.vocab.accounts.items():
            if target in self.book.facts:
                pool.setdefault(k, target)
        return pool

    def nearest(self, header: str, role: str, placed: set[str]) -> list[str]:
        """The closest targets not already given by another column."""
        base, _ = _split_unit(header)
        if role == "deals":
            pool = {k: t for k, (t, _) in self.vocab.deals.items() if t in DEAL_FIELDS and t not in placed}
        else:
            pool = {k: t for k, t in self.near_pool.items() if t not in placed}
        hits = difflib.get_close_matches(loose(base), list(pool), n=8, cutoff=0.6)
        names = list(dict.fromkeys(pool[h] for h in hits))[:3]
        if role == "accounts":
            return [f"{n} ({self._label(n)})" if self._label(n) != n else n for n in names]
        return names

    def _label(self, fact: str) -> str:
        f = self.book.facts.get(fact)
        return (f.label.zh if self.lang == "zh" else f.label.en) or fact if f else fact

    # -- the file

    def text(self, accounts: Candidate | None, deals: Candidate | None, unused: list[Candidate]) -> str:
        lang = self.lang
        names = ", ".join(Path(f).name for f in self.files)
        run_files = " ".join(Path(f).name for f in self.files)
        lines = [f"# {_w('mapping.head', lang, files=names)}", f"# {_w('mapping.check', lang)}",
                 f"#   kamrules portfolio {run_files} --mapping <this file> --as-of YYYY-MM-DD",
                 f"# {_w('mapping.format', lang)}"]
        for c in unused:
            lines.append(f"# {_w('mapping.other_table', lang, name=c.label)}")
        lines.append("")
        lines += self.currency(accounts, deals)
        orders = self.date_orders(accounts, deals)
        order, doubt = (orders[0] if orders else ("YMD", ""))
        if order != "YMD":
            example = {"MDY": "6/30/2026", "DMY": "30/06/2026"}[order]
            lines.append(f"dates: {order}  # {_w('mapping.dates', lang, example=example)}")
            if doubt:
                lines.append(f"# {_w('mapping.doubt', lang, why=doubt)}")
        lines.append("")
        given: dict[str, str] = {}
        if accounts is not None:
            lines += self.table("accounts", accounts, given)
        else:
            lines += ["accounts:", f"  # {_w('mapping.not_found', lang, what='accounts' if lang == 'en' else '客户')}",
                      "  file: TODO.csv", "  columns:", "    TODO: id"]
        lines.append("")
        if deals is not None:
            lines += self.table("deals", deals, given, accounts)
            lines.append("")
            lines += self.aggregates(deals, given)
        return "\n".join(lines).rstrip() + "\n"

    def currency(self, accounts: Candidate | None, deals: Candidate | None) -> list[str]:
        found: Counter[str] = Counter()
        where: list[str] = []
        signs: set[str] = set()
        for role, c in (("accounts", accounts), ("deals", deals)):
            if c is None:
                continue
            placements = c.accounts if role == "accounts" else c.deals
            for i, p in placements.items():
                if p.currency:
                    found[p.currency] += len(c.data.rows) or 1
                    where.append(f"'{c.data.header[i].text}'")
                if p.target == "currency":
                    for v in c.column(i):
                        try:
                            found[convert.currency_code(v)] += 1
                        except convert.CellProblem:
                            pass
                    where.append(f"'{c.data.header[i].text}'")
                if (role == "deals" and p.target == "amount") or (
                        role == "accounts" and self.book.facts.get(p.target, None) is not None
                        and self.book.facts[p.target].type == "money"):
                    for v in c.column(i)[:500]:
                        if isinstance(v, str):
                            code, _ = convert.cell_currency(v)
                            if code in convert.FAMILIES:  # "$": dollars, but which? a guess to check
                                signs.add(code)
                                code = convert.FAMILY_GUESS[code]
                            if code:
                                found[code] += 1
                                where.append(f"'{c.data.header[i].text}'")
        book_cur = self.book.currency
        out = []
        if found:
            cur = found.most_common(1)[0][0]
            shown = ", ".join(dict.fromkeys(where))
            out.append(f"currency: {cur}  # {_w('mapping.currency_found', self.lang, where=shown)}")
            for sign in sorted(signs):
                if convert.FAMILY_GUESS[sign] == cur:
                    alike = ", ".join(sorted(convert.FAMILIES[sign][1] - {cur}))
                    out.append(f"# {_w('mapping.currency_sign', self.lang, sign=sign, cur=cur, others=alike)}")
        else:
            cur = book_cur or "CNY"
            out.append(f"currency: {cur}  # {_w('mapping.currency_guess', self.lang, cur=cur)}")
        others = sorted({c for c in found if c != book_cur} if book_cur else set())
        for o in others:
            out.append(f"# {_w('mapping.rate', self.lang, book=book_cur, cur=o)}")
        if others:
            out.append("# rates: {" + ", ".join(f"{o}: 7.1" for o in others) + "}")
        return out

    def date_orders(self, *cands: Candidate | None) -> list[tuple[str, str]]:
        orders: list[tuple[str, str]] = []
        for c in cands:
            if c is None:
                continue
            for role, placements in (("accounts", c.accounts), ("deals", c.deals)):
                for i, p in placements.items():
                    kind = DEAL_FIELDS.get(p.target) if role == "deals" else (
                        self.book.facts[p.target].type if p.target in self.book.facts else "")
                    if kind == "date":
                        o = date_order(c.column(i))
                        if o[0] != "YMD":
                            orders.append(o)
        return orders

    def table(self, role: str, c: Candidate, given: dict[str, str], accounts: Candidate | None = None) -> list[str]:
        lang = self.lang
        lines = [f"{role}:", f"  file: {_value(Path(c.file).name)}"]
        if c.sheet is not None:
            lines.append(f"  sheet: {_value(c.sheet)}")
        placements = c.accounts if role == "accounts" else c.deals
        join_col = None
        if role == "deals":
            join_col, join_to = self.join(c, accounts)
            if join_col is None:
                lines.append(f"  # {_w('mapping.join_todo', lang)}")
                lines.append("  join: {column: TODO, to: id}")
            else:
                lines.append(f"  join: {{column: {_value(c.data.header[join_col].text)}, to: {join_to}}}")
        lines.append("  columns:")
        for i, cell in enumerate(c.data.header):
            h = cell.text
            if not h or i == join_col:
                continue
            p = placements.get(i)
            if p is not None and p.target in ("account", "account_name"):  # the join names the account already
                join_header = c.data.header[join_col].text if join_col is not None else "?"
                lines.append(f"    {_key(h)}:  # {_w('mapping.account_too', lang, join=join_header)}")
                continue
            if p is None:
                other = c.raw.get(role, {}).get(i)
                if other is not None:  # a second column for a target another column gives better
                    used = next(c.data.header[j].text for j, q in placements.items() if q.target == other.target)
                    lines.append(f"    {_key(h)}:  # {_w('mapping.also', lang, target=other.target, used=used)}")
                    continue
                lines += self.unplaced(h, role, {q.target for q in placements.values()})
                continue
            if role == "accounts":
                given[p.target] = h
                if p.target == "name" and c.placed("accounts", "id") is None:
                    if all(ID_RE.match(str(v)) for v in c.column(i)):
                        lines.append(f"    {_key(h)}: [name, id]  # {_w('mapping.name_id', lang)}")
                        continue
                    lines.append(f"    # {_w('mapping.no_id', lang)}")
            lines += self.column(role, c, i, h, p)
        return lines

    def unplaced(self, header: str, role: str, placed: set[str]) -> list[str]:
        if loose(header) in self.vocab.ignore or loose(_split_unit(header)[0]) in self.vocab.ignore:
            return [f"    {_key(header)}:  # {_w('mapping.ignored', self.lang)}"]
        near = self.nearest(header, role, placed)
        note = _w("mapping.todo_col", self.lang, near=", ".join(near)) if near else _w("mapping.todo_none", self.lang)
        return [f"    {_key(header)}:  # {note}"]

    def column(self, role: str, c: Candidate, i: int, header: str, p: Placement) -> list[str]:
        lang = self.lang
        values = c.column(i)
        vmap: ValueMap | None = None
        if role == "deals":
            kind = DEAL_FIELDS.get(p.target, "")
            if kind == "stage":
                vmap = stage_map(values, self.vocab, self.book)
            elif kind == "status":
                vmap = status_map(values, self.vocab)
            elif kind == "bool":
                vmap = bool_map(values)
        else:
            fact = self.book.facts[p.target]
            if fact.type == "enum":
                vmap = enum_map(values, fact)
            elif fact.type == "bool":
                vmap = bool_map(values)
        extra = []
        if p.unit:
            extra.append(f"unit: {_value(p.unit)}")
        if p.currency:
            extra.append(f"currency: {p.currency}")
        comment = f"  # {_w('mapping.unit_note', lang, note=p.note)}" if p.note else ""
        if vmap is None or (not vmap.mapped and not vmap.todo):
            if extra:
                return [f"    {_key(header)}: {{to: {p.target}, {', '.join(extra)}}}{comment}"]
            return [f"    {_key(header)}: {p.target}{comment}"]
        lines = [f"    {_key(header)}:{comment}", f"      to: {p.target}", *(f"      {e}" for e in extra),
                 "      values:"]
        for v, t in vmap.mapped:
            lines.append(f"        {_key(v)}: {t}")
        for v in vmap.todo:  # a value map with only these comments is empty: those rows are reported
            lines.append(f"        # {_key(v)}: ?  # {_w('mapping.todo_value', lang, value=v, choices=vmap.choices)}")
        return lines

    def join(self, deals: Candidate, accounts: Candidate | None) -> tuple[int | None, str]:
        """The deals column naming the account: by name first, then by the values it shares."""
        acc_id = accounts.placed("accounts", "id") if accounts else None
        acc_name = accounts.placed("accounts", "name") if accounts else None
        by_id = deals.placed("deals", "account")
        by_name = deals.placed("deals", "account_name")
        if by_id is not None and (acc_id is not None or accounts is None):
            return by_id, "id"
        if by_name is not None and acc_name is not None:
            return by_name, "name"
        if accounts is not None:  # a column whose values are the accounts' ids or names
            for key, to in ((acc_id, "id"), (acc_name, "name")):
                if key is None:
                    continue
                known = {str(v).strip() for v in accounts.column(key)}
                for i in range(len(deals.data.header)):
                    vals = [str(v).strip() for v in deals.column(i)[:500]]
                    if vals and sum(v in known for v in vals) >= 0.5 * len(vals):
                        return i, to
        if by_id is not None:
            return by_id, "id"
        if by_name is not None:
            return by_name, "name"
        return None, "id"

    def aggregates(self, deals: Candidate, given: dict[str, str]) -> list[str]:
        lang = self.lang
        t = {p.target for p in deals.deals.values()}
        has_status = bool(t & {"stage", "status", "won", "closed"})
        lines = [f"# {_w('mapping.agg_head', lang)}", "aggregate:"]
        for fact, spec, what in AGGREGATES:
            missing = []
            if "amount" in spec and "amount" not in t:
                missing.append("amount")
            if "status:" in spec and not has_status:
                missing.append("stage/status")
            if "period:" in spec and "close_date" not in t:
                missing.append("close_date")
            reason = ""
            if fact not in self.book.facts:
                reason = _w("mapping.agg_undeclared", lang, fact=fact)
            elif fact in given:
                reason = _w("mapping.agg_column", lang, fact=fact, col=given[fact])
            elif missing:
                reason = _w("mapping.agg_missing", lang, what=", ".join(missing))
            if reason:
                lines.append(f"  # {fact}: {spec}  # {reason}")
            else:
                lines.append(f"  {fact}: {spec}  # {what}")
        opp = self.book.facts.get("opportunities")
        if opp is not None and opp.items and "opportunities" not in given:
            declared = {f.name for f in opp.items}
            items = [f"{item}: {field}" for item, field in OPPORTUNITY_ITEMS
                     if item in declared and (field in t or field in COMPUTED_FIELDS)]
            listed = "{" + ", ".join(items) + "}"
            if items and has_status:
                lines += [f"  # {_w('mapping.opps', lang)}", "  opportunities:", f"    list: {listed}",
                          "    where: {status: open}"]
            else:
                why = _w("mapping.agg_missing", lang, what="stage/status" if items else "name, amount, stage")
                lines += [f"  # {_w('mapping.opps', lang)}: {why}",
                          f"  # opportunities: {{list: {listed}, where: {{status: open}}}}"]
        return lines
