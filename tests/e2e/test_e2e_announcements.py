"""Announcements to 1,000 residents within Telegram's flood limits, each received exactly once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from bot.emulator.client import SimClient
from bot.emulator.server import start_emulator
from tests.e2e.consult_helpers import GRIDS, add_residents, press_data
from tests.support.world import COMMITTEE, SPEC_PATH, World, database_url

IDS = list(range(40001, 41001))


async def test_announcement_to_1000_residents_respects_flood_limits(tmp_path: Path) -> None:
    emu = await start_emulator(flood=True, spec_path=str(SPEC_PATH) if SPEC_PATH.exists() else None)
    sim = SimClient(emu.url)
    world = World(emu, sim, database_url(tmp_path), tmp_path)
    world.settings_overrides = {
        "send_rate_global": 25.0,
        "send_rate_private": 1.0,
        "send_burst_private": 2,  # the default: one short of the emulator's burst of 3
        "send_rate_group": 20 / 60,
    }
    try:
        await world.setup()
        await add_residents(world, IDS, lambda i: GRIDS[(i - 40001) % 4])
        muted = IDS[0]
        after = await world.last_id(muted)
        await world.say(muted, "/mute")
        await world.wait_bot(muted, "muted", after=after)
        after = await world.last_id(COMMITTEE)
        await world.say(COMMITTEE, "/announce")
        asked = await world.wait_bot(COMMITTEE, after=after)
        await world.say(COMMITTEE, "Water will be off on Saturday 9:00-12:00.")
        grids = await world.wait_bot(COMMITTEE, after=asked["message_id"], buttons=True)
        await press_data(world, COMMITTEE, grids, "k:aall")
        grids = await world.wait_bot(COMMITTEE, after=grids["message_id"], buttons=True)
        started = time.monotonic()
        await press_data(world, COMMITTEE, grids, "k:asend")
        await world.wait_bot(COMMITTEE, "999", after=grids["message_id"])
        await world.settle(timeout=90)
        elapsed = time.monotonic() - started
        calls = [c for c in await sim.calls("sendMessage") if c["status"] == 200]
        per_chat = Counter(
            int(c["params"]["chat_id"])
            for c in calls
            if "Water will be off" in c["params"].get("text", "")
        )
        assert muted not in per_chat
        assert all(per_chat[i] == 1 for i in IDS[1:]), [i for i in IDS[1:] if per_chat[i] != 1][:5]
        stats = await sim.stats()
        print(f"999 announcements in {elapsed:.1f}s = {999 / elapsed:.1f}/s; stats {stats}")
        assert stats["max_per_second_overall"] <= 30
        assert stats["rejected_429"] == 0
        assert stats["max_per_second_per_chat"] <= 3
        await asyncio.sleep(0)
    finally:
        await world.close()
        await sim.close()
        await emu.stop()
