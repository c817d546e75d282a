"""Flood control like Telegram's, plus send-rate statistics.

Limits (only when the emulator runs with ``flood=True``):

* overall: at most 30 sending calls in any sliding 1-second window per bot;
* private chat: a token bucket refilled at 1 message/s with a burst of 3;
* group/supergroup: at most 20 messages in any sliding 60-second window;
* paid broadcast (``allow_paid_broadcast``): such messages count against their own limit of
  1,000 in any sliding second instead of the overall 30, and are counted (``paid_total``).

A rejected call answers 429 ``Too Many Requests: retry after N`` with
``parameters.retry_after = N`` (integer seconds, at least 1).
Statistics are kept whether or not flood control is on.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

OVERALL_PER_SECOND = 30
PRIVATE_RATE = 1.0
PRIVATE_BURST = 3
GROUP_PER_MINUTE = 20
PAID_PER_SECOND = 1000

SENDING_METHODS = {
    "sendmessage",
    "sendphoto",
    "sendmediagroup",
    "sendlocation",
    "sendpoll",
    "senddocument",
    "copymessage",
}


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class FloodControl:
    """Per-bot, per-chat limits and observed-rate statistics."""

    enabled: bool = False
    sent_total: int = 0
    rejected_429: int = 0
    max_per_second_overall: int = 0
    max_per_second_per_chat: int = 0
    max_per_minute_per_group: int = 0
    paid_total: int = 0
    max_paid_per_second: int = 0
    _overall: deque[float] = field(default_factory=deque)
    _paid: deque[float] = field(default_factory=deque)
    _chat_second: dict[int, deque[float]] = field(default_factory=dict)
    _group_minute: dict[int, deque[float]] = field(default_factory=dict)
    _buckets: dict[int, _Bucket] = field(default_factory=dict)

    def reset(self) -> None:
        enabled = self.enabled
        self.__init__(enabled=enabled)  # type: ignore[misc]

    @staticmethod
    def _trim(window: deque[float], now: float, span: float) -> None:
        while window and window[0] <= now - span:
            window.popleft()

    def check(
        self, chat_id: int, chat_type: str, now: float, count: int = 1, paid: bool = False
    ) -> None:
        """Raise ``FloodWait`` (via its retry value) when sending ``count`` now is too fast."""
        if not self.enabled:
            return
        window, limit = (
            (self._paid, PAID_PER_SECOND) if paid else (self._overall, OVERALL_PER_SECOND)
        )
        self._trim(window, now, 1.0)
        if len(window) + count > limit:
            oldest = window[0] if window else now
            raise FloodWait(_retry(oldest + 1.0 - now))
        if chat_type == "private":
            bucket = self._buckets.get(chat_id) or _Bucket(float(PRIVATE_BURST), now)
            bucket.tokens = min(PRIVATE_BURST, bucket.tokens + (now - bucket.stamp) * PRIVATE_RATE)
            bucket.stamp = now
            self._buckets[chat_id] = bucket
            if bucket.tokens < count:
                raise FloodWait(_retry((count - bucket.tokens) / PRIVATE_RATE))
            bucket.tokens -= count
        else:
            window = self._group_minute.setdefault(chat_id, deque())
            self._trim(window, now, 60.0)
            if len(window) + count > GROUP_PER_MINUTE:
                oldest = window[0] if window else now
                raise FloodWait(_retry(oldest + 60.0 - now))

    def record(
        self, chat_id: int, chat_type: str, now: float, count: int = 1, paid: bool = False
    ) -> None:
        """Count ``count`` messages sent to ``chat_id`` now."""
        self.sent_total += count
        if paid:
            self.paid_total += count
            self._paid.extend([now] * count)
            self._trim(self._paid, now, 1.0)
            self.max_paid_per_second = max(self.max_paid_per_second, len(self._paid))
        else:
            self._overall.extend([now] * count)
            self._trim(self._overall, now, 1.0)
            self.max_per_second_overall = max(self.max_per_second_overall, len(self._overall))
        second = self._chat_second.setdefault(chat_id, deque())
        second.extend([now] * count)
        self._trim(second, now, 1.0)
        self.max_per_second_per_chat = max(self.max_per_second_per_chat, len(second))
        if chat_type != "private":
            minute = self._group_minute.setdefault(chat_id, deque())
            minute.extend([now] * count)
            self._trim(minute, now, 60.0)
            self.max_per_minute_per_group = max(self.max_per_minute_per_group, len(minute))

    def stats(self) -> dict[str, object]:
        return {
            "flood_control": self.enabled,
            "sent_total": self.sent_total,
            "rejected_429": self.rejected_429,
            "max_per_second_overall": self.max_per_second_overall,
            "max_per_second_per_chat": self.max_per_second_per_chat,
            "max_per_minute_per_group": self.max_per_minute_per_group,
            "paid_total": self.paid_total,
            "max_paid_per_second": self.max_paid_per_second,
            "limits": {
                "paid_per_second": PAID_PER_SECOND,
                "overall_per_second": OVERALL_PER_SECOND,
                "private_rate_per_second": PRIVATE_RATE,
                "private_burst": PRIVATE_BURST,
                "group_per_minute": GROUP_PER_MINUTE,
            },
        }


class FloodWait(Exception):
    """Raised by :meth:`FloodControl.check`; ``retry_after`` is in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def _retry(seconds: float) -> int:
    return max(1, math.ceil(seconds))
