"""Two languages: bilingual text values."""
from __future__ import annotations

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
