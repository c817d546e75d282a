"""Announcements through the emulator: a channel linked only when the bot is its administrator,
posted to once across a restart, reported once when the bot loses its rights; direct messages
to residents who asked, 403 -> unreachable, 429 retry_after obeyed, paid broadcast counted."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from bot.services.participation import announcements
from bot.store.models import User
from tests.e2e.consult_helpers import add_residents
from tests.reliability.rel_helpers import close_world, open_world
from tests.support.world import COMMITTEE, World

CHANNEL = -1009001
NAME = "xingfu_news"


async def _announce(world: World, text: str) -> int:
    assert world.app is not None
    async with world.app.domain.unit() as uow:
        a = await announcements.send(uow, COMMITTEE, text, None, ["xingfu-1", "xingfu-2"])
        return a.id


async def _link(world: World, expect: str) -> None:
    """The committee (who writes in Chinese) links the channel; `expect` starts the answer."""
    after = await world.last_id(COMMITTEE)
    await world.say(COMMITTEE, f"/channel @{NAME}")
    await world.wait_bot(COMMITTEE, expect, after=after, timeout=15)


async def _texts(world: World, chat: int, needle: str) -> list[str]:
    return [
        (m.get("text") or "") + (m.get("caption") or "")
        for m in await world.sim.bot_messages(chat)
        if needle in (m.get("text") or "") + (m.get("caption") or "")
    ]


async def test_linked_channel_gets_one_post_across_a_restart(tmp_path: Path) -> None:
    world = await open_world(tmp_path)
    try:
        await world.sim.create_channel(CHANNEL, "Xingfu news", username=NAME)
        await _link(world, "✅")
        residents = list(range(61001, 61004))
        await add_residents(world, residents, lambda i: "xingfu-1")
        await _announce(world, "Water off on Saturday")
        await world.restart_bot()  # the post may be queued or sent: never twice
        await world.settle(timeout=30)
        assert len(await _texts(world, CHANNEL, "Water off on Saturday")) == 1
        for r in residents:
            assert len(await _texts(world, r, "Water off on Saturday")) == 1
        after = await world.last_id(residents[0])
        await world.say(residents[0], "/mygrid")
        await world.wait_bot(residents[0], f"https://t.me/{NAME}", after=after)
    finally:
        await close_world(world)


async def test_a_channel_where_the_bot_is_not_admin_is_not_linked(tmp_path: Path) -> None:
    world = await open_world(tmp_path)
    try:
        await world.sim.create_channel(CHANNEL, "Xingfu news", username=NAME, bot_admin=False)
        await _link(world, "❌")
        await _announce(world, "Nobody in the channel")
        await world.settle(timeout=20)
        assert await world.sim.bot_messages(CHANNEL) == []
        sent = [
            c
            for c in await world.sim.calls("sendMessage")
            if c["params"]["chat_id"] == str(CHANNEL)
        ]
        assert sent == []
    finally:
        await close_world(world)


async def test_a_channel_that_refuses_posts_is_reported_once_not_retried(tmp_path: Path) -> None:
    world = await open_world(tmp_path)
    try:
        await world.sim.create_channel(CHANNEL, "Xingfu news", username=NAME)
        await _link(world, "✅")
        await world.sim.channel_admin(CHANNEL, admin=False)  # the bot loses its rights
        after = await world.last_id(COMMITTEE)
        await _announce(world, "First after demotion")
        await world.settle(timeout=20)
        await _announce(world, "Second after demotion")
        await world.settle(timeout=20)
        broken = [
            m
            for m in await world.sim.bot_messages(COMMITTEE, after=after)
            if (m.get("text") or "").startswith("⚠️")
        ]
        assert len(broken) == 1
        tries = [
            c
            for c in await world.sim.calls("sendMessage")
            if str(c["params"].get("chat_id")) == str(CHANNEL)
        ]
        assert len(tries) == 1 and tries[0]["status"] == 403
    finally:
        await close_world(world)


async def test_blocked_resident_marked_unreachable_others_served(tmp_path: Path) -> None:
    world = await open_world(tmp_path)
    try:
        residents = list(range(62001, 62006))
        await add_residents(world, residents, lambda i: "xingfu-1")
        await world.sim.block(residents[2])
        await _announce(world, "Boiler maintenance")
        await world.settle(timeout=30)
        assert world.app is not None
        async with world.app.domain.sessions() as session:
            gone = (await session.execute(select(User.id).where(User.unreachable))).scalars()
            assert list(gone) == [residents[2]]
        for r in residents:
            assert len(await _texts(world, r, "Boiler maintenance")) == (
                0 if r == residents[2] else 1
            )
    finally:
        await close_world(world)


async def test_429_retry_after_is_obeyed(tmp_path: Path) -> None:
    # Paced faster than Telegram allows: the emulator answers 429 and the sender waits.
    world = await open_world(tmp_path, flood=True, send_rate_global=80.0, send_concurrency=32)
    try:
        residents = list(range(63001, 63121))
        await add_residents(world, residents, lambda i: "xingfu-1")
        await _announce(world, "Lift inspection")
        await world.settle(timeout=60)
        calls = [
            c
            for c in await world.sim.calls("sendMessage")
            if "Lift inspection" in c["params"].get("text", "")
        ]
        refused = [c for c in calls if c["status"] == 429]
        assert refused, "the test needs the emulator to refuse some calls"
        per_chat = Counter(int(c["params"]["chat_id"]) for c in calls if c["status"] == 200)
        assert all(per_chat[r] == 1 for r in residents)
        for c in refused:
            chat = c["params"]["chat_id"]
            wait = int(c["error"].rsplit(" ", 1)[-1])
            later = [x for x in calls if x["params"]["chat_id"] == chat and x["time"] > c["time"]]
            assert later and min(x["time"] for x in later) >= c["time"] + wait - 0.05
    finally:
        await close_world(world)


async def test_paid_broadcast_lifts_the_limit_and_is_counted(tmp_path: Path) -> None:
    world = await open_world(
        tmp_path, flood=True, broadcast_paid=True, broadcast_paid_rate=300.0, send_concurrency=32
    )
    try:
        residents = list(range(64001, 64301))
        await add_residents(world, residents, lambda i: "xingfu-1")
        await _announce(world, "Paid notice")
        await world.settle(timeout=30)
        # settled means nothing due is left unsent; on a slow host the courier's first batch
        # can still be on its way (claimed, not yet called): wait for the calls themselves
        deadline = asyncio.get_running_loop().time() + 30
        stats = await world.sim.stats()
        while stats["paid_total"] < 300 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
            stats = await world.sim.stats()
        assert stats["paid_total"] == 300 and stats["rejected_429"] == 0
        assert stats["max_paid_per_second"] > 30  # beyond the free bulk limit
        calls = [c for c in await world.sim.calls("sendMessage") if c["status"] == 200]
        paid = [c for c in calls if "Paid notice" in c["params"].get("text", "")]
        assert len(paid) == 300
        assert all(str(c["params"].get("allow_paid_broadcast")).lower() == "true" for c in paid)
    finally:
        await close_world(world)
