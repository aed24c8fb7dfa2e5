"""The dashboard page served by `careers-bot serve`: a school's page and a group's page,
server-rendered HTML (Jinja2, autoescaped), no JavaScript, printable.

Access is by signed, expiring links for one person and one school, or one group lead and
one group (`dashboard_links`, made as plan links are: the token is HMAC-SHA256 of a random
nonce kept with the row under PLAN_LINK_SECRET, and the row is found by the token's SHA-256
hash). A link opens `PUBLIC_URL/dashboard/<token>`, which sends the browser on to its own
page, `/dashboard/<token>/school/<id>` or `/dashboard/<token>/group/<id>`. Every page checks
the link (known, not revoked, not expired), that it is the link's own school or group, and
that the person it was issued to still belongs to that school (any role: the dashboard only
looks, as `summary` and `actions` do in chat) or is still a lead of that group. Each use is
counted; refusals are pages that say why and how to get a new link.

People get a link by typing `dashboard` to the bot (any channel), on Slack's App Home, in
the weekly digest (issued to the digest's channel, like the plan link), and through the
Teams tab, whose page tells them to ask the bot (docs/teams.md).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession

from bot.groups import GroupService
from bot.plan_links import hash_of, token_of
from bot.reviews import ReviewService, action_view
from model_data import load_glossary, load_model
from storage import dashboards, repo
from storage import models as m
from workflows import groups as group_words
from workflows import review as engine
from workflows.calendar import local_date
from workflows.dashboard import (
    Filters,
    SchoolDashboard,
    StatusFilter,
    ThemeFigure,
    school_dashboard,
)

PERSON_VALID_FOR = timedelta(days=7)
DIGEST_VALID_FOR = timedelta(days=14)  # a week's digest, and the week after it
TOKEN = r"[A-Za-z0-9_-]{43}"
TOKEN_RE = re.compile(rf"^{TOKEN}$")
HERE = Path(__file__).parent
HOW_TO_GET_ONE = (
    "Type dashboard to the Careers Impact Bot in Slack or Teams (or open the bot's Home tab "
    "in Slack) for a new link; the weekly digest carries one too."
)
ROLE_LABELS = {
    "careers_leader": "Careers Leader",
    "colleague": "colleague",
    "slt": "senior leader",
    "hub_lead": "Hub lead",
    "enterprise_coordinator": "Enterprise Co-ordinator",
    "trust_careers_lead": "trust careers lead",
    "facilitator": "facilitator",
}

log = logging.getLogger("careers_bot.dashboard")

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def url_of(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/dashboard/{token}"


@dataclass(frozen=True)
class DashboardLinks:
    """Issues dashboard links, under the plan links' secret."""

    secret: str
    public_url: str

    def _row(self, now: datetime, valid_for: timedelta, **fields: Any) -> dict[str, Any]:
        nonce = secrets.token_urlsafe(32)
        return {
            **fields,
            "nonce": nonce,
            "token_hash": hash_of(token_of(self.secret, nonce)),
            "created_at": now,
            "expires_at": now + valid_for,
        }

    def _url(self, link: m.DashboardLink) -> str:
        return url_of(self.public_url, token_of(self.secret, link.nonce))

    async def for_person(
        self, session: AsyncSession, organisation_id: int, person_id: int, name: str, now: datetime
    ) -> tuple[str, datetime]:
        """A person's link to their school's page: one a day (asked again the same day, as
        the App Home does on every visit, the same link), valid for a week."""
        fields = {"kind": "school", "organisation_id": organisation_id, "person_id": person_id}
        return await self._personal(session, now, f"person:{person_id}", name, fields)

    async def _personal(
        self, session: AsyncSession, now: datetime, whose: str, name: str, fields: dict[str, Any]
    ) -> tuple[str, datetime]:
        """Today's link for this person, or a fresh one if today's was revoked."""
        purpose = f"{whose}:{now.date().isoformat()}"
        for _ in range(2):
            row = self._row(now, PERSON_VALID_FOR, **fields, issued_to=name[:200], purpose=purpose)
            (link,) = await dashboards.issue_dashboard_links(session, [row])
            if link.revoked_at is None:
                break
            purpose = f"{whose}:{now.isoformat()}:{secrets.token_hex(4)}"  # revoked: a new one
        return self._url(link), link.expires_at

    async def for_lead(
        self, session: AsyncSession, group_id: int, lead_id: int, name: str, now: datetime
    ) -> tuple[str, datetime]:
        """A group lead's link to their group's page: one a day, valid for a week."""
        fields = {"kind": "group", "group_id": group_id, "group_lead_id": lead_id}
        return await self._personal(session, now, f"lead:{lead_id}", name, fields)

    async def for_digests(
        self, session: AsyncSession, organisation_ids: Sequence[int], now: datetime
    ) -> dict[int, str]:
        """The weekly digest's links, one per school and week, issued to the digest's
        channel, for many schools in two statements (as the digest's plan links)."""
        year, week, _ = now.isocalendar()
        rows = [
            self._row(
                now,
                DIGEST_VALID_FOR,
                kind="school",
                organisation_id=organisation_id,
                issued_to="weekly digest",
                purpose=f"digest:{organisation_id}:{year}-W{week:02d}",
            )
            for organisation_id in organisation_ids
        ]
        links = await dashboards.issue_dashboard_links(session, rows)
        return {link.organisation_id or 0: self._url(link) for link in links}


