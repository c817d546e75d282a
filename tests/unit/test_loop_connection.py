"""SQLite: the sender's `sent` marks on the event loop's own connection, without SQLAlchemy.

What a person relies on: a mark written this way is the same row SQLAlchemy would have
written (the desk, the delivery report and a restart read it back), a write waits for a lock
another connection holds without holding up the bot, a failed write leaves nothing behind,
and the log is still checkpointed.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from unit_helpers import with_loop_beats

from bot.runtime.sender import _MARK_SENT
from bot.store.db import AUTOCHECKPOINT, DriverForm, Execute, LoopConnection, create_engine
from bot.store.models import OutboxMessage

AT = datetime(2026, 12, 5, 9, 30, 15, tzinfo=UTC)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncEngine:
    made = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'marks.db'}")
    async with made.begin() as conn:
        await conn.run_sync(OutboxMessage.__table__.create)
        await conn.execute(
            insert(OutboxMessage.__table__),
            [
                {
                    "created_at": AT,
                    "chat_id": 100 + i,
                    "method": "sendMessage",
                    "payload": {"text": f"hello {i}"},
                    "status": "sending",
                    "attempts": 0,
                    "next_attempt_at": AT,
                    "locked_until": AT,
                    "error": "an earlier try",
                }
                for i in range(4)
            ],
        )
    yield made
    await made.dispose()


def _marks(engine: AsyncEngine, rows: list[tuple[int, int | None]]) -> list[tuple[str, list]]:
    form = DriverForm(_MARK_SENT, engine.dialect)
    return [(form.sql, [form.row({"row_id": i, "sent_id": m, "sent_at": AT}) for i, m in rows])]


async def _write(loop_writes: LoopConnection, statements: list[tuple[str, list]]) -> None:
    """The statements (SQL, and the rows to run each for) in one transaction of the loop's
    own connection, as the sender's marks are written there."""

    async def work(execute: Execute) -> int:
        for sql, rows in statements:
            await execute(sql, rows, True)
        return len(statements)

    await loop_writes.run(work)


async def _stored(engine: AsyncEngine) -> list[tuple]:
    async with engine.connect() as conn:
        return [
            tuple(r)
            for r in await conn.execute(
                text(
                    "SELECT id, status, message_id, sent_at, locked_until, error FROM outbox"
                    " ORDER BY id"
                )
            )
        ]


async def test_a_mark_written_here_is_the_row_sqlalchemy_writes(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    loop_writes = LoopConnection(str(engine.url))
    try:
        await _write(loop_writes, _marks(engine, [(1, 501), (2, None)]))
    finally:
        await loop_writes.close()
    async with engine.begin() as conn:  # the same mark through SQLAlchemy, for row 3
        await conn.execute(_MARK_SENT, [{"row_id": 3, "sent_id": 503, "sent_at": AT}])
    stored = await _stored(engine)
    assert [r[:3] for r in stored] == [
        (1, "sent", 501),
        (2, "sent", None),
        (3, "sent", 503),
        (4, "sending", None),
    ]
    # the very same stored time (text, as SQLAlchemy formats it) and the lease and error cleared
    assert stored[0][3:] == stored[2][3:] == (stored[2][3], None, None)
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(OutboxMessage.sent_at).where(OutboxMessage.id == 1))
        ).scalar_one()
    assert row == AT


async def test_a_write_waits_off_the_loop_for_a_lock_another_connection_holds(
    engine: AsyncEngine,
) -> None:
    loop_writes = LoopConnection(str(engine.url))
    holding = asyncio.Event()

    async def holder() -> None:
        async with engine.begin() as conn:  # BEGIN IMMEDIATE: the database's write lock
            await conn.execute(text("UPDATE outbox SET error = 'held' WHERE id = 4"))
            holding.set()
            await asyncio.sleep(0.3)

    async def mark() -> None:
        await holding.wait()
        await _write(loop_writes, _marks(engine, [(1, 601)]))

    try:
        beats = await with_loop_beats(holder(), mark())
    finally:
        await loop_writes.close()
    assert beats >= 10  # the loop went on while the mark waited
    stored = await _stored(engine)
    assert stored[0][:3] == (1, "sent", 601)
    assert stored[3][5] == "held"


async def test_a_failed_write_leaves_nothing_and_the_next_one_goes_through(
    engine: AsyncEngine,
) -> None:
    loop_writes = LoopConnection(str(engine.url))
    try:
        with pytest.raises(sqlite3.OperationalError):
            await _write(
                loop_writes,
                [*_marks(engine, [(1, 701)]), ("UPDATE no_such_table SET x = ?", [(1,)])],
            )
        assert (await _stored(engine))[0][:3] == (1, "sending", None)
        await _write(loop_writes, _marks(engine, [(1, 702)]))
    finally:
        await loop_writes.close()
    assert (await _stored(engine))[0][:3] == (1, "sent", 702)


async def test_writes_here_still_checkpoint_the_log(engine: AsyncEngine, tmp_path: Path) -> None:
    loop_writes = LoopConnection(str(engine.url))
    form = DriverForm(
        insert(OutboxMessage.__table__).values(
            created_at=AT,
            chat_id=bindparam("chat_id"),
            method="sendMessage",
            payload={"text": "x" * 2000},
            status="pending",
            attempts=0,
            next_attempt_at=AT,
        ),
        engine.dialect,
    )
    try:
        for i in range(3 * AUTOCHECKPOINT):
            await _write(loop_writes, [(form.sql, [form.row({"chat_id": i})])])
    finally:
        await loop_writes.close()
    frames = (tmp_path / "marks.db-wal").stat().st_size // (4096 + 24)
    # each write appends a few pages (the row, its indexes): without a checkpoint about 12,000
    assert frames < 1.5 * AUTOCHECKPOINT
    async with engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
    assert count == 4 + 3 * AUTOCHECKPOINT


def test_only_a_sqlite_file_has_a_loop_connection() -> None:
    assert LoopConnection.serves("sqlite+aiosqlite:////var/lib/gridvoice/gv.db")
    assert not LoopConnection.serves("sqlite+aiosqlite://")
    assert not LoopConnection.serves("sqlite+aiosqlite:///:memory:")
    assert not LoopConnection.serves("postgresql+asyncpg://gv@db/gv")
