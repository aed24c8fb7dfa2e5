"""Load and validate the model files once, failing loudly with file, statement and field."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from model_data.schema import Benchmarks, Edition, Glossary, MaturityModel, PolicyTemplate

# Themes and the Gatsby Benchmarks they are tied to (Quality in Careers Standard, seed 002).
THEME_BENCHMARKS: dict[int, list[int]] = {1: [1], 2: [1, 3], 3: [2, 7], 4: [4], 5: [5, 6], 6: [8]}

M = TypeVar("M", bound=BaseModel)


class ModelDataError(Exception):
    """A model file is missing or malformed; the message names the file, statement and field."""


def read_yaml(
    filename: str, text: str | None = None, loader: type[yaml.SafeLoader] = yaml.SafeLoader
) -> Any:
    """A model file's YAML (from the package, or `text` for tests), never arbitrary objects."""
    try:
        if text is None:
            text = resources.files("model_data").joinpath(filename).read_text(encoding="utf-8")
        return yaml.load(text, Loader=loader)
    except FileNotFoundError as exc:
        raise ModelDataError(f"{filename}: file not found in model_data") from exc
    except (yaml.YAMLError, ValueError) as exc:
        # PyYAML raises a bare ValueError for an impossible date such as 2026-02-30.
        raise ModelDataError(f"{filename}: not valid YAML: {exc}") from exc


def _where(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into "statement 2.3, field levels.2" where possible."""
    parts: list[str] = []
    node = raw
    field_path: list[str] = []
    for key in loc:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, dict) and str(key) in node:
            node = node[str(key)]
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            node = None
        if isinstance(node, dict) and "id" in node and "levels" in node:
            parts.append(f"statement {node['id']}")
            field_path = []
            continue
        if isinstance(node, dict) and "number" in node and "statements" in node:
            parts.append(f"theme {node['number']}")
            field_path = []
            continue
        if isinstance(node, dict) and "term" in node:
            parts.append(f"term {node['term']!r}")
            field_path = []
            continue
        field_path.append(str(key))
    if field_path:
        parts.append("field " + ".".join(field_path))
    return ", ".join(parts) or "top level"


def _validate(model: type[M], filename: str, raw: Any) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(raw, err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ModelDataError(f"{filename}: {problems}") from exc


def _check_order(filename: str, model: MaturityModel) -> None:
    """Ids run 1.1, 1.2 ... inside their theme; themes 1-6 carry their benchmarks."""
    for index, theme in enumerate(model.themes, start=1):
        if theme.number != index:
            raise ModelDataError(
                f"{filename}: theme {theme.number}, field number: expected {index}"
            )
        if theme.benchmarks != THEME_BENCHMARKS[theme.number]:
            raise ModelDataError(
                f"{filename}: theme {theme.number}, field benchmarks: expected "
                f"{THEME_BENCHMARKS[theme.number]}, got {theme.benchmarks}"
            )
        for position, statement in enumerate(theme.statements, start=1):
            expected = f"{theme.number}.{position}"
            if statement.id != expected:
                raise ModelDataError(
                    f"{filename}: statement {statement.id}, field id: expected {expected} "
                    f"(theme {theme.number}, position {position})"
                )


def parse_model(filename: str, text: str | None = None) -> MaturityModel:
    """Parse one edition file (from the package, or `text` for tests)."""
    raw = read_yaml(filename, text)
    model = _validate(MaturityModel, filename, raw)
    _check_order(filename, model)
    return model


@cache
def load_model(edition: Edition | str) -> MaturityModel:
    """The validated model for one edition; read once per process."""
    edition = Edition(edition)
    model = parse_model(f"{edition.value}.yaml")
    if model.edition is not edition:
        raise ModelDataError(f"{edition.value}.yaml: field edition: says {model.edition.value}")
    return model


@cache
def load_glossary() -> Glossary:
    glossary = _validate(Glossary, "glossary.yaml", read_yaml("glossary.yaml"))
    owner: dict[str, str] = {}
    for term in glossary.terms:
        for name in {n.casefold() for n in term.names()}:
            if name in owner:
                raise ModelDataError(
                    f"glossary.yaml: term {term.term!r}, field aliases: {name!r} already "
                    f"belongs to {owner[name]!r}"
                )
            owner[name] = term.term
    return glossary


@cache
def load_benchmarks() -> Benchmarks:
    benchmarks = _validate(Benchmarks, "benchmarks.yaml", read_yaml("benchmarks.yaml"))
    numbers = [b.number for b in benchmarks.benchmarks]
    if numbers != list(range(1, 9)):
        raise ModelDataError(
            f"benchmarks.yaml: field number: expected 1 to 8 in order, got {numbers}"
        )
    return benchmarks


@cache
def load_policy() -> PolicyTemplate:
    """Seed 004's CEIAG policy template (sections, statutory text, duties) for policy drafts."""
    return _validate(PolicyTemplate, "policy.yaml", read_yaml("policy.yaml"))
