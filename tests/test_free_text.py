"""Issue 9: a careers leader's words are content, buttons answer only their own question,
and each person has their own place in a shared review (engine level; the channel tests
drive the same cases through Slack and Teams)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from model_data import MaturityModel
from workflows.inputs import Choose, Fields, Text
from workflows.replies import Message, Step, Tone
from workflows.review import Context, Person, ReviewState, handle, new_review, open_review


def leader(ctx: Context) -> Context:
    return replace(ctx, actor="Sam Rivers", actor_id=1)


def colleague(ctx: Context) -> Context:
    return replace(ctx, actor="Nadia Rahman", actor_id=2)


def begun(model: MaturityModel, ctx: Context) -> ReviewState:
    state = open_review(new_review(model, "Review"), ctx).state
    return handle(state, "just me", ctx).state


def run(state: ReviewState, lines: list[str], ctx: Context) -> ReviewState:
    for line in lines:
        outcome = handle(state, line, ctx)
        assert outcome.refusal is None, (line, outcome.replies)
        state = outcome.state
    return state


def errors(replies: list[object]) -> list[str]:
    return [r.text for r in replies if isinstance(r, Message) and r.tone is Tone.ERROR]


def test_evidence_with_an_action_word_is_evidence(
    school: MaturityModel, school_ctx: Context
) -> None:
    ctx = leader(school_ctx)
    state = run(begun(school, ctx), ["2"], ctx)
    outcome = handle(state, "Progress 8 data https://school.example/p8", ctx)
    assert outcome.refusal is None and not outcome.unrecognised
    links = outcome.state.answers["1.1"].evidence
    assert [(link.label, link.url) for link in links] == [
        ("Progress 8 data", "https://school.example/p8")
    ]


@pytest.mark.parametrize(
    "words",
    [
        "Explain the careers plan to parents at options evening",
        "Define learning outcomes for each key stage",
        "Edit handbook",
        "What is working: SLT buy-in",
        "done 12",
        "my actions",
        "summary",
    ],
)
def test_free_text_is_saved_as_typed(
    school: MaturityModel, school_ctx: Context, words: str
) -> None:
    ctx = leader(school_ctx)
    state = run(begun(school, ctx), ["2", "done"], ctx)
    noted = handle(state, words, ctx)
    assert noted.refusal is None
    assert noted.state.answers["1.1"].note == words
    state = run(noted.state, ["priority", "3"], ctx)
    stepped = handle(state, words, ctx)
    assert stepped.refusal is None
    action = stepped.state.answers["1.1"].action
    assert action is not None and action.next_steps == words


@pytest.mark.parametrize("word", ["back", "pause", "help", "skip"])
def test_control_words_alone_still_steer(
    school: MaturityModel, school_ctx: Context, word: str
) -> None:
    ctx = leader(school_ctx)
    state = run(begun(school, ctx), ["2", "done"], ctx)
    outcome = handle(state, word, ctx)
    assert outcome.state.answers["1.1"].note is None
    assert outcome.pending != state.pending(ctx.actor_key) or word == "help"


def test_keep_only_confirms_an_earlier_answer(school: MaturityModel, school_ctx: Context) -> None:
    ctx = leader(school_ctx)
    state = run(begun(school, ctx), ["2", "done"], ctx)
    outcome = handle(state, "keep", ctx)
    assert outcome.refusal is not None and outcome.refusal.step is Step.NOTE
    assert outcome.state.answers["1.1"].note is None
    state = run(state, ["Our note", "back", "keep"], ctx)
    assert state.answers["1.1"].note == "Our note"


def test_one_owner_with_and_in_the_title(school: MaturityModel, school_ctx: Context) -> None:
    ctx = leader(school_ctx)
    state = run(begun(school, ctx), ["2", "done", "none", "priority", "3", "Plan"], ctx)
    state = run(state, ["Head of Teaching and Learning / SR and NR"], ctx)
    action = state.answers["1.1"].action
    assert action is not None
    assert [(o.name, o.person_id) for o in action.owners] == [
        ("Head of Teaching and Learning", None),
        ("SR", 1),
        ("NR", 2),
    ]


def test_me_is_the_speaker_and_shared_initials_are_asked_about(
    school: MaturityModel, school_ctx: Context
) -> None:
    people = (Person(1, "Sam Rivers", "SR"), Person(2, "Nadia Rahman", "NR"),
              Person(3, "Sara Reed", "SR"))  # fmt: skip
    ctx = replace(school_ctx, actor="Sara Reed", actor_id=3, people=people)
    state = run(begun(school, ctx), ["2", "done", "none", "priority", "3", "Plan"], ctx)
    asked = handle(state, "SR", ctx)
    assert asked.refusal is not None and asked.refusal.step is Step.OWNERS
    assert "Sam Rivers" in asked.refusal.reason and "Sara Reed" in asked.refusal.reason
    mine = handle(state, "me", ctx)
    action = mine.state.answers["1.1"].action
    assert action is not None
    assert [(o.name, o.person_id) for o in action.owners] == [("Sara Reed", 3)]


def test_a_colleague_never_answers_the_leaders_question(
    school: MaturityModel, school_ctx: Context
) -> None:
    lead, other = leader(school_ctx), colleague(school_ctx)
    state = run(begun(school, lead), ["2", "done"], lead)  # the leader is at the note step
    said = handle(state, "my actions", other)
    assert said.unrecognised  # not the colleague's answer to anything: the service tries actions
    assert said.state.answers["1.1"].note is None
    assert state.pending(lead.actor_key) == said.state.pending(lead.actor_key)
    # The colleague opens the review: their own place, the leader's untouched.
    opened = open_review(said.state, other).state
    assert opened.pending(other.actor_key) is not None
    assert opened.pending(lead.actor_key) == state.pending(lead.actor_key)


def test_buttons_answer_only_their_own_question(school: MaturityModel, school_ctx: Context) -> None:
    ctx = leader(school_ctx)
    state = run(begun(school, ctx), ["2", "done"], ctx)
    old = handle(state, Choose(Step.LEVEL, "1.1", "4"), ctx)
    assert old.refusal is not None and old.refusal.stale
    assert old.state.answers["1.1"].level == 2
    now = handle(state, Choose(Step.NOTE, "1.1", "none"), ctx)
    assert now.refusal is None and now.pending is not None and now.pending.step is Step.FLAG
    typed = handle(state, Text("none"), ctx)
    assert typed.pending == now.pending


def test_a_form_is_saved_whole_or_not_at_all(school: MaturityModel, school_ctx: Context) -> None:
    ctx = leader(school_ctx)
    state = run(begun(school, ctx), ["2", "done", "none", "priority"], ctx)
    form = Fields(
        Step.TARGET,
        "1.1",
        ((Step.TARGET, "3"), (Step.NEXT_STEPS, "Plan"), (Step.OWNERS, "SR"), (Step.DUE, "HT7")),
    )
    refused = handle(state, form, ctx)
    assert refused.refusal is not None and refused.refusal.step is Step.DUE
    assert refused.state == state
    good = replace(form, values=(*form.values[:3], (Step.DUE, "HT3/4")))
    saved = handle(state, good, ctx)
    assert saved.refusal is None
    action = saved.state.answers["1.1"].action
    assert action is not None and action.due == "HT3/4"


def test_go_needs_a_statement_number(school: MaturityModel, school_ctx: Context) -> None:
    ctx = leader(school_ctx)
    state = begun(school, ctx)
    outcome = handle(state, "Edit handbook", ctx)
    assert "There is no statement" not in " ".join(errors(outcome.replies))
    moved = handle(state, "go 2.3", ctx)
    assert moved.pending is not None and moved.pending.statement_id == "2.3"


def test_a_colleague_not_yet_in_the_review_may_ask_the_glossary(
    school: MaturityModel, school_ctx: Context
) -> None:
    """Found by the property tests: a glossary question from someone without a place in the
    review crashed the engine (it re-asked a question they were not on)."""
    lead, other = leader(school_ctx), colleague(school_ctx)
    state = run(begun(school, lead), ["2"], lead)
    outcome = handle(state, "what is LMI?", other)
    assert "LMI" in " ".join(r.text for r in outcome.replies if isinstance(r, Message))
    assert outcome.state.pending(lead.actor_key) == state.pending(lead.actor_key)


def test_input_limits_are_the_engines_before_anything_is_written(
    school: MaturityModel, school_ctx: Context
) -> None:
    """Issue 11: an over-long evidence label (PostgreSQL's varchar(300)) and a NUL in a note
    were written and failed after the acknowledgement; now the engine refuses or tidies."""
    ctx = leader(school_ctx)
    state = run(begun(school, ctx), ["2"], ctx)
    refused = handle(state, "x" * 301 + " https://school.example/a", ctx)
    assert refused.refusal is not None and "label" in refused.refusal.reason
    assert refused.state.answers["1.1"].evidence == []
    state = run(state, ["done"], ctx)
    noted = handle(state, "Careers\x00 fair\x1b[2J notes", ctx)
    assert noted.state.answers["1.1"].note == "Careers fair[2J notes"
    huge = handle(state, "y" * 25_000, ctx)
    assert huge.refusal is not None and huge.state == state
