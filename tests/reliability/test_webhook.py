"""Webhook mode: the secret is checked, and two replicas behind round-robin lose and double nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bot.runtime.app import Gridvoice
from bot.store.models import Case
from tests.reliability.rel_helpers import close_world, confirmations, file_report, open_world
from tests.support.world import MEMBER_1, MEMBER_2, World

SECRET = "s3cret-token"


async def start_replica(world: World) -> Gridvoice:
    settings = world.settings.with_(
        webhook_url="https://bot.example.org/tg/hook", webhook_secret=SECRET
    )
    gv = Gridvoice(settings, clock=world.clock)
    await gv.start(migrate=False, serve_http=True)
    assert gv.webhook and gv.poller is None and gv.web_url
    return gv


async def test_webhook_rejects_a_wrong_secret_and_stores_a_right_one(tmp_path: Path) -> None:
    world = await open_world(tmp_path, start=False)
    gv = await start_replica(world)
    try:
        url = f"{gv.web_url}/tg/hook"
        update = {
            "update_id": 900001,
            "message": {
                "message_id": 1,
                "date": 0,
                "text": "hi",
                "chat": {"id": 5, "type": "private"},
                "from": {"id": 5, "is_bot": False, "first_name": "A"},
            },
        }
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, json=update, headers=headers) as resp:
                    assert resp.status == 403
            async with http.post(
                url, data=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            ) as r:
                assert r.status == 400
            async with http.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            ) as resp:
                assert resp.status == 200
        from bot.store.models import InboxUpdate

        async with gv.domain.sessions() as session:
            assert await session.get(InboxUpdate, 900001) is not None
    finally:
        await gv.stop()
        await close_world(world)


async def test_two_replicas_round_robin_30_residents(tmp_path: Path) -> None:
    world = await open_world(tmp_path, start=False)
    replicas = [await start_replica(world), await start_replica(world)]
    world.app = replicas[0]  # for settle()
    try:
        await world.sim.set_webhook_targets(
            [f"{gv.web_url}/tg/hook" for gv in replicas], secret_token=SECRET
        )
        residents = list(range(80001, 80031))
        await asyncio.gather(*(world.resident(r) for r in residents))
        results = await asyncio.gather(
            *(
                file_report(world, r, f"Water leaking from the ceiling in the stairwell, flat {r}")
                for r in residents
            )
        )
        await world.settle(timeout=30)
        case_ids = [c for c, _ in results]
        assert len(set(case_ids)) == 30
        async with replicas[0].domain.sessions() as session:
            assert (
                await session.execute(select(func.count()).select_from(Case))
            ).scalar_one() == 30
        for r, (case_id, _) in zip(residents, results, strict=True):
            assert await confirmations(world, r, case_id) == 1, r
        cards: list[str] = []
        for member in (MEMBER_1, MEMBER_2):
            for m in await world.sim.bot_messages(member):
                cards += [c for c in case_ids if c in (m.get("text") or "")]
        assert sorted(cards) == sorted(case_ids)  # every card once
        handled = [gv.metrics.counters["gridvoice_updates_received_total"] for gv in replicas]
        assert min(handled) > 0, handled  # both replicas took deliveries
    finally:
        for gv in replicas:
            await gv.stop()
        world.app = None
        await close_world(world)
