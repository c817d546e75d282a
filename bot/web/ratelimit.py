"""Rate limits of the web edge: a token bucket per client address (every web route) and one
per API key (Open311 POST). Over the limit: 429 with Retry-After.

The buckets live in this process (per replica, so N replicas allow N times the rate) and
their number is bounded: past `max_keys` the least recently seen bucket is dropped, which at
worst hands an idle client a fresh bucket. A client is `forwarded.client_key` of the request's
address — the client's own behind a trusted proxy (bot/web/forwarded.py), an IPv6 address by
its /64. The webhook and /healthz are not limited: Telegram's bursts after an outage must get
in, and a health check costs one cached answer.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.web.forwarded import client_key

EXEMPT_ROUTES = frozenset({"webhook", "healthz"})


class TokenBuckets:
    """`rate` tokens a second up to `burst`, per key; memory bounded by `max_keys`."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = float(max(1, burst))
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Spend one token: 0.0 when allowed, else the seconds until one is available."""
        now = self.clock()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            wait = 0.0
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate if self.rate > 0 else 60.0
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


def retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


Refusal = Callable[[web.Request, float], web.StreamResponse]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def ip_rate_limit(
    buckets: TokenBuckets, refuse: Refusal
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Middleware: one bucket per client address; `refuse` answers in the route's own format."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route
        if route.name in EXEMPT_ROUTES:
            return await handler(request)
        wait = buckets.take(client_key(request.remote))
        if wait > 0:
            return refuse(request, wait)
        return await handler(request)

    return middleware
