"""Channels (the bot posts only as an administrator that may post; getChatMember and
getChatAdministrators say so) and paid broadcast (`allow_paid_broadcast` lifts the bulk limit
to 1,000/s and is counted), checked against the official parameter list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.emulator.client import SimClient
from bot.emulator.server import RunningEmulator, start_emulator
from tests.emulator.emulator_helpers import SPEC_PATH, TOKEN, USER

CHANNEL = -1005001
BOT_ID = int(TOKEN.split(":")[0])


@pytest.fixture
async def emu() -> AsyncIterator[RunningEmulator]:
    spec = str(SPEC_PATH) if SPEC_PATH.exists() else None
    # time stands still: every call falls in the same second, however slow the machine
    running = await start_emulator(flood=True, spec_path=spec, clock=lambda: 1_800_000_000.0)
    yield running
    await running.stop()


async def _call(emu: RunningEmulator, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{emu.url}/bot{TOKEN}/{method}", json=params) as r:
            return r.status, await r.json()


async def test_the_bot_posts_to_a_channel_it_administers_and_the_post_is_visible(
    emu: RunningEmulator,
) -> None:
    async with SimClient(emu.url) as sim:
        await _call(emu, "getMe")  # the bot's id comes from its token
        await sim.create_channel(CHANNEL, "News", username="gv_news")
        status, body = await _call(emu, "getChatMember", chat_id="@gv_news", user_id=BOT_ID)
        assert status == 200
        assert body["result"]["status"] == "administrator"
        assert body["result"]["can_post_messages"] is True
        status, body = await _call(emu, "getChatAdministrators", chat_id=CHANNEL)
        assert status == 200 and [m["user"]["id"] for m in body["result"]] == [BOT_ID]
        status, _ = await _call(emu, "sendMessage", chat_id=CHANNEL, text="Water off")
        assert status == 200
        posts = await sim.bot_messages(CHANNEL)
        assert [p["text"] for p in posts] == ["Water off"]


@pytest.mark.parametrize("admin, can_post, code", [(False, True, 403), (True, False, 400)])
async def test_a_channel_refuses_a_bot_that_may_not_post(
    emu: RunningEmulator, admin: bool, can_post: bool, code: int
) -> None:
    async with SimClient(emu.url) as sim:
        await _call(emu, "getMe")
        await sim.create_channel(CHANNEL, "News")
        await sim.channel_admin(CHANNEL, admin=admin, can_post_messages=can_post)
        status, body = await _call(emu, "sendMessage", chat_id=CHANNEL, text="x")
        assert status == code and body["ok"] is False
        assert await sim.bot_messages(CHANNEL) == []
        status, body = await _call(emu, "getChatMember", chat_id=CHANNEL, user_id=BOT_ID)
        if admin:
            assert body["result"]["can_post_messages"] is False
        else:
            assert status == 403


async def test_paid_broadcast_lifts_the_bulk_limit_and_is_counted(emu: RunningEmulator) -> None:
    async with SimClient(emu.url) as sim:
        await sim.create_users(USER, 80)
        free = [
            (await _call(emu, "sendMessage", chat_id=USER + i, text="free"))[0] for i in range(40)
        ]
        assert free.count(200) == 30 and free.count(429) == 10  # the bulk limit, one second
        paid = [
            (
                await _call(
                    emu, "sendMessage", chat_id=USER + i, text="paid", allow_paid_broadcast=True
                )
            )[0]
            for i in range(40, 80)
        ]
        assert paid == [200] * 40
        stats = await sim.stats()
        assert stats["paid_total"] == 40 and stats["max_paid_per_second"] == 40
        assert stats["limits"]["paid_per_second"] == 1000
        counts = await sim.bot_counts()
        assert sum(counts.values()) == 70 and set(counts.values()) == {1}
