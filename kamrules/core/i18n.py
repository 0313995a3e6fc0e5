"""Two languages: bilingual text values, and the one lookup of kamrules' own strings
(core/catalogue.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LANGS = ("zh", "en")


@dataclass(frozen=True)
class Text:
    """A bilingual string. Built-in course strings have both; company strings may have one."""

    zh: str = ""
    en: str = ""

    def get(self, lang: str) -> str:
        primary = self.zh if lang == "zh" else self.en
        return primary or self.en or self.zh

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("zh", self.zh), ("en", self.en)) if v}


def t(key: str, lang: str, **kw: Any) -> str:
    """kamrules' own text for `key` in `lang` (zh or en), with {placeholders} filled in."""
    from kamrules.core.catalogue import MESSAGES

    text = MESSAGES[key]["zh" if lang == "zh" else "en"]
    return text.format(**kw) if kw else text


def texts(prefix: str, lang: str) -> dict[str, str]:
    """Every entry under `prefix.` in `lang`, keyed without the prefix (the playbook's `ui`)."""
    from kamrules.core.catalogue import MESSAGES

    side = "zh" if lang == "zh" else "en"
    cut = len(prefix) + 1
    return {k[cut:]: v[side] for k, v in MESSAGES.items() if k.startswith(prefix + ".")}
