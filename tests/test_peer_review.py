"""Issue 13, peer-to-peer review: the pure rules (workflows/peer_review.py), and the whole path
through the turn pipeline (`ReviewService.handle`) on SQLite and PostgreSQL: invitation,
blind rating, side by side, agreement with both originals, accepted drafts in the plan,
refusals, and a peer locked out once the review is closed."""

from __future__ import annotations

import asyncio
import getpass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from review_scripts import seed_review
from sqlalchemy import select
from test_cli import careers_bot_process as careers_bot  # called from a running loop

from bot.inbound import Inbound, Who
from bot.reviews import ReviewService, TurnResult
from model_data import MaturityModel
from storage import models as m
from storage import peer_reviews as store
from storage import repo
from storage.db import Database
from workflows import peer_review as rules
from workflows.inputs import (
    Choose,
    ClosePeerReview,
    InvitePeer,
    JoinPeerReview,
    PeerResults,
    ResumePeerReview,
    Text,
)
from workflows.replies import Message, PeerComparisonRow, Question, ShowPeerComparison, Step, Tone

NOW = datetime(2025, 1, 20, 8, 0, tzinfo=UTC)

# ----- the pure rules -------------------------------------------------------------------------


def test_commands_are_recognised_only_in_full() -> None:
    assert rules.parse_command("peer review all") == InvitePeer()
    assert rules.parse_command("Peer review themes 1, 3") == InvitePeer((1, 3))
    assert rules.parse_command("peer review theme 2") == InvitePeer((2,))
    assert rules.parse_command("peer join pr-abcd-efgh-jk") == JoinPeerReview("PR-ABCD-EFGH-JK")
    assert rules.parse_command("peer join") == JoinPeerReview("")
    assert rules.parse_command("peer results") == PeerResults()
    assert rules.parse_command("peer resume") == ResumePeerReview()
    assert rules.parse_command("close peer review") == ClosePeerReview()
    # Words that merely mention a peer review are content, not commands.
    assert rules.parse_command("We had a peer review last year") is None
    assert rules.parse_command("peer reviewed by the hub") is None


def test_statements_for_themes(school: MaturityModel) -> None:
    chosen = rules.statements_for(school, (1, 3))
    assert chosen and all(sid.split(".")[0] in {"1", "3"} for sid in chosen)
    assert rules.statements_for(school, ()) == tuple(s.id for s in school.statements)
    with pytest.raises(ValueError, match="no theme 9"):
        rules.statements_for(school, (9,))


def _state(school: MaturityModel) -> rules.PeerState:
    statements = ("1.1", "1.2")
    answers = {
        "1.1": rules.SchoolAnswer(2, "Our note on 1.1", ("https://hill.example/e1",)),
        "1.2": rules.SchoolAnswer(3, None, ()),
    }
    return rules.PeerState(
        "Hill School", statements, answers, {}, rules.first_place(statements, {})
    )


def _words(question: Question | None) -> str:
    assert question is not None
    return f"{question.hint or ''}\n{question.text}\n" + " ".join(c.label for c in question.choices)


def test_the_level_question_shows_note_and_evidence_but_never_the_schools_level(
    school: MaturityModel,
) -> None:
    state = _state(school)
    shown = _words(rules.peer_question(state, school))
    assert "Our note on 1.1" in shown and "https://hill.example/e1" in shown
    assert "rated itself" not in shown
    # Only after the peer's level does the school's own appear.
    outcome = rules.rate(state, Text("3"), school)
    said = " ".join(r.text for r in outcome.replies if isinstance(r, Message))
    assert "Hill School rated itself level 2" in said
    assert outcome.pending is not None and outcome.pending.step is Step.PEER_COMMENT


def test_a_peer_goes_level_comment_action_then_the_next_statement(
    school: MaturityModel,
) -> None:
    state = _state(school)
    state = rules.rate(state, Choose(Step.PEER_LEVEL, "1.1", "3"), school).state
    # Free text is content: "skip this" is a comment, "skip" alone is none.
    state = rules.rate(state, Text("skip this, the careers plan is strong"), school).state
    assert state.ratings["1.1"].comment == "skip this, the careers plan is strong"
    outcome = rules.rate(state, Text("Share the plan with governors"), school)
    assert outcome.state.ratings["1.1"] == rules.Rating(
        3, "skip this, the careers plan is strong", "Share the plan with governors", done=True
    )
    assert outcome.pending is not None and outcome.pending.statement_id == "1.2"
    state = rules.rate(outcome.state, Text("4"), school).state
    state = rules.rate(state, Text("skip"), school).state
    finished = rules.rate(state, Text("skip"), school)
    assert finished.state.finished and finished.pending is None
    assert finished.state.ratings["1.2"] == rules.Rating(4, "", None, done=True)


