"""The sender's record of what it delivered: the rows marked sent, and the names of the messages
a later edit or reply needs (a card's copy in a chat, a question), written as Core statements.

What a person relies on: a member's press on a card, or a resident's reply to a question,
finds its case; a card sent again in the same chat takes the older copy's buttons off, and a
reply to the older copy still reaches the case. None of it goes through SQLAlchemy's session
but the retired copy's alias and the edit that takes its buttons off; a connection that broke
meanwhile (a database restart) loses no mark.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.config import Settings
from bot.runtime.sender import Sender
from bot.services.shared.domain import Domain
from bot.services.shared.messaging import case_of_message
from bot.store.db import SQL_STATS
from bot.store.models import MessageRef, OutboxMessage
from tests.support.database import fresh_database


async def _sending(domain: Domain, chats: list[tuple[int, str | None]]) -> list[OutboxMessage]:
    """Messages on their way to these chats (under these names), with a card's older copy in
    chat 502 and a question asked before in chat 503 remembered."""
    now = domain.clock.now()
    async with domain.unit() as uow:
        uow.session.add_all(
            [
                MessageRef(ref="card:2:502", chat_id=502, message_id=7),  # an older copy
                MessageRef(ref="q:3:9", chat_id=503, message_id=8),  # asked before elsewhere
            ]
        )
        rows = [
            OutboxMessage(
                created_at=now,
                chat_id=chat_id,
                method="sendMessage",
                payload={"text": "hello"},
                ref=ref,
                status="sending",
                attempts=0,
                next_attempt_at=now,
            )
            for chat_id, ref in chats
        ]
        uow.session.add_all(rows)
    return rows


async def _buttons_taken_off(uow: Any) -> list[tuple[int, int]]:
    """The messages whose buttons an edit written in the outbox takes off: (chat, message)."""
    edits = await uow.session.execute(
        select(OutboxMessage.chat_id, OutboxMessage.payload).where(
            OutboxMessage.method == "editMessageReplyMarkup"
        )
    )
    return [(chat_id, payload["message_id"]) for chat_id, payload in edits.all()]


async def test_delivered_messages_are_marked_and_their_names_remembered(domain: Domain) -> None:
    rows = await _sending(
        domain, [(501, "card:1:501"), (502, "card:2:502"), (504, "q:3:9"), (505, None)]
    )
    seen: list[str] = []

    @event.listens_for(domain.engine.sync_engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if not statement.startswith(("BEGIN", "COMMIT")):
            seen.append(" ".join(statement.split()))

    sender = Sender(domain, SimpleNamespace(base_url="http://127.0.0.1:9/bot1:x"))  # type: ignore[arg-type]
    async with domain.unit(quiet=("outbox",), hot=True) as uow:
        await sender._record_marks(uow, list(zip(rows, (11, 12, 13, None), strict=True)))
    event.remove(domain.engine.sync_engine, "before_cursor_execute", _seen)

    async with domain.unit() as uow:
        marked = (
            await uow.session.execute(
                select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.message_id)
                .where(OutboxMessage.id.in_([r.id for r in rows]))
                .order_by(OutboxMessage.id)
            )
        ).all()
        assert [(status, message_id) for _, status, message_id in marked] == [
            ("sent", 11),
            ("sent", 12),
            ("sent", 13),
            ("sent", None),
        ]
        names = {
            ref.ref: (ref.chat_id, ref.message_id)
            for ref in (await uow.session.execute(select(MessageRef))).scalars()
        }
        assert names == {
            "card:1:501": (501, 11),  # new
            "card:2:502": (502, 12),  # the newer copy
            "card:2:502:7": (502, 7),  # the older copy, under its alias
            "q:3:9": (504, 13),  # the same question now asked in another chat
        }
        assert await case_of_message(uow, 502, 7) == 2  # a reply to the older copy
        assert await case_of_message(uow, 502, 12) == 2
        assert await _buttons_taken_off(uow) == [(502, 7)]
    if domain.sqlite:
        # through the session: only the alias of the older copy, and whether the chat whose
        # buttons come off blocked the bot
        assert [s.split(" (")[0] for s in seen] == [
            "INSERT INTO message_refs",
            "SELECT users.id FROM users WHERE users.id IN",
        ]


@pytest.fixture
async def own_connection(tmp_path: Path) -> AsyncIterator[Domain]:
    """Where the event loop has a connection of its own: a SQLite file (`LoopConnection`), or
    the suite's PostgreSQL database, emptied (`DriverConnection`, one kept from the pool)."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp_path / 'marks.db'}"
    await fresh_database(url)
    made = Domain(Settings(token="1:x", database_url=url))
    assert made.loop_writes is not None
    yield made
    await made.dispose()


