"""PostgreSQL: a pooled connection is pinged before use only after it has been idle.

The ping made a round trip before every transaction; what a person relies on is that a
connection that went away while idle (a database restart, a proxy's timeout) is still found
out and replaced before a request uses it, and that one used a moment ago is not pinged.
Runs where `TEST_DATABASE_URL` names a PostgreSQL database (CI's second run).
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from sqlalchemy import text

import bot.store.db as db
from bot.store.db import create_engine

URL = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not URL.startswith("postgresql"), reason="needs PostgreSQL (TEST_DATABASE_URL)"
)


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    seen: list[float] = []
    engine = create_engine(URL)
    original = type(engine.dialect).do_ping

    def counted(self, dbapi_connection):  # type: ignore[no-untyped-def]
        seen.append(time.monotonic())
        return original(self, dbapi_connection)

    monkeypatch.setattr(type(engine.dialect), "do_ping", counted)
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.2)
    return seen


async def _backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_used_a_moment_ago_is_not_pinged(pings: list[float]) -> None:
    engine = create_engine(URL)
    try:
        for _ in range(5):
            await _backend_pid(engine)
        assert pings == []
        await asyncio.sleep(0.3)  # idle for longer than PING_AFTER_IDLE
        await _backend_pid(engine)
        assert len(pings) == 1
    finally:
        await engine.dispose()


async def test_a_connection_that_went_away_while_idle_is_replaced_before_use(
    pings: list[float],
) -> None:
    engine = create_engine(URL)
    admin = create_engine(URL)
    try:
        first = await _backend_pid(engine)
        async with admin.connect() as conn:  # the server ends it (a restart, a proxy's timeout)
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.3)
        second = await _backend_pid(engine)  # no error: the ping found it gone
        assert second != first
        assert len(pings) == 1
    finally:
        await engine.dispose()
        await admin.dispose()


async def test_a_sent_mark_is_written_again_when_its_connection_broke(
    domain,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """A message delivered, then its mark's transaction met a connection the server had
    ended within the second (no ping): the mark is written on a new connection, not left
    for the message to be sent again when its lease ends."""
    from telegram import Bot

    from bot.runtime.sender import Sender
    from bot.store.models import OutboxMessage

    monkeypatch.setattr(db, "PING_AFTER_IDLE", 3600.0)
    async with domain.unit() as uow:
        row = OutboxMessage(
            created_at=uow.now,
            chat_id=4242,
            method="sendMessage",
            payload={"text": "delivered"},
            status="sending",
            attempts=0,
            next_attempt_at=uow.now,
            locked_until=uow.now,
        )
        uow.session.add(row)
    admin = create_engine(URL)
    try:
        async with admin.connect() as conn:  # every pooled connection of the bot ends
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await admin.dispose()
    sender = Sender(domain, Bot("123456:TEST", base_url="http://127.0.0.1:9/bot"))
    future = asyncio.get_running_loop().create_future()
    sender._marks.append((row, 777, future))
    await sender._flush_marks()
    assert future.done() and future.exception() is None
    async with domain.reading() as session:
        stored = await session.get(OutboxMessage, row.id)
        assert stored is not None and (stored.status, stored.message_id) == ("sent", 777)