def test_a_button_for_another_question_is_stale_and_changes_nothing(
    school: MaturityModel,
) -> None:
    state = _state(school)
    outcome = rules.rate(state, Choose(Step.PEER_LEVEL, "1.2", "3"), school)
    assert outcome.refusal is not None and outcome.refusal.stale
    assert outcome.state == state and not outcome.changed


def test_typed_words_that_are_no_level_are_left_for_commands(school: MaturityModel) -> None:
    outcome = rules.rate(_state(school), Text("peer results"), school)
    assert outcome.unrecognised and not outcome.changed
    paused = rules.rate(_state(school), Text("pause"), school)
    assert paused.paused and paused.pending is None


def test_comparison_lists_differences_first_widest_gap_first(school: MaturityModel) -> None:
    statements = ("1.1", "1.2", "1.3", "1.4")
    ours = {"1.1": 2, "1.2": 3, "1.3": 1, "1.4": 2}
    theirs = {
        "1.1": rules.Rating(2, "ok", None, True),
        "1.2": rules.Rating(2, "", None, True),
        "1.3": rules.Rating(4, "", "Do more", True),
        "1.4": rules.Rating(None, None, None, True),  # skipped: not compared
    }
    rows = rules.comparison(school, statements, ours, theirs, {"1.2": 2})
    assert [r.statement_id for r in rows] == ["1.3", "1.2", "1.1"]
    assert [r.differs for r in rows] == [True, True, False]
    assert rows[1].agreed == 2 and rows[0].suggestion == "Do more"


def test_agreement_choices(school: MaturityModel) -> None:
    row = PeerComparisonRow("1.1", "1.1 X", 2, 3, None, None)
    assert rules.agreed_level("ours", row) == 2
    assert rules.agreed_level("peer", row) == 3
    assert rules.agreed_level("4", row) == 4
    assert rules.agreed_level("maybe", row) is None
    question = rules.agree_question(row, "Nadia")
    assert [c.value for c in question.choices] == ["ours", "peer", "1", "2", "3", "4"]
    assert rules.draft_decision("Accept") is True and rules.draft_decision("no") is False


# ----- through the turn pipeline ----------------------------------------------------------------

HILL_SAM = Who("terminal", "sam", "Sam Rivers", "hill")
VALLEY_SAM = Who("terminal", "sam", "Sam Rivers", "valley")
FAR_SAM = Who("terminal", "sam", "Sam Rivers", "far")


async def _schools(database: Database, school: MaturityModel) -> tuple[int, int, int, int]:
    """Hill and Valley in one Careers Hub; Far School in another group; a facilitator of
    the Hub known on Slack. Each school's Careers Leader has finished a review."""
    hill, _ = await seed_review(database, school, NOW, name="Hill School", workspace="hill")
    valley, _ = await seed_review(database, school, NOW, name="Valley School", workspace="valley")
    far, _ = await seed_review(database, school, NOW, name="Far School", workspace="far")
    async with database.transaction() as session:
        hub = m.Group(name="North Hub", kind="hub", created_at=NOW)
        other = m.Group(name="South Trust", kind="trust", created_at=NOW)
        session.add_all([hub, other])
        await session.flush()
        for group, school_id in ((hub, hill.id), (hub, valley.id), (other, far.id)):
            session.add(
                m.GroupMember(
                    group_id=group.id, organisation_id=school_id, invited_at=NOW, accepted_at=NOW
                )
            )
        session.add(
            m.GroupLead(
                group_id=hub.id, name="Fay Facilitator", role="facilitator", channel="slack",
                workspace="T_HUB", external_id="U_FAY", created_at=NOW,
            )
        )  # fmt: skip
        # Valley's colleague who is not its Careers Leader.
        await repo.person_for_identity(
            session, valley.id, "terminal", "cal", "Cal Colleague", "valley"
        )
    return hill.id, valley.id, far.id, hub.id


