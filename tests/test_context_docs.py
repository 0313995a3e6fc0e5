"""The playbook context is typed (advice/contextmodel.py) and docs/playbook-context.md's reference
is generated from those types: a field added, renamed or re-documented without the doc fails here."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from kamrules.advice import contextmodel as cm

DOC = Path(__file__).resolve().parent.parent / "docs" / "playbook-context.md"
BEGIN, END = "<!-- reference: generated from kamrules/advice/contextmodel.py -->", "<!-- end reference -->"


def test_the_reference_is_generated_from_the_types() -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    current, tail = rest.split(END, 1)
    wanted = "\n" + cm.reference_markdown()
    if os.environ.get("KAMRULES_UPDATE_DOCS") == "1":
        DOC.write_text(head + BEGIN + wanted + END + tail, encoding="utf-8")
        current = wanted
    assert current == wanted, "docs/playbook-context.md is stale: KAMRULES_UPDATE_DOCS=1 pytest tests/test_context_docs.py"


def test_every_type_is_frozen_and_every_field_documented() -> None:
    seen = set()
    for cls in cm.TYPES:
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls  # type: ignore[attr-defined]
        for f in dataclasses.fields(cls):
            assert f.metadata.get("doc"), f"{cls.__name__}.{f.name} has no doc"
        seen.add(cls.__name__)
    # every context class reachable from the top is in TYPES (so it is documented)
    import typing

    hints = {n for c in cm.TYPES for h in typing.get_type_hints(c).values() for n in _names(h)}
    assert hints & {c.__name__ for c in vars(cm).values() if isinstance(c, type) and dataclasses.is_dataclass(c)} <= seen


def _names(h: object) -> set[str]:
    import typing

    out = {getattr(h, "__name__", "")}
    for a in typing.get_args(h):
        out |= _names(a)
    return out


def test_a_real_context_has_the_documented_shape() -> None:
    import datetime as dt

    from kamrules import pipeline
    from kamrules.advice.context import context

    ctx = context(pipeline.advise("examples/accounts/huaxin-steel.yaml", "course", as_of=dt.date(2026, 6, 30),
                                  lang="en", engine="reference"))
    assert isinstance(ctx, cm.PlaybookContext)
    assert isinstance(ctx.findings[0], cm.Finding) and isinstance(ctx.findings[0].because[0], cm.Evidence)
    assert ctx.ui["title"] == "Key-account strategy playbook"
