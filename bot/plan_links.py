"""Links to an organisation's full plan as a Word document, for digests on any channel.

A digest in Slack, Teams or the outbox carries a link like `PUBLIC_URL/plans/<token>.docx`.
Each link is a row (`plan_links`): the school it opens, who or where it was issued to,
when it expires (two weeks), whether it was revoked, how often and when it was last used.
The token is HMAC-SHA256(PLAN_LINK_SECRET, a random nonce kept with the row), and the row
is found by the token's SHA-256 hash: the database alone, or the secret alone, opens
nothing, and a token names no school, so changing one reaches no other school's plan.
`careers-bot links list` and `links revoke` show and stop them; deleting the school
deletes its links.

Links of the earlier form (`<organisation id>.<expiry>.<signature>`, signed only) are
refused (410) with a message that the next digest has a new link: they cannot be revoked,
and they named a school by its id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models as m
from storage import repo

VALID_FOR = timedelta(days=14)
# The governors' report sent with a half-term's first digest: open for the half-term and a
# little after, for a governors' meeting late in it.
REPORT_VALID_FOR = timedelta(weeks=8)
REPORT = "governors-report:"  # purpose prefix of a link that opens the governors' report
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
OLD_TOKEN = re.compile(r"^\d+\.\d+\.[A-Za-z0-9_-]+$")  # signed links before migration 0007

log = logging.getLogger("careers_bot.plan_links")

# The session digests are built in, the schools, the moment -> each school's link.
PlanLinkIssuer = Callable[[AsyncSession, Sequence[int], datetime], Awaitable[dict[int, str]]]
# The session, each school's half-term, the moment -> each school's governors' report link.
ReportLinkIssuer = Callable[[AsyncSession, dict[int, str], datetime], Awaitable[dict[int, str]]]


def token_of(secret: str, nonce: str) -> str:
    digest = hmac.new(secret.encode(), nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def hash_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def url_of(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/plans/{token}.docx"


async def issue(
    session: AsyncSession,
    secret: str,
    public_url: str,
    organisation_id: int,
    now: datetime,
    *,
    purpose: str,
    issued_to: str,
    person_id: int | None = None,
) -> tuple[m.PlanLink, str]:
    """The link for `purpose` (recorded now, or the one recorded before) and its URL."""
    nonce = secrets.token_urlsafe(32)
    token = token_of(secret, nonce)
    link = await repo.issue_plan_link(
        session,
        organisation_id=organisation_id,
        purpose=purpose,
        issued_to=issued_to,
        nonce=nonce,
        token_hash=hash_of(token),
        now=now,
        expires_at=now + VALID_FOR,
        person_id=person_id,
    )
    return link, url_of(public_url, token_of(secret, link.nonce))


def digest_issuer(secret: str, public_url: str) -> PlanLinkIssuer:
    """How the weekly digest links to the plan: one link per school and week, issued to the
    digest's channel, for many schools in a constant number of statements. Asked again in
    the same week (a digest built by hand, then by the sweep), a school gets the same link."""

    async def plan_links(
        session: AsyncSession, organisation_ids: Sequence[int], now: datetime
    ) -> dict[int, str]:
        year, week, _ = now.isocalendar()
        purpose = f"digest:{year}-W{week:02d}"
        purposes = dict.fromkeys(organisation_ids, purpose)
        return await _issue(session, secret, public_url, purposes, "weekly digest", now, VALID_FOR)

    return plan_links


def report_issuer(secret: str, public_url: str) -> ReportLinkIssuer:
    """How a half-term's first digest links to the governors' report where the channel
    cannot carry the file (Teams): one link per school and half-term (purpose
    `governors-report:2025-26-HT3`), so the same digest rebuilt, or retried, carries the same
    link. The link is revoked, listed and counted like a plan link."""

    async def report_links(
        session: AsyncSession, half_terms: dict[int, str], now: datetime
    ) -> dict[int, str]:
        purposes = {i: f"{REPORT}{half_term}" for i, half_term in half_terms.items()}
        return await _issue(
            session, secret, public_url, purposes, "governors' report with the digest", now,
            REPORT_VALID_FOR,
        )  # fmt: skip

    return report_links


async def _issue(
    session: AsyncSession,
    secret: str,
    public_url: str,
    purposes: dict[int, str],
    label: str,
    now: datetime,
    valid_for: timedelta,
) -> dict[int, str]:
    """Each school's link for its purpose, recorded now unless it was already (then that
    one), issued to the school's channels; the URL of each, in a constant number of
    statements however many schools."""
    places = await repo.channel_refs_of(session, sorted(purposes))
    wanted = []
    for organisation_id, purpose in purposes.items():
        refs = places.get(organisation_id, [])
        where = ", ".join(f"{r.channel} {r.conversation_id}" for r in refs) or "outbox"
        nonce = secrets.token_urlsafe(32)
        wanted.append(
            {
                "organisation_id": organisation_id,
                "purpose": purpose[:100],
                "issued_to": f"{label} ({where})"[:200],
                "nonce": nonce,
                "token_hash": hash_of(token_of(secret, nonce)),
                "created_at": now,
                "expires_at": now + valid_for,
            }
        )
    nonces = await repo.plan_link_nonces(session, wanted)
    return {school: url_of(public_url, token_of(secret, n)) for school, n in nonces.items()}


async def download(request: web.Request) -> web.Response:
    """GET /plans/{token}.docx: the organisation's latest plan, built now (or, for a link
    issued with a digest for the governors, its governors' report, as of today).

    Unknown token 403 (a deleted school's links are deleted with it, so they are unknown
    too), an earlier signed link, an expired or a revoked one 410 with the reason, a school
    with no plan yet 404. Each use is counted and logged by link and school, never by token.
    """
    from bot import rendering
    from bot.keys import SERVICE, SETTINGS

    settings = request.app[SETTINGS]
    service = request.app[SERVICE]
    if not settings.plan_link_secret:
        raise web.HTTPNotFound()
    token = request.match_info["token"]
    if OLD_TOKEN.match(token):
        raise web.HTTPGone(
            text="This link is from an earlier version and no longer opens the plan: "
            "the next digest has a new one."
        )
    now = service.clock()
    link = None
    if TOKEN.match(token):
        async with service.db.transaction() as session:
            link = await repo.plan_link_by_hash(session, hash_of(token))
            if link is not None and link.revoked_at is None and now <= link.expires_at:
                await repo.record_plan_link_use(session, link.id, now)
    if link is None:
        log.warning("plan link refused: unknown token")
        raise web.HTTPForbidden(text="This is not a valid plan link.")
    if link.revoked_at is not None:
        log.warning(
            "plan link %s (organisation %s) refused: revoked", link.id, link.organisation_id
        )
        raise web.HTTPGone(
            text="This link was withdrawn by the school's administrator: "
            "ask them for the plan, or wait for the next digest."
        )
    if now > link.expires_at:
        log.info("plan link %s (organisation %s) refused: expired", link.id, link.organisation_id)
        raise web.HTTPGone(text="This link has expired: the next digest has a new one.")
    log.info("plan link %s used (organisation %s)", link.id, link.organisation_id)
    try:
        if link.purpose.startswith(REPORT):
            report = await service.governors_report(link.organisation_id)
            data, filename = await rendering.render_document(report, "docx")  # off the loop
        else:
            document = await service.plan_document(link.organisation_id)
            data, filename = await rendering.render_named(document, "docx")  # off the loop
    except LookupError as exc:
        raise web.HTTPNotFound(text="There is no plan yet.") from exc
    return web.Response(
        body=data,
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
