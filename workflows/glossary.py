"""Answer "what is LMI?" from the model's glossary."""

from __future__ import annotations

import re

from model_data import Glossary, GlossaryTerm

_QUESTION = re.compile(
    r"^\s*(?:what\s+is|what's|whats|what\s+are|what\s+does|define|definition\s+of|"
    r"meaning\s+of|explain|glossary)\s+(?P<term>.+?)\s*(?:mean|stand\s+for)?\s*\??\s*$",
    re.IGNORECASE,
)
_ARTICLE = re.compile(r"^(?:an?|the)\s+", re.IGNORECASE)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9+]+", " ", text.lower()).strip()


def glossary_query(text: str) -> str | None:
    """The term asked about, if the text is a glossary question; None otherwise."""
    match = _QUESTION.match(text)
    if not match:
        return None
    term = _ARTICLE.sub("", match.group("term").strip().strip("'\"“”‘’"))
    return term or None


def lookup(glossary: Glossary, query: str) -> GlossaryTerm | None:
    """Exact name or alias first, then a term whose name contains the query (or vice versa)."""
    wanted = _norm(query)
    if not wanted:
        return None
    for term in glossary.terms:
        if any(_norm(name) == wanted for name in term.names()):
            return term
    for term in glossary.terms:
        if any(wanted in _norm(name) for name in term.names()):
            return term
    for term in glossary.terms:
        if any(len(_norm(name)) > 3 and _norm(name) in wanted for name in term.names()):
            return term
    return None
