"""A regular expression compiled the first time it is used, not when its module is imported.

Compiling a pattern runs re's parser and compiler in Python: 0.1 – 3 M instructions each
(callgrind), paid at import by every command that imports the module. A pattern that a common
run never uses (a hint for a badly written value, a store URL, an `init` argument) is written
`_NAME = LazyPattern(r"…")` and used as `_NAME().match(text)`: the same compiled pattern as
`re.compile(r"…")`, made on the first call and kept.
"""
from __future__ import annotations

import re


class LazyPattern:
    """`re.compile(pattern, flags)`, made by the first call and returned by every call."""

    __slots__ = ("pattern", "flags", "_compiled")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    def __call__(self) -> re.Pattern[str]:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self.pattern, self.flags)
        return compiled
