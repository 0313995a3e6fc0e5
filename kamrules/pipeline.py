"""The façade: advise(account, rulebook) = load → layer → facts → compile → evaluate → resolve.

Reads top to bottom; each line is one stage from its own module.
"""
from __future__ import annotations

import datetime as _dt

from kamrules.advice.model import Advice
from kamrules.advice.resolve import AccountDetails, State
from kamrules.engine.backends import pick_backend
from kamrules.engine.compile import Program, compile_rulebook
from kamrules.engine.facts import build_facts
from kamrules.rulebook.load import load_rulebook
from kamrules.rulebook.model import Account, Rulebook

_PROGRAMS: dict[str, Program] = {}


def program_for(book: Rulebook) -> Program:
    """Compiled once per effective rulebook (keyed by its content digest)."""
    prog = _PROGRAMS.get(book.digest)
    if prog is None:
        prog = _PROGRAMS[book.digest] = compile_rulebook(book)
    return prog


def rulebook(ref: str = "course") -> Rulebook:
    """The effective rulebook. Not memoised here: a relative ref means another file in another
    working directory, and load_rulebook's disk cache already makes a repeat load cheap while
    checking every file's content hash."""
    return load_rulebook(ref)


def evaluate(account: Account, book: Rulebook, *, as_of: _dt.date | None = None, lang: str | None = None,
             engine: str = "auto", with_bindings: bool = True) -> Advice:
    """Facts → engine → resolution, once. Findings (messages, evidence) and blocked analyses are
    materialised when an output first reads them (Advice.findings, .blocked). `with_bindings`:
    whether each match carries the properties it read (Backend.run; a portfolio does without)."""
    as_of = as_of or account.as_of or _dt.date.today()
    lang = lang or book.lang
    facts = build_facts(account, book, as_of)
    prog = program_for(book)
    backend = pick_backend(engine)
    state = State(book, facts)
    found = backend.run(prog, facts, state.after_stratum, with_bindings=with_bindings)
    # a suppressed rule's match is set aside by resolution, the same way whichever engine found it.
    # The matches are what the backend returned (the rule tests compare engines by them), not what
    # it handed to resolution: the same for a backend that keeps its contract, not for one that errs
    suppressed = tuple(state.suppressed)
    withheld = {s.rule for s in suppressed}
    matches = tuple(m for m in found if m.rule not in withheld) if withheld else tuple(found)
    classification, scores = state.finish()
    return Advice(account=account, book=book, facts=facts, engine=backend.name, lang=lang,
                  classification=classification, scores=scores, matches=matches, env=state.env,
                  details=AccountDetails(book, facts, state.env, tuple(state.matches), classification, lang, prog,
                                         suppressed),
                  suppressed=suppressed)


def advise(account_file: str, rulebook_ref: str = "course", *, as_of: _dt.date | None = None,
           lang: str | None = None, engine: str = "auto", stdin_text: str | None = None,
           account_id: str | None = None) -> Advice:
    """One account: a YAML/JSON file, or one row (account_id) of a CRM CSV export."""
    book = rulebook(rulebook_ref)
    if account_id is None and account_file.lower().endswith((".yaml", ".yml", ".json")):
        # the common case, without importing the CSV reader (a cold start pays for every import)
        from kamrules.io.account import load_account

        account = load_account(account_file, book, text=stdin_text)
    else:
        from kamrules.io.csvio import select_account

        account = select_account(account_file, book, account_id, text=stdin_text)
    return evaluate(account, book, as_of=as_of, lang=lang, engine=engine)
