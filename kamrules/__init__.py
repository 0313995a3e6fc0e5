"""kamrules: the 大客户攻略营销 course as testable rulebooks, evaluated on durable_rules.

The library API (the CLI is a thin layer over the same calls):

    import kamrules

    book = kamrules.load_rulebook("course")                 # a built-in id, or a rulebook/overlay file
    account = kamrules.load_account("huaxin.yaml", book)    # validated against the rulebook's facts
    advice = kamrules.evaluate(account, book, as_of=datetime.date(2026, 6, 30), lang="en")
    advice.classification["final"].value                    # 'key'
    advice.scores["health"].value                           # 80.0
    [f.rule for f in advice.findings]                       # warnings and recommendations, most severe first
    text = kamrules.render(advice, "md")                    # or "html", "json"

Bad input raises `kamrules.InputError` (a subclass per kind of input), whose `problems` each carry
a code, a message, file:line:col, the path to the bad key and a hint. Names are imported on
first use, so `import kamrules` stays cheap.
"""
from __future__ import annotations

# Not `from typing import …`: this package is imported before the program can answer a Ctrl-C
# (cli.run), so it imports nothing; mypy reads a name TYPE_CHECKING as typing's.
TYPE_CHECKING = False

__version__ = "0.1.0"

__all__ = ["__version__", "load_rulebook", "load_account", "evaluate", "render", "Advice", "Rulebook", "Account",
           "KamrulesError", "InputError", "RulebookError", "AccountError", "EngineError"]

_WHERE = {
    "load_rulebook": "kamrules.rulebook.load",
    "load_account": "kamrules.io.account",
    "evaluate": "kamrules.pipeline",
    "render": "kamrules.advice.render",
    "Advice": "kamrules.advice.model",
    "Rulebook": "kamrules.rulebook.model",
    "Account": "kamrules.rulebook.model",
    "KamrulesError": "kamrules.core.errors",
    "InputError": "kamrules.core.errors",
    "RulebookError": "kamrules.core.errors",
    "AccountError": "kamrules.core.errors",
    "EngineError": "kamrules.core.errors",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors
    from typing import Any

    from kamrules.advice.model import Advice
    from kamrules.advice.render import render
    from kamrules.core.errors import AccountError, EngineError, InputError, KamrulesError, RulebookError
    from kamrules.io.account import load_account
    from kamrules.pipeline import evaluate
    from kamrules.rulebook.load import load_rulebook
    from kamrules.rulebook.model import Account, Rulebook


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kamrules' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
