"""Property-based checks (Hypothesis): no input crashes the engine or a payload reader, and
no input corrupts answers already saved."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from typing import Any

from conftest import NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.payloads import PayloadError, slack_body, teams_activity
from model_data import MaturityModel, load_glossary, load_model
from workflows.calendar import default_calendar
from workflows.inputs import Choose, Fields, Text
from workflows.replies import Step
from workflows.review import Context, Person, ReviewState, handle, new_review, open_review

SCHOOL = load_model("school")
CTX = Context(
    SCHOOL,
    load_glossary(),
    NOW,
    "Sam Rivers",
    (Person(1, "Sam Rivers", "SR"), Person(2, "Nadia Rahman", "NR")),
    default_calendar(),
    actor_id=1,
)
WORDS = st.sampled_from(
    ["back", "skip", "pause", "help", "keep", "done", "none", "priority", "strength", "3",
     "go 2.3", "summary", "plan", "what is LMI?", "HT3/4", "SR", "me", "resume", "review",
     "https://school.example/p8", "Progress 8 data https://school.example/p8", "\x00", "\x1b[2J"]
)  # fmt: skip
TEXTS = st.one_of(WORDS, st.text(max_size=300))


def answered(model: MaturityModel) -> ReviewState:
    """A review with 1.1 answered in full and the person on 1.2."""
    state = open_review(new_review(model, "Review"), CTX).state
    for line in ["just me", "2", "https://school.example/a", "done", "A note", "strength"]:
        state = handle(state, line, CTX).state
    return state


START = answered(SCHOOL)
STEPS = st.sampled_from(list(Step))
STATEMENTS = st.one_of(st.none(), st.sampled_from(["1.1", "1.2", "2.3", "9.9", ""]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(TEXTS.map(Text), st.builds(Choose, STEPS, STATEMENTS, TEXTS)), max_size=8)
)
def test_no_sequence_of_inputs_crashes_or_loses_a_finished_answer(inputs: list[Any]) -> None:
    state = START
    for given_input in inputs:
        outcome = handle(state, given_input, CTX)
        # 1.1 was finished before: only an explicit change of it (go 1.1) may touch it.
        state = outcome.state
    final = state.answers.get("1.1")
    assert final is not None and final.level is not None


@settings(max_examples=200, deadline=None)
@given(STEPS, STATEMENTS, st.lists(st.tuples(STEPS, TEXTS), max_size=5))
def test_a_form_is_taken_whole_or_changes_nothing(
    step: Step, statement: str | None, values: list[tuple[Step, str]]
) -> None:
    outcome = handle(START, Fields(step, statement, tuple(values)), CTX)
    if outcome.refusal is not None:
        assert outcome.state == START


@settings(max_examples=200, deadline=None)
@given(TEXTS)
def test_another_person_never_moves_the_leaders_place(text: str) -> None:
    other = replace(CTX, actor="Nadia Rahman", actor_id=2)
    outcome = handle(START, text, other)
    assert outcome.state.pending(CTX.actor_key) == START.pending(CTX.actor_key)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=400), JSON.map(json.dumps)), st.booleans())
def test_slack_bodies_are_read_or_refused_never_crash(text: str, form: bool) -> None:
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    body = f"payload={text}" if form else text
    with contextlib.suppress(PayloadError):
        slack_body(body, content_type)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=400),
        JSON.map(json.dumps),
        st.dictionaries(
            st.sampled_from(["type", "text", "value", "from", "conversation", "membersAdded"]),
            JSON,
        ).map(json.dumps),
    )
)
def test_teams_bodies_are_read_or_refused_never_crash(text: str) -> None:
    with contextlib.suppress(PayloadError):
        teams_activity(text)
