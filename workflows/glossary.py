"""Answer "what is LMI?" from the model's glossary.

Matching is on whole terms and aliases only: a question about "NEET" must never land on RONI just
because "At Risk of NEET Indicator" contains the word. On a miss, `suggest` offers the closest
few terms instead of listing the whole glossary.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from model_data import Glossary, GlossaryTerm

_QUESTION = re.compile(
    r"^\s*(?:what\s+is|what's|whats|what\s+are|what\s+does|define|definition\s+of|"
    r"meaning\s+of|explain|glossary)\s+(?P<term>.+?)\s*(?:mean|stand\s+for)?\s*\??\s*$",
    re.IGNORECASE,
)
_ARTICLE = re.compile(r"^(?:an?|the)\s+", re.IGNORECASE)
_LEADING_ARTICLES = {"a", "an", "the"}
# A suggestion must be at least this close (difflib ratio, 0-1) to be worth offering.
_SUGGEST_CUTOFF = 0.6


def glossary_query(text: str) -> str | None:
    """The term asked about, if the text is a glossary question; None otherwise."""
    match = _QUESTION.match(text)
    if not match:
        return None
    term = _ARTICLE.sub("", match.group("term").strip().strip("'\"“”‘’"))
    return term or None


def _singular(word: str) -> str:
    """Fold a plain plural ("hubs", "EHCPs") so either number finds the entry; "compass" stays."""
    if len(word) > 2 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _key(text: str) -> str:
    """A comparable form: case, punctuation, apostrophes, leading articles and plurals ignored."""
    text = text.casefold().replace("(s)", "s")
    text = re.sub(r"['’‘]", "", text)  # "UTC's" -> "utcs"
    text = re.sub(r"\s*\+", "+", text)  # "Compass +" -> "compass+"
    words = re.findall(r"[a-z0-9+]+", text)
    while words and words[0] in _LEADING_ARTICLES:
        words.pop(0)
    return " ".join(_singular(word) for word in words)


def _contains(haystack: str, needle: str) -> bool:
    """Whether `needle` occurs in `haystack` as whole words (both already keys)."""
    return f" {needle} " in f" {haystack} "


def _is_acronym(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Z][A-Za-z]*[A-Z][A-Za-z]*\+?", name))


def lookup(glossary: Glossary, query: str) -> GlossaryTerm | None:
    """The entry whose term or an alias is the query, else the longest one the query contains.

    Only whole terms count, so "NEET" finds NEET, never "At Risk of NEET Indicator". A one-word
    acronym counts inside a longer question only when written as such ("the RONI score"), so the
    words "send" or "pal" in a sentence are not taken for SEND or PAL.
    """
    wanted = _key(query)
    if not wanted:
        return None
    for term in glossary.terms:
        if any(_key(name) == wanted for name in term.names()):
            return term
    best: tuple[int, GlossaryTerm] | None = None
    for term in glossary.terms:
        for name in term.names():
            key = _key(name)
            if not key or not _contains(wanted, key):
                continue
            if _is_acronym(name) and not _acronym_in(query, name):
                continue
            if best is None or len(key) > best[0]:
                best = (len(key), term)
    return best[1] if best else None


def _acronym_in(text: str, acronym: str) -> bool:
    """Whether the acronym appears in the text as written (case-sensitive), perhaps plural."""
    pattern = rf"(?<![A-Za-z0-9+]){re.escape(acronym)}(?:'?s)?(?![A-Za-z0-9+])"
    return re.search(pattern, text) is not None


# Words too common in the glossary's names to make a suggestion by themselves (keys: singular).
_COMMON_WORDS = frozenset(
    {"and", "for", "the", "with", "career", "education", "plan", "data", "school", "learning"}
    | {"policy", "skill", "development", "information", "guidance"}
)


def suggest(glossary: Glossary, term: str, limit: int = 3) -> list[str]:
    """The closest few terms to one the glossary lacks, best first; empty when nothing is close.

    Used instead of listing every term on a miss. Compares the query with every term and alias
    (so "Gatsbey" finds Gatsby Benchmarks through "Gatsby"), and counts sharing a distinctive
    whole word with a name ("hub network" and Careers Hub) as close enough.
    """
    wanted = _key(term)
    if not wanted or limit <= 0:
        return []
    wanted_words = {word for word in wanted.split() if len(word) > 2} - _COMMON_WORDS
    scores: dict[str, float] = {}
    for entry in glossary.terms:
        score = 0.0
        for name in entry.names():
            key = _key(name)
            score = max(score, SequenceMatcher(None, wanted, key).ratio())
            if wanted_words & set(key.split()):
                score = max(score, _SUGGEST_CUTOFF)
        if score >= _SUGGEST_CUTOFF:
            scores[entry.term] = score
    return sorted(scores, key=lambda name: -scores[name])[:limit]
