"""Rate limits: a bucket per address on every web route, one per API key on Open311 POST."""

from __future__ import annotations

import aiohttp
import pytest

from bot.web.ratelimit import TokenBuckets
from tests.web.open311_helpers import V2, issue_key


def test_a_bucket_refills_at_its_rate_and_says_how_long_to_wait() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0  # another client has its own bucket
    now[0] += 0.5
    assert buckets.take("a") == 0.0


def test_memory_is_bounded_however_many_clients_come() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_keys=100)
    for n in range(10_000):
        buckets.take(f"10.0.{n // 256}.{n % 256}")
    assert len(buckets) == 100


@pytest.mark.db
async def test_over_the_limit_answers_429_with_retry_after(web_world) -> None:
    w = web_world
    w.settings_overrides = {
        "web_burst_per_ip": 5,
        "web_rate_per_ip": 0.01,
        "open311_burst_per_key": 2,
    }
    await w.restart_bot()
    base = w.app.web_url
    async with aiohttp.ClientSession() as http:
        statuses = []
        for _ in range(6):
            async with http.get(base + f"{V2}/services.json") as r:
                statuses.append(r.status)
                if r.status == 429:
                    assert int(r.headers["Retry-After"]) >= 1
                    body = await r.json()
                    assert body[0]["code"] == 429
        assert statuses == [200] * 5 + [429]
        async with http.get(base + "/", headers={"Accept-Language": "en"}) as r:
            assert r.status == 429 and "Too many requests" in await r.text()
        async with http.get(base + "/healthz") as r:
            assert r.status == 200  # health checks and the webhook are never limited

    w.settings_overrides = {"open311_burst_per_key": 2, "open311_posts_per_key_per_minute": 1}
    await w.restart_bot()
    base = w.app.web_url
    key = await issue_key(w)
    form = {"api_key": key, "service_code": "facilities", "lat": "39.9105", "long": "116.4008"}
    async with aiohttp.ClientSession() as http:
        statuses = []
        for _ in range(3):
            async with http.post(base + f"{V2}/requests.xml", data=form) as r:
                statuses.append(r.status)
                if r.status == 429:
                    assert "Retry-After" in r.headers and "<errors>" in await r.text()
        assert statuses == [200, 200, 429]
