"""kamrules' own strings live in one catalogue (core/catalogue.py) with one lookup (core/i18n.t):
every entry has both languages with the same placeholders, Chinese text is Chinese, and every
entry is used somewhere (a template, or the code)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from kamrules.core import i18n
from kamrules.core.catalogue import MESSAGES

ROOT = Path(__file__).resolve().parent.parent
SOURCES = "\n".join(p.read_text(encoding="utf-8") for p in [*ROOT.joinpath("kamrules").rglob("*.py"),
                                                           *ROOT.joinpath("playbooks").glob("*.j2")])
# keys built at run time from a value: their families are used as a whole
DYNAMIC = ("playbook.status_", "playbook.mgmt_", "severity.", "source.", "concept.rulebook.", "family.rulebook",
           "playbook.role_", "playbook.horizon_")  # owner roles and horizons: _ui(f"role_{role}"), advice/context.py


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_both_languages_with_the_same_placeholders(key: str) -> None:
    text = MESSAGES[key]
    assert set(text) == {"zh", "en"} and text["zh"].strip() and text["en"].strip(), key
    assert set(re.findall(r"\{(\w+)\}", text["zh"])) == set(re.findall(r"\{(\w+)\}", text["en"])), key
    if re.search(r"[^\W\d_]", re.sub(r"\{\w+\}", "", text["zh"])):  # words, not only {n} or punctuation
        assert re.search(r"[\u4e00-\u9fff]", text["zh"]), f"{key}: the zh text is not Chinese: {text['zh']!r}"


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_entry_is_used(key: str) -> None:
    if key.startswith(DYNAMIC):
        return
    area, _, name = key.partition(".")
    used = (f'"{key}"' in SOURCES or f"'{key}'" in SOURCES or (area in ("playbook", "dashboard") and (re.search(rf"\bui\.{re.escape(name)}\b", SOURCES)
                                                               or f'_ui("{name}"' in SOURCES)))
    assert used, f"{key} is in the catalogue but nothing uses it"


def test_the_lookup() -> None:
    assert i18n.t("playbook.count", "zh", label="预警", n=3) == "预警（3 条）"
    assert i18n.t("playbook.count", "en", label="Warnings", n=3) == "Warnings (3)"
    assert i18n.texts("playbook", "en")["title"] == "Key-account strategy playbook"
    with pytest.raises(KeyError):
        i18n.t("playbook.no_such_key", "en")


def test_no_other_translation_table() -> None:
    """Every module reads the catalogue, not a table of its own (explain, init, rules and
    portfolio each had one)."""
    for path in ROOT.joinpath("kamrules").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel != "kamrules/core/catalogue.py":
            assert not re.search(r'\{"zh": "', path.read_text(encoding="utf-8")), f"{rel} holds its own translation table"


def test_no_key_is_written_twice() -> None:
    """A dict literal keeps the last of two equal keys without a word: a second entry would
    silently replace the first one's text everywhere it is used."""
    import ast
    import collections

    tree = ast.parse((ROOT / "kamrules/core/catalogue.py").read_text(encoding="utf-8"))
    keys = [k.value for node in ast.walk(tree) if isinstance(node, ast.Dict)
            for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str) and "." in k.value]
    assert [k for k, n in collections.Counter(keys).items() if n > 1] == []
