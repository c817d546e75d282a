"""Token buckets that keep the sender within Telegram's limits."""

from __future__ import annotations

import asyncio
import time
from collections import deque

PAID_SHARE = 0.98  # of the configured paid rate the paid bucket lets through
PRUNE_AT = 10_000  # chats' buckets kept before the full ones are forgotten


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up.

    Kept as the time the next token is due (GCRA): each caller reserves its own slot and sleeps
    once until it, so a hundred lanes waiting on the bucket cost a hundred wake-ups, not a
    hundred each per token. Full (as good as new) once `due` has passed."""

    __slots__ = ("rate", "burst", "interval", "tolerance", "due", "blocked_until")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.interval = 1.0 / rate
        self.tolerance = (self.burst - 1.0) * self.interval  # how far ahead a burst may run
        self.due = time.monotonic() - self.tolerance  # when the next token is "theoretically" due
        self.blocked_until = 0.0

    def delay(self) -> float:
        """Seconds to wait before a token is available (0 if one is)."""
        now = time.monotonic()
        return max(0.0, self.blocked_until - now, self.due - self.tolerance - now)

    def reserve(self) -> float:
        """Take the next token; the seconds until it may be used (0: now)."""
        now = time.monotonic()
        at = max(now, self.due - self.tolerance)
        self.due = max(self.due, at) + self.interval
        return at - now

    def take(self) -> None:
        self.reserve()

    def block(self, seconds: float) -> None:
        """Nothing before `seconds` from now, and no saved-up burst after."""
        self.blocked_until = max(self.blocked_until, time.monotonic() + seconds)
        self.due = max(self.due, self.blocked_until + self.tolerance)

    async def acquire(self) -> None:
        while True:
            before = self.due
            wait = self.reserve()
            if wait > 0:
                await asyncio.sleep(wait)
            now = time.monotonic()
            if self.blocked_until <= now:
                # The server counts the call when it arrives: a caller that woke late (a
                # stall of the event loop) is counted from now, so the next slots move with it.
                self.due = max(self.due, max(before, now) + self.interval)
                return
            # a 429 arrived while this caller waited: its slot is void, take one after the block


class SlidingWindow:
    """At most `limit` calls in any sliding `span` seconds, as the server counts them.

    The server stamps a call somewhere between when it left and when its answer came back, so
    a call holds its place from the moment it is let through until `span` seconds after its
    answer (`done`). Then no server-side second can see more than `limit`, however the calls
    bunch on the way: when the event loop stalls (a claim, a garbage collection), the calls
    whose bucket slots fell in the stall leave together, and a count of departures alone would
    let the next second's calls come on top of them (a 429 at the limit)."""

    def __init__(self, limit: int, span: float = 1.0) -> None:
        self.limit = max(1, limit)
        self.span = span
        self.in_flight = 0
        self.answered: deque[float] = deque()

    async def acquire(self) -> None:
        answered = self.answered
        while True:
            now = time.monotonic()
            while answered and answered[0] + self.span <= now:
                answered.popleft()
            if self.in_flight + len(answered) < self.limit:
                self.in_flight += 1
                return
            await asyncio.sleep(answered[0] + self.span - now if answered else 0.01)

    def done(self) -> None:
        """A call let through has its answer (or failed)."""
        self.in_flight -= 1
        self.answered.append(time.monotonic())


class Pacer:
    """One bucket for the whole bot and one per chat (private and group rates differ); paid
    broadcast messages (`allow_paid_broadcast`) have their own, faster bucket instead of the
    bot's (Telegram: up to 1,000 a second, charged)."""

    def __init__(
        self,
        global_rate: float,
        private_rate: float,
        private_burst: int,
        group_rate: float,
        paid_rate: float = 1000.0,
    ) -> None:
        # A bucket lets `burst + rate` through in any one second; Telegram (and the emulator)
        # count a sliding second, so keep the saved-up burst small: 25/s + 2 stays under 30
        # with room for requests that leave on time and arrive bunched.
        self.global_bucket = TokenBucket(global_rate, max(1.0, global_rate * 0.08))
        # and, as for paid calls below, no server-side second sees more than the rate, however
        # a stall of the event loop bunches the calls whose slots fell in it
        self.global_window = SlidingWindow(max(1, int(global_rate)))
        self.private_rate = private_rate
        self.private_burst = private_burst
        self.group_rate = group_rate
        self.chats: dict[int, TokenBucket] = {}
        self._prune_at = PRUNE_AT
        # The paid limit is the configured rate itself (Telegram: 1,000 in any sliding second),
        # so its bucket keeps `rate + burst` a little under it: 98 % plus a burst of 0.5 %, room
        # for calls that leave on time and arrive bunched. A 429 there holds every paid message
        # for a whole second (`retry_after` is at least 1), far more than the 2 % it saves.
        self.paid_bucket = TokenBucket(paid_rate * PAID_SHARE, max(1.0, paid_rate * 0.005))
        self.paid_window = SlidingWindow(int(paid_rate * 0.99))

    def chat(self, chat_id: int) -> TokenBucket:
        bucket = self.chats.get(chat_id)
        if bucket is None:
            if chat_id > 0:
                bucket = TokenBucket(self.private_rate, self.private_burst)
            else:
                bucket = TokenBucket(self.group_rate, 3)
            if len(self.chats) >= self._prune_at:
                self._prune()
            self.chats[chat_id] = bucket
        return bucket

    def _prune(self) -> None:
        """Forget the chats whose bucket is full again (as good as a new one): a broadcast
        touches each recipient once, and a million buckets would stay in memory."""
        now = time.monotonic()
        self.chats = {
            chat: b for chat, b in self.chats.items() if b.due > now or b.blocked_until > now
        }
        self._prune_at = max(PRUNE_AT, 2 * len(self.chats))

    def shared(self, paid: bool = False) -> TokenBucket:
        return self.paid_bucket if paid else self.global_bucket

    async def acquire(self, chat_id: int, paid: bool = False) -> None:
        await self.chat(chat_id).acquire()
        await self.shared(paid).acquire()
        # the call must then tell `sent` when its answer is back
        await (self.paid_window if paid else self.global_window).acquire()

    def sent(self, paid: bool) -> None:
        """A call let through by `acquire` has its answer (or failed)."""
        (self.paid_window if paid else self.global_window).done()

    def block(
        self, chat_id: int, seconds: float, broadcast: bool = False, paid: bool = False
    ) -> None:
        """Obey a 429: the chat waits; a broadcast's 429 (one message per chat, so the limit
        hit is the bot's) holds every message of its bucket."""
        self.chat(chat_id).block(seconds)
        if broadcast:
            self.shared(paid).block(seconds)
