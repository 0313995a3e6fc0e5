"""`kamrules init`: starting files a consultant fills in instead of writing from nothing.

- account: every fact the rulebook declares, grouped as the rulebook groups them, each with its
  label, unit, type or allowed values, help and example as a comment, and an empty value. The
  examples are the example company's figures: written as values they would appear in the new
  account's playbook as if they were its own, so they stay comments. id and name are empty,
  and an account without them is refused: the template is not an account until it is filled.
  `advise` warns when an account still holds the examples (leftover_examples).
- company: an overlay folder that extends a rulebook, with commented examples of every overlay
  operation (named after real parameters and rules of the base), one working rule, a test file
  and a template folder. It passes `kamrules check` and `kamrules test` as written.

Nothing here overwrites a file: every target is checked before anything is written.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from kamrules.core import i18n, textsafe, yamlio
from kamrules.core.errors import InputError, Location, Problem, UsageError
from kamrules.core.lazyre import LazyPattern
from kamrules.core.values import format_money, format_number, format_percent
from kamrules.core.record import dataclass
from kamrules.rulebook.model import Account, FactDef, ParamDef, Rulebook, RuleDef
from kamrules.rulebook.selectors import selects_any

# compiled by `init company` (core/lazyre.py): an advise imports this module for leftover_examples
COMPANY_RE = LazyPattern(r"^[a-z][a-z0-9_-]{0,39}$")

# the catalogue's words for the fact types and the course's fact groups (other groups are
# shown by their key, other types by their name)
TYPE_KEYS = {
    "money": "init.type_money", "percent": "init.type_percent", "number": "init.type_number",
    "integer": "init.type_integer", "bool": "init.type_bool", "enum": "init.type_enum",
    "string": "init.type_string", "date": "init.type_date", "list": "init.type_list",
}
GROUP_KEYS = {
    "identity": "init.group_identity", "transaction": "init.group_transaction", "financial": "init.group_financial",
    "contact": "init.group_contact", "characteristics": "init.group_characteristics", "terms": "init.group_terms",
    "potential": "init.group_potential", "service": "init.group_service", "relationships": "init.group_relationships",
    "team": "init.group_team", "analyses": "init.group_analyses", "competition": "init.group_competition",
    "opportunities": "init.group_opportunities", "company": "init.group_company", "other": "init.group_other",
}


# --------------------------------------------------------------------------- YAML text

def scalar(v: Any) -> str:
    """A value as YAML text that reads back as the same value (plain when safe, else quoted)."""
    import datetime as _dt

    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, _dt.date):
        return v.isoformat()
    s = str(v)
    if s and not textsafe.has_controls(s) and _reads_back(s, s):
        return s
    # a JSON string is a YAML double-quoted scalar; textsafe writes controls and bidi as \u escapes
    return textsafe.json_dumps(s, indent=None)


def _reads_back(text: str, value: Any) -> bool:
    try:
        doc = yamlio.load("<init>", text=f"k: {text}\n")
    except InputError:
        return False
    return isinstance(doc.data, dict) and doc.data.get("k") == value


# --------------------------------------------------------------------------- init account

def _label(f: FactDef, lang: str) -> str:
    first, second = (f.label.zh, f.label.en) if lang == "zh" else (f.label.en, f.label.zh)
    if first and second and first != second:
        return f"{first} ({second})"
    return first or second or f.name


def _kind(f: FactDef, lang: str, type_: str | None = None) -> str:
    type_ = type_ or f.type
    text = i18n.t(TYPE_KEYS[type_], lang) if type_ in TYPE_KEYS else type_
    if type_ == "enum":
        opts = [f"{v} ({(t.zh if lang == 'zh' else t.en) or t.zh or t.en})" if (t.zh or t.en) else v for v, t in f.values]
        text += ": " + " | ".join(opts)
    if f.unit:
        text += f", {f.unit}"
    if f.min is not None and f.max is not None:
        text += f", {i18n.t('init.range', lang)} {_num_text(f.min, type_)}…{_num_text(f.max, type_)}"
    elif f.min is not None:
        text += f", ≥ {_num_text(f.min, type_)}"
    elif f.max is not None:
        text += f", ≤ {_num_text(f.max, type_)}"
    return text


def _num_text(v: float, type_: str) -> str:
    if type_ == "percent":
        return format_percent(v, exact=True)
    if type_ == "money":
        return format_money(v, "en", exact=True)
    return format_number(v)


def _help(f: FactDef, lang: str) -> str:
    return (f.help.zh if lang == "zh" else f.help.en) or f.help.zh or f.help.en


def fact_comment(f: FactDef, lang: str) -> str:
    parts = [_label(f, lang), _kind(f, lang)]
    if f.required:
        parts.append(i18n.t("init.required", lang))
    h = _help(f, lang)
    if h:
        parts.append(h)
    # a YAML comment ends at a line break: a label or help text with one (an overlay's) would
    # write live keys into the template, so it is kept on one line, controls shown
    return textsafe.line(" · ".join(parts))


@dataclass
class _Nest:
    """Facts under one prefix (team:, company:), written where the first of them appears."""

    facts: list[tuple[str, FactDef]]
    children: dict[str, "_Nest"]


def _nest(facts: Iterable[FactDef], depth: int) -> _Nest:
    root = _Nest([], {})
    for f in facts:
        parts = f.name.split(".")[depth:]
        node = root
        for p in parts[:-1]:
            node = node.children.setdefault(p, _Nest([], {}))
        node.facts.append((parts[-1], f))
    return root


def account_template(book: Rulebook, lang: str) -> str:
    lines = [i18n.t("init.header", lang, id=book.id, version=book.version), ""]
    lines += [i18n.t("init.as_of", lang), i18n.t("init.notes", lang)]
    groups: dict[str, list[FactDef]] = {}
    placed: set[str] = set()
    asked = [f for f in book.facts.values() if not f.supplied]  # the store supplies history facts
    for f in asked:
        top = f.name.split(".")[0]
        if "." in f.name:
            if top in placed:
                continue
            placed.add(top)
            members = [g for g in asked if g.name.split(".")[0] == top and "." in g.name]
            groups.setdefault(f.group or "other", []).extend(members)
        else:
            groups.setdefault(f.group or "other", []).append(f)
    for group, facts in groups.items():
        title = i18n.t(GROUP_KEYS[group], lang) if group in GROUP_KEYS else group
        heading = textsafe.line(f"{title} ({group})" if title != group else group)
        lines += ["", f"# ── {heading} " + "─" * max(4, 60 - len(heading))]
        lines += _level(_nest(facts, 0), 0, lang)
    return "\n".join(lines).rstrip() + "\n"


def _level(node: _Nest, indent: int, lang: str) -> list[str]:
    pad = "  " * indent
    out: list[str] = []
    for key, f in node.facts:
        out += _fact_lines(key, f, pad, lang)
    for key, child in node.children.items():
        out.append(f"{pad}{key}:")
        out += _level(child, indent + 1, lang)
    return out


def _fact_lines(key: str, f: FactDef, pad: str, lang: str) -> list[str]:
    """A fact's lines: its comment (with the example) and an empty value. List items are
    commented out: an empty item would count as one (a contact nobody named)."""
    if f.type != "list":
        comment = fact_comment(f, lang)
        if f.example is not None:
            comment = textsafe.line(f"{comment} · {i18n.t('init.example', lang)} {_example_text(f.example)}")
        return [f"{pad}# {comment}", f"{pad}{key}:"]
    lines = [f"{pad}# {fact_comment(f, lang)}", f"{pad}{key}: []"]
    item = _example_item(f)
    if item is None:
        return lines
    if not f.items:
        return lines + [f"{pad}#   - {scalar(item)}".rstrip()]
    assert isinstance(item, dict)
    for i, field in enumerate(f.items):
        lead = "- " if i == 0 else "  "
        value = scalar(item.get(field.name))
        text = f"{pad}#   {lead}{field.name}: {value}".rstrip()
        lines.append(f"{text}  # {fact_comment(field, lang)}")
    return lines


def _example_text(v: Any) -> str:
    """An example as the user would write it (12,000,000, 18%, 2026-03-01)."""
    return scalar(v) if not isinstance(v, (list, dict)) else textsafe.json_dumps(v, indent=None)


# The types whose example values do not coincide with a real account's by chance: money,
# percents and dates (a count of 3 or a fit of 'high' might).
_TELLING = ("money", "percent", "date")
LEFTOVER_MIN = 3


def leftover_examples(account: Account, book: Rulebook) -> list[tuple[str, Any]]:
    """The facts of an account that still hold the rulebook's examples (the `init account`
    template's values), when at least LEFTOVER_MIN telling ones do; [] otherwise, and for the
    example company itself (its id or name is the example's: the examples are its own figures)."""
    for key, given in (("id", account.id), ("name", account.name)):  # the example company, in any file or export
        fact = book.facts.get(key)
        if fact is not None and fact.example is not None and given == str(fact.example):
            return []
    examples = _typed_examples(book)
    same = [(n, account.values[n]) for n, v in examples.items()
            if n in account.values and account.values[n] == v and book.facts[n].type in _TELLING
            and book.facts[n].group != "company"]  # our own company's figures are the same in every account
    return same if len(same) >= LEFTOVER_MIN else []


def _typed_examples(book: Rulebook) -> dict[str, Any]:
    """Every scalar example, read as an account value is (12,000,000 → 12000000.0)."""
    from kamrules.io.account import account_from_doc

    lines = ["id: x", "name: x"]
    for f in book.facts.values():
        if f.example is not None and f.type != "list" and f.name not in ("id", "name"):
            lines.append(f"{textsafe.json_dumps(f.name, indent=None)}: {scalar(f.example)}")
    try:
        return dict(account_from_doc(yamlio.load("<examples>", text="\n".join(lines) + "\n"), book).values)
    except InputError:  # an example the rulebook's own grammar refuses is no leftover of it
        return {}


def _example_item(f: FactDef) -> Any:
    """One example item: the first of the fact's example list, else one built from the fields'."""
    ex = f.example
    if isinstance(ex, list) and ex:
        first = ex[0]
        if f.items and isinstance(first, dict):
            known = {i.name for i in f.items}
            # keep the declared field order; labels used as keys in the example are mapped back
            by_alt = {alt: i.name for i in f.items for alt in (i.label.zh, i.label.en, *i.aliases) if alt}
            item = {by_alt.get(k, k): v for k, v in first.items()}
            return {k: v for k, v in item.items() if k in known}
        return first if not f.items else None
    if f.items:
        built = {i.name: i.example for i in f.items if i.example is not None}
        return built or {f.items[0].name: None}
    return ex if ex is not None and not isinstance(ex, (list, dict)) else None


# --------------------------------------------------------------------------- init company

def company_files(name: str, base_ref: str, book: Rulebook, folder: Path, lang: str) -> dict[Path, str]:
    """The overlay folder's files: NAME/NAME.yaml, NAME/NAME.test.yaml, NAME/templates/README.md."""
    if not COMPANY_RE().match(name):
        raise UsageError([Problem("cli.company-name", f"'{name}' cannot be used as a company rulebook name",
                                  Location("NAME"), expected="lowercase letters, digits, - and _, starting with a letter",
                                  hint="e.g. acme or acme-pumps")])
    root = folder / name
    fact = _threshold_fact(book)
    extends = _extends_text(base_ref, root)
    return {
        root / f"{name}.yaml": _overlay(name, extends, book, fact, lang),
        root / f"{name}.test.yaml": _test_file(name, book, fact, lang),
        root / "templates" / "README.md": _templates_readme(name, lang),
    }


def _extends_text(base_ref: str, root: Path) -> str:
    """A built-in id stays an id; a file becomes a path relative to the overlay."""
    from kamrules.core.resources import builtin_rulebook_path
    from kamrules.rulebook.load import resolve_ref

    if builtin_rulebook_path(base_ref) is not None:
        return base_ref
    path = resolve_ref(base_ref, None)
    assert path is not None  # the caller loaded it
    return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


def _threshold_fact(book: Rulebook) -> FactDef | None:
    """The fact the skeleton's own rule tests: revenue when declared, else the first numeric fact."""
    numeric = [f for f in book.facts.values() if f.type in ("money", "number", "integer", "percent")]
    for f in numeric:
        if f.name == "revenue":
            return f
    return numeric[0] if numeric else None


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name)


