"""Two languages: bilingual text values, and the one lookup of kamrules' own strings
(core/catalogue.py)."""
from __future__ import annotations

import re
from typing import Any
from kamrules.core.record import dataclass

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


_CJK_CLASS = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]"
# compiled on first use: a class of wide ranges compiles to a 64k-entry bitmap (~5 ms of CPU),
# which every start paid although only hints and a few value formats ask
_CJK: list[re.Pattern[str]] = []


def is_chinese(text: str) -> bool:
    """Whether text a user wrote is Chinese (holds a CJK character or CJK punctuation): hints
    about it are then given in Chinese, naming the Chinese labels."""
    if not _CJK:
        _CJK.append(re.compile(_CJK_CLASS))
    return bool(_CJK[0].search(text))


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
