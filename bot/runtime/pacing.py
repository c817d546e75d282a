"""Token buckets that keep the sender within Telegram's limits."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.tokens = self.burst
        self.stamp = time.monotonic()
        self.blocked_until = 0.0

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def delay(self) -> float:
        """Seconds to wait before a token is available (0 if one is)."""
        now = time.monotonic()
        self._refill(now)
        wait = max(0.0, self.blocked_until - now)
        if self.tokens >= 1:
            return wait
        return max(wait, (1 - self.tokens) / self.rate)

    def take(self) -> None:
        self._refill(time.monotonic())
        self.tokens -= 1

    def block(self, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, time.monotonic() + seconds)
        self.tokens = min(self.tokens, 0)

    async def acquire(self) -> None:
        while True:
            wait = self.delay()
            if wait <= 0:
                self.take()
                return
            await asyncio.sleep(wait)


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
        self.private_rate = private_rate
        self.private_burst = private_burst
        self.group_rate = group_rate
        self.chats: dict[int, TokenBucket] = {}
        self.paid_bucket = TokenBucket(paid_rate, max(1.0, paid_rate * 0.02))

    def chat(self, chat_id: int) -> TokenBucket:
        bucket = self.chats.get(chat_id)
        if bucket is None:
            if chat_id > 0:
                bucket = TokenBucket(self.private_rate, self.private_burst)
            else:
                bucket = TokenBucket(self.group_rate, 3)
            if len(self.chats) > 100_000:
                self.chats.clear()
            self.chats[chat_id] = bucket
        return bucket

    def shared(self, paid: bool = False) -> TokenBucket:
        return self.paid_bucket if paid else self.global_bucket

    async def acquire(self, chat_id: int, paid: bool = False) -> None:
        await self.chat(chat_id).acquire()
        await self.shared(paid).acquire()

    def block(
        self, chat_id: int, seconds: float, broadcast: bool = False, paid: bool = False
    ) -> None:
        """Obey a 429: the chat waits; a broadcast's 429 (one message per chat, so the limit
        hit is the bot's) holds every message of its bucket."""
        self.chat(chat_id).block(seconds)
        if broadcast:
            self.shared(paid).block(seconds)
