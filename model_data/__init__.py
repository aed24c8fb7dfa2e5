"""The Careers Impact Maturity Model (both editions), its glossary and the Gatsby Benchmarks.

Text transcribed from the public documents of The Careers & Enterprise Company; see
docs/model-data-format.md for the rules and each statement's `provenance` notes for repairs.
"""

from model_data.loader import (
    THEME_BENCHMARKS,
    ModelDataError,
    load_benchmarks,
    load_glossary,
    load_model,
    load_policy,
    parse_model,
)
from model_data.schema import (
    LEVELS,
    Benchmark,
    Benchmarks,
    Block,
    BulletList,
    Edition,
    Glossary,
    GlossaryTerm,
    MaturityModel,
    PolicyTemplate,
    Statement,
    Theme,
    blocks_to_text,
)
from model_data.term_dates import load_default_term_dates


def load_all() -> None:
    """Validate every file at start-up so a broken install stops before anyone is asked a thing."""
    for edition in Edition:
        load_model(edition)
    load_glossary()
    load_benchmarks()
    load_policy()
    load_default_term_dates()


__all__ = [
    "LEVELS",
    "THEME_BENCHMARKS",
    "Benchmark",
    "Benchmarks",
    "Block",
    "BulletList",
    "Edition",
    "Glossary",
    "GlossaryTerm",
    "MaturityModel",
    "ModelDataError",
    "PolicyTemplate",
    "Statement",
    "Theme",
    "blocks_to_text",
    "load_all",
    "load_benchmarks",
    "load_glossary",
    "load_model",
    "load_policy",
    "parse_model",
]