DEFAULTS = {"money": "10,000,000", "number": "100", "integer": "10", "percent": "20%"}
FILTERS = {"money": "money", "percent": "pct", "number": "num", "integer": "num"}


def _threshold_value(f: FactDef) -> str:
    ex = f.example
    if isinstance(ex, (int, float, str)) and not isinstance(ex, bool) and str(ex).strip():
        return scalar(ex)
    return scalar(DEFAULTS[f.type])


def _params_example(book: Rulebook, name: str) -> str:
    # a money or percent threshold makes the clearest example; any parameter otherwise
    ranked = sorted(book.params.values(), key=lambda q: q.type not in ("money", "percent"))
    p: ParamDef | None = ranked[0] if ranked else None
    if p is None:
        return f'#   some_threshold: {{value: 12%, source: "company:{name} policy"}}'
    value = p.value
    shown = (format_percent(value, exact=True) if p.type == "percent" else
             format_money(value, "en", exact=True) if p.type == "money" else scalar(value))
    return f'#   {p.name}: {{value: {shown}, source: "company:{name} policy"}}   # now {shown} ({p.source})'


def _rule_examples(book: Rulebook) -> tuple[str, str, str]:
    """Real rule ids of the base for the disable / override / lock examples. The disable and lock
    examples avoid the rules the base's relations rest on (a rule that suppresses others, or one an
    invariant or a suppression names): uncommented, the example must still check clean, and
    disabling the loss verdict is not an example to give."""
    rules: list[RuleDef] = list(book.rules)
    selectors = [s for inv in book.invariants for s in inv.selectors] + [s for r in rules for s in r.suppresses]
    structural = {r.id for r in rules if r.suppresses or selects_any(selectors, r)}
    with_msg = [r for r in rules if r.warn is not None]
    override = with_msg[0].id if with_msg else (rules[0].id if rules else "some-rule")
    others = [r.id for r in rules if r.id != override and r.id not in structural]
    disable = others[0] if others else override
    lock = others[1] if len(others) > 1 else disable
    return disable, override, lock