# ----- the pages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    """A link that passed every check, and who it is for now."""

    link: m.DashboardLink
    name: str
    role: str | None


def refused(status: int, title: str, text: str, own: str | None = None) -> web.Response:
    body = templates.get_template("refused.html").render(
        title=title, text=text, how=HOW_TO_GET_ONE, own=own
    )
    return respond(body, status)


def respond(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",  # the token is in the address
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                "base-uri 'none'; frame-ancestors 'self' https://teams.microsoft.com "
                "https://*.teams.microsoft.com https://*.office.com https://*.cloud.microsoft"
            ),
        },
    )


async def open_link(
    request: web.Request, token: str, wanted: tuple[str, str] | None = None
) -> Opened | web.Response:
    """The link's checks: the link, or the page that refuses it. With `wanted` (the page's
    kind and id) the page must be the link's own, and the use is counted."""
    from bot.keys import SERVICE

    service: ReviewService = request.app[SERVICE]
    now = service.clock()
    if not TOKEN_RE.match(token):
        return refused(403, "This is not a dashboard link", "The address is not one the bot made.")
    async with service.db.transaction() as session:
        link = await dashboards.dashboard_link_by_hash(session, hash_of(token))
        if link is None:
            log.warning("dashboard link refused: unknown token")
            return refused(
                403, "This is not a dashboard link", "The bot did not make this link, or the "
                "school or group it was for has been removed.",
            )  # fmt: skip
        where = f"link {link.id} ({link.kind} {link.organisation_id or link.group_id})"
        if link.revoked_at is not None:
            log.warning("dashboard %s refused: revoked", where)
            return refused(
                410, "This link was withdrawn", "An administrator withdrew this dashboard link."
            )
        if now > link.expires_at:
            log.info("dashboard %s refused: expired", where)
            return refused(
                410, "This link has expired", f"Dashboard links last a week, for your safety; "
                f"this one expired on {link.expires_at:%d %B %Y}.",
            )  # fmt: skip
        holder = await dashboards.holder_of(session, link)
        if holder is None:
            log.warning("dashboard %s refused: its holder no longer belongs there", where)
            return refused(
                403, "This link no longer opens the page", "It was issued to someone who no "
                "longer belongs to this school or group.",
            )  # fmt: skip
        if wanted is None:
            return Opened(link, holder[0], holder[1])  # on to its own page, counted there
        own = link.group_id if link.kind == "group" else link.organisation_id
        if wanted != (link.kind, str(own)):
            log.warning("dashboard %s refused: asked for %s %s", where, *wanted)
            return refused(
                403, "This link does not open that page", "A dashboard link opens one school's "
                "or one group's page only: the one it was issued for.", own_path(token, link),
            )  # fmt: skip
        await dashboards.record_dashboard_link_use(session, link.id, now)
    log.info("dashboard %s used", where)
    return Opened(link, holder[0], holder[1])


def own_path(token: str, link: m.DashboardLink) -> str:
    if link.kind == "group":
        return f"/dashboard/{token}/group/{link.group_id}"
    return f"/dashboard/{token}/school/{link.organisation_id}"


async def entry(request: web.Request) -> web.StreamResponse:
    """GET /dashboard/{token}: on to the link's own page."""
    token = request.match_info["token"]
    opened = await open_link(request, token)
    if isinstance(opened, web.Response):
        return opened
    raise web.HTTPSeeOther(own_path(token, opened.link))


