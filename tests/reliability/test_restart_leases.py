"""After a SIGKILL, a single-process SQLite bot sends what it had claimed at once on restart,
not when the lease runs out."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.clock import wall_now
from bot.store.db import create_engine, is_sqlite, session_factory
from bot.store.models import InboxUpdate, OutboxMessage
from tests.reliability.rel_helpers import close_world, open_world

RESIDENT = 98001


async def test_restart_takes_back_its_own_leases_on_sqlite(tmp_path: Path) -> None:
    world = await open_world(tmp_path)
    try:
        if not is_sqlite(world.db_url):
            pytest.skip("replicas on PostgreSQL keep each other's leases")
        await world.resident(RESIDENT)
        await world.settle()
        await world.stop_bot()
        # What a SIGKILL leaves behind: a reply claimed mid-call, an update claimed mid-handling.
        assert world.app is None

        engine = create_engine(world.db_url)
        sessions = session_factory(engine)
        held = wall_now() + timedelta(seconds=60)
        async with sessions() as session, session.begin():
            session.add(
                OutboxMessage(
                    created_at=wall_now(),
                    chat_id=RESIDENT,
                    method="sendMessage",
                    payload={"chat_id": RESIDENT, "text": "the reply that was in flight"},
                    status="sending",
                    attempts=0,
                    next_attempt_at=wall_now(),
                    locked_until=held,
                )
            )
        await engine.dispose()
        after = await world.last_id(RESIDENT)
        await world.say(RESIDENT, "/help")
        started = asyncio.get_running_loop().time()
        await world.start_bot()
        await world.wait_bot(RESIDENT, "the reply that was in flight", after=after, timeout=5)
        await world.wait_bot(RESIDENT, "/", after=after, timeout=5)
        assert asyncio.get_running_loop().time() - started < 2.0
    finally:
        await close_world(world)


async def test_an_update_held_by_a_dead_process_is_handled_at_restart(tmp_path: Path) -> None:
    world = await open_world(tmp_path)
    try:
        if not is_sqlite(world.db_url):
            pytest.skip("replicas on PostgreSQL keep each other's leases")
        await world.resident(RESIDENT)
        await world.settle()
        assert world.app is not None
        # Hold every pending update as a dead process's lease would.
        world.app.processor.stop()
        await asyncio.sleep(0.3)
        after = await world.last_id(RESIDENT)
        await world.say(RESIDENT, "/help")
        await asyncio.sleep(1.0)  # stored by the poller, not handled
        async with world.app.domain.unit() as uow:
            await uow.session.execute(
                update(InboxUpdate)
                .where(InboxUpdate.status == "pending")
                .values(locked_until=wall_now() + timedelta(seconds=60))
            )
        await world.stop_bot()
        started = asyncio.get_running_loop().time()
        await world.start_bot()
        await world.wait_bot(RESIDENT, after=after, timeout=5)
        assert asyncio.get_running_loop().time() - started < 2.0
    finally:
        await close_world(world)
