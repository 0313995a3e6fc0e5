"""Finding rule-test files, reading and validating one against its rulebook, and building the
facts of each case (base, given_file and given merged, every value remembering its file:line)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from kamrules.authoring.ruletests.records import Case, Expect, ScoreExpect, TestFile, num_text
from kamrules.core import yamlio
from kamrules.core.errors import Collector, InputError, Location, Problem, UsageError, suggest
from kamrules.core.values import ValueProblem, parse_amount, parse_date, parse_enum
from kamrules.core.yamlio import Doc, format_path
from kamrules.core.yamlio import Path as YPath
from kamrules.io.account import account_from_doc
from kamrules.rulebook.model import Account, Rulebook

SUFFIX = ".test.yaml"
TOP_KEYS = ("rulebook", "as_of", "base", "cases", "description")
CASE_KEYS = ("name", "given", "given_file", "expect")
EXPECT_KEYS = ("classification", "fires", "not_fires", "suppressed", "concepts", "scores")
SKIP_DIRS = frozenset({"node_modules", "__pycache__", "venv", "site-packages"})


# ----------------------------------------------------------------------------- discovery

def discover(paths: Sequence[str]) -> list[str]:
    """Test files under the paths (a file is taken as given; folders are searched for *.test.yaml)."""
    found: list[str] = []
    problems = []
    for p in paths or ["."]:
        path = Path(p)
        if path.is_file():
            found.append(str(path))
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
                found.extend(str(Path(root) / f) for f in sorted(files) if f.endswith(SUFFIX))
        else:
            problems.append(Problem("cli.path", f"no such file or folder: {p}", Location(p),
                                    hint="give test files (*.test.yaml) or folders that hold them"))
    if problems:
        raise UsageError(problems)
    if not found:
        where = ", ".join(paths) if paths else "the current folder"
        raise UsageError([Problem("test.none-found", f"no rule tests (*{SUFFIX}) under {where}",
                                  Location(paths[0] if paths else "."),
                                  hint="name test files <rulebook>.test.yaml (see docs/rulebook-language.md)")])
    out: list[str] = []
    for f in found:  # a file named twice runs once
        if f not in out:
            out.append(f)
    return out


# ----------------------------------------------------------------------------- reading

class _Reader:
    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.out = Collector()

    def err(self, code: str, msg: str, path: YPath, expected: str = "", hint: str = "", value: bool = False) -> None:
        loc = self.doc.value_loc(path) if value else self.doc.loc(path)
        self.out.add(code, msg, loc, format_path(path), expected, hint)

    def keys(self, m: Mapping[str, Any], allowed: Sequence[str], path: YPath, what: str) -> None:
        for k in m:
            if k not in allowed:
                self.err("test.unknown-key", f"unknown key '{k}' in {what}", path + (k,),
                         "one of " + ", ".join(allowed), suggest(str(k), allowed))

    def mapping(self, value: Any, path: YPath, what: str, example: str) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.err("test.type", f"{what} must be a mapping", path, example, value=True)
            return None
        return value

    def ids(self, value: Any, path: YPath, what: str) -> list[tuple[str, YPath]]:
        if value is None:
            return []
        if isinstance(value, str):
            return [(value, path)]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.err("test.type", f"{what} must be a list of names", path, f"{path[-1]}: [a, b]", value=True)
            return []
        return [(v, path + (i,)) for i, v in enumerate(value)]


def _rulebook_ref(r: _Reader, data: Mapping[str, Any], file: str) -> str | None:
    from kamrules.rulebook.load import resolve_ref

    ref = data.get("rulebook")
    if ref is None:
        sibling = Path(file).with_name(Path(file).name[: -len(SUFFIX)] + ".yaml") if file.endswith(SUFFIX) else None
        if sibling is not None and sibling.is_file():
            return str(sibling)
        r.err("test.rulebook", "the test file does not say which rulebook it tests", (),
              "rulebook: course  (a built-in id, or a path relative to this file)",
              "add a 'rulebook:' key" + (f", or put the rulebook beside it as {sibling.name}" if sibling else ""))
        return None
    if not isinstance(ref, str) or not ref.strip():
        r.err("test.type", "rulebook must be a built-in id or a path", ("rulebook",), "rulebook: course", value=True)
        return None
    path = resolve_ref(ref, file)
    if path is None:
        from kamrules.core.resources import builtin_rulebooks

        is_path = ref.endswith((".yaml", ".yml", ".json")) or "/" in ref
        r.err("test.rulebook", f"cannot find the rulebook '{ref}'", ("rulebook",),
              "a built-in id or a path relative to this test file",
              ("paths are relative to the test file" if is_path else suggest(ref, builtin_rulebooks())), value=True)
        return None
    is_builtin = not (ref.endswith((".yaml", ".yml", ".json")) or "/" in ref or "\\" in ref)
    return ref if is_builtin else str(path)


def read_test_file(file: str) -> TestFile:
    """Parse and validate a test file against its rulebook. Raises InputError with every problem."""
    from kamrules.pipeline import rulebook as load_book

    doc = yamlio.load(file)
    r = _Reader(doc)
    data = doc.data
    if data is None:
        r.err("test.empty", "the test file is empty", (), "rulebook: …, cases: [ … ]",
              "see 'Rule tests' in docs/rulebook-language.md")
        r.out.raise_if_any()
    if not isinstance(data, dict):
        r.err("test.not-mapping", "a test file is a mapping with 'rulebook' and 'cases'", (),
              "rulebook: …\ncases:\n  - name: …", value=True)
        r.out.raise_if_any()
    r.keys(data, TOP_KEYS, (), "a test file")
    ref = _rulebook_ref(r, data, file)
    as_of = None
    if data.get("as_of") is not None:
        try:
            as_of = parse_date(data["as_of"])
        except ValueProblem as e:
            r.err("test.value", e.message, ("as_of",), e.expected, value=True)
    r.mapping(data.get("base"), ("base",), "base", "base: {id: t, name: 测试客户}")
    book = None
    if ref is not None:
        try:
            book = load_book(ref)
        except InputError as e:
            r.err("test.rulebook", f"the rulebook '{data.get('rulebook', ref)}' does not load "
                  f"({len(e.problems)} problem{'s' if len(e.problems) != 1 else ''})",
                  ("rulebook",) if "rulebook" in data else (), hint="run 'kamrules check' on it", value=True)
            r.out.extend(e.problems)
    cases = _cases(r, data, book)
    r.out.raise_if_any()
    assert book is not None and ref is not None
    return TestFile(file, doc, book, ref, as_of, tuple(cases))


def _cases(r: _Reader, data: Mapping[str, Any], book: Rulebook | None) -> list[Case]:
    raw = data.get("cases")
    if not isinstance(raw, list) or not raw:
        r.err("test.no-cases", "the test file has no cases" if raw in (None, []) else "cases must be a list",
              ("cases",) if "cases" in data else (), "cases:\n  - name: …\n    given: {…}\n    expect: {…}",
              value="cases" in data)
        return []
    out: list[Case] = []
    names: dict[str, int] = {}
    for i, spec in enumerate(raw):
        path: YPath = ("cases", i)
        if not isinstance(spec, dict):
            r.err("test.type", "each case must be a mapping", path, "- name: …\n  given: {…}\n  expect: {…}",
                  value=True)
            continue
        r.keys(spec, CASE_KEYS, path, "a case")
        name = spec.get("name")
        if name is None:
            name = f"case {i + 1}"
        elif not isinstance(name, str) or not name.strip():
            r.err("test.type", "a case name must be text", path + ("name",), value=True)
            name = f"case {i + 1}"
        if name in names:
            r.err("test.duplicate-case", f"two cases are named '{name}' (the first is case {names[name] + 1})",
                  path + ("name",), hint="give every case its own name, so a failure says which one")
        names.setdefault(name, i)
        given = r.mapping(spec.get("given"), path + ("given",), "given", "given: {revenue: 12M, gross_margin: 18%}")
        gfile = spec.get("given_file")
        if gfile is not None and (not isinstance(gfile, str) or not gfile.strip()):
            r.err("test.type", "given_file must be a path", path + ("given_file",),
                  "given_file: ../accounts/huaxin-steel.yaml", value=True)
            gfile = None
        expect = _expect(r, spec.get("expect"), path + ("expect",), book, "expect" in spec)
        out.append(Case(i, name, r.doc.value_loc(path), given or {}, gfile or "", expect))
    return out


def _expect(r: _Reader, raw: Any, path: YPath, book: Rulebook | None, present: bool) -> Expect:
    if raw is None or raw == {}:
        r.err("test.no-expectations", "the case expects nothing, so it cannot fail", path if present else path[:-1],
              "expect: {fires: [rule-id]} (or classification, not_fires, suppressed, concepts, scores)",
              "say what the rulebook should conclude for these facts")
        return Expect()
    m = r.mapping(raw, path, "expect", "expect: {fires: [rule-id]}")
    if m is None:
        return Expect()
    r.keys(m, EXPECT_KEYS, path, "expect")
    if book is None:  # names cannot be checked without the rulebook; its problems are reported
        return Expect()
    rule_ids = [x.id for x in book.rules]
    disabled = {d.rule: d for d in book.disabled}
    fires = _rule_ids(r, m.get("fires"), path + ("fires",), rule_ids, disabled, True, book.id)
    not_fires = _rule_ids(r, m.get("not_fires"), path + ("not_fires",), rule_ids, disabled, False, book.id)
    withdrawn = _rule_ids(r, m.get("suppressed"), path + ("suppressed",), rule_ids, disabled, True, book.id)
    for rid in sorted(set(fires) & set(not_fires)):
        r.err("test.conflict", f"rule '{rid}' is expected both to fire and not to fire", path,
              hint="keep it in one of fires / not_fires")
    for rid in sorted(set(fires) & set(withdrawn)):
        r.err("test.conflict", f"rule '{rid}' is expected both to fire and to be suppressed", path,
              hint="a suppressed rule's condition held but its outputs were withdrawn: keep it in suppressed")
    concepts_known = sorted({x.concept for x in book.rules})
    concepts = []
    for c, p in r.ids(m.get("concepts"), path + ("concepts",), "concepts"):
        if c not in concepts_known:
            r.err("test.unknown-concept", f"no rule of '{book.id}' has the concept '{c}'", p,
                  "a concept key such as misconception.over_concession", suggest(c, concepts_known), value=True)
        concepts.append(c)
    return Expect(_classification(r, m.get("classification"), path + ("classification",), book),
                  tuple(fires), tuple(not_fires), tuple(concepts),
                  _scores(r, m.get("scores"), path + ("scores",), book), tuple(withdrawn))


def _rule_ids(r: _Reader, raw: Any, path: YPath, known: list[str], disabled: Mapping[str, Any],
              must_fire: bool, book_id: str) -> list[str]:
    out = []
    for rid, p in r.ids(raw, path, path[-1] if isinstance(path[-1], str) else "rules"):
        if rid in disabled:
            if must_fire:
                d = disabled[rid]
                r.err("test.disabled-rule", f"rule '{rid}' is disabled by {d.origin.rulebook} ({d.reason}), "
                      "so it can never fire", p, hint="remove it from fires, or re-enable it", value=True)
            continue
        if rid not in known:
            r.err("test.unknown-rule", f"the rulebook '{book_id}' has no rule '{rid}'", p, "a rule id",
                  suggest(rid, known) or "list the rules with 'kamrules rules'", value=True)
            continue
        out.append(rid)
    return out


def _classification(r: _Reader, raw: Any, path: YPath, book: Rulebook) -> tuple[tuple[str, str | None], ...]:
    m = r.mapping(raw, path, "classification", "classification: {tier: gold}")
    out: list[tuple[str, str | None]] = []
    for dim, value in (m or {}).items():
        p = path + (dim,)
        d = book.dimensions.get(dim)
        if d is None:
            r.err("test.unknown-dimension", f"the rulebook '{book.id}' has no dimension '{dim}'", p,
                  "one of " + ", ".join(book.dimensions), suggest(str(dim), book.dimensions))
            continue
        if value is None:
            out.append((dim, None))
            continue
        try:
            out.append((dim, parse_enum(value, {v: t.as_dict() for v, t in d.values})))
        except ValueProblem as e:
            r.err("test.unknown-value", f"'{value}' is not a value of the dimension '{dim}'", p,
                  e.expected, e.hint, value=True)
    return tuple(out)


def _scores(r: _Reader, raw: Any, path: YPath, book: Rulebook) -> tuple[ScoreExpect, ...]:
    m = r.mapping(raw, path, "scores", "scores: {health: [50, 75]}")
    out = []
    for name, spec in (m or {}).items():
        p = path + (name,)
        if name not in book.scores:
            r.err("test.unknown-score", f"the rulebook '{book.id}' has no score '{name}'", p,
                  "one of " + ", ".join(book.scores), suggest(str(name), book.scores))
            continue
        if spec is None:
            out.append(ScoreExpect(name, None, None))
            continue
        bounds = spec if isinstance(spec, list) else [spec, spec]
        try:
            if len(bounds) != 2:
                raise ValueProblem("a range has two ends")
            low, high = (parse_amount(b) for b in bounds)
        except ValueProblem as e:
            r.err("test.value", f"score '{name}': {e.message}", p, "a number, or an inclusive range [low, high]",
                  e.hint, value=True)
            continue
        if low > high:
            r.err("test.value", f"score '{name}': the range [{num_text(low)}, {num_text(high)}] is empty", p,
                  hint=f"write [{num_text(high)}, {num_text(low)}]", value=True)
            continue
        out.append(ScoreExpect(name, low, high))
    return tuple(out)


# ----------------------------------------------------------------------------- facts

@dataclass
class _MergedDoc(Doc):
    """Facts merged from base, given_file and given, each path remembering the file and line
    it came from, so account validation points into the right file."""

    origins: dict[YPath, tuple[Doc, YPath]] = field(default_factory=dict)
    fallback: Location = Location("")

    def loc(self, path: YPath, *, key: bool = True) -> Location:
        p = tuple(path)
        while p:
            src = self.origins.get(p)
            if src is not None:
                doc, prefix = src
                return doc.loc(prefix + tuple(path), key=key)
            p = p[:-1]
        return self.fallback


def _merge(target: dict[str, Any], origins: dict[YPath, tuple[Doc, YPath]], data: Mapping[str, Any],
           doc: Doc, prefix: YPath, path: YPath = ()) -> None:
    for k, v in data.items():
        kp = path + (k,)
        if isinstance(v, dict) and isinstance(target.get(k), dict):
            origins.setdefault(kp, (doc, prefix))
            _merge(target[k], origins, v, doc, prefix, kp)
            continue
        target[k] = _copy(v)
        for sub in [p for p in origins if p[: len(kp)] == kp]:
            del origins[sub]  # the value is replaced: so are the marks below it
        origins[kp] = (doc, prefix)
        if isinstance(v, dict):
            _mark(origins, v, doc, prefix, kp)


def _mark(origins: dict[YPath, tuple[Doc, YPath]], data: Mapping[str, Any], doc: Doc, prefix: YPath,
          path: YPath) -> None:
    for k, v in data.items():
        origins[path + (k,)] = (doc, prefix)
        if isinstance(v, dict):
            _mark(origins, v, doc, prefix, path + (k,))


def _copy(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


def case_doc(tf: TestFile, case: Case) -> Doc:
    """The case's facts as one document: base, under given_file, under given."""
    data: dict[str, Any] = {}
    origins: dict[YPath, tuple[Doc, YPath]] = {}
    raw = tf.doc.data
    if isinstance(raw.get("base"), dict):
        _merge(data, origins, raw["base"], tf.doc, ("base",))
    if case.given_file:
        path = Path(tf.file).parent / case.given_file
        if not path.is_file():
            raise InputError([Problem("test.given-file", f"cannot find the account file '{case.given_file}'",
                                      tf.doc.value_loc(("cases", case.index, "given_file")),
                                      f"cases[{case.index}].given_file", "a path relative to this test file",
                                      "paths are relative to the test file, not to where kamrules runs")])
        gdoc = yamlio.load(str(path))
        if not isinstance(gdoc.data, dict):
            raise InputError([Problem("test.given-file", f"'{case.given_file}' does not hold an account (a mapping)",
                                      gdoc.value_loc(()), hint="given_file must be an account file")])
        gdata = dict(gdoc.data)
        if isinstance(gdata.get("company"), str):  # its company profile is relative to that file, not to the test
            gdata["company"] = str((path.parent / gdata["company"]).resolve())
        _merge(data, origins, gdata, gdoc, ())
    _merge(data, origins, case.given, tf.doc, ("cases", case.index, "given"))
    return _MergedDoc(file=tf.file, data=data, origins=origins, fallback=case.location)


def case_account(tf: TestFile, case: Case) -> Account:
    """Validated like any account; problems without a place of their own point at the case."""
    doc = case_doc(tf, case)
    try:
        return account_from_doc(doc, tf.book)
    except InputError as e:
        top = Location(tf.file, 1, 1)
        fixed = [Problem(p.code, p.message, case.location, p.path, p.expected, p.hint, p.severity)
                 if p.location == top else p for p in e.problems]
        raise InputError(fixed) from None
