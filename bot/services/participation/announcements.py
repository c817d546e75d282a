"""Announcements: a committee's text (and photo) to the residents of chosen grids.

Delivered through the outbox (campaign ``announce:<id>``) and paced by the sender.
Residents can mute announcements; case updates are never muted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.services.shared.domain import UnitOfWork
from bot.store.models import Announcement, OutboxMessage, User

CAMPAIGN_PREFIX = "announce:"


async def recipients(uow: UnitOfWork, grid_ids: list[str]) -> list[User]:
    stmt = (
        select(User)
        .where(
            User.home_grid_id.in_(grid_ids),
            User.consent_at.is_not(None),
            User.erased_at.is_(None),
            User.muted_announcements.is_(False),
            User.unreachable.is_(False),
        )
        .order_by(User.id)
    )
    return list((await uow.session.execute(stmt)).scalars().all())


async def send(
    uow: UnitOfWork, by: int, text: str, photo: str | None, grid_ids: list[str], notify: Any = None
) -> Announcement:
    """Queue the announcement; `notify(row)` runs first so its answer is not queued behind it."""
    row = Announcement(
        created_by=by, text=text, photo_file_id=photo, grid_ids=grid_ids, created_at=uow.now
    )
    uow.session.add(row)
    await uow.session.flush()
    people = await recipients(uow, grid_ids)
    row.recipients = len(people)
    if notify is not None:
        notify(row)
    campaign = f"{CAMPAIGN_PREFIX}{row.id}"
    for user in people:
        if photo:
            caption = uow.domain.renderer.render(user.language, "announce_message", text=text)
            uow.outbox.photos(user.id, [photo], caption=caption, campaign=campaign)
        else:
            uow.outbox.send(
                user.id, user.language, "announce_message", text=text, campaign=campaign
            )
    row.recipients = len(people)
    return row


def set_muted(user: User, muted: bool) -> None:
    user.muted_announcements = muted


async def refused_while_blocked(
    uow: UnitOfWork, user_id: int, since: datetime, limit: int = 20
) -> list[OutboxMessage]:
    """Announcements to this person that Telegram refused because they had blocked the bot
    (sent since `since`, at most `limit`): to be sent again when they come back, unless they
    muted announcements meanwhile."""
    user = await uow.session.get(User, user_id)
    if user is None or user.muted_announcements or user.erased_at is not None:
        return []
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.chat_id == user_id,
            OutboxMessage.status == "blocked",
            OutboxMessage.campaign.like(f"{CAMPAIGN_PREFIX}%"),
            OutboxMessage.created_at >= since,
        )
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    return list((await uow.session.execute(stmt)).scalars().all())
