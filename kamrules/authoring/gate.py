"""One answer: a rulebook `kamrules check` calls wrong is one `advise`, `explain` and `portfolio`
refuse.

Loading (read → layer → check) is shared by every command and refuses what it can see one
element at a time: a bare 15 for a percent parameter among them. Lint sees what only the whole
rulebook shows — a rule that can never fire (a threshold of 1500% against a discount declared
within 0–100%), two rules of a `unique` dimension that overlap, a template that uses a name the
playbook context does not have — and calls those errors too. Without this gate an overlay that
`check` rejects would still give a playbook, with the warning it silenced simply missing (exit 0).

The built-in rulebooks are checked by the test suite (they have no lint errors), so only a
rulebook outside the package pays for the lint pass. durable_rules' own limits are left to the
engine that has them: `advise --engine durable` refuses such a rulebook when it compiles it, and
the reference engine has no such limits.
"""
from __future__ import annotations

from pathlib import Path

from kamrules.core.errors import RulebookError
from kamrules.rulebook.load import load_rulebook, resolve_ref
from kamrules.rulebook.model import Rulebook


def _builtin(ref: str) -> bool:
    from kamrules.core.resources import rules_dir

    path = resolve_ref(ref, None)
    return path is not None and Path(path).resolve().is_relative_to(rules_dir().resolve())


def checked_rulebook(ref: str) -> Rulebook:
    """The effective rulebook, refused (RulebookError, exit 2) when check reports an error in it."""
    book = load_rulebook(ref)  # load errors are check's errors too: raised here
    if not _builtin(ref):
        _refuse_lint_errors(book, ref)
    return book


def refuse_what_check_refuses(ref: str) -> None:
    """checked_rulebook for a command that loads the rulebook itself (advise and explain, through
    the pipeline): a built-in is not even loaded here, so its users pay nothing."""
    if not _builtin(ref):
        _refuse_lint_errors(load_rulebook(ref), ref)


def _refuse_lint_errors(book: Rulebook, ref: str) -> None:
    from kamrules.authoring.check import check_rulebook
    from kamrules.authoring.lint import lint, template_variables

    quick = [p for p in lint(book, engine=False) + template_variables(book) if p.severity == "error"]
    if not quick:
        return
    # check's own verdict, with findings that the built-in base has on its own left out
    errors = [p for p in check_rulebook(ref).problems if p.severity == "error" and p.code != "lint.engine-limit"]
    if errors:
        raise RulebookError(errors)
