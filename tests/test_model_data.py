"""The model data: both editions, the glossary and the Gatsby Benchmarks, checked against the seeds.

The seed comparisons read the source documents from ``../shared/seeds`` beside the clone and are
skipped when that folder is absent.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from model_data import (
    LEVELS,
    THEME_BENCHMARKS,
    BulletList,
    Edition,
    MaturityModel,
    ModelDataError,
    load_benchmarks,
    load_glossary,
    load_model,
    parse_model,
)

SEEDS = Path(__file__).parents[2] / "shared" / "seeds"
SEED_FILES = {
    Edition.COLLEGE: "000_b14dbdcf39abfeb7.txt",
    Edition.SCHOOL: "001_6668cbd84df5fb93.txt",
}
SEED_PLAN = "003_1920c749d4b90711.txt"
SEED_POLICY = "004_bcfa8f21c600e95e.txt"

needs_seeds = pytest.mark.skipif(
    not SEEDS.is_dir(),
    reason=f"seed documents not found at {SEEDS} (../shared/seeds beside the clone)",
)

EXPECTED_STATEMENTS = {Edition.SCHOOL: 32, Edition.COLLEGE: 33}
EXPECTED_PER_THEME = {Edition.SCHOOL: [7, 7, 8, 4, 3, 3], Edition.COLLEGE: [6, 7, 8, 6, 3, 3]}
EXPECTED_THEME_BENCHMARKS = {1: [1], 2: [1, 3], 3: [2, 7], 4: [4], 5: [5, 6], 6: [8]}

# Short titles used by the real school's summary grid (seed 003) for statements 1.1-2.7.
SEED003_SHORT_TITLES = {
    "1.1": "Distributed careers leadership",
    "1.2": "Leaders' vision",
    "1.3": "Strategic careers planning",
    "1.4": "Strategic careers leadership",
    "1.5": "Governance",
    "1.6": "Careers Hub engagement",
    "1.7": "Enterprise Adviser engagement",
    "2.1": "Career learning journeys",
    "2.2": "Addressing the needs",
    "2.3": "Recording systems",
    "2.4": "Destinations data",
    "2.5": "Learner perception",
    "2.6": "Stakeholder voice",
    "2.7": "Quality assurance",
}

GATSBY_TITLES = [
    "A stable careers programme",
    "Learning from career and labour market information",
    "Addressing the needs of each young person",
    "Linking curriculum learning to careers",
    "Encounters with employers and employees",
    "Experiences of workplaces",
    "Encounters with further and higher education",
    "Personal guidance",
]


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture(params=list(Edition), ids=lambda e: e.value)
def model(request: pytest.FixtureRequest) -> MaturityModel:
    return load_model(request.param)


def squash(text: str) -> str:
    """Collapse every run of white space (tabs, newlines, U+202F ...) to one space."""
    return " ".join(text.split())


# A real tag starts with a letter or "/": "<25 with EHCP)" in college 3.4/3.5 is text, not a tag.
_TAG = re.compile(r"</?[A-Za-z][^>]*>")


def clean_source(cell: str) -> str:
    """A seed cell as plain text: tags and stray bullets removed, white space normalised."""
    return squash(_TAG.sub(" ", cell).replace("•", " "))


def flatten(blocks: list[Any] | None, bullet: str = "") -> str:
    """A level as one line: blocks joined with a space, list items too (optionally prefixed)."""
    if blocks is None:
        return ""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, BulletList):
            parts.extend(f"{bullet}{item}" for item in block.items)
        else:
            parts.append(block)
    return squash(" ".join(parts))


def seed_lines(filename: str) -> list[str]:
    return (SEEDS / filename).read_text(encoding="utf-8").splitlines()


def seed_row(edition: Edition, statement_id: str) -> list[str]:
    """The source row of a statement that sits on one line: [title, level 1, ..., level 4]."""
    pattern = re.compile(rf"^(?:<p>)?{re.escape(statement_id)}\s")
    rows = [line for line in seed_lines(SEED_FILES[edition]) if pattern.match(line)]
    assert len(rows) == 1, f"{edition.value} {statement_id}: expected one source row, got {rows}"
    cells = rows[0].split("\t")
    while len(cells) > 5 and not cells[-1].strip():
        cells.pop()
    assert len(cells) == 5, f"{edition.value} {statement_id}: not a one-line row: {cells}"
    title = clean_source(cells[0])
    assert title.startswith(f"{statement_id} "), title
    return [title.removeprefix(f"{statement_id} "), *(clean_source(c) for c in cells[1:])]


def walk_strings(
    node: Any, path: str = "", skip: frozenset[str] = frozenset()
) -> Iterator[tuple[str, str]]:
    """Every string in a dumped model, with its path; keys in `skip` are not entered."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in skip:
                yield from walk_strings(value, f"{path}.{key}", skip)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk_strings(value, f"{path}[{index}]", skip)


