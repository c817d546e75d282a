"""A transaction's outgoing messages, written claimed by this process's sender and handed to it.

What a person relies on: each message handed to the sender is the row stored under its id (its
chat, its text, in the order written), so the right person gets the right text and its `sent`
mark lands on its own row; and a transaction's messages cost one statement, not one each.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from bot.services.shared.domain import Domain
from bot.store.db import BORN_HERE
from bot.store.models import OutboxMessage


@pytest.mark.parametrize("hot", [False, True], ids=["unit", "hot unit"])
async def test_handed_messages_are_their_stored_rows_written_in_one_statement(
    domain: Domain, hot: bool
) -> None:
    """A hot transaction (the processor's) writes them on the driver directly, in one
    statement that does not go through SQLAlchemy, on both databases (on PostgreSQL from
    within the session's flush, awaited there)."""
    domain.takes_born = True
    inserts: list[str] = []

    def seen(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            inserts.append(statement)

    event.listen(domain.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with domain.unit(hot=hot) as uow:
            for i, chat in enumerate((903, 901, 902, 901, 904)):
                uow.outbox.send_text(chat, f"message {i} to {chat}")
    finally:
        event.remove(domain.engine.sync_engine, "before_cursor_execute", seen)
    handed, _refs, _gone = domain.take_handed()
    assert [(r.chat_id, r.payload["text"]) for r in handed] == [
        (903, "message 0 to 903"),
        (901, "message 1 to 901"),
        (902, "message 2 to 902"),
        (901, "message 3 to 901"),
        (904, "message 4 to 904"),
    ]
    async with domain.reading() as session:
        stored = {
            row.id: (row.chat_id, row.payload["text"], row.status, row.locked_until)
            for row in (await session.execute(select(OutboxMessage))).scalars()
        }
    assert {
        r.id: (r.chat_id, r.payload["text"], "sending", r.locked_until) for r in handed
    } == stored
    assert [r.id for r in handed] == sorted(r.id for r in handed)  # in the order written
    assert len(inserts) == (0 if hot else 1)


async def test_many_messages_of_one_hot_transaction_are_their_stored_rows(domain: Domain) -> None:
    """More than a hot transaction writes on the driver (a notice to many): through SQLAlchemy,
    the same rows, in order."""
    domain.takes_born = True
    many = BORN_HERE * 2 + 3
    async with domain.unit(hot=True) as uow:
        for i in range(many):
            uow.outbox.send_text(1000 + i, f"notice {i}")
    handed, _refs, _gone = domain.take_handed()
    async with domain.reading() as session:
        stored = {
            row.id: (row.chat_id, row.payload["text"])
            for row in (await session.execute(select(OutboxMessage))).scalars()
        }
    assert [stored[r.id] for r in handed] == [(1000 + i, f"notice {i}") for i in range(many)]
