"""Flood control: 429 with retry_after, and statistics that prove the limits held."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.emulator.client import SimClient
from bot.emulator.flood import FloodControl, FloodWait
from bot.emulator.server import RunningEmulator, start_emulator
from tests.emulator.emulator_helpers import TOKEN, USER


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def flood_emu() -> AsyncIterator[tuple[RunningEmulator, FakeClock]]:
    clock = FakeClock()
    running = await start_emulator(flood=True, clock=clock)
    yield running, clock
    await running.stop()


async def test_private_chat_429_with_retry_after(
    flood_emu: tuple[RunningEmulator, FakeClock],
) -> None:
    emu, clock = flood_emu
    async with SimClient(emu.url) as sim, aiohttp.ClientSession() as http:
        await sim.create_user(USER, "Ann")
        url = f"{emu.url}/bot{TOKEN}/sendMessage"
        statuses = []
        for i in range(4):
            async with http.post(url, data={"chat_id": USER, "text": f"m{i}"}) as r:
                statuses.append(r.status)
                body = await r.json()
        assert statuses == [200, 200, 200, 429]
        assert body["description"] == "Too Many Requests: retry after 1"
        assert body["parameters"] == {"retry_after": 1}
        assert isinstance(body["parameters"]["retry_after"], int)
        # edits and callback answers do not count
        async with http.post(
            f"{emu.url}/bot{TOKEN}/editMessageText",
            data={"chat_id": USER, "message_id": 1, "text": "edited"},
        ) as r:
            assert r.status == 200
        clock.now += 1.0
        async with http.post(url, data={"chat_id": USER, "text": "later"}) as r:
            assert r.status == 200
        stats = await sim.stats()
        assert stats["rejected_429"] == 1 and stats["sent_total"] == 4
        assert stats["max_per_second_per_chat"] <= 3


def test_overall_limit_30_per_second() -> None:
    flood = FloodControl(enabled=True)
    now = 100.0
    for chat in range(30):
        flood.check(chat, "private", now)
        flood.record(chat, "private", now)
    with pytest.raises(FloodWait) as wait:
        flood.check(99, "private", now + 0.5)
    assert wait.value.retry_after == 1
    flood.check(99, "private", now + 1.01)
    assert flood.max_per_second_overall == 30


def test_group_limit_20_per_minute() -> None:
    flood = FloodControl(enabled=True)
    for i in range(20):
        flood.check(-5, "group", 10.0 + i)
        flood.record(-5, "group", 10.0 + i)
    with pytest.raises(FloodWait) as wait:
        flood.check(-5, "group", 40.0)
    assert wait.value.retry_after == 30
    flood.check(-5, "group", 70.01)
    assert flood.max_per_minute_per_group == 20


def test_disabled_flood_only_counts() -> None:
    flood = FloodControl(enabled=False)
    for _ in range(100):
        flood.check(1, "private", 5.0)
        flood.record(1, "private", 5.0)
    assert flood.max_per_second_per_chat == 100 and flood.rejected_429 == 0