def all_dumps() -> dict[str, Any]:
    return {
        "school.yaml": load_model(Edition.SCHOOL).model_dump(mode="json"),
        "college.yaml": load_model(Edition.COLLEGE).model_dump(mode="json"),
        "glossary.yaml": load_glossary().model_dump(mode="json"),
        "benchmarks.yaml": load_benchmarks().model_dump(mode="json"),
    }


# --- counts, ids, themes, benchmarks -----------------------------------------------------------


def test_edition_statement_and_theme_counts(model: MaturityModel) -> None:
    assert len(model.themes) == 6
    assert len(model.statements) == EXPECTED_STATEMENTS[model.edition]
    assert [len(t.statements) for t in model.themes] == EXPECTED_PER_THEME[model.edition]


def test_each_edition_file_declares_its_own_edition() -> None:
    assert load_model("school").edition is Edition.SCHOOL
    assert load_model("college").edition is Edition.COLLEGE
    assert load_model(Edition.SCHOOL).name.endswith("school and special school edition")
    assert load_model(Edition.COLLEGE).name.endswith("college / post-16 provider edition")


def test_ids_run_in_order_and_match_their_theme(model: MaturityModel) -> None:
    assert [t.number for t in model.themes] == [1, 2, 3, 4, 5, 6]
    for theme in model.themes:
        ids = [s.id for s in theme.statements]
        assert ids == [f"{theme.number}.{n}" for n in range(1, len(ids) + 1)]
        assert all(s.theme_number == theme.number for s in theme.statements)
    all_ids = [s.id for s in model.statements]
    assert len(set(all_ids)) == len(all_ids)
    assert model.statement("2.3").id == "2.3"
    with pytest.raises(KeyError):
        model.statement("7.1")


def test_theme_titles_have_no_benchmark_suffix(model: MaturityModel) -> None:
    for theme in model.themes:
        assert "Benchmark" not in theme.title, theme.title
        assert not theme.title.startswith("Theme"), theme.title


def test_theme_benchmark_mapping(model: MaturityModel) -> None:
    assert THEME_BENCHMARKS == EXPECTED_THEME_BENCHMARKS
    assert {t.number: t.benchmarks for t in model.themes} == EXPECTED_THEME_BENCHMARKS
    covered = sorted(b for t in model.themes for b in t.benchmarks)
    assert covered == [1, 1, 2, 3, 4, 5, 6, 7, 8]


# --- levels ------------------------------------------------------------------------------------


def test_every_statement_has_four_levels_and_only_6_1_level_1_is_empty(
    model: MaturityModel,
) -> None:
    empty: list[tuple[str, int]] = []
    for statement in model.statements:
        assert sorted(statement.levels) == [1, 2, 3, 4], statement.id
        for level in LEVELS:
            blocks = statement.levels[level]
            if blocks is None:
                empty.append((statement.id, level))
                assert statement.level_text(level) is None
                assert not statement.has_level(level)
            else:
                assert blocks, f"{statement.id} level {level} is an empty list"
                text = statement.level_text(level)
                assert text, f"{statement.id} level {level} renders empty"
                assert statement.has_level(level)
    assert empty == [("6.1", 1)]


def test_6_1_level_1_is_null_with_a_provenance_note_in_the_school_edition() -> None:
    statement = load_model(Edition.SCHOOL).statement("6.1")
    assert statement.levels[1] is None
    assert "empty" in statement.provenance["levels.1"]
    assert "nothing invented" in statement.provenance["levels.1"]


