"""Account files → a validated Account, against the facts the rulebook declares.

Keys may be the fact name, its Chinese or English label, or an alias; nested mappings give
dotted facts (team: {accounts_per_manager: 3} is team.accounts_per_manager). Every mistake is
collected, with file:line, the path to the key, what was expected and a suggestion.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from kamrules.core import settings, yamlio
from kamrules.core.errors import AccountError, Collector, InputError, Location, suggest
from kamrules.core.values import RangeProblem, ValueProblem, format_value, named_currency, parse_date, parse_scalar
from kamrules.core.yamlio import Doc, format_path
from kamrules.core.yamlio import Path as YPath
from kamrules.rulebook.model import Account, FactDef, Rulebook

ID_RE = re.compile(r"^[\w][\w.\-]{0,63}$", re.UNICODE)
FREE_KEYS = ("notes", "extra", "as_of")  # accepted, not facts
MAX_LIST_ITEMS = 100_000


class KeyIndex:
    """Which keys are accepted at each nesting level, and which fact or prefix each one means."""

    def __init__(self, facts: dict[str, FactDef]) -> None:
        self.levels: dict[str, dict[str, str]] = {"": {}}  # prefix → key → dotted fact or "prefix:" + sub
        for f in facts.values():
            parts = f.name.split(".")
            for i in range(len(parts) - 1):
                prefix = ".".join(parts[:i])
                sub = ".".join(parts[: i + 1])
                self.levels.setdefault(prefix, {})[parts[i]] = "prefix:" + sub
                self.levels.setdefault(sub, {})
            prefix = ".".join(parts[:-1])
            level = self.levels.setdefault(prefix, {})
            level[parts[-1]] = f.name
            for alt in (f.label.zh, f.label.en, *f.aliases):
                if alt and alt not in level:
                    level[alt] = f.name
                # labels also work at the top level, flat (年交易额: … or 每位经理负责大客户数: …)
                if alt and prefix and alt not in self.levels[""]:
                    self.levels[""][alt] = f.name
            if prefix and f.name not in self.levels[""]:
                self.levels[""][f.name] = f.name  # flat dotted key: team.accounts_per_manager: 3

    def lookup(self, prefix: str, key: str) -> str | None:
        level = self.levels.get(prefix, {})
        if key in level:
            return level[key]
        low = key.lower()
        for k, v in level.items():
            if k.lower() == low:
                return v
        return None

    def choices(self, prefix: str) -> list[str]:
        return [k for k in self.levels.get(prefix, {}) if k.isascii()] + (list(FREE_KEYS) if not prefix else [])


_INDEXES: dict[int, tuple[Rulebook, KeyIndex]] = {}


def key_index(book: Rulebook) -> KeyIndex:
    """The rulebook's key index, built once per rulebook: an export of 100,000 rows reads them
    all against the same facts."""
    hit = _INDEXES.get(id(book))
    if hit is not None and hit[0] is book:  # the book is kept, so its id is not reused meanwhile
        return hit[1]
    if len(_INDEXES) > 8:
        _INDEXES.clear()
    index = KeyIndex(dict(book.facts))
    _INDEXES[id(book)] = (book, index)
    return index


def load_account(file: str, book: Rulebook, *, text: str | None = None) -> Account:
    """Read and validate an account file ('-' with text=stdin). Raises AccountError."""
    try:
        doc = yamlio.load(file, text=text) if text is not None else yamlio.load(file)
    except InputError as e:
        raise AccountError(e.problems) from None
    return account_from_doc(doc, book)


def account_from_doc(doc: Doc, book: Rulebook) -> Account:
    out = Collector(hint_limit=settings.max_problems())
    data = doc.data
    if data is None:
        out.add("account.empty", "the account file is empty", Location(doc.file, 1, 1),
                expected="a mapping with at least id and name", hint="run 'kamrules init account' for a template")
        raise AccountError(out.problems)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({str(data)[:40]!r})"
        out.add("account.not-mapping", f"the account file holds {kind}, not a mapping", doc.value_loc(()),
                expected="key: value pairs such as 'revenue: 1200万'",
                hint="a portfolio of accounts goes in separate files")
        raise AccountError(out.problems)
    index = key_index(book)
    values: dict[str, Any] = {}
    locations: dict[str, Location] = {}
    as_of = None
    if "company" in data and isinstance(data["company"], str) and "company.revenue" in book.facts:
        data = dict(data)
        data["company"] = _company_file(doc, data["company"], out)
    _walk(doc, data, (), "", index, book, values, locations, out)
    if "as_of" in data and data["as_of"] is not None:
        try:
            as_of = parse_date(data["as_of"])
        except ValueProblem as e:
            out.add("account.range" if isinstance(e, RangeProblem) else "account.value", e.message,
                    doc.value_loc(("as_of",)), "as_of", e.expected, e.hint)
    for f in book.facts.values():
        if f.required and values.get(f.name) is None:
            label = f.label.zh or f.label.en
            named = f"'{f.name}' ({label})" if label and label != f.name else f"'{f.name}'"
            out.add("account.missing", f"{named} is required", Location(doc.file, 1, 1),
                    f.name, f"{f.name}: {f.example if f.example is not None else '…'}")
    rid = values.get("id")
    if isinstance(rid, str) and not ID_RE.match(rid):
        out.add("account.bad-id", f"the id {rid!r} cannot be used as an account id", locations.get("id", Location(doc.file)),
                "id", "letters, digits, - _ . (at most 64), no spaces, slashes or line breaks",
                "ids name output files; write e.g. huaxin-steel")
    out.raise_if_any(AccountError)
    return Account(id=str(values.get("id", Path(doc.file).stem)), name=str(values.get("name", values.get("id", ""))),
                   file=doc.file, values=values, locations=locations, as_of=as_of)


def _company_file(doc: Doc, ref: str, out: Collector) -> Any:
    path = Path(doc.file).parent / ref
    try:
        sub = yamlio.load(str(path))
    except InputError as e:
        out.extend(e.problems)
        return None
    if not isinstance(sub.data, dict):
        out.add("account.company-file", "the company profile must be a mapping", doc.value_loc(("company",)), "company")
        return None
    return sub.data


def _walk(doc: Doc, data: dict[str, Any], path: YPath, prefix: str, index: KeyIndex, book: Rulebook,
          values: dict[str, Any], locations: dict[str, Location], out: Collector) -> None:
    for key, raw in data.items():
        kpath = path + (key,)
        if not prefix and key in FREE_KEYS:
            continue
        target = index.lookup(prefix, key)
        if target is None:
            hint = suggest(key, index.choices(prefix)) if out.worth_a_hint() else ""
            where = f"under '{prefix}'" if prefix else "in an account"
            out.add("account.unknown-key", f"unknown key '{key}' {where}", doc.loc(kpath), format_path(kpath),
                    "a fact the rulebook declares (see 'kamrules rules --facts')", hint)
            continue
        if target.startswith("prefix:"):
            sub = target[len("prefix:"):]
            if raw is None:
                continue
            if not isinstance(raw, dict):
                out.add("account.type", f"'{key}' must be a mapping", doc.value_loc(kpath), format_path(kpath),
                        f"{key}:\n  <field>: <value>")
                continue
            _walk(doc, raw, kpath, sub, index, book, values, locations, out)
            continue
        fact = book.facts[target]
        if target in values:
            out.add("account.duplicate-fact", f"'{target}' is given twice (also as another key or label)",
                    doc.loc(kpath), format_path(kpath), hint="keep one of them")
            continue
        locations[target] = doc.loc(kpath)
        if raw is None:
            continue
        if fact.type == "money" and isinstance(raw, str) and book.currency and not _same_currency(doc, raw, book, kpath, out):
            continue
        value = _value(doc, fact, raw, kpath, out)
        if value is not None:
            values[target] = value


def _same_currency(doc: Doc, raw: str, book: Rulebook, path: YPath, out: Collector) -> bool:
    """An amount that names another currency than the rulebook's is refused, never compared as
    if it were in the rulebook's (a mapping's rates convert exports: --mapping)."""
    code = named_currency(raw)
    if not code or code == book.currency:
        return True
    out.add("account.currency", f"'{format_path(path)}' is in {code}, but the rulebook '{book.id}' counts money in "
            f"{book.currency}", doc.value_loc(path), format_path(path), f"an amount in {book.currency}",
            f"convert it to {book.currency}, or read the export with --mapping and give the rate there: "
            f"rates: {{{code}: <{book.currency} per {code}>}}")
    return False


def _value(doc: Doc, fact: FactDef, raw: Any, path: YPath, out: Collector) -> Any:
    if fact.type == "list":
        if not isinstance(raw, list):
            out.add("account.type", f"'{fact.name}' must be a list", doc.value_loc(path), format_path(path),
                    "- item\n- item")
            return None
        if len(raw) > MAX_LIST_ITEMS:
            out.add("account.too-long", f"'{fact.name}' has {len(raw):,} items; the limit is {MAX_LIST_ITEMS:,}",
                    doc.value_loc(path), format_path(path))
            return None
        items = []
        for i, item in enumerate(raw):
            ipath = path + (i,)
            if fact.items:
                if not isinstance(item, dict):
                    out.add("account.type", f"each item of '{fact.name}' must be a mapping", doc.value_loc(ipath),
                            format_path(ipath), ", ".join(f.name for f in fact.items))
                    continue
                items.append(_item(doc, fact, item, ipath, out))
            else:
                v = _scalar(doc, fact.item_type or "string", fact, item, ipath, out)
                if v is not None:
                    items.append(v)
        return tuple(items)
    return _scalar(doc, fact.type, fact, raw, path, out)


def _item(doc: Doc, fact: FactDef, item: dict[str, Any], path: YPath, out: Collector) -> dict[str, Any]:
    fields = {f.name: f for f in fact.items}
    by_label = {alt: f.name for f in fact.items for alt in (f.label.zh, f.label.en, *f.aliases) if alt}
    result: dict[str, Any] = {}
    for k, raw in item.items():
        kp = path + (k,)
        name = k if k in fields else by_label.get(k)
        if name is None:
            out.add("account.unknown-key", f"unknown field '{k}' in {fact.name}", doc.loc(kp), format_path(kp),
                    "one of " + ", ".join(fields), suggest(k, fields) if out.worth_a_hint() else "")
            continue
        if raw is None:
            continue
        v = _scalar(doc, fields[name].type, fields[name], raw, kp, out)
        if v is not None:
            result[name] = v
    return result


def _scalar(doc: Doc, type_: str, fact: FactDef, raw: Any, path: YPath, out: Collector) -> Any:
    if isinstance(raw, (dict, list)):
        out.add("account.type", f"'{format_path(path)}' must be a single value, not a "
                + ("mapping" if isinstance(raw, dict) else "list"), doc.value_loc(path), format_path(path),
                _expected(fact, type_))
        return None
    if isinstance(raw, float) and not math.isfinite(raw):
        out.add("account.not-finite", f"'{format_path(path)}' is {raw}, not a finite number", doc.value_loc(path),
                format_path(path), _expected(fact, type_), "leave the key out when the value is unknown")
        return None
    try:
        value = parse_scalar(raw, type_, dict(fact.values))
    except ValueProblem as e:  # RangeProblem: well formed, but outside what kamrules computes with
        out.add("account.range" if isinstance(e, RangeProblem) else "account.value",
                f"'{format_path(path)}': {e.message}", doc.value_loc(path), format_path(path),
                e.expected or _expected(fact, type_), e.hint)
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        bad = (fact.min is not None and value < fact.min) or (fact.max is not None and value > fact.max)
        if bad:
            rng = _range(fact, type_)
            hint = ""
            if type_ == "percent" and isinstance(raw, (int, float)) and 1 < abs(raw) <= 100:
                hint = f"a bare number is a fraction: did you mean {raw}%?"
            elif fact.min is not None and value < fact.min:
                # the real bound, not a rule of thumb: a margin may be negative, down to its min
                hint = f"{fact.name} must be at least {format_value(fact.min, type_, 'en')}" + \
                    (": negative values are not allowed here" if fact.min == 0 else "")
            elif fact.max is not None and value > fact.max:
                hint = f"{fact.name} must be at most {format_value(fact.max, type_, 'en')}"
            shown = format_value(value, type_, "en")
            if str(raw).strip() != shown:
                shown = f"{raw} (= {shown})"
            out.add("account.range", f"'{format_path(path)}' is {shown}, outside {rng}",
                    doc.value_loc(path), format_path(path), rng, hint)
            return None
    if type_ == "string" and ("\x00" in value or len(value) > 2000):
        out.add("account.value", f"'{format_path(path)}' is not usable text", doc.value_loc(path), format_path(path),
                "text up to 2000 characters")
        return None
    return value


def _range(fact: FactDef, type_: str) -> str:
    lo = format_value(fact.min, type_, "en") if fact.min is not None else "−∞"
    hi = format_value(fact.max, type_, "en") if fact.max is not None else "∞"
    return f"[{lo}, {hi}]"


def _expected(fact: FactDef, type_: str) -> str:
    if type_ == "enum":
        return "one of " + ", ".join(fact.value_names)
    return {"money": "an amount such as 1200000, 1.2M or 120万", "percent": "a percent such as 18% or 0.18",
            "integer": "a whole number", "number": "a number", "bool": "true or false", "date": "a date like 2026-03-01",
            "string": "text"}.get(type_, type_)