class Chat:
    """Turns through the one pipeline, each with its own idempotency key."""

    def __init__(self, service: ReviewService) -> None:
        self.service = service
        self.n = 0

    async def __call__(self, school: int, who: Who, what: object) -> TurnResult:
        self.n += 1
        given = Text(what) if isinstance(what, str) else what
        return await self.service.handle(Inbound(school, who, given, f"k{self.n}"))  # type: ignore[arg-type]


def said(result: TurnResult) -> str:
    out = []
    for reply in result.replies:
        if isinstance(reply, Message):
            out.append(reply.text)
        elif isinstance(reply, Question):
            out.append(f"{reply.hint or ''}\n{reply.text}")
    return "\n".join(out)


def code_in(result: TurnResult) -> str:
    words = [w for w in said(result).replace("'", " ").split() if w.startswith("PR-")]
    assert words, said(result)
    return words[0]


async def test_peer_review_through_the_pipeline(database: Database, school: MaturityModel) -> None:
    hill, valley, _, _ = await _schools(database, school)
    chat = Chat(ReviewService(database, clock=lambda: NOW))
    invited = await chat(hill, HILL_SAM, "peer review theme 1")
    code = code_in(invited)
    theme_1 = rules.statements_for(school, (1,))
    async with database.read() as session:
        answers = await repo.load_answers(session, (await repo.latest_review(session, hill)).id)  # type: ignore[union-attr]
        stored = list(await session.scalars(select(m.PeerReviewer.code_hash)))
    assert stored == [store.code_hash(code)] and code not in stored  # only the hash is kept

    joined = await chat(valley, VALLEY_SAM, f"peer join {code}")
    assert "You are peer reviewing Hill School" in said(joined)
    levels: dict[str, int] = {}
    for n, sid in enumerate(theme_1):
        question = next(r for r in joined.replies if isinstance(r, Question))
        assert question.step is Step.PEER_LEVEL and question.statement_id == sid
        ours = answers[sid].level
        assert "rated itself" not in _words(question)
        if answers[sid].note:
            assert answers[sid].note in _words(question)
        level = (ours - 1 or 2) if n % 2 == 0 else ours  # differ on every other statement
        levels[sid] = level  # type: ignore[assignment]
        rated = await chat(valley, VALLEY_SAM, Choose(Step.PEER_LEVEL, sid, str(level)))
        assert f"Hill School rated itself level {ours}" in said(rated)
        await chat(valley, VALLEY_SAM, f"Comment on {sid}")
        joined = await chat(valley, VALLEY_SAM, f"Action for {sid}" if n < 2 else "skip")
        if n == 0:  # pause and resume half-way through: the answers are kept
            assert "Paused" in said(await chat(valley, VALLEY_SAM, "pause"))
            joined = await chat(valley, VALLEY_SAM, "peer resume")
            assert "1 of" in said(joined)
    assert "your peer review of Hill School is complete" in said(joined)

    results = await chat(hill, HILL_SAM, "peer results")
    shown = next(r for r in results.replies if isinstance(r, ShowPeerComparison))
    differs = [r.differs for r in shown.rows]
    assert differs == sorted(differs, reverse=True) and any(differs)  # differences first
    assert {r.statement_id for r in shown.rows} == set(theme_1)
    for row in shown.rows:
        result = await chat(hill, HILL_SAM, Choose(Step.PEER_AGREE, row.statement_id, "peer"))
        assert "Agreed level" in said(result), said(result)
    # The suggested actions, as drafts: the first accepted with owners and a deadline.
    first, second = theme_1[0], theme_1[1]
    assert f"suggests for {school.statement(first).short_label}" in said(result)
    await chat(hill, HILL_SAM, Choose(Step.PEER_DRAFT, first, "accept"))
    await chat(hill, HILL_SAM, "SR, Head of Sixth Form")
    made = await chat(hill, HILL_SAM, Choose(Step.PEER_DUE, first, "HT4"))
    assert "added to your plan" in said(made), said(made)
    done = await chat(hill, HILL_SAM, "decline")
    assert "Declined" in said(done) and "All agreed" in said(done)

    async with database.read() as session:
        agreements = {a.statement_id: a for a in await session.scalars(select(m.PeerAgreement))}
        review = await repo.latest_review(session, hill)
        assert review is not None
        now_answers = await repo.load_answers(session, review.id)
        actions = await repo.organisation_actions(session, hill)
        history = await repo.response_history(session, review.id, first)
    for sid in theme_1:
        agreement = agreements[sid]
        assert agreement.school_level == answers[sid].level  # both originals kept
        assert agreement.peer_level == levels[sid] == agreement.agreed_level
        assert now_answers[sid].level == levels[sid]  # the school's level of record
    assert any(c.before.get("level") != c.after.get("level") for c in history)  # in history
    accepted = [a for a in actions if a.next_steps == f"Action for {first}"]
    assert len(accepted) == 1
    assert [o.name for o in accepted[0].owners] == ["SR", "Head of Sixth Form"]
    assert accepted[0].due == "HT4" and accepted[0].due_year
    assert not [a for a in actions if a.next_steps == f"Action for {second}"]  # declined

    closed = await chat(hill, HILL_SAM, "close peer review")
    assert "Peer review closed" in said(closed)
    # Locked out: an old button, resuming, and the used code show nothing of Hill.
    for attempt in (
        Choose(Step.PEER_LEVEL, theme_1[0], "2"),
        "peer resume",
        f"peer join {code}",
    ):
        refused = await chat(valley, VALLEY_SAM, attempt)
        text = said(refused)
        assert refused.refusal is not None
        assert "Hill School" not in text and "Comment on" not in text and "Note on" not in text
        assert all(isinstance(r, Message) and r.tone is Tone.ERROR for r in refused.replies)
    assert rules.CLOSED in said(
        await chat(valley, VALLEY_SAM, Choose(Step.PEER_COMMENT, first, "x"))
    )


