"""SQLite: a hot write transaction runs its statements on the event loop's thread.

The processor's and the sender's transactions (`Domain.unit(hot=True)`) hold the only write
lock, so their point reads and writes cannot wait on anything: they skip the trip to the
connection's thread (a hand-over and an event-loop wake-up each), from `BEGIN IMMEDIATE` to
`COMMIT` when the lock is free. What a person relies on: the same answers, the same errors,
the same rollbacks as before, a connection that stays usable after an error, a bot that keeps
answering while another connection holds the lock, and a log that is still checkpointed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import aiosqlite.core
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from unit_helpers import with_loop_beats

from bot.store.db import (
    AUTOCHECKPOINT,
    MANY_CHANGES,
    ON_LOOP,
    SLOW_ON_LOOP,
    create_engine,
    statements_off_loop,
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncEngine:
    made = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'loop.db'}")

    @event.listens_for(made.sync_engine, "connect")
    def _thread_function(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.create_function("gv_thread", 0, threading.get_ident)
        dbapi_connection.create_function("gv_slow", 0, lambda: time.sleep(2 * SLOW_ON_LOOP))

    async with made.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    yield made
    await made.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls handed to a connection's thread, by name."""
    seen: list[str] = []
    original = aiosqlite.core.Connection._execute

    async def counted(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(getattr(fn, "__name__", "?"))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)
    return seen


async def _thread_of_statements(engine: AsyncEngine, **options: bool) -> int:
    sessions = async_sessionmaker(engine)
    async with sessions() as session:
        async with session.begin():
            await session.connection(execution_options=options)
            return int((await session.execute(select(func.gv_thread()))).scalar_one())


async def test_only_a_hot_write_transaction_runs_its_statements_on_the_loop_thread(
    engine: AsyncEngine,
) -> None:
    loop_thread = threading.get_ident()
    assert await _thread_of_statements(engine, **{ON_LOOP: True}) == loop_thread
    assert await _thread_of_statements(engine) != loop_thread
    # a read-only transaction takes no write lock, so it may wait: it stays off the loop
    assert await _thread_of_statements(engine, read_only=True, **{ON_LOOP: True}) != loop_thread


async def test_a_hot_transaction_makes_no_trip_and_its_rows_are_committed(
    engine: AsyncEngine, trips: list[str]
) -> None:
    sessions = async_sessionmaker(engine)
    async with sessions() as session:
        async with session.begin():
            await session.connection(execution_options={ON_LOOP: True})
            for i in range(3):
                await session.execute(
                    text("INSERT INTO notes (id, body) VALUES (:id, :body)"),
                    {"id": i, "body": f"note {i}"},
                )
            await session.execute(
                text("UPDATE notes SET body = :body WHERE id = 1"), {"body": "changed"}
            )
    # BEGIN IMMEDIATE and COMMIT ran here too; the pool's reset of an idle connection is a no-op
    assert trips == []
    async with engine.connect() as reader:
        rows = (await reader.execute(text("SELECT id, body FROM notes ORDER BY id"))).all()
    assert [tuple(r) for r in rows] == [(0, "note 0"), (1, "changed"), (2, "note 2")]


async def test_an_error_in_a_hot_transaction_rolls_it_all_back_and_the_connection_goes_on(
    engine: AsyncEngine,
) -> None:
    sessions = async_sessionmaker(engine)
    with pytest.raises(IntegrityError):
        async with sessions() as session:
            async with session.begin():
                await session.connection(execution_options={ON_LOOP: True})
                await session.execute(text("INSERT INTO notes (id, body) VALUES (7, 'first')"))
                await session.execute(text("INSERT INTO notes (id, body) VALUES (7, 'again')"))
    async with sessions() as session:
        async with session.begin():
            await session.connection(execution_options={ON_LOOP: True})
            assert (await session.execute(text("SELECT count(*) FROM notes"))).scalar_one() == 0
            await session.execute(text("INSERT INTO notes (id, body) VALUES (7, 'kept')"))
    async with engine.connect() as reader:
        assert (await reader.execute(text("SELECT body FROM notes"))).scalars().all() == ["kept"]