def test_exact_text_spot_checks() -> None:
    school = load_model(Edition.SCHOOL)
    college = load_model(Edition.COLLEGE)
    assert school.statement("1.1").levels[1] == ["There is a named Careers Leader."]
    assert college.statement("1.1").levels[1] == ["There is a named Careers Leader."]
    assert school.statement("1.1").levels[2] == [
        "There is a named Careers Leader who has completed – or is in the process of "
        "completing – appropriate Career Leader training.",
        "Their role is clear within the staffing structure, and they have sufficient time "
        "to fulfil their responsibilities.",
    ]
    assert school.statement("6.3").levels[3] == [
        "Impartial personal guidance provision and learners' engagement with the provision "
        "is regularly and systemically reviewed and evaluated."
    ]
    assert college.statement("6.1").level_text(2) == (
        "All learners are supported to engage in personal guidance interviews and engagement "
        "is tracked and monitored with relevant information being shared as appropriate."
    )


# --- seed comparisons --------------------------------------------------------------------------

# Statements whose source rows are simple one-line, tab-separated rows with no repairs.
SIMPLE_ROWS = [
    (Edition.SCHOOL, "1.1"),
    (Edition.SCHOOL, "1.2"),
    (Edition.SCHOOL, "1.3"),
    (Edition.SCHOOL, "2.2"),
    (Edition.SCHOOL, "2.7"),
    (Edition.SCHOOL, "3.5"),
    (Edition.SCHOOL, "5.2"),
    (Edition.SCHOOL, "6.1"),
    (Edition.COLLEGE, "1.1"),
    (Edition.COLLEGE, "1.5"),
    (Edition.COLLEGE, "2.4"),
    (Edition.COLLEGE, "3.2"),
    (Edition.COLLEGE, "3.5"),
    (Edition.COLLEGE, "4.1"),
    (Edition.COLLEGE, "4.6"),
    (Edition.COLLEGE, "6.1"),
]


@needs_seeds
@pytest.mark.parametrize(
    ("edition", "statement_id"), SIMPLE_ROWS, ids=[f"{e.value}-{i}" for e, i in SIMPLE_ROWS]
)
def test_simple_rows_match_the_seed_exactly(edition: Edition, statement_id: str) -> None:
    statement = load_model(edition).statement(statement_id)
    title, *levels = seed_row(edition, statement_id)
    assert statement.title == title
    for level, source in zip(LEVELS, levels, strict=True):
        assert flatten(statement.levels[level]) == source, f"level {level}"


@needs_seeds
def test_every_unannotated_statement_is_a_straight_reading_of_its_row(
    model: MaturityModel,
) -> None:
    """The rule of transcription: wording differing from the source carries a provenance note."""
    checked = 0
    for statement in model.statements:
        if statement.provenance:
            continue
        title, *levels = seed_row(model.edition, statement.id)
        assert statement.title == title, statement.id
        for level, source in zip(LEVELS, levels, strict=True):
            # The school seed writes inline lists as " - item"; the college seed as "• item".
            unlisted = squash(re.sub(r"(?<!\S)- ", " ", source))
            assert flatten(statement.levels[level]) == unlisted, f"{statement.id} level {level}"
        checked += 1
    assert checked >= len(model.statements) // 2


@needs_seeds
@pytest.mark.parametrize(
    ("statement_id", "level"), [("2.1", 1), ("2.1", 2), ("2.3", 2), ("4.1", 2)]
)
def test_school_inline_dash_lists_are_split_at_the_dashes(statement_id: str, level: int) -> None:
    statement = load_model(Edition.SCHOOL).statement(statement_id)
    source = seed_row(Edition.SCHOOL, statement_id)[level]
    assert " - " in source
    assert flatten(statement.levels[level], bullet="- ") == source


@needs_seeds
def test_seed003_summary_grid_uses_the_same_short_titles() -> None:
    lines = seed_lines(SEED_PLAN)
    start = next(i for i, line in enumerate(lines) if line.startswith("Maturity model statement"))
    end = next(i for i, line in enumerate(lines) if line.startswith("Leadership area"))
    grid: dict[str, str] = {}
    for line in lines[start:end]:
        match = re.match(r"^(\d\.\d) ([^\t]+)", line)
        if match:
            grid[match.group(1)] = match.group(2).strip()
    assert grid == SEED003_SHORT_TITLES


