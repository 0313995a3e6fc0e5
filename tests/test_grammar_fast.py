"""core/grammar.read's short ways must read what its plain way reads: nodes chosen by exact type
(an isinstance chain otherwise), a text value under a Map field taken as it is when the field's
Scalar accepts it unchanged or the field is Text (`_text_leaf`), and `_scalar`'s early return for
such text (`_fine_text`). Every YAML file of the repository is read with each grammar that reads
files (rulebooks, CRM mappings), both ways, and the data and the problems (message, location,
path, hint) compared; `_fine_text` is compared with re.fullmatch and the choices on generated
nodes and values."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.core import grammar as g
from kamrules.core.errors import Collector
from kamrules.core.errors import InputError
from kamrules.core.yamlio import load
from kamrules.io.crm.grammar import GRAMMAR as MAPPING
from kamrules.rulebook.grammar import GRAMMAR as RULEBOOK

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(p for p in ROOT.rglob("*.yaml") if ".git" not in p.parts and "node_modules" not in p.parts)


def read_both(grammar: g.Grammar, doc: Any, domain: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast_out = Collector()
    fast = g.read_doc(grammar, doc, fast_out, domain)
    with monkeypatch.context() as m:
        m.setattr(g, "read", g._read_any)  # the isinstance chain for every node
        m.setattr(g, "_text_leaf", lambda node, value: None)  # every Map value through read
        m.setattr(g, "_fine_text", lambda node, value: False)  # every text through _scalar's checks
        plain_out = Collector()
        plain = g.read_doc(grammar, doc, plain_out, domain)
    return (fast, [repr(p) for p in fast_out.problems]), (plain, [repr(p) for p in plain_out.problems])


def test_every_yaml_file_reads_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(FILES) > 100
    read = 0
    for path in FILES:
        try:
            doc = load(str(path))
        except InputError:
            continue
        for grammar, domain in ((RULEBOOK, "rulebook"), (MAPPING, "mapping")):
            fast, plain = read_both(grammar, doc, domain, monkeypatch)
            assert repr(fast) == repr(plain), (path, domain)
            read += 1
    assert read > 200


_PATTERNS = ["", r"[a-z][a-z0-9_\-]*", r"deck|recon|lit:[\w.\-]+", r"\d+", r".*"]
_WORDS = ["a", "deck", "recon", "lit:x", "12", "", "A b", "合同", "x_1", "-"]
nodes = st.builds(g.Scalar, kind=st.sampled_from(["str", "any", "int", "number", "bool"]),
                  pattern=st.sampled_from(_PATTERNS),
                  choices=st.sampled_from([(), ("a", "deck"), ("12",), ("合同", "x_1")]))


@settings(max_examples=300, deadline=None)
@given(nodes, st.one_of(st.sampled_from(_WORDS), st.text(max_size=5)))
def test_fine_text_is_what_scalar_accepts_unchanged(node: g.Scalar, value: str) -> None:
    accepted = (node.kind in ("str", "any") and (not node.choices or value in node.choices)
                and (not node.pattern or re.fullmatch(node.pattern, value) is not None))
    assert g._fine_text(node, value) is accepted
    if accepted:
        out = Collector()
        assert g._scalar(node, value, ("x",), g.Ctx(None, out, "test")) == value  # type: ignore[arg-type]
        assert not out.problems
