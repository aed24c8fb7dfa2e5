"""A CEIAG policy draft in the sections of seed 004's template, filled from what the bot holds.

The template's statutory text and duties come from model_data/policy.yaml for the edition
(school or college), the Gatsby Benchmarks from benchmarks.yaml, the people from the
school's set-up, the vision from the review's note on 1.2, and measuring impact from theme
2's levels and actions. The template's guidance prose is never copied: whatever the school
must still write is a `Placeholder` in our own words, drawn highlighted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from model_data import Benchmarks, BulletList, Edition, MaturityModel, PolicyTemplate
from workflows.documents import (
    Block,
    Bullets,
    Doc,
    DocumentKind,
    Para,
    Placeholder,
    Section,
    Table,
    cells,
)
from workflows.plan import PlanDocument

REVIEW_YEARS = 3  # the template recommends at most three years between reviews
VISION_STATEMENT = "1.2"
IMPACT_THEME = 2


@dataclass(frozen=True)
class PolicyPeople:
    """Who the school has set up in the bot, by role; None where nobody is named yet."""

    careers_leader: str | None = None
    slt: tuple[str, ...] = ()
    link_governor: str | None = None
    careers_hub: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def review_date(today: date, years: int = REVIEW_YEARS) -> date:
    """`years` on from `today` (29 February falls back to the 28th)."""
    try:
        return today.replace(year=today.year + years)
    except ValueError:
        return today.replace(year=today.year + years, day=28)


def _name(name: str | None, role: str) -> str | Placeholder:
    return name if name else Placeholder(f"Name of the {role}")


def _heading(template: PolicyTemplate, number: int) -> str:
    return f"{number}. {template.contents[number - 1].heading}"


def build_policy_draft(
    model: MaturityModel,
    template: PolicyTemplate,
    benchmarks: Benchmarks,
    document: PlanDocument,
    people: PolicyPeople,
    today: date,
) -> Doc:
    """The draft for one organisation: seed 004's sections, for the model's edition."""
    edition = model.edition
    school = edition is Edition.SCHOOL
    where = "school" if school else "college"
    rows = {row.statement_id: row for row in document.summary.rows}
    statutory = template.statutory
    duties = template.responsibilities
    next_review = review_date(today)
    sections: list[Section] = []

    slt = ", ".join(people.slt) if people.slt else None
    sections.append(
        Section(
            "About this policy",
            blocks=(
                Para(template.aims.of(edition)),
                Para(template.access),
                Table(
                    ("", ""),
                    (
                        cells(
                            template.signed_by.rstrip(": ").strip(),
                            _name(slt, "senior leader responsible for careers"),
                        ),
                        cells(
                            "Date approved",
                            Placeholder("Date the governing board approved this policy"),
                        ),
                        cells("Next review", f"{next_review.day} {next_review:%B %Y}"),
                    ),
                    (6, 8),
                ),
            ),
        )
    )

    # 1. Vision and intent: the school's own words from the review, else a placeholder.
    vision = rows.get(VISION_STATEMENT)
    vision_blocks: list[Block] = []
    if vision is not None and vision.note:
        vision_blocks.append(Para(vision.note))
        vision_blocks.append(
            Placeholder(
                "Check this vision, taken from the review's note on 1.2, against your "
                f"whole-{where} vision and development plan before publishing"
            )
        )
    else:
        vision_blocks.append(
            Placeholder(
                f"Our vision and intent for careers: what careers education at this {where} "
                "aims to achieve for learners in the next three to five years"
            )
        )
    if vision is not None and vision.level:
        vision_blocks.append(
            Para(
                f"Our latest review ({document.review_title}) placed {vision.label} at "
                f"level {vision.level}.",
                small=True,
            )
        )
    sections.append(Section(_heading(template, 1), blocks=tuple(vision_blocks)))

    # 2. Statutory requirements, in the edition's variant.
    statutory_blocks: list[Block] = [
        Para(statutory.basis),
        Para(statutory.guidance, bold=True),
        Bullets(tuple(statutory.acts), lead=statutory.refers_to),
        Para(statutory.skills_act),
    ]
    variant = statutory.school if school else statutory.college
    for index, paragraph in enumerate(variant):
        if school and index == 0:
            statutory_blocks.append(
                Para(
                    paragraph,
                    placeholder=Placeholder("Link to our Provider Access Legislation policy"),
                )
            )
        else:
            statutory_blocks.append(Para(paragraph))
    statutory_blocks += [Para(statutory.benchmarks), Para(statutory.definition)]
    sections.append(Section(_heading(template, 2), blocks=tuple(statutory_blocks)))

    # 3. Roles and responsibilities: the people set up in the bot, then the template's duties.
    contact = Placeholder("Email address and telephone number")
    sections.append(
        Section(
            _heading(template, 3),
            blocks=(
                Table(
                    ("Role", "Name", "Contact"),
                    (
                        cells(
                            "Careers Leader",
                            _name(people.careers_leader, "Careers Leader"),
                            contact,
                        ),
                        cells(
                            "Senior leader responsible for careers",
                            _name(slt, "senior leader responsible for careers"),
                            contact,
                        ),
                        cells(
                            "Careers Adviser", Placeholder("Name of the Careers Adviser"), contact
                        ),
                        cells(
                            "Link governor for careers",
                            _name(people.link_governor, "link governor for careers"),
                            contact,
                        ),
                    ),
                    (5, 5, 5),
                ),
            ),
        )
    )
    own = duties.school if school else duties.college
    sections.append(
        Section(own.heading, level=2, blocks=(Bullets(tuple(own.duties), lead=own.lead),))
    )
    leader = duties.careers_leader
    sections.append(
        Section(
            leader.heading,
            level=2,
            blocks=(
                Para(leader.intro),
                Bullets(tuple(leader.duties), lead=leader.lead),
                Para(
                    "work with our Careers Hub to support continuous improvement:",
                    placeholder=Placeholder(
                        people.careers_hub or "the name of our Careers Hub and the tools we use"
                    ),
                ),
            ),
        )
    )
    sections.append(
        Section(duties.slt.heading, level=2, blocks=(Bullets(tuple(duties.slt.of(edition))),))
    )
    teachers = duties.teachers.school if school else duties.teachers.college
    sections.append(Section(teachers.heading, level=2, blocks=(Bullets(tuple(teachers.duties)),)))
    governors = duties.governors
    sections.append(
        Section(
            governors.heading,
            level=2,
            blocks=(
                Para(governors.intro),
                Bullets(tuple(governors.must), lead=governors.must_lead),
                Bullets(tuple(governors.should), lead=governors.should_lead),
                Bullets(tuple(governors.will.of(edition)), lead=governors.will_lead),
            ),
        )
    )

    # 4. Our careers programme: the school's to describe; the template's information.
    programme = template.programme
    sections.append(
        Section(
            _heading(template, 4),
            blocks=(
                Placeholder("The aims of our careers programme and how it is delivered"),
                Placeholder(
                    "The careers learning outcomes for each year group, and what we want "
                    "learners to know and be able to do when they leave"
                ),
            ),
        )
    )
    sections.append(
        Section(programme.send_heading, level=2, blocks=tuple(Para(p) for p in programme.send))
    )
    access: list[Block] = [Para(p) for p in programme.access.of(edition)]
    access.append(Placeholder("Link to the careers page of our website"))
    if school:
        access += [Para(programme.pal_lead, bold=True), Para(programme.pal)]
    sections.append(Section(programme.access_heading, level=2, blocks=tuple(access)))

    # 5. Measuring impact: theme 2's levels and actions from the review.
    theme = model.theme(IMPACT_THEME)
    theme_rows = [rows[s.id] for s in theme.statements if s.id in rows]
    impact: list[Block] = [
        Para(
            f"We measure and assess the impact of our careers provision with the Careers "
            f"Impact System. Our latest review ({document.review_title}, "
            f"{document.as_of:%B %Y}) placed theme {theme.number}, {theme.title}, as follows."
        ),
        Table(
            ("Statement", "Level", "Where we are"),
            tuple(
                cells(
                    row.label,
                    str(row.level) if row.level else "Not answered",
                    row.position.replace("\n- ", "\n• ") if row.level else "",
                )
                for row in theme_rows
            ),
            (4, 1.5, 9),
        ),
    ]
    theme_actions = [r for r in document.plan.rows if r.statement_id.startswith(f"{theme.number}.")]
    if theme_actions:
        impact.append(Para("What we are doing to improve it:", bold=True))
        impact.append(
            Table(
                ("Statement", "Next steps", "By when", "Who"),
                tuple(
                    cells(
                        r.statement_id,
                        "; ".join(r.next_steps) or "To be decided",
                        r.by_when_dated or "To be decided",
                        r.who or "To be decided",
                    )
                    for r in theme_actions
                ),
                (2, 8, 3, 2),
            )
        )
    impact.append(
        Placeholder(
            "What data and feedback we collect, from whom and when, and who analyses it and "
            "how often"
        )
    )
    sections.append(Section(_heading(template, 5), blocks=tuple(impact)))

    # 6. Links to other policies.
    sections.append(
        Section(
            _heading(template, 6),
            blocks=(
                Bullets(
                    (
                        "Provider Access Legislation policy",
                        "Child Protection policy",
                        "Curriculum policy",
                    )
                ),
                Placeholder(
                    "Other policies this policy links to, with links to where they are published"
                ),
            ),
        )
    )

    # Appendices: 1 is the Gatsby Benchmarks in full; the rest are the school's.
    appendices = {a.number: a.title for a in template.appendices}
    sections.append(Section(f"Appendix 1 – The {appendices[1]}", new_page=True))
    for benchmark in benchmarks.benchmarks:
        blocks: list[Block] = [Para(benchmark.summary, bold=True)]
        lead = ""
        for criterion in benchmark.criteria:
            if isinstance(criterion, BulletList):
                blocks.append(Bullets(tuple(criterion.items), lead=lead))
                lead = ""
            elif criterion.endswith(":"):
                lead = criterion
            else:
                blocks.append(Bullets((criterion,)))
        blocks.append(Placeholder(f"How we meet Benchmark {benchmark.number}"))
        sections.append(
            Section(f"{benchmark.number}. {benchmark.title}", level=2, blocks=tuple(blocks))
        )
    for number in sorted(appendices):
        if number == 1:
            continue
        sections.append(
            Section(
                f"Appendix {number} – {appendices[number]}",
                blocks=(Placeholder(f"Our {appendices[number]}, or a link to it"),),
            )
        )

    return Doc(
        kind=DocumentKind.POLICY_DRAFT,
        title="Careers Education, Information, Advice and Guidance (CEIAG) Policy",
        subtitle=f"{document.organisation} · DRAFT {today.day} {today:%B %Y} · review by "
        f"{next_review.day} {next_review:%B %Y}",
        organisation=document.organisation,
        as_of=today,
        sections=tuple(sections),
        keywords=("careers", "CEIAG", "policy", "Gatsby Benchmarks"),
    )