@needs_seeds
def test_glossary_matches_the_seed() -> None:
    text = (SEEDS / SEED_FILES[Edition.COLLEGE]).read_text(encoding="utf-8")
    section = text.split("Glossary of Key Terms from Careers Impact System Maturity Model", 1)[1]
    section = section.split("THE CAREERS & ENTERPRISE COMPANY", 1)[0]
    source: dict[str, str] = {}
    for line in section.splitlines():
        if "\t" in line:
            term, definition = line.split("\t", 1)
            source.setdefault(clean_source(term), clean_source(definition))  # first wins
    # The seed's terms come first, in its order and citing it; later terms are our additions.
    terms = load_glossary().terms[: len(source)]
    assert [t.term for t in terms] == list(source)
    assert all(t.source == [SEED_FILES[Edition.COLLEGE]] for t in terms)
    compared = 0
    for term in terms:
        if term.provenance:
            continue
        flat = squash(" ".join(line.removeprefix("- ") for line in term.definition.split("\n")))
        assert flat == source[term.term], term.term
        compared += 1
    assert compared == len(terms) - 2  # "Careers learning journey" and "Essential skills"


@needs_seeds
def test_benchmarks_match_seed_004_appendix_1() -> None:
    text = (SEEDS / SEED_POLICY).read_text(encoding="utf-8")
    appendix = text.split("\nAppendix 1 - The Gatsby Benchmarks", 1)[1]
    flat_appendix = squash(appendix)
    lines = [line.strip() for line in appendix.splitlines()]
    for benchmark in load_benchmarks().benchmarks:
        assert f"{benchmark.title}:" in lines, benchmark.title
        assert squash(benchmark.summary) in flat_appendix, benchmark.number
        for block in benchmark.criteria:
            for piece in block.items if isinstance(block, BulletList) else [block]:
                assert piece in flat_appendix, (benchmark.number, piece)


# --- short titles ------------------------------------------------------------------------------


def test_school_short_titles_are_those_of_seed_003() -> None:
    school = load_model(Edition.SCHOOL)
    assert {sid: school.statement(sid).short_title for sid in SEED003_SHORT_TITLES} == (
        SEED003_SHORT_TITLES
    )
    assert school.statement("1.5").short_label == "1.5 Governance"
    assert school.statement("1.5").label == "1.5 Support and challenge from governance"


def test_short_titles_are_unique_and_carry_no_id(model: MaturityModel) -> None:
    short_titles = [s.short_title for s in model.statements]
    assert len(set(short_titles)) == len(short_titles)
    assert not [t for t in short_titles if re.match(r"^\d", t)]


# --- known repairs and provenance --------------------------------------------------------------


def test_school_3_2_level_1_is_reconstructed_from_the_college_edition() -> None:
    school_3_2 = load_model(Edition.SCHOOL).statement("3.2")
    college_3_2 = load_model(Edition.COLLEGE).statement("3.2")
    assert school_3_2.levels[1] == college_3_2.levels[1]
    assert school_3_2.levels[1] == [
        "The careers provision includes ad hoc opportunities for learners to receive "
        "information about routes available to them."
    ]
    note = school_3_2.provenance["levels.1"]
    assert note.startswith("Reconstruction")
    assert "college edition" in note
    assert '"Them them"' in note


@pytest.mark.parametrize(
    ("statement_id", "title", "broken"),
    [
        (
            "3.1",
            "Learner understanding of what LMI is and how to make effective use of it",
            "understanding o what",
        ),
        (
            "3.2",
            "Learner understanding of all routes available to them at key transitions",
            "understanding or all routes available to then",
        ),
        (
            "3.4",
            "Parent and carer understanding of what LMI is and how to make effective use of it",
            "understanding or what",
        ),
    ],
)
def test_school_titles_with_lost_letters_are_repaired_with_a_note(
    statement_id: str, title: str, broken: str
) -> None:
    statement = load_model(Edition.SCHOOL).statement(statement_id)
    assert statement.title == title
    assert broken not in statement.title
    note = statement.provenance["title"]
    assert note.startswith("Lost letter")
    assert broken in note


def test_college_3_4_title_keeps_its_applicability_note() -> None:
    college = load_model(Edition.COLLEGE)
    title = college.statement("3.4").title
    assert title.startswith("Parent and carer understanding of what LMI is")
    assert title.endswith("(applicable for 16-18 learners <25 with EHCP)")
    assert "title" in college.statement("3.4").provenance
    assert "(applicable for 16-18 learners <25 with EHCP)" in college.statement("3.5").title