async def test_a_transaction_that_reads_much_or_waited_once_leaves_the_loop_thread(
    engine: AsyncEngine,
) -> None:
    loop_thread = threading.get_ident()
    sessions = async_sessionmaker(engine)

    async def thread_now(session) -> int:  # type: ignore[no-untyped-def]
        return int((await session.execute(select(func.gv_thread()))).scalar_one())

    async with sessions() as session:
        async with session.begin():
            await session.connection(execution_options={ON_LOOP: True})
            assert await thread_now(session) == loop_thread
            await statements_off_loop(session)  # a report over months is about to be read
            assert await thread_now(session) != loop_thread
    async with sessions() as session:
        async with session.begin():
            await session.connection(execution_options={ON_LOOP: True})
            await session.execute(select(func.gv_slow()))  # held the loop once
            assert await thread_now(session) != loop_thread
    # the next hot transaction starts on the loop's thread again
    assert await _thread_of_statements(engine, **{ON_LOOP: True}) == loop_thread


async def test_a_hot_transaction_waits_for_a_held_lock_off_the_loop(
    engine: AsyncEngine, trips: list[str]
) -> None:
    """Another connection holds the write lock (a web request, say): the hot BEGIN waits on
    the connection's thread, the loop goes on (the holder needs it to commit), and the hot
    transaction then runs and commits."""
    sessions = async_sessionmaker(engine)
    holding = asyncio.Event()

    async def holder() -> None:
        async with sessions() as session:
            async with session.begin():  # an ordinary write transaction: BEGIN IMMEDIATE
                await session.execute(text("INSERT INTO notes (id, body) VALUES (1, 'held')"))
                holding.set()
                await asyncio.sleep(0.3)

    async def hot() -> None:
        await holding.wait()
        async with sessions() as session:
            async with session.begin():
                await session.connection(execution_options={ON_LOOP: True})
                await session.execute(text("INSERT INTO notes (id, body) VALUES (2, 'hot')"))

    beats = await with_loop_beats(holder(), hot())
    assert beats >= 10  # the loop was never held while the lock was taken
    assert "run" in trips  # the hot BEGIN went to the connection's thread to wait
    async with engine.connect() as reader:
        rows = (await reader.execute(text("SELECT id, body FROM notes ORDER BY id"))).all()
    assert [tuple(r) for r in rows] == [(1, "held"), (2, "hot")]


async def test_a_hot_transaction_that_changed_many_rows_commits_off_the_loop(
    engine: AsyncEngine, trips: list[str]
) -> None:
    sessions = async_sessionmaker(engine)
    async with sessions() as session:
        async with session.begin():
            await session.connection(execution_options={ON_LOOP: True})
            await session.execute(
                text("INSERT INTO notes (id, body) VALUES (:id, 'x')"),
                [{"id": i} for i in range(MANY_CHANGES + 1)],
            )
    assert trips == ["commit"]
    async with engine.connect() as reader:
        count = (await reader.execute(text("SELECT count(*) FROM notes"))).scalar_one()
    assert count == MANY_CHANGES + 1


async def test_hot_commits_still_checkpoint_the_log(engine: AsyncEngine, tmp_path: Path) -> None:
    """Hot commits never checkpoint on the loop, so every 32nd (`CHECK_EVERY`) commits on the
    connection's thread, where SQLite's automatic checkpoint runs: the log stays near its
    size, instead of growing with every page written."""
    sessions = async_sessionmaker(engine)
    page = 4096
    body = "x" * (page // 2)
    commits = 3 * AUTOCHECKPOINT
    for i in range(commits):
        async with sessions() as session:
            async with session.begin():
                await session.connection(execution_options={ON_LOOP: True})
                await session.execute(
                    text("INSERT INTO notes (id, body) VALUES (:id, :body)"),
                    {"id": i, "body": body},
                )
    frames = (tmp_path / "loop.db-wal").stat().st_size // (page + 24)
    # each commit appends about 3 pages: without a checkpoint the log would hold 9,000
    assert frames <= AUTOCHECKPOINT + 4 * 32
    async with engine.connect() as reader:
        count = (await reader.execute(text("SELECT count(*) FROM notes"))).scalar_one()
    assert count == commits
