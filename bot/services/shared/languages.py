"""The language a chat is written to in: every component that sends needs it, so it lives here."""

from __future__ import annotations

from bot.services.shared.domain import UnitOfWork
from bot.store.models import User

LANGUAGES = ("en", "zh")


async def chat_language(uow: UnitOfWork, chat_id: int) -> str:
    """The language of a private chat's person; staff who never wrote and groups use the
    grid map's `staff_language`."""
    if chat_id > 0:
        person = uow.knows(chat_id, await uow.session.get(User, chat_id))
        if person is not None:
            return person.language
        if uow.domain.has_routing and chat_id in uow.routing.gridmap.staff:
            return staff_language(uow)
        return uow.settings.default_language
    return staff_language(uow)  # a party's or the staff's group


def staff_language(uow: UnitOfWork) -> str:
    """The grid map's `staff_language`: what staff read before they first write to the bot."""
    lang = uow.routing.gridmap.raw.get("staff_language") if uow.domain.has_routing else None
    return lang if lang in LANGUAGES else uow.settings.default_language