def test_provenance_fields_are_known(model: MaturityModel) -> None:
    allowed = {"title", "short_title", "levels.1", "levels.2", "levels.3", "levels.4"}
    for statement in model.statements:
        assert set(statement.provenance) <= allowed, statement.id
        assert all(len(note) > 20 for note in statement.provenance.values()), statement.id
    for theme in model.themes:
        assert set(theme.provenance) <= {"title"}, theme.number


def test_damaged_source_text_is_nowhere_in_the_content() -> None:
    damaged = [
        "Them them",
        "understanding o what",
        "understanding or ",
        "available to then",
        "Le adership",
        "pla nning",
        "essential skins",
        "self- evaluation",
    ]
    found = [
        (name, path, bad)
        for name, data in all_dumps().items()
        for path, text in walk_strings(data, name, skip=frozenset({"provenance"}))
        for bad in damaged
        if bad in text
    ]
    assert found == []


# --- bullet lists ------------------------------------------------------------------------------


def list_levels(model: MaturityModel) -> list[tuple[str, int]]:
    return [
        (s.id, level)
        for s in model.statements
        for level in LEVELS
        if any(isinstance(b, BulletList) for b in s.levels[level] or [])
    ]


def test_bullet_lists_are_kept_as_lists() -> None:
    school = load_model(Edition.SCHOOL)
    college = load_model(Edition.COLLEGE)
    assert list_levels(school) == [
        ("2.1", 1),
        ("2.1", 2),
        ("2.3", 2),
        ("4.1", 1),
        ("4.1", 2),
        ("4.2", 4),
    ]
    assert list_levels(college) == [("2.1", 1), ("2.1", 2), ("4.1", 1), ("4.1", 2), ("4.2", 4)]
    assert school.statement("4.1").levels[2][1] == BulletList(
        items=[
            "make aspirational and informed decisions",
            "make effective and sustained transitions",
            "develop career readiness.",
        ]
    )
    assert college.statement("2.1").levels[1][1] == BulletList(
        items=[
            "make aspirational and informed decisions.",
            "make effective and sustained transitions.",
            "develop career readiness.",
        ]
    )


def test_no_paragraph_hides_a_flattened_list(model: MaturityModel) -> None:
    for statement in model.statements:
        for level in LEVELS:
            for block in statement.levels[level] or []:
                if isinstance(block, str):
                    assert not re.search(r"(^|\s)[-•] ", block), (statement.id, level, block)


# --- export ------------------------------------------------------------------------------------


def test_export_shape(model: MaturityModel) -> None:
    export = model.to_export()
    assert json.loads(json.dumps(export)) == export
    assert set(export) == {"edition", "themes"}
    assert export["edition"] == model.edition.value
    themes = export["themes"]
    assert isinstance(themes, list)
    assert [t["number"] for t in themes] == [1, 2, 3, 4, 5, 6]
    nulls: list[tuple[str, str]] = []
    for theme, source_theme in zip(themes, model.themes, strict=True):
        assert set(theme) == {"number", "title", "benchmarks", "statements"}
        assert theme["title"] == source_theme.title
        assert theme["benchmarks"] == EXPECTED_THEME_BENCHMARKS[theme["number"]]
        for exported, statement in zip(theme["statements"], source_theme.statements, strict=True):
            assert set(exported) == {"id", "title", "short_title", "levels"}
            assert exported["id"] == statement.id
            assert exported["title"] == statement.title
            assert exported["short_title"] == statement.short_title
            assert list(exported["levels"]) == ["1", "2", "3", "4"]
            for key, value in exported["levels"].items():
                if value is None:
                    nulls.append((statement.id, key))
                else:
                    assert isinstance(value, str)
                    assert value
    assert nulls == [("6.1", "1")]


def test_export_renders_blocks_one_per_line_and_items_as_dashes(model: MaturityModel) -> None:
    export = model.to_export()
    exported = {s["id"]: s for t in export["themes"] for s in t["statements"]}
    for statement in model.statements:
        for level in LEVELS:
            blocks = statement.levels[level]
            if blocks is None:
                continue
            expected: list[str] = []
            for block in blocks:
                if isinstance(block, BulletList):
                    expected.extend(f"- {item}" for item in block.items)
                else:
                    expected.append(block)
            assert exported[statement.id]["levels"][str(level)].split("\n") == expected


