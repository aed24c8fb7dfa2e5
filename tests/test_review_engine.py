"""The review conversation engine, driven as a careers leader would: whole reviews and bad input."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from review_scripts import STRENGTHS, full_review_lines, seed003_priorities, statement_lines

from model_data import MaturityModel
from workflows.answers import Flag
from workflows.replies import (
    Message,
    Question,
    Reply,
    ShowPlan,
    ShowSummary,
    StatementPrompt,
    Step,
    Tone,
)
from workflows.review import Context, ReviewState, handle, new_review, open_review


def run(state: ReviewState, lines: Iterable[str], ctx: Context) -> tuple[ReviewState, list[Reply]]:
    replies: list[Reply] = []
    for line in lines:
        outcome = handle(state, line, ctx)
        state = outcome.state
        replies.extend(outcome.replies)
    return state, replies


def started(model: MaturityModel, ctx: Context, participants: str = "just me") -> ReviewState:
    state = open_review(new_review(model, "Internal leadership review, January 2025"), ctx).state
    return handle(state, participants, ctx).state


def errors(replies: list[Reply]) -> list[str]:
    return [r.text for r in replies if isinstance(r, Message) and r.tone is Tone.ERROR]


def prompts(replies: list[Reply]) -> list[StatementPrompt]:
    return [r for r in replies if isinstance(r, StatementPrompt)]


# ----- whole reviews -----------------------------------------------------------------------


def test_complete_school_review_from_seed_003(school: MaturityModel, school_ctx: Context) -> None:
    state = new_review(school, "Careers Leadership action plan and summary – January 2025")
    opening = open_review(state, school_ctx)
    assert isinstance(opening.replies[-1], Question)
    assert opening.replies[-1].step is Step.PARTICIPANTS

    state, replies = run(opening.state, full_review_lines(school), school_ctx)

    assert errors(replies) == []
    assert state.completed
    assert state.cursor.step is Step.DONE
    assert state.participants == ["Sam Rivers", "Nadia Rahman"]
    assert len(state.answers) == 32
    assert all(answer.complete for answer in state.answers.values())

    # One statement at a time, in order, each prompt once, with its progress line.
    shown = prompts(replies)
    assert [p.statement.id for p in shown] == [s.id for s in school.statements]
    assert shown[8].progress.text == "Statement 9 of 32 - Theme 2"
    assert [p.theme.number for p in shown if p.theme] == [1, 2, 3, 4, 5, 6]
    assert shown[0].theme is not None and shown[1].theme is None

    summary = next(r.summary for r in replies if isinstance(r, ShowSummary))
    plan = next(r.plan for r in replies if isinstance(r, ShowPlan))
    priorities = {p.id: p for p in seed003_priorities()}
    assert [row.statement_id for row in summary.priorities] == list(priorities)
    assert {row.statement_id for row in summary.strengths} == STRENGTHS
    for row in summary.rows:
        expected = (
            priorities[row.statement_id].current_level if row.statement_id in priorities else 3
        )
        assert row.level == expected, row.statement_id

    assert [row.statement_id for row in plan.rows] == list(priorities)
    first = plan.rows[0]
    statement = school.statement("1.2")
    assert first.leadership_area == "1.2 Leaders' vision and intent for careers"
    assert first.current_position == statement.level_text(2)
    assert first.actions_to_improve == statement.level_text(4)
    assert first.next_steps == [
        "Create shared vision for careers which matches new Gatsby changes",
        "Share vision with Governors and LT",
        "Align with wider school priorities",
    ]
    assert first.by_when_who == "HT3 – SR"
    by_id = {row.statement_id: row for row in plan.rows}
    assert by_id["1.6"].by_when_who == "HT3/4 – SR / JHu"
    assert by_id["2.2"].by_when_who == "Ongoing – SR"
    assert by_id["3.6"].owners == ["HOFS", "SR", "ALL STAFF"]
    # Known people become real owners; initials typed as text stay text.
    action = state.answers["2.4"].action
    assert action is not None
    assert [(o.name, o.person_id) for o in action.owners] == [("SR", 1), ("NR", 2)]
    assert state.answers["1.2"].evidence[0].url == "https://school.example/evidence/1.2"
    assert state.answers["1.2"].evidence[0].label == "Evidence for 1.2"
    assert state.answers["1.2"].note == "Note on 1.2"
    assert state.answers["1.2"].answered_by == "Sam Rivers"


def test_complete_college_review(college: MaturityModel, college_ctx: Context) -> None:
    state = started(college, college_ctx)
    lines: list[str] = []
    for statement in college.statements:
        if statement.id == "3.4":
            lines += ["1", "Policy https://college.example/send", "done", "EHCP learners", "priority", "3",
                      "Map provision for learners with EHCPs", "CL / SENCo", "HT2", "no"]  # fmt: skip
        else:
            lines += statement_lines(statement.id, None, level=2)
    state, replies = run(state, lines, college_ctx)
    assert errors(replies) == []
    assert state.completed
    assert len(state.answers) == 33
    shown = prompts(replies)
    assert shown[-1].progress.text == "Statement 33 of 33 - Theme 6"
    plan = next(r.plan for r in replies if isinstance(r, ShowPlan))
    assert [row.statement_id for row in plan.rows] == ["3.4"]
    assert "(applicable for 16-18 learners <25 with EHCP)" in plan.rows[0].leadership_area
    assert plan.rows[0].by_when_who == "HT2 – CL / SENCo"
    assert state.answers["3.4"].answered_by == "Chris Lee"


def test_statement_6_1_offers_not_yet_at_level_2(
    school: MaturityModel, school_ctx: Context
) -> None:
    state = started(school, school_ctx)
    state = handle(state, "go 6.1", school_ctx).state
    outcome = handle(state, "back", school_ctx)
    outcome = handle(outcome.state, "go 6.1", school_ctx)
    prompt = prompts(outcome.replies)[0]
    assert prompt.level_choices[0].label == "Not yet at level 2"
    assert prompt.level_choices[0].value == "1"
    state = handle(outcome.state, "not yet", school_ctx).state
    assert state.answers["6.1"].level == 1


# ----- navigation, resume, changes ---------------------------------------------------------


def test_every_answer_is_saved_as_it_is_given(school: MaturityModel, school_ctx: Context) -> None:
    state = started(school, school_ctx)
    state = handle(state, "2", school_ctx).state
    assert state.answers["1.1"].level == 2
    assert not state.answers["1.1"].complete
    state = handle(state, "Plan https://school.example/plan", school_ctx).state
    assert [e.url for e in state.answers["1.1"].evidence] == ["https://school.example/plan"]
    assert state.cursor.step is Step.EVIDENCE


def test_pause_and_resume_at_the_first_unanswered(
    school: MaturityModel, school_ctx: Context
) -> None:
    state = started(school, school_ctx)
    state, _ = run(
        state,
        [*statement_lines("1.1", None), "skip", *statement_lines("1.3", None)],
        school_ctx,
    )
    assert state.cursor.statement_id == "1.4"
    paused = handle(state, "pause", school_ctx)
    assert paused.state.cursor.paused
    assert "Paused at 1.4" in paused.replies[0].text  # type: ignore[union-attr]
    # While paused, answers are not taken.
    still = handle(paused.state, "3", school_ctx)
    assert still.state.answers == paused.state.answers
    # Reopening (a restart) resumes at the first unanswered statement: 1.2, which was skipped.
    reopened = open_review(paused.state, school_ctx)
    assert not reopened.state.cursor.paused
    assert reopened.state.cursor.statement_id == "1.2"
    assert "Welcome back: 2 of 32" in reopened.replies[0].text  # type: ignore[union-attr]
    assert prompts(reopened.replies)[0].theme is not None


def test_a_review_paused_at_the_start_takes_the_first_answer_when_opened_again(
    school: MaturityModel, school_ctx: Context
) -> None:
    """Paused at the participants question (say a Careers Leader opened the review and
    typed 'pause'), then opened again the next day: the question asked is answered, not
    refused as "paused" (found by running `careers-bot chat` twice)."""
    opening = open_review(new_review(school, "Review"), school_ctx)
    paused = handle(opening.state, "pause", school_ctx).state
    assert paused.cursor.paused

    reopened = open_review(paused, school_ctx)
    assert not reopened.state.cursor.paused
    assert isinstance(reopened.replies[-1], Question)
    assert reopened.replies[-1].step is Step.PARTICIPANTS
    answered = handle(reopened.state, "Sam Patel, Ali Khan", school_ctx)
    assert answered.state.participants[-2:] == ["Sam Patel", "Ali Khan"]
    assert answered.state.cursor.step is Step.LEVEL


def test_resume_mid_statement_continues_at_the_same_question(
    school: MaturityModel, school_ctx: Context
) -> None:
    state = started(school, school_ctx)
    state, _ = run(state, ["2", "done", "none", "priority", "3"], school_ctx)
    assert state.cursor.step is Step.NEXT_STEPS
    reopened = open_review(handle(state, "pause", school_ctx).state, school_ctx)
    assert reopened.state.cursor.step is Step.NEXT_STEPS
    question = reopened.replies[-1]
    assert isinstance(question, Question)
    assert question.step is Step.NEXT_STEPS


def test_back_skip_and_go(school: MaturityModel, school_ctx: Context) -> None:
    state = started(school, school_ctx)
    outcome = handle(state, "back", school_ctx)
    assert "first statement" in errors(outcome.replies)[0]
    state, _ = run(state, ["2", "done"], school_ctx)
    assert state.cursor.step is Step.NOTE
    state = handle(state, "back", school_ctx).state
    assert state.cursor.step is Step.EVIDENCE
    state = handle(state, "skip", school_ctx).state
    assert state.cursor.statement_id == "1.2"
    assert state.answers["1.1"].level == 2  # kept
    state = handle(state, "go 3.4", school_ctx).state
    assert (state.cursor.statement_id, state.cursor.step) == ("3.4", Step.LEVEL)
    outcome = handle(state, "go 9.9", school_ctx)
    assert "no statement “9.9”" in errors(outcome.replies)[0]
    assert outcome.state.cursor.statement_id == "3.4"


def test_change_an_answer_after_completion(school: MaturityModel, school_ctx: Context) -> None:
    state = started(school, school_ctx, participants="just me")
    state, _ = run(state, full_review_lines(school)[1:], school_ctx)
    assert state.completed
    before = state.answers["1.2"].model_copy(deep=True)
    outcome = handle(state, "go 1.2", school_ctx)
    prompt = prompts(outcome.replies)[0]
    assert prompt.current is not None and prompt.current.level == 2
    assert any(c.value == "keep" for c in prompt.level_choices)
    # Raise the level to 3: the target 4 is still above it, so the rest can be kept.
    state, replies = run(
        outcome.state,
        ["3", "done", "keep", "priority", "4", "keep", "keep", "keep", "no"],
        school_ctx,
    )
    assert errors(replies) == []
    after = state.answers["1.2"]
    assert after.level == 3
    assert after.action is not None and after.action.target_level == 4
    assert after.action.next_steps == before.action.next_steps  # type: ignore[union-attr]
    assert after.note == before.note
    assert state.completed
    assert any(isinstance(r, Message) and r.text.startswith("Updated") for r in replies)


def test_keep_moves_on_without_changing(school: MaturityModel, school_ctx: Context) -> None:
    state = started(school, school_ctx)
    state, _ = run(state, statement_lines("1.1", None), school_ctx)
    state = handle(state, "back", school_ctx).state
    assert state.cursor.statement_id == "1.1"
    kept = handle(state, "keep", school_ctx)
    assert kept.state.answers["1.1"].content() == state.answers["1.1"].content()
    assert kept.state.cursor.statement_id == "1.2"


def test_previous_review_answers_are_confirmed_one_by_one(
    school: MaturityModel, school_ctx: Context
) -> None:
    first = started(school, school_ctx)
    first, _ = run(first, full_review_lines(school)[1:], school_ctx)
    second = new_review(
        school, "Review, January 2026", previous=first.answers, previous_title="Jan 2025"
    )
    assert all(a.carried and not a.complete for a in second.answers.values())
    opening = open_review(second, school_ctx)
    assert any("Jan 2025" in r.text for r in opening.replies if isinstance(r, Message))
    state = handle(opening.state, "just me", school_ctx).state
    outcome = handle(state, "keep", school_ctx)
    assert outcome.state.answers["1.1"].complete
    assert outcome.state.answers["1.1"].level == first.answers["1.1"].level
    assert outcome.state.cursor.statement_id == "1.2"
    prompt = prompts(outcome.replies)[0]
    assert prompt.current is not None and prompt.current.carried
    # Changing a carried answer goes through the questions again.
    state = handle(outcome.state, "3", school_ctx).state
    assert not state.answers["1.2"].carried
    assert state.cursor.step is Step.EVIDENCE
    # Carried answers do not count in the summary until confirmed.
    summary = handle(state, "summary", school_ctx).replies[0]
    assert isinstance(summary, ShowSummary)
    assert summary.summary.answered == 2


def test_glossary_questions(school: MaturityModel, school_ctx: Context) -> None:
    state = started(school, school_ctx)
    outcome = handle(state, "what is LMI?", school_ctx)
    assert outcome.replies[0].text.startswith("LMI: Labour market information: facts")  # type: ignore[union-attr]
    outcome = handle(state, "What is a careers learning journey?", school_ctx)
    assert outcome.replies[0].text.startswith("Careers learning journey: All students are on")  # type: ignore[union-attr]
    outcome = handle(state, "what is a flux capacitor?", school_ctx)
    assert "not in the glossary" in outcome.replies[0].text  # type: ignore[union-attr]
    assert outcome.state == state


# ----- bad input: a clear message, nothing lost --------------------------------------------


@pytest.mark.parametrize(
    ("setup", "bad", "says"),
    [
        ([], "5", "There is no level 5"),
        ([], "0", "There is no level 0"),
        ([], "very good", "reply 1, 2, 3 or 4"),
        (["2"], "ftp://files.school.example/plan.pdf", "must be web addresses starting with http"),
        (["2"], "see the shared drive", "not a link I can save"),
        (
            ["2"],
            "Plan https://ok.example/a and ftp://bad.example/b",
            "Nothing from that message was saved",
        ),
        (["2"], "www.school.example/plan", "http:// or https://"),
        (["4", "done", "none"], "priority", "Level 4 is the top level"),
        (["2", "done", "none"], "maybe", "'strength'"),
        (["2", "done", "none", "priority"], "2", "above your current level 2: reply 3 or 4"),
        (["2", "done", "none", "priority"], "5", "reply 3 or 4"),
        (["2", "done", "none", "priority", "3"], "none", "at least one next step"),
        (["2", "done", "none", "priority", "3", "Do it"], "none", "at least one owner"),
        (["2", "done", "none", "priority", "3", "Do it", "SR"], "HT7", "no half-term HT7"),
        (["2", "done", "none", "priority", "3", "Do it", "SR"], "next week", "HT1 to HT6"),
        (["2", "done", "none", "priority", "3", "Do it", "SR"], "HT4/2", "runs backwards"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_lost(
    school: MaturityModel, school_ctx: Context, setup: list[str], bad: str, says: str
) -> None:
    state = started(school, school_ctx)
    # Answer 1.1 fully first, so there is something to lose.
    state, _ = run(
        state,
        ["Evidence https://school.example/e"] if False else statement_lines("1.1", None),
        school_ctx,
    )
    state, replies = run(state, setup, school_ctx)
    assert errors(replies) == []
    outcome = handle(state, bad, school_ctx)
    assert says in " ".join(errors(outcome.replies))
    assert outcome.state == state
    # And the same question is asked again.
    assert isinstance(outcome.replies[-1], Question)
    assert outcome.replies[-1].step is state.cursor.step


def test_evidence_links_with_labels_and_several_per_message(
    school: MaturityModel, school_ctx: Context
) -> None:
    state = started(school, school_ctx)
    state, replies = run(
        state,
        ["1", "Careers plan https://school.example/plan Governor minutes: https://school.example/minutes",
         "https://school.example/plan", "https://school.example/survey (student survey)", "done"],
        school_ctx,
    )  # fmt: skip
    links = [(e.label, e.url) for e in state.answers["1.1"].evidence]
    assert links == [
        ("Careers plan", "https://school.example/plan"),
        ("Governor minutes", "https://school.example/minutes"),
        ("student survey", "https://school.example/survey"),
    ]
    assert any("already saved" in r.text for r in replies if isinstance(r, Message))
    assert state.cursor.step is Step.NOTE


def test_flag_change_from_priority_removes_the_action(
    school: MaturityModel, school_ctx: Context
) -> None:
    state = started(school, school_ctx)
    state, _ = run(state, ["2", "done", "none", "priority", "3", "Plan", "SR", "HT2"], school_ctx)
    assert state.answers["1.1"].action is not None
    state, _ = run(state, ["go 1.1", "keep"], school_ctx)
    state, _ = run(state, ["go 1.1", "2", "done", "none", "strength"], school_ctx)
    assert state.answers["1.1"].flag is Flag.STRENGTH
    assert state.answers["1.1"].action is None


def test_owners_match_known_people_by_initials_or_name(
    school: MaturityModel, school_ctx: Context
) -> None:
    state = started(school, school_ctx)
    state, _ = run(
        state,
        ["2", "done", "none", "priority", "3", "Plan", "nr / Sam Rivers & NR; HOFS\nALL STAFF"],
        school_ctx,
    )
    action = state.answers["1.1"].action
    assert action is not None
    assert [(o.name, o.person_id) for o in action.owners] == [
        ("NR", 2),
        ("Sam Rivers", 1),
        ("HOFS", None),
        ("ALL STAFF", None),
    ]
