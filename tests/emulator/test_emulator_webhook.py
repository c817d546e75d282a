"""Webhook delivery: secret header, retries, round-robin over several replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.emulator.client import SimClient
from tests.emulator.emulator_helpers import USER, ApiCaller


class Receiver:
    """A tiny webhook endpoint that records what it gets; can be told to fail."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], str | None]] = []
        self.fail = 0
        self.url = ""
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if self.fail > 0:
            self.fail -= 1
            return web.Response(status=500)
        body = await request.json()
        self.received.append((body, request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"


@pytest.fixture
async def receivers() -> AsyncIterator[list[Receiver]]:
    made = [Receiver() for _ in range(3)]
    for r in made:
        await r.start()
    yield made
    for r in made:
        assert r.runner is not None
        await r.runner.cleanup()


async def _until(cond: Any, limit: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not cond():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_delivery_with_secret_header(
    api: ApiCaller, sim: SimClient, receivers: list[Receiver]
) -> None:
    hook = receivers[0]
    status, _ = await api("setWebhook", url=hook.url, secret_token="s3cret")
    assert status == 200
    sent = await sim.send_text(USER, "hello")
    await _until(lambda: len(hook.received) == 1)
    update, secret = hook.received[0]
    assert secret == "s3cret"
    assert update["update_id"] == sent["update_id"] and update["message"]["text"] == "hello"
    assert await sim.pending_updates() == 0
    _, info = await api("getWebhookInfo")
    assert info["result"]["url"] == hook.url and info["result"]["pending_update_count"] == 0


async def test_failed_delivery_is_retried(
    api: ApiCaller, sim: SimClient, receivers: list[Receiver]
) -> None:
    hook = receivers[0]
    hook.fail = 2
    await api("setWebhook", url=hook.url)
    await sim.send_text(USER, "retry me")
    await _until(lambda: len(hook.received) == 1)
    _, info = await api("getWebhookInfo")
    assert "last_error_message" in info["result"]


async def test_round_robin_over_replicas(
    api: ApiCaller, sim: SimClient, receivers: list[Receiver]
) -> None:
    await api("setWebhook", url="http://lb.invalid/hook", secret_token="t")
    await sim.set_webhook_targets([r.url for r in receivers])
    ids = [(await sim.send_text(USER, f"m{i}"))["update_id"] for i in range(9)]
    await _until(lambda: sum(len(r.received) for r in receivers) == 9)
    got = sorted(u["update_id"] for r in receivers for u, _ in r.received)
    assert got == ids  # each update delivered exactly once
    assert all(len(r.received) >= 2 for r in receivers)
    assert all(secret == "t" for r in receivers for _, secret in r.received)


async def test_failure_moves_to_next_replica(
    api: ApiCaller, sim: SimClient, receivers: list[Receiver]
) -> None:
    down, up = receivers[0], receivers[1]
    down.fail = 10**6
    await api("setWebhook", url=down.url, max_connections=1)
    await sim.set_webhook_targets([down.url, up.url])
    await sim.send_text(USER, "x")
    await _until(lambda: len(up.received) == 1)
    assert down.received == []
