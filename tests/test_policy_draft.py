"""The CEIAG policy draft, opened and checked against seed 004's structure and the review's
data in both editions; its template data checked against seed 004; and the draft through
Teams (/api/messages, the file offered to save)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from document_seed import NOW
from docx_reading import read_docx
from review_scripts import seed_review
from test_teams import SAM, TENANT, sqlite_settings, teams_bot

from bot import documents
from bot.reviews import ReviewService
from bot.teams import TEAMS
from bot.teams import wording as teams_wording
from model_data import BulletList, load_benchmarks, load_model, load_policy
from storage import repo
from storage.db import Database
from workflows.policy import review_date

SEEDS = Path(__file__).parents[2] / "shared" / "seeds"
SEED_POLICY = SEEDS / "004_bcfa8f21c600e95e.txt"

# Words of the template's own guidance that must never reach a draft.
GUIDANCE = (
    "This should align to your whole school vision",
    "CEC Guidance",
    "Example:",
    "delete as appropriate",
    "Delete as appropriate",
    "Recommended Information",
    "Select the correct",
    "Use these links to write",
    "Suggested wording",
    "Please select the most appropriate",
    "Write how you meet each BM",
    "Kent & Medway",
)


async def test_the_draft_follows_seed_004(seeded: tuple[ReviewService, int, str]) -> None:
    service, organisation_id, edition = seeded
    template = load_policy()
    doc = read_docx(documents.to_docx(await service.policy_draft(organisation_id)))
    school = edition == "school"

    assert doc.title == "Careers Education, Information, Advice and Guidance (CEIAG) Policy"
    top = doc.headings(1)
    numbered = [f"{h.number}. {h.heading}" for h in template.contents[:6]]
    assert [h for h in top if h[0].isdigit()] == numbered
    appendices = [f"Appendix {a.number} – {'The ' if a.number == 1 else ''}{a.title}"
                  for a in template.appendices]  # fmt: skip
    assert [h for h in top if h.startswith("Appendix")] == appendices

    # 1. Vision: the review's note on 1.2, flagged to check.
    vision = doc.part(numbered[0])
    assert vision.lines[0] == "Note on 1.2"
    # 2. Statutory requirements in the edition's variant.
    statutory = doc.part(numbered[1]).text
    assert template.statutory.guidance in statutory
    for line in template.statutory.school:
        assert (line in statutory) is school
    for line in template.statutory.college:
        assert (line in statutory) is not school
    # 3. Roles: the people set up in the bot, and the template's duties for the edition.
    roles = doc.part(numbered[2]).tables[0]
    assert roles[1][:2] == ["Careers Leader", "Sam Rivers"]
    assert roles[2][1] == "[Name of the senior leader responsible for careers]"
    own = template.responsibilities.school if school else template.responsibilities.college
    assert doc.part(own.heading).lines == [own.lead, *own.duties]
    slt = template.responsibilities.slt.of(edition)
    assert doc.part(template.responsibilities.slt.heading).lines == slt
    governors = doc.part(template.responsibilities.governors.heading).text
    for duty in template.responsibilities.governors.will.of(edition):
        assert duty in governors
    # 4. The programme: the PAL encounters are a school's duty only.
    assert (template.programme.pal in doc.text) is school
    # 5. Measuring impact from theme 2's levels and actions.
    plan = await service.plan_document(organisation_id)
    impact = doc.part(numbered[4])
    levels = impact.tables[0]
    theme2 = [row for row in plan.summary.rows if row.theme == 2]
    assert [r[0] for r in levels[1:]] == [row.label for row in theme2]
    assert [r[1] for r in levels[1:]] == [str(row.level) for row in theme2]
    theme2_actions = [row for row in plan.plan.rows if row.statement_id.startswith("2.")]
    assert [r[0] for r in impact.tables[1][1:]] == [row.statement_id for row in theme2_actions]
    # Appendix 1: the eight benchmarks in full, from model_data.
    benchmarks = doc.under(appendices[0])
    for benchmark in load_benchmarks().benchmarks:
        assert f"{benchmark.number}. {benchmark.title}" in benchmarks
        assert benchmark.summary in benchmarks
        for criterion in benchmark.criteria:
            items = criterion.items if isinstance(criterion, BulletList) else [criterion]
            for item in items:
                assert item in benchmarks
    # Placeholders are highlighted; the template's guidance is nowhere.
    assert "[Link to our Provider Access Legislation policy]" in doc.highlighted or not school
    assert "[How we meet Benchmark 6]" in doc.highlighted
    assert "[Name of the link governor for careers]" in doc.highlighted
    for words in GUIDANCE:
        assert words not in doc.text
    # A review date three years on.
    about = doc.part("About this policy").tables[0]
    assert about[2] == ["Next review", "26 February 2028"]


async def test_the_link_governor_and_hub_come_from_settings(
    seeded: tuple[ReviewService, int, str],
) -> None:
    service, organisation_id, _ = seeded
    await service.set_documents(
        organisation_id, link_governor="Gina Governor", careers_hub="Solent Careers Hub"
    )
    doc = read_docx(documents.to_docx(await service.policy_draft(organisation_id)))
    roles = doc.part("3. Roles and responsibilities").tables[0]
    assert roles[4][:2] == ["Link governor for careers", "Gina Governor"]
    assert "[Solent Careers Hub]" in doc.highlighted


def test_review_date() -> None:
    assert review_date(date(2025, 2, 26)) == date(2028, 2, 26)
    assert review_date(date(2024, 2, 29)) == date(2027, 2, 28)


def _normal(text: str) -> str:
    return " ".join(text.replace("·", " ").split())


@pytest.mark.skipif(not SEED_POLICY.exists(), reason=f"seed 004 not found at {SEEDS}")
def test_the_template_data_is_seed_004_as_written() -> None:
    """Every statutory sentence and duty is in seed 004 word for word; the few that resolve
    a "delete as appropriate" choice are those noted in provenance, checked by their parts."""
    seed = _normal(SEED_POLICY.read_text("utf-8"))
    template = load_policy()
    exact = [
        template.signed_by,
        template.access,
        template.statutory.basis,
        template.statutory.guidance,
        template.statutory.refers_to,
        *template.statutory.acts,
        template.statutory.skills_act,
        *template.statutory.college,
        template.statutory.school[1],
        template.statutory.benchmarks,
        template.statutory.definition,
        template.responsibilities.school.lead,
        *template.responsibilities.school.duties,
        template.responsibilities.college.lead,
        *template.responsibilities.college.duties,
        template.responsibilities.careers_leader.intro,
        *template.responsibilities.careers_leader.duties[:11],
        *template.responsibilities.careers_leader.duties[12:],
        *template.responsibilities.teachers.school.duties,
        *template.responsibilities.teachers.college.duties,
        template.responsibilities.governors.intro,
        *template.responsibilities.governors.must,
        *template.responsibilities.governors.should,
        *template.programme.send,
        template.programme.pal,
        *template.programme.access.school,
    ]
    for text in exact:
        assert _normal(text) in seed, text
    assert [h.heading for h in template.contents] == [
        "Careers Education Vision and Intent",
        "Statutory requirements",
        "Roles and responsibilities",
        "Our Careers Programme",
        "Measuring & assessing impact, monitoring and evaluation",
        "Links to other policies",
        "Appendix’s",
    ]
    # Resolved choices: each part around the choice is the seed's.
    resolved = [
        *template.responsibilities.slt.school,
        *template.responsibilities.slt.college,
        *template.responsibilities.governors.will.school,
        *template.responsibilities.governors.will.college,
        template.aims.school,
        template.aims.college,
        template.statutory.school[0],
    ]
    for text in resolved:
        words = re.split(
            r"school’s|College’s|college’s|school|College|college|governing board|in years 8 to 13|access learners",
            text,
        )
        for part in words:
            if len(part.strip(" .")) > 15:
                assert _normal(part.strip(" .")) in seed, text
    for text in [*template.responsibilities.slt.college, template.aims.college]:
        assert "school’s/" not in text and "(delete" not in text.lower()


async def test_the_draft_through_teams(
    tmp_path: Path, seeded: tuple[ReviewService, int, str]
) -> None:
    """`policy draft` typed in a personal chat: the bot says it is preparing it, then offers
    the Word file to save; accepted, the file is uploaded."""
    _, _, edition = seeded
    if edition != "school":
        pytest.skip("one edition is enough for the channel path")
    (tmp_path / "teams").mkdir()
    settings = sqlite_settings(tmp_path / "teams")
    database = Database(settings.database_url)
    await database.migrate()
    hill, _ = await seed_review(database, load_model("school"), NOW)
    async with database.transaction() as session:
        await repo.link_organisation(session, hill.id, "teams", TENANT)
    async with teams_bot(settings, database) as teams:
        mock = teams.mock

        def consent_sent() -> bool:
            return any(
                a["contentType"].endswith("file.consent")
                for c in mock.sent()
                for a in c.attachments
            )

        await teams.say("policy draft")
        assert mock.sent(SAM.chat)[-1].text == teams_wording.TEAMS_DOCUMENT_PREPARING.format(
            document="CEIAG policy draft"
        )
        await mock.wait_for(consent_sent)
        consent_call = mock.sent(SAM.chat)[-1]
        consent = consent_call.attachments[0]
        assert consent["name"].startswith("ceiag-policy-draft-hill-school-")
        assert consent["content"]["acceptContext"]["kind"] == "policy-draft"
        invoke = teams.activity("file_consent_accept.json", replyToId=consent_call.activity_id)
        invoke["value"]["context"] = consent["content"]["acceptContext"]
        invoke["value"]["uploadInfo"]["uploadUrl"] = mock.upload_url("policy.docx")
        invoke["value"]["uploadInfo"]["name"] = "policy.docx"
        assert await teams.post(invoke) == 200
        await teams.app[TEAMS].work.idle()
        uploaded = read_docx(mock.uploads["policy.docx"])
        assert (
            uploaded.title == "Careers Education, Information, Advice and Guidance (CEIAG) Policy"
        )
    await database.close()