def test_export_of_a_list_level_exactly() -> None:
    export = load_model(Edition.SCHOOL).to_export()
    theme_2 = export["themes"][1]
    statement = theme_2["statements"][0]
    assert statement["id"] == "2.1"
    assert statement["short_title"] == "Career learning journeys"
    assert statement["levels"]["1"] == (
        "The careers provision includes activity that contributes to supporting learners to:\n"
        "- make aspirational and informed decisions\n"
        "- make effective and sustained transitions\n"
        "- develop career readiness."
    )
    theme_6 = export["themes"][5]
    assert theme_6["statements"][0]["id"] == "6.1"
    assert theme_6["statements"][0]["levels"]["1"] is None


# --- glossary ----------------------------------------------------------------------------------


def test_glossary_terms_have_definitions() -> None:
    glossary = load_glossary()
    assert len(glossary.terms) > 17  # seed 000's 17, then the acronyms and named tools
    for term in glossary.terms:
        assert term.definition.strip(), term.term
        assert len(term.definition) > 20, term.term
        assert term.source, term.term
    by_term = {t.term: t for t in glossary.terms}
    assert by_term["Enterprise Adviser"].definition == (
        "Enterprise Advisers are volunteers who use their business skills, experience, and "
        "networks to support Career Leaders in schools, colleges, and special schools to "
        "improve their careers provision."
    )
    roni = by_term["RONI"].definition.split("\n")
    assert roni[0].startswith("At Risk of NEET Indicator. A tool used")
    assert roni[1:3] == [
        "- English as an additional language",
        "- An Education, Health and Care Plan",
    ]
    assert len(roni) == 11


def test_glossary_has_no_duplicate_terms_or_clashing_aliases() -> None:
    terms = load_glossary().terms
    names = [t.term.casefold() for t in terms]
    assert len(set(names)) == len(names)
    owner: dict[str, str] = {}
    clashes: list[tuple[str, str, str]] = []
    for term in terms:
        for name in {n.casefold() for n in term.names()}:
            if name in owner and owner[name] != term.term:
                clashes.append((name, owner[name], term.term))
            owner.setdefault(name, term.term)
    assert clashes == []
    assert owner["qft"] == "Quality First Teaching"
    assert owner["at risk of neet indicator"] == "RONI"


# --- Gatsby Benchmarks -------------------------------------------------------------------------


def test_eight_gatsby_benchmarks_with_criteria() -> None:
    benchmarks = load_benchmarks().benchmarks
    assert [b.number for b in benchmarks] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [b.title for b in benchmarks] == GATSBY_TITLES
    for benchmark in benchmarks:
        assert benchmark.summary.strip()
        assert benchmark.criteria
        for block in benchmark.criteria:
            assert isinstance(block, str | BulletList)
    with_lists = [
        b.number for b in benchmarks if any(isinstance(c, BulletList) for c in b.criteria)
    ]
    assert with_lists == [5, 6, 7]
    assert benchmarks[0].criteria[0].startswith("Every school should have a stable, structured")
    assert len(benchmarks[2].criteria) == 6


# --- clean text --------------------------------------------------------------------------------


def test_no_extraction_debris_in_any_text() -> None:
    bad: list[tuple[str, str]] = []
    strings = 0
    for name, data in all_dumps().items():
        for path, text in walk_strings(data, name):
            strings += 1
            if (
                "\t" in text
                or "  " in text
                or "<p>" in text
                or "•" in text
                or _TAG.search(text)
                or text != text.strip()
            ):
                bad.append((path, text))
    assert bad == []
    assert strings > 500


def test_statement_text_is_single_line(model: MaturityModel) -> None:
    for path, text in walk_strings(model.model_dump(mode="json"), model.edition.value):
        assert "\n" not in text, path