async def test_marks_on_the_loops_own_connection_remember_names_and_leave_retiring_to_the_session(
    own_connection: Domain,
) -> None:
    """A batch of marks goes to the event loop's own connection, names included; one that
    must retire a card's older copy (an edit to queue) is written the session's way, with the
    same result as above."""
    domain = own_connection
    rows = await _sending(domain, [(501, "card:1:501"), (504, "q:3:9"), (502, "card:2:502")])
    seen: list[str] = []  # what SQLAlchemy's engine runs and commits

    @event.listens_for(domain.engine.sync_engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(" ".join(statement.split()))

    @event.listens_for(domain.engine.sync_engine, "commit")
    def _committed(_conn: Any) -> None:
        seen.append("COMMIT")

    sender = Sender(domain, SimpleNamespace(base_url="http://127.0.0.1:9/bot1:x"))  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    # a new card's copy and a question asked again elsewhere, then a card's newer copy
    await sender._write_marks(
        [(rows[0], 11, loop.create_future()), (rows[1], 12, loop.create_future())]
    )
    assert seen == []  # none of it through SQLAlchemy
    await sender._write_marks([(rows[2], 13, loop.create_future())])
    event.remove(domain.engine.sync_engine, "before_cursor_execute", _seen)
    event.remove(domain.engine.sync_engine, "commit", _committed)
    async with domain.unit() as uow:
        names = {
            ref.ref: (ref.chat_id, ref.message_id)
            for ref in (await uow.session.execute(select(MessageRef))).scalars()
        }
        assert names == {
            "card:1:501": (501, 11),
            "q:3:9": (504, 12),
            "card:2:502": (502, 13),
            "card:2:502:7": (502, 7),  # the older copy, retired the session's way
        }
        assert await _buttons_taken_off(uow) == [(502, 7)]
        sent = (
            await uow.session.execute(
                select(OutboxMessage.message_id).where(
                    OutboxMessage.status == "sent", OutboxMessage.method == "sendMessage"
                )
            )
        ).scalars()
        assert sorted(sent) == [11, 12, 13]


async def test_a_broken_connection_loses_no_mark_and_a_refused_statement_keeps_it(
    own_connection: Domain,
) -> None:
    """PostgreSQL: the kept connection breaks (the database restarted, or its session was
    ended): the marks are written again on a new one, as `Sender._flush_marks` does. A
    statement the database refuses rolls its transaction back and the connection stays."""
    domain = own_connection
    if domain.sqlite:
        pytest.skip("PostgreSQL: SQLite's own connection is a file's, which cannot break")
    from sqlalchemy.exc import DBAPIError, ProgrammingError

    rows = await _sending(domain, [(501, "card:1:501"), (505, None)])
    sender = Sender(domain, SimpleNamespace(base_url="http://127.0.0.1:9/bot1:x"))  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    await sender._write_marks([(rows[0], 11, loop.create_future())])
    kept = domain.loop_writes._held  # type: ignore[union-attr]
    async with domain.engine.connect() as conn:  # the database ends that connection's session
        pid = kept.driver_connection.get_server_pid()
        await conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    await asyncio.sleep(0.1)
    sender._marks = [(rows[1], None, loop.create_future())]
    await sender._flush_marks()  # fails on the broken connection, written again on a new one
    assert domain.loop_writes._held is not kept  # type: ignore[union-attr]

    async def refused(execute: Any) -> int:
        await execute("UPDATE outbox SET status = 'sent' WHERE id = $1", (rows[1].id,), False)
        await execute("SELECT no_such_column FROM outbox", (), False)
        return 2

    held = domain.loop_writes._held  # type: ignore[union-attr]
    before = dict(SQL_STATS)
    with pytest.raises(ProgrammingError) as raised:
        await domain.loop_writes.run(refused)  # type: ignore[union-attr]
    assert isinstance(raised.value, DBAPIError) and not raised.value.connection_invalidated
    assert domain.loop_writes._held is held  # type: ignore[union-attr]
    assert SQL_STATS["commits"] == before["commits"]
    async with domain.unit() as uow:
        marked = (
            await uow.session.execute(
                select(OutboxMessage.status, OutboxMessage.message_id).order_by(OutboxMessage.id)
            )
        ).all()
    assert marked == [("sent", 11), ("sent", None)]


async def test_marks_without_names_are_one_statement_written_all_or_none(
    own_connection: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a batch of marks with no name to remember is one statement on the kept
    connection, with no transaction block around it (two round trips fewer a batch). It is
    still written whole or not at all: a batch refused part way marks none of its rows, and
    the connection stays. A batch with names keeps its transaction."""
    domain = own_connection
    if domain.sqlite:
        pytest.skip("PostgreSQL: SQLite's own connection begins its transaction in-process")
    import asyncpg
    from sqlalchemy.exc import DBAPIError

    blocks: list[str] = []
    opened = asyncpg.connection.Connection.transaction

    def transaction(self: Any, *args: Any, **kwargs: Any) -> Any:
        blocks.append("BEGIN")
        return opened(self, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "transaction", transaction)
    rows = await _sending(domain, [(505, None), (506, None), (507, None), (501, "card:1:501")])
    sender = Sender(domain, SimpleNamespace(base_url="http://127.0.0.1:9/bot1:x"))  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    blocks.clear()  # (the session that wrote the rows had one)
    await sender._write_marks([(rows[0], 21, loop.create_future())])
    assert blocks == []
    held = domain.loop_writes._held  # type: ignore[union-attr]
    with pytest.raises(DBAPIError):  # the second row's message id: more than a column holds
        await sender._write_marks(
            [(rows[1], 22, loop.create_future()), (rows[2], 2**70, loop.create_future())]
        )
    assert blocks == []
    assert domain.loop_writes._held is held  # type: ignore[union-attr]
    await sender._write_marks([(rows[3], 24, loop.create_future())])  # a name: a block
    assert blocks == ["BEGIN"]
    async with domain.unit() as uow:
        marked = (
            await uow.session.execute(
                select(OutboxMessage.status, OutboxMessage.message_id).order_by(OutboxMessage.id)
            )
        ).all()
    assert marked == [("sent", 21), ("sending", None), ("sending", None), ("sent", 24)]
