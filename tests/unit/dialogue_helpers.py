"""Playing a person through the chat dispatcher without Telegram or the emulator.

Updates are built as python-telegram-bot objects and handed to the same `Dispatcher` the bot
runs, inside one unit of work; what the person is told is read from the outbox.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from telegram import CallbackQuery, Chat, Message, Update
from telegram import User as TgUser

from bot.services.shared.domain import UnitOfWork
from handlers.dispatch import Dispatcher

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)
_dispatcher: Dispatcher | None = None


def dispatcher() -> Dispatcher:
    """One dispatcher for the session (its tables are the same for every test)."""
    global _dispatcher
    if _dispatcher is None:
        _dispatcher = Dispatcher()
    return _dispatcher


def _person(user_id: int, lang: str) -> TgUser:
    return TgUser(id=user_id, first_name=f"P{user_id}", is_bot=False, language_code=lang)


async def say(
    uow: UnitOfWork, user_id: int, text: str, *, lang: str = "en", reply_to: int | None = None
) -> None:
    """The person sends `text` in their private chat (optionally as a reply to a message id)."""
    chat = Chat(id=user_id, type="private")
    replied = (
        Message(message_id=reply_to, date=datetime.now(UTC), chat=chat, text="…")
        if reply_to is not None
        else None
    )
    message = Message(
        message_id=next(_message_ids),
        date=datetime.now(UTC),
        chat=chat,
        from_user=_person(user_id, lang),
        text=text,
        reply_to_message=replied,
    )
    update = Update(update_id=next(_update_ids), message=message)
    await dispatcher().handle(uow, update, update.to_dict())


async def press(uow: UnitOfWork, user_id: int, data: str, *, lang: str = "en") -> None:
    """The person presses a button with callback data `data` in their private chat."""
    chat = Chat(id=user_id, type="private")
    shown = Message(message_id=next(_message_ids), date=datetime.now(UTC), chat=chat, text="…")
    query = CallbackQuery(
        id=str(next(_update_ids)),
        from_user=_person(user_id, lang),
        chat_instance="1",
        data=data,
        message=shown,
    )
    update = Update(update_id=next(_update_ids), callback_query=query)
    await dispatcher().handle(uow, update, update.to_dict())


def rendered(uow: UnitOfWork, lang: str, template: str, **data: Any) -> str:
    return uow.domain.renderer.render(lang, template, **data)
