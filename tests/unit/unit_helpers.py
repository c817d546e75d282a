"""Factories and readers for the fast tests: the demo community's people, residents, cases,
and what the domain wrote (audit events, outgoing messages).

Everything here goes through the services the bot itself uses; nothing writes rows the bot
could not have written. Import it as ``from unit_helpers import ...`` (pytest puts this folder
on the path, as it does for the end-to-end helpers).
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.services.cases import lifecycle
from bot.services.people.residents import Person, ensure_user, give_consent, set_home
from bot.services.shared.domain import UnitOfWork
from bot.store.models import Case, CaseEvent, OutboxMessage, User
from routing.classifier import Classification

ROOT = Path(__file__).resolve().parents[2]
DEMO_MAP = ROOT / "bot" / "examples" / "demo-community.yaml"

# A Tuesday morning in Beijing: everyone in the demo map is on duty.
START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)

# The demo map's staff (bot/examples/demo-community.yaml).
MEMBER_1 = 10001  # 王芳, member of xingfu-1 (Xingfu Garden buildings 1-6)
MEMBER_2 = 10002  # 刘洋, member of xingfu-2
MEMBER_3 = 10003  # 陈刚, member of xingfu-3
MEMBER_4 = 10004  # 杨丽, member of xingfu-4
LEADER = 10010  # 李强, leader of all four grids
CENTRE = 10020  # 张敏, community centre of xingfu
STREET = 10030  # 赵磊, street office
COMMITTEE = 10040  # 陈静, committee of xingfu
ADMIN = 10050
PROPERTY_STAFF = 20001  # 物业小王, staff of the property company
PROPERTY_CHAT = -100501  # the property company's group (幸福物业)
POLICE_CHAT = -100502
URBAN_CHAT = -100503
WELFARE_CHAT = -100504  # the neighbourhood committee's group (welfare cases)
STREET_CHAT = -100900

# Inside grid xingfu-1, between buildings 1 and 2; and a point north of every grid.
PIN_XINGFU_1 = (39.9106, 116.4015)
PIN_OUTSIDE = (39.9300, 116.4000)

_ids = itertools.count(700_001)


def new_user_id() -> int:
    """A Telegram id no other person in the test has."""
    return next(_ids)


async def new_resident(
    uow: UnitOfWork,
    user_id: int | None = None,
    *,
    lang: str = "en",
    building: str = "xf-1",
    verified: bool = False,
    first_name: str = "Resident",
) -> User:
    """A resident who has consented and chosen a home building (as onboarding leaves them)."""
    person = Person(user_id or new_user_id(), first_name, lang)
    user = await ensure_user(uow, person, lang)
    give_consent(uow, user, person)
    assert set_home(uow, user, building), f"no building {building!r} on the map"
    user.verified = verified
    await uow.session.flush()
    return user


def category(name: str | None) -> Classification:
    """A classifier outcome naming `name` for sure (None: the classifier abstains -> triage)."""
    return Classification(name, 1.0 if name else 0.0, (), {})


async def file_case(
    uow: UnitOfWork,
    resident: User | None,
    text: str = "The street lamp outside my building is broken",
    *,
    building: str | None = None,
    as_category: str | None | bool = False,
    photos: list[str] | None = None,
) -> Case:
    """A case filed through `create_case`, as the bot files a sent draft.

    `as_category` fixes the classifier's outcome (None for triage); by default the packaged
    classifier decides. The place is the resident's home building unless `building` says."""
    building_id = building or (resident.home_building_id if resident else None) or "xf-1"
    grid_id = uow.routing.gridmap.buildings[building_id].grid_id
    return await lifecycle.create_case(
        uow,
        resident,
        text=text,
        grid_id=grid_id,
        building_id=building_id,
        place_text=None,
        location=None,
        photos=list(photos or []),
        source_update_id=None,
        classification=None if as_category is False else category(as_category),  # type: ignore[arg-type]
    )


async def events_of(uow: UnitOfWork, case: Case) -> list[CaseEvent]:
    """The case's audit trail, oldest first."""
    await uow.session.flush()
    rows = await uow.session.execute(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    )
    return list(rows.scalars())


async def outbox(
    uow: UnitOfWork, chat_id: int | None = None, *, after: int = 0
) -> list[OutboxMessage]:
    """Queued outgoing messages (to `chat_id` when given) with an id above `after`."""
    await uow.session.flush()
    stmt = select(OutboxMessage).where(OutboxMessage.id > after).order_by(OutboxMessage.id)
    if chat_id is not None:
        stmt = stmt.where(OutboxMessage.chat_id == chat_id)
    return list((await uow.session.execute(stmt)).scalars())


async def texts_to(uow: UnitOfWork, chat_id: int, *, after: int = 0) -> list[str]:
    """What `chat_id` is sent or shown (new messages and in-place edits), oldest first."""
    return [
        str(m.payload.get("text") or m.payload.get("caption") or "")
        for m in await outbox(uow, chat_id, after=after)
    ]


async def last_outbox_id(uow: UnitOfWork) -> int:
    """A mark: messages queued later have a higher id (see `after=` above)."""
    await uow.session.flush()
    return int((await uow.session.execute(select(func.max(OutboxMessage.id)))).scalar() or 0)


def buttons(message: OutboxMessage) -> list[tuple[str, str]]:
    """A queued message's inline buttons as (label, callback data)."""
    markup: dict[str, Any] = message.payload.get("reply_markup") or {}
    return [
        (b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row
    ]


async def with_loop_beats(*work: Any, timeout: float = 10) -> int:
    """Run `work` (awaitables) together, counting the event loop's 10 ms beats meanwhile: a
    loop held by a thread waiting for a lock would count none."""
    beats = 0

    async def beat() -> None:
        nonlocal beats
        while True:
            beats += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(beat())
    try:
        await asyncio.wait_for(asyncio.gather(*work), timeout=timeout)
    finally:
        ticker.cancel()
    return beats
