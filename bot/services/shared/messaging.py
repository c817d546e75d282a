"""Which case a message belongs to, for replies to the bot's messages; a retired copy's alias."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select

from bot.services.shared.domain import UnitOfWork
from bot.store.models import MessageRef


async def case_of_message(uow: UnitOfWork, chat_id: int, message_id: int) -> int | None:
    """The case behind a remembered message (a card or a question) in this chat, if any."""
    stmt = select(MessageRef.ref).where(
        MessageRef.chat_id == chat_id, MessageRef.message_id == message_id
    )
    ref = (await uow.session.execute(stmt.limit(1))).scalar_one_or_none()
    if ref is None:  # sent a moment ago, its ref not committed yet
        ref = uow.domain.unrecorded.get((chat_id, message_id))
    if ref is None:
        return None
    kind, _, rest = ref.partition(":")
    case_id = rest.split(":", 1)[0]
    if kind in ("card", "q") and case_id.isdigit():
        return int(case_id)
    return None


class Ref(NamedTuple):
    """A remembered message as read without its ORM row: the name, its chat and message."""

    ref: str
    chat_id: int
    message_id: int


async def remember_retired(uow: UnitOfWork, ref: MessageRef | Ref) -> bool:
    """Remember the copy `ref` names under its alias (`<ref>:<message id>`), so replies to it
    still reach its case once a newer copy takes the name. True when this transaction
    recorded it; False when it was already there. Two transactions may retire the same copy
    at once (the sender recording a newer copy's delivery, a press redrawing the card):
    ON CONFLICT DO NOTHING lets both commit, where a check and an insert made the later
    one fail on the key and its whole transaction with it."""
    done = await uow.session.execute(
        uow.domain.insert(MessageRef)
        .values(ref=f"{ref.ref}:{ref.message_id}", chat_id=ref.chat_id, message_id=ref.message_id)
        .on_conflict_do_nothing(index_elements=["ref"])
    )
    return bool(done.rowcount)