async def test_who_may_invite_and_join(database: Database, school: MaturityModel) -> None:
    hill, valley, far, _ = await _schools(database, school)
    chat = Chat(ReviewService(database, clock=lambda: NOW))
    # Not the Careers Leader: refused, no code.
    cal = Who("terminal", "cal", "Cal Colleague", "valley")
    refused = await chat(valley, cal, "peer review all")
    assert rules.NOT_LEADER in said(refused) and "PR-" not in said(refused)
    code = code_in(await chat(hill, HILL_SAM, "peer review all"))
    # A made-up code, and a Careers Leader of a school in no shared group.
    assert rules.BAD_CODE in said(await chat(valley, VALLEY_SAM, "peer join PR-AAAA-BBBB-CC"))
    far_said = said(await chat(far, FAR_SAM, f"peer join {code}"))
    assert rules.NOT_A_PEER.format(school="Hill School") in far_said
    assert "1.1" not in far_said  # nothing of Hill shown
    # Hill's own Careers Leader, and a colleague of Valley who is not its Careers Leader.
    assert rules.OWN_SCHOOL in said(await chat(hill, HILL_SAM, f"peer join {code}"))
    assert rules.NOT_A_PEER.format(school="Hill School") in said(
        await chat(valley, cal, f"peer join {code}")
    )
    # The code was not used up by the refusals; once taken, it is.
    assert "You are peer reviewing" in said(await chat(valley, VALLEY_SAM, f"peer join {code}"))
    assert rules.BAD_CODE in said(await chat(far, FAR_SAM, f"peer join {code}"))
    # A second code for the same peer review; a different scope is refused while it is open.
    assert "Another one-time code" in said(await chat(hill, HILL_SAM, "peer review all"))
    assert "Close it" in said(await chat(hill, HILL_SAM, "peer review themes 2"))
    # The Hub's facilitator (known by their Slack identity) may take the second code.
    second = code_in(await chat(hill, HILL_SAM, "peer review all"))
    fay = Who("slack", "U_FAY", "Fay Facilitator", "T_HUB")
    async with database.transaction() as session:
        hub_org = await repo.create_organisation(session, "Hub workspace", "school")
    assert "You are peer reviewing Hill School" in said(
        await chat(hub_org.id, fay, f"peer join {second}")
    )
    async with database.read() as session:
        peers = list(await session.scalars(select(m.PeerReviewer).order_by(m.PeerReviewer.id)))
    assert [p.lead_id is not None for p in peers if p.joined_at] == [False, True]


async def test_peer_words_while_rating_are_the_answer_and_own_review_waits(
    database: Database, school: MaturityModel
) -> None:
    """Free text is content: while rating, a comment that looks like a command is the comment."""
    hill, valley, _, _ = await _schools(database, school)
    chat = Chat(ReviewService(database, clock=lambda: NOW))
    code = code_in(await chat(hill, HILL_SAM, "peer review theme 2"))
    await chat(valley, VALLEY_SAM, f"peer join {code}")
    await chat(valley, VALLEY_SAM, "2")
    await chat(valley, VALLEY_SAM, "close peer review")  # a comment, not a command
    async with database.read() as session:
        rating = await session.scalar(select(m.PeerRating))
        open_ = await store.open_peer_review(session, hill)
    assert rating is not None and rating.comment == "close peer review"
    assert open_ is not None  # not closed by the peer's words