# --- validation errors -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def school_raw() -> dict[str, Any]:
    text = resources.files("model_data").joinpath("school.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def statement_of(raw: dict[str, Any], statement_id: str) -> dict[str, Any]:
    theme, position = (int(n) for n in statement_id.split("."))
    return raw["themes"][theme - 1]["statements"][position - 1]


def dump(raw: dict[str, Any]) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: faster
    return yaml.dump(raw, Dumper=dumper, allow_unicode=True, sort_keys=False)


def test_unmodified_school_file_round_trips(school_raw: dict[str, Any]) -> None:
    assert parse_model("school.yaml", text=dump(school_raw)) == load_model(Edition.SCHOOL)


def _drop_level_3(raw: dict[str, Any]) -> None:
    del statement_of(raw, "2.3")["levels"]["3"]


def _empty_level_2(raw: dict[str, Any]) -> None:
    statement_of(raw, "2.3")["levels"]["2"] = []


def _empty_bullet_list(raw: dict[str, Any]) -> None:
    statement_of(raw, "2.3")["levels"]["2"] = [{"items": []}]


def _all_upper_levels_null(raw: dict[str, Any]) -> None:
    statement_of(raw, "2.3")["levels"].update({"2": None, "3": None, "4": None})


def _blank_title(raw: dict[str, Any]) -> None:
    statement_of(raw, "2.3")["title"] = "   "


def _unknown_provenance(raw: dict[str, Any]) -> None:
    statement_of(raw, "2.3")["provenance"] = {"levels.5": "A note."}


def _swap_2_3_and_2_4(raw: dict[str, Any]) -> None:
    statements = raw["themes"][1]["statements"]
    statements[2], statements[3] = statements[3], statements[2]


def _duplicate_2_3(raw: dict[str, Any]) -> None:
    statement_of(raw, "2.4")["id"] = "2.3"


def _wrong_theme_3_benchmarks(raw: dict[str, Any]) -> None:
    raw["themes"][2]["benchmarks"] = [2]


def _theme_out_of_order(raw: dict[str, Any]) -> None:
    raw["themes"][4]["number"] = 6


def _unknown_edition(raw: dict[str, Any]) -> None:
    raw["edition"] = "primary"


def _five_themes(raw: dict[str, Any]) -> None:
    del raw["themes"][5]


BROKEN: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (
        _drop_level_3,
        r"^school\.yaml: theme 2, statement 2\.3, field levels: .*"
        r"needs exactly levels 1, 2, 3 and 4, got \[1, 2, 4\]$",
    ),
    (
        _empty_level_2,
        r"^school\.yaml: theme 2, statement 2\.3, field levels: .*"
        r"level 2 is an empty list; use null for an empty cell$",
    ),
    (
        _empty_bullet_list,
        r"^school\.yaml: theme 2, statement 2\.3, field levels\.2\.0\b.*"
        r"field levels\.2\.0\.BulletList\.items: List should have at least 1 item",
    ),
    (
        _all_upper_levels_null,
        r"^school\.yaml: theme 2, statement 2\.3, field levels: .*levels 2 to 4 are all empty$",
    ),
    (_blank_title, r"^school\.yaml: theme 2, statement 2\.3, field title: "),
    (
        _unknown_provenance,
        r"^school\.yaml: theme 2, statement 2\.3, field provenance: .*"
        r"unknown provenance field 'levels\.5'$",
    ),
    (
        _swap_2_3_and_2_4,
        r"^school\.yaml: statement 2\.4, field id: expected 2\.3 \(theme 2, position 3\)$",
    ),
    (
        _duplicate_2_3,
        r"^school\.yaml: statement 2\.3, field id: expected 2\.4 \(theme 2, position 4\)$",
    ),
    (
        _wrong_theme_3_benchmarks,
        r"^school\.yaml: theme 3, field benchmarks: expected \[2, 7\], got \[2\]$",
    ),
    (_theme_out_of_order, r"^school\.yaml: theme 6, field number: expected 5$"),
    (_unknown_edition, r"^school\.yaml: field edition: "),
    (_five_themes, r"^school\.yaml: field themes: List should have at least 6 items"),
]


@pytest.mark.parametrize(
    ("mutate", "message"), BROKEN, ids=[m.__name__.strip("_") for m, _ in BROKEN]
)
def test_malformed_model_names_file_statement_and_field(
    school_raw: dict[str, Any], mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    raw = copy.deepcopy(school_raw)
    mutate(raw)
    with pytest.raises(ModelDataError, match=message):
        parse_model("school.yaml", text=dump(raw))


def test_invalid_yaml_syntax_names_the_file() -> None:
    text = resources.files("model_data").joinpath("school.yaml").read_text(encoding="utf-8")
    broken = text.replace("  - number: 2\n", "  - number: 2\n   benchmarks: [1, 3\n", 1)
    assert broken != text
    with pytest.raises(ModelDataError, match=r"^school\.yaml: not valid YAML: "):
        parse_model("school.yaml", text=broken)


def test_missing_file_names_the_file() -> None:
    with pytest.raises(ModelDataError, match=r"^primary\.yaml: file not found in model_data$"):
        parse_model("primary.yaml")
