"""Sending what the scheduler has claimed: one Notifier per channel, paced per conversation.

The terminal's outbox is the channel when no chat is configured: the delivery row itself,
marked sent to "outbox", is what `careers-bot outbox` prints.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from storage.deliveries import Conversation
from storage.models import ConversationRef
from workflows.notices import Notice

# A stored conversation: the ORM row, or the plain row the scheduler loads (same fields).
Stored = ConversationRef | Conversation


class DeliveryError(Exception):
    """A send that failed; the scheduler retries it with backoff."""


class RateLimited(DeliveryError):
    """The chat service refused this message for now (HTTP 429) and did not take it: send it
    again after `retry_after` seconds. Only this conversation waits (`Pacer.hold`)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class File:
    """A document drawn for a notice (the governors' report), for a channel that posts files."""

    data: bytes
    filename: str


class Notifier(Protocol):
    """Sends a notice to one stored conversation (a DM or a channel) on one chat service.

    `key` is the delivery's key: a channel that can carry it with the message (Slack's
    message metadata) does, so that a later attempt can find the message. Returns the
    message's id on the service (Slack's ts, Teams' activity id) when it has one.

    `file` is the notice's document (`Notice.document`) drawn for a notifier that
    `takes_files`; it is passed only when there is one, so a notifier that never takes files
    need not accept it."""

    channel: str

    async def send(
        self, conversation: Stored, notice: Notice, chart: bytes | None, key: str = ""
    ) -> str | None: ...


@runtime_checkable
class Searchable(Protocol):
    """A Notifier that can look in a conversation for a message it sent (Slack can, from
    its history; a Teams bot cannot read a chat's history)."""

    async def find(self, conversation: Stored, key: str, since: datetime) -> str | None:
        """The id of the message carrying `key` sent since `since`, or None if there is none
        (or the conversation cannot be searched); raises DeliveryError if the look-up failed
        and should be tried again later."""
        ...


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: float


# Slack: about one message per second per channel. Teams: 7 per second and 60 per 30
# seconds per conversation (Bot Framework's published limits).
LIMITS: dict[str, tuple[Limit, ...]] = {
    "slack": (Limit(1, 1.0),),
    "teams": (Limit(7, 1.0), Limit(60, 30.0)),
}


Place = tuple[str, str]  # (channel, conversation id)


class Turn:
    """`async with pacer.turn(...)`: a conversation's slot, held while its message is sent."""

    __slots__ = ("gate", "pacer", "place")

    def __init__(self, pacer: Pacer, place: Place, gate: asyncio.Semaphore | None) -> None:
        self.pacer, self.place, self.gate = pacer, place, gate

    async def __aenter__(self) -> None:
        await self.pacer._begin(self.place, self.gate)

    async def __aexit__(self, *_: object) -> None:
        if self.gate is not None:
            self.gate.release()


@dataclass
class Pacer:
    """Waits just long enough to stay inside each conversation's rate limits.

    Safe for many concurrent senders: `turn` holds a lock per conversation while it works out
    the wait, waits, and notes the send, so two tasks to one conversation never both see a
    delay of 0; tasks to other conversations never wait for it. `hold` (after a 429) makes one
    conversation wait, and only that one.
    """

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    history: dict[Place, deque[float]] = field(default_factory=dict)
    held: dict[Place, float] = field(default_factory=dict)  # no sends until (clock time)
    locks: dict[Place, asyncio.Lock] = field(default_factory=dict)

    def delay(self, channel: str, conversation: str) -> float:
        """How long to wait before the next send to this conversation."""
        sent = self.history.get((channel, conversation))
        now = self.clock()
        wait = max(0.0, self.held.get((channel, conversation), now) - now)
        if not sent:
            return wait
        for limit in LIMITS.get(channel, ()):
            recent = [t for t in sent if now - t < limit.seconds]
            if len(recent) >= limit.count:
                wait = max(wait, recent[-limit.count] + limit.seconds - now)
        return wait

    def hold(self, channel: str, conversation: str, seconds: float) -> None:
        """The service said "not before `seconds`" for this conversation (Retry-After)."""
        place = (channel, conversation)
        self.held[place] = max(self.held.get(place, 0.0), self.clock() + max(0.0, seconds))

    def turn(self, channel: str, conversation: str, gate: asyncio.Semaphore | None = None) -> Turn:
        """This conversation's next slot: `async with` it to send. The body sends; the place
        in `gate` (the sender's limit of messages in flight) is given back after it."""
        return Turn(self, (channel, conversation), gate)

    async def _begin(self, place: Place, gate: asyncio.Semaphore | None) -> None:
        """Wait for the conversation's slot, then for a place in `gate`, and note the send.

        At once, without suspending, when nobody is waiting on this conversation, it may
        send now and `gate` has room (every reminder of a sweep to a different person):
        the check and the note are then one step of the loop, so no other task can come
        between them. Otherwise the conversation's lock is held while the wait is worked
        out, waited, and a place in `gate` awaited, so nobody overtakes; the next task for
        the conversation counts from this send."""
        lock = self.locks.get(place)
        free = (lock is None or not lock.locked()) and (gate is None or not gate.locked())
        if free and self.delay(*place) <= 0:
            if gate is not None:
                await gate.acquire()  # free: returns without suspending
            self._note(place)
            return
        if lock is None:
            lock = self.locks[place] = asyncio.Lock()
        async with lock:
            pause = self.delay(*place)
            if pause > 0:
                await self.sleep(pause)
            if gate is not None:
                await gate.acquire()
            self._note(place)

    def _note(self, place: Place) -> None:
        sent = self.history.get(place)
        if sent is None:
            sent = self.history[place] = deque(maxlen=64)
        sent.append(self.clock())

    async def wait(self, channel: str, conversation: str) -> None:
        async with self.turn(channel, conversation):
            pass
