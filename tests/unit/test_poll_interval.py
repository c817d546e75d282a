"""Long polling under load: updates that come close together are fetched and handled as one
batch (one getUpdates, one transaction), while a quiet bot still answers the first update at
once, and a stop is not held up by the pause."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from bot.config import Settings, poll_interval
from bot.runtime.intake import LIMIT, Poller
from bot.runtime.metrics import Metrics


class Telegram:
    """getUpdates as Telegram answers it: everything waiting, or the first to come."""

    def __init__(self) -> None:
        self.waiting: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.calls = 0
        self.next_id = 1

    def send(self, count: int = 1) -> None:
        for _ in range(count):
            self.waiting.append({"update_id": self.next_id, "message": {"text": "hi"}})
            self.next_id += 1
        self.arrived.set()

    async def call(self, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        assert method == "getUpdates"
        self.calls += 1
        offset = params.get("offset") or 0
        self.waiting = [u for u in self.waiting if u["update_id"] >= offset]
        if not self.waiting:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), params["timeout"])
            except TimeoutError:
                return []
        batch, self.waiting = self.waiting[:LIMIT], self.waiting[LIMIT:]
        return batch

    async def close(self) -> None:
        pass


def poller(interval: float) -> tuple[Poller, Telegram, list[tuple[float, list[int]]]]:
    settings = Settings(token="1:T", poll_timeout=5, poll_interval=interval)
    domain = SimpleNamespace(settings=settings)
    bot = SimpleNamespace(base_url="http://127.0.0.1:9/bot1:T")
    batches: list[tuple[float, list[int]]] = []

    async def take_in(payloads: list[dict[str, Any]]) -> int:
        batches.append((asyncio.get_running_loop().time(), [u["update_id"] for u in payloads]))
        return len(payloads)

    polling = Poller(domain, bot, Metrics(), take_in=take_in)  # type: ignore[arg-type]
    telegram = Telegram()
    polling.api = telegram  # type: ignore[assignment]
    return polling, telegram, batches


async def _until(condition: Any, seconds: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.002)


async def test_updates_close_together_come_as_one_batch_and_a_quiet_bot_answers_at_once() -> None:
    polling, telegram, batches = poller(0.2)
    task = asyncio.create_task(polling.run())
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0.05)  # the long poll is waiting
    sent = loop.time()
    telegram.send()
    await _until(lambda: len(batches) == 1)
    assert batches[0][1] == [1] and batches[0][0] - sent < 0.1  # not held for the interval
    for _ in range(3):  # three more, 20 ms apart, within the interval
        await asyncio.sleep(0.02)
        telegram.send()
    await _until(lambda: len(batches) == 2)
    assert batches[1][1] == [2, 3, 4]  # one call, one batch
    # asked again 0.2 s after the first poll was asked (50 ms before its update came)
    assert batches[1][0] - batches[0][0] >= 0.14
    assert telegram.calls == 2

    await asyncio.sleep(0.5)  # quiet again: the poll waits past the interval
    sent = loop.time()
    telegram.send()
    await _until(lambda: len(batches) == 3)
    assert batches[2][1] == [5] and batches[2][0] - sent < 0.1

    telegram.send(LIMIT + 5)  # a full batch: the rest is asked for at once
    await _until(lambda: len(batches) == 5)
    assert [len(ids) for _, ids in batches[3:]] == [LIMIT, 5]
    assert batches[4][0] - batches[3][0] < 0.1

    telegram.send()
    await _until(lambda: len(batches) == 6)
    stopping = loop.time()
    polling.stop()  # during the pause after that batch
    await asyncio.wait_for(task, 1.0)
    assert loop.time() - stopping < 0.1


async def test_with_no_interval_each_update_is_asked_for_as_soon_as_the_last_is_handled() -> None:
    polling, telegram, batches = poller(0.0)
    task = asyncio.create_task(polling.run())
    for _ in range(3):
        telegram.send()
        await _until(lambda: not telegram.waiting)
        await asyncio.sleep(0.02)
    await _until(lambda: len(batches) == 3)
    assert [ids for _, ids in batches] == [[1], [2], [3]]
    polling.stop()
    telegram.arrived.set()
    await asyncio.wait_for(task, 1.0)


def test_the_interval_is_read_from_the_environment_and_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().poll_interval == 0.1
    monkeypatch.setenv("GRIDVOICE_POLL_INTERVAL", "0")
    assert Settings.from_env().poll_interval == 0.0
    monkeypatch.setenv("GRIDVOICE_POLL_INTERVAL", "0.25")
    assert Settings.from_env().poll_interval == 0.25
    for bad in ("-0.1", "2", "nan", "soon"):
        with pytest.raises(ValueError, match="0 to 1 seconds"):
            poll_interval(bad)