async def page(request: web.Request) -> web.StreamResponse:
    """GET /dashboard/{token}/{kind}/{id}: the page, if it is this link's own."""
    from bot.keys import SERVICE

    token = request.match_info["token"]
    kind, wanted = request.match_info["kind"], request.match_info["id"]
    opened = await open_link(request, token, (kind, wanted))
    if isinstance(opened, web.Response):
        return opened
    link = opened.link
    service: ReviewService = request.app[SERVICE]
    who = opened.name
    role = ROLE_LABELS.get(opened.role or "", "")
    if link.kind == "group":
        view = await GroupService(service.db, service.clock).view(link.group_id or 0)
        if view is None:
            return refused(404, "No such group", "The group has been removed.")
        body = templates.get_template("group.html").render(
            view=view, who=who, role=role, expires=link.expires_at, groups=group_words
        )
        return respond(body)
    try:
        board = await read_school(service, link.organisation_id or 0, request.query)
    except LookupError:
        body = templates.get_template("no_review.html").render(who=who, role=role)
        return respond(body)
    body = templates.get_template("school.html").render(
        board=board, who=who, role=role, expires=link.expires_at, chart=chart(board.themes),
        statuses=list(StatusFilter), here=request.path,
    )  # fmt: skip
    return respond(body)


async def teams_tab(request: web.Request) -> web.Response:
    """GET /dashboard/teams: the Teams tab's page. A tab cannot prove who opens it without a
    JavaScript sign-in, so it opens nothing by itself: it says how to get your own link."""
    return respond(templates.get_template("teams_tab.html").render(how=HOW_TO_GET_ONE))


async def stylesheet(_: web.Request) -> web.Response:
    return web.Response(
        body=(HERE / "templates" / "dashboard.css").read_bytes(),
        content_type="text/css",
        headers={"Cache-Control": "public, max-age=3600"},
    )


def setup_dashboard(app: web.Application) -> None:
    app.router.add_get("/dashboard/dashboard.css", stylesheet)
    app.router.add_get("/dashboard/teams", teams_tab)
    app.router.add_get(f"/dashboard/{{token:{TOKEN}}}", entry)
    app.router.add_get(f"/dashboard/{{token:{TOKEN}}}/{{kind:school|group}}/{{id:\\d+}}", page)


# ----- what the pages read -----------------------------------------------------------------


async def read_school(service: ReviewService, organisation_id: int, query: Any) -> SchoolDashboard:
    """The school's page: its plan (one read, as an export) and its actions (one more)."""
    document = await service.plan_document(organisation_id)  # LookupError: no review yet
    async with service.db.read() as session:
        organisation = await repo.get_organisation(session, organisation_id)
        if organisation is None:
            raise LookupError(f"no organisation {organisation_id}")
        rows = await repo.organisation_actions(session, organisation_id)
        calendar = await service.calendar(session, organisation)
    now = service.clock()
    model = load_model(document.edition)
    ctx = engine.Context(
        model=model, glossary=load_glossary(), now=now, actor="dashboard",
        calendar=calendar, timezone=organisation.timezone,
    )  # fmt: skip
    views = [action_view(row, ctx, ()) for row in rows]
    filters = Filters.read(query, [t.number for t in model.themes])
    return school_dashboard(document, views, local_date(now, organisation.timezone), filters)


# ----- the profile chart, as inline SVG ----------------------------------------------------


@dataclass(frozen=True)
class Bar:
    number: int
    title: str
    y: float
    width: float  # the level's bar
    level: str
    target_x: float | None
    previous_x: float | None


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    scale: float  # pixels per level
    bars: list[Bar]
    ticks: list[tuple[int, float]]


def chart(themes: Sequence[ThemeFigure]) -> Chart:
    """Where each theme's bar, target and previous marks go (levels 0 to 4 across)."""
    left, plot, row = 300, 440, 46
    scale = plot / 4
    bars = [
        Bar(
            number=t.number,
            title=t.title,
            y=20 + i * row,
            width=(t.level or 0) * scale,
            level=f"{t.level:.1f}" if t.level is not None else "not answered",
            target_x=left + t.target * scale if t.target is not None else None,
            previous_x=left + t.previous * scale if t.previous is not None else None,
        )
        for i, t in enumerate(themes)
    ]
    return Chart(
        width=left + plot + 40,
        height=40 + row * len(themes) + 20,
        left=left,
        scale=scale,
        bars=bars,
        ticks=[(n, left + n * scale) for n in range(5)],
    )
