"""Two languages: bilingual text values."""
from __future__ import annotations

import re
from dataclasses import dataclass

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


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


def is_chinese(text: str) -> bool:
    """Whether text a user wrote is Chinese (holds a CJK character or CJK punctuation): hints
    about it are then given in Chinese, naming the Chinese labels."""
    return bool(_CJK.search(text))