def test_every_channel_draws_the_side_by_side() -> None:
    """Slack blocks, a Teams card and the terminal's table show each row's levels in the
    order given (differences first), with the comment and suggestion; text escaped."""
    from rich.console import Console

    from bot.slack import render as slack_render
    from bot.teams import cards as teams_cards
    from bot.terminal import render as terminal_render

    rows = [
        PeerComparisonRow("1.3", "1.3 Policy", 1, 3, "Strong <b>work</b>", "Publish it", None),
        PeerComparisonRow("1.1", "1.1 Leadership", 2, 2, None, None, 2),
    ]
    shown = ShowPeerComparison("Nadia's ratings beside yours: theme 1", "Nadia", rows)
    slack = "\n".join(
        b["text"]["text"]
        for message in slack_render.render([shown])
        for b in message.blocks
        if "text" in b
    )
    assert slack.index("1.3 Policy") < slack.index("1.1 Leadership")
    assert "You: level 1 · Nadia: level 3 · differs" in slack
    assert "&lt;b&gt;work&lt;/b&gt;" in slack and "Publish it" in slack
    assert "agreed: level 2" in slack
    card = teams_cards.peer_comparison_card(shown)
    texts = [b["text"] for b in card["body"]]
    assert texts.index("1.3 Policy") < texts.index("1.1 Leadership")
    assert "Suggested action: Publish it" in texts
    console = Console(width=200, record=True)
    for renderable in terminal_render(shown):
        console.print(renderable)
    printed = console.export_text()
    assert printed.index("1.3 Policy") < printed.index("1.1 Leadership")
    assert "Strong <b>work</b>" in printed


async def test_a_peer_rates_in_the_terminal(tmp_path: Path, school: MaturityModel) -> None:
    """The peer's own chat may be the terminal (`careers-bot chat`, answers piped on stdin):
    the same questions, blind, then locked out once the school closes the peer review."""
    db_path = tmp_path / "bot.sqlite3"
    database = Database(f"sqlite+aiosqlite:///{db_path}")
    await database.migrate()
    try:
        hill, valley, _, _ = await _schools(database, school)
        async with database.transaction() as session:
            leader = await repo.person_by_identity(session, "terminal", "valley", "sam", valley)
            assert leader is not None
            session.add(
                m.Identity(
                    person_id=leader.id, channel="terminal", workspace=f"organisation-{valley}",
                    external_id=getpass.getuser(),
                )
            )  # fmt: skip
        chat = Chat(ReviewService(database, clock=lambda: NOW))
        code = code_in(await chat(hill, HILL_SAM, "peer review theme 1"))
        statements = rules.statements_for(school, (1,))
        lines = [f"peer join {code}"]
        for sid in statements:
            lines += ["2", f"Seen in the plan, {sid}", "skip"]
        args = ("chat", "--org", "Valley School", "--name", "Val Leader")
        rated = await asyncio.to_thread(
            careers_bot, *args, stdin="\n".join(lines) + "\n", db=db_path
        )
        assert rated.returncode == 0, rated.stderr
        out = rated.stdout
        assert "You are peer reviewing Hill School" in out
        start = 0
        for sid in statements:
            label = school.statement(sid).short_label
            asked = out.index(f"Which level do you see for {label}", start)
            noted = out.index(f"Your level 2 is noted for {label}", asked)
            # From the end of the last statement's answer to this one's: not the level.
            assert sid in out[start:asked] and "rated itself" not in out[start:noted]
            start = out.index("\n", out.index("rated itself", noted))
        assert "your peer review of Hill School is complete" in out
        results = await chat(hill, HILL_SAM, "peer results")
        shown = next(r for r in results.replies if isinstance(r, ShowPeerComparison))
        assert {r.statement_id for r in shown.rows} == set(statements)
        await chat(hill, HILL_SAM, "close peer review")
        after = await asyncio.to_thread(careers_bot, *args, stdin="peer resume\n", db=db_path)
        assert rules.CLOSED in after.stdout
        assert "Hill School" not in after.stdout and "Seen in the plan" not in after.stdout
    finally:
        await database.close()
