"""Which case a message belongs to, for replies to the bot's messages."""

from __future__ import annotations

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
