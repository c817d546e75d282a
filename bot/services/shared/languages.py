"""The language a chat is written to in: every component that sends needs it, so it lives here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm.util import identity_key

from bot.services.shared.domain import UnitOfWork
from bot.store.db import PEOPLE, hot_rows
from bot.store.models import User

LANGUAGES = ("en", "zh")

_USERS = User.__table__
#: What writing to a person needs of their row: its language, and whether they blocked the bot.
_REACH = select(_USERS.c.language, _USERS.c.unreachable).where(_USERS.c.id == bindparam("person"))


@dataclass
class Reach:
    """A person's row as far as writing to them goes (`_REACH`), where this transaction has
    not loaded the whole row: a member a card goes to, say."""

    language: str
    unreachable: bool


async def chat_language(uow: UnitOfWork, chat_id: int) -> str:
    """The language of a private chat's person; staff who never wrote and groups use the
    grid map's `staff_language`."""
    if chat_id > 0:
        person = await _person(uow, chat_id)
        if person is not None:
            return person.language  # type: ignore[no-any-return]
        if uow.domain.has_routing and chat_id in uow.routing.gridmap.staff:
            return staff_language(uow)
        return uow.settings.default_language
    return staff_language(uow)  # a party's or the staff's group


async def _person(uow: UnitOfWork, person_id: int) -> Any:
    """The person's row as this transaction knows it (loaded, perhaps changed and not yet
    written), else their language and reachability read alone: a whole row costs the ORM
    several times the two columns. Remembered either way (`UnitOfWork.knows`)."""
    known = uow.session.info.get(PEOPLE)
    if known is not None and person_id in known:
        return known[person_id]
    loaded = uow.session.sync_session.identity_map.get(identity_key(User, person_id))
    if loaded is not None:
        return uow.knows(person_id, loaded)
    found = await hot_rows(uow.session, _REACH, {"person": person_id})
    return uow.knows(person_id, Reach(*found[0]) if found else None)


def staff_language(uow: UnitOfWork) -> str:
    """The grid map's `staff_language`: what staff read before they first write to the bot."""
    lang = uow.routing.gridmap.raw.get("staff_language") if uow.domain.has_routing else None
    return lang if lang in LANGUAGES else uow.settings.default_language