def _both(key: str, **kw: str) -> tuple[str, str]:
    """The catalogue's text in zh and in en (the overlay writes both), each with its own label."""
    zh_kw = {**kw, "label": kw.get("zh_label", "")}
    en_kw = {**kw, "label": kw.get("en_label", "")}
    return i18n.t(key, "zh", **zh_kw), i18n.t(key, "en", **en_kw)


def _quoted(s: str) -> str:
    return textsafe.json_dumps(s, indent=None)


def _overlay(name: str, extends: str, book: Rulebook, fact: FactDef | None, lang: str) -> str:
    disable, override, lock = _rule_examples(book)
    base = book.id
    zh_book, en_book = _both("init.overlay_book_title", name=name)
    lines = [
        i18n.t("init.overlay_head", lang, name=name, base=base), i18n.t("init.overlay_check", lang, name=name),
        i18n.t("init.overlay_use", lang, name=name),
        f"rulebook: {name}",
        "version: 0.1.0",
        f"title: {{zh: {_quoted(zh_book)}, en: {_quoted(en_book)}}}",
        f"extends: [{extends}]",
        i18n.t("init.overlay_templates", lang),
        "",
        i18n.t("init.overlay_params", lang),
        "parameters:",
        _params_example(book, name),
    ]
    rule_id = f"{name}-review-large-accounts"
    param = f"{_slug(name)}_review_threshold"
    if fact is not None:
        zh_label, en_label = _both("init.overlay_param_label")
        lines += [
            f"  {param}:",
            f"    type: {fact.type}",
            f"    value: {_threshold_value(fact)}",
            f'    source: "company:{name}"',
            f"    label: {{zh: {zh_label}, en: {en_label}}}",
        ]
    else:
        lines[-2] = "# parameters:"
    lines += [
        "",
        i18n.t("init.overlay_disable", lang),
        "# disable:",
        f'#   - {{rule: {disable}, reason: "…"}}',
        "",
        i18n.t("init.overlay_override", lang),
        "# override:",
        f"#   {override}: {{severity: critical}}",
        "",
        i18n.t("init.overlay_lock", lang),
        f"# lock: [{lock}]",
        "",
        i18n.t("init.overlay_rules", lang),
    ]
    if fact is None:
        return "\n".join(lines + ["# rules:", "#   - id: …"]) + "\n"
    flt = FILTERS[fact.type]
    zh_title, en_title = _both("init.overlay_title")
    zh_msg, en_msg = _both("init.overlay_message", fact=fact.name, flt=flt, param=param,
                           zh_label=fact.label.zh or fact.name, en_label=fact.label.en or fact.name)
    zh_rem, en_rem = _both("init.overlay_remedy")
    lines += [
        "rules:",
        f"  - id: {rule_id}",
        "    concept: management.process",
        f'    source: "company:{name}"',
        f"    title: {{zh: {zh_title}, en: {en_title}}}",
        f"    when: {fact.name} >= params.{param}",
        "    then:",
        "      recommend:",
        "        severity: info",
        "        message:",
        f"          zh: {_quoted(zh_msg)}",
        f"          en: {_quoted(en_msg)}",
        "        remedy:",
        f"          zh: {_quoted(zh_rem)}",
        f"          en: {_quoted(en_rem)}",
    ]
    return "\n".join(lines) + "\n"


