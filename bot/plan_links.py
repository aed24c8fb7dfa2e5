"""Signed links to an organisation's full plan as a Word document, for digests on any channel.

A digest in Slack, Teams or the outbox carries a link like `PUBLIC_URL/plans/<token>.docx`;
the token names the organisation and an expiry, signed with PLAN_LINK_SECRET (HMAC-SHA256),
so it cannot be changed to reach another school's plan and stops working after two weeks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from aiohttp import web

VALID_FOR = timedelta(days=14)


class BadLink(Exception):
    """Forged, malformed or expired: the message says which."""


def _signature(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def sign(secret: str, organisation_id: int, now: datetime) -> str:
    payload = f"{organisation_id}.{int((now + VALID_FOR).timestamp())}"
    return f"{payload}.{_signature(secret, payload)}"


def verify(secret: str, token: str, now: datetime) -> int:
    """The organisation a token is for; BadLink if it was changed or has expired."""
    try:
        organisation, expires, signature = token.split(".")
        payload = f"{int(organisation)}.{int(expires)}"
    except ValueError as exc:
        raise BadLink("malformed") from exc
    if not hmac.compare_digest(signature, _signature(secret, payload)):
        raise BadLink("forged")
    if now.timestamp() > int(expires):
        raise BadLink("expired")
    return int(organisation)


def url(public_url: str, secret: str, organisation_id: int, now: datetime) -> str:
    return f"{public_url.rstrip('/')}/plans/{sign(secret, organisation_id, now)}.docx"


async def download(request: web.Request) -> web.Response:
    """GET /plans/{token}.docx: the organisation's latest plan, built now."""
    from bot import exports
    from bot.keys import SERVICE, SETTINGS

    settings = request.app[SETTINGS]
    service = request.app[SERVICE]
    if not settings.plan_link_secret:
        raise web.HTTPNotFound()
    try:
        organisation_id = verify(
            settings.plan_link_secret, request.match_info["token"], service.clock()
        )
    except BadLink as exc:
        if str(exc) == "expired":
            raise web.HTTPGone(
                text="This link has expired: the next digest has a new one."
            ) from exc
        raise web.HTTPForbidden(text="This is not a valid plan link.") from exc
    try:
        document = await service.plan_document(organisation_id)
    except LookupError as exc:
        raise web.HTTPNotFound(text="There is no plan yet.") from exc
    data = exports.export(document, "docx")
    return web.Response(
        body=data,
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        headers={
            "Content-Disposition": f'attachment; filename="{exports.default_filename(document, "docx")}"',
            "Cache-Control": "private, no-store",
        },
    )