def _test_file(name: str, book: Rulebook, fact: FactDef | None, lang: str) -> str:
    lines = [i18n.t("init.test_head", lang, name=name), f"rulebook: {name}.yaml", "as_of: 2026-06-30", "base:"]
    base = _base_facts(book)
    lines += [f"  {k}: {scalar(v)}" for k, v in base.items()] or ["  {}"]
    lines += ["cases:", f"  - name: {_quoted(i18n.t('init.overlay_case', lang))}", "    given:"]
    rule_id = f"{name}-review-large-accounts"
    if fact is not None:
        lines.append(f"      {fact.name}: {_threshold_value(fact)}")
        lines += ["    expect:", f"      fires: [{rule_id}]"]
    else:
        lines[-1] = "    given: {}"
        lines += ["    expect:", "      not_fires: []"]
    return "\n".join(lines) + "\n"


def _base_facts(book: Rulebook) -> dict[str, Any]:
    """The required facts every case needs (id and name), from their examples."""
    out: dict[str, Any] = {}
    for f in book.facts.values():
        if f.required and "." not in f.name:
            out[f.name] = f.example if f.example is not None else {"id": "test-account", "name": "Test account"}.get(
                f.name, DEFAULTS.get(f.type, "x"))
    return out


def _templates_readme(name: str, lang: str) -> str:
    return i18n.t("init.templates_readme", lang, name=name)


# --------------------------------------------------------------------------- writing

def write_new(files: Mapping[Path, str]) -> list[Path]:
    """Write every file, or none: refuse when any of them exists already."""
    existing = [p for p in files if p.exists()]
    if existing:
        raise UsageError([Problem("init.exists", f"{p} already exists", Location(str(p)),
                                  hint="kamrules init never overwrites: choose another name or folder, "
                                       "or move the file away") for p in existing])
    for p in files:
        if p.parent.exists() and not p.parent.is_dir():
            raise UsageError([Problem("init.not-a-folder", f"{p.parent} is a file, not a folder", Location(str(p.parent)))])
    from kamrules.io.output import write_atomic

    for p, text in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(str(p), text)
    return list(files)
