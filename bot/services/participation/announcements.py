"""Announcements: a committee's text (and photo) to the residents of chosen grids.

Posted once to the community's linked channel and, as direct messages (outbox campaign
``announce:<id>``, paced by the sender), only to residents who asked for them (/unmute; those
who had not muted announcements before channels existed kept them). See broadcast.py.
Case updates are never muted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.services.participation import broadcast
from bot.services.shared.domain import UnitOfWork
from bot.store.models import Announcement, OutboxMessage, User

CAMPAIGN_PREFIX = broadcast.CAMPAIGN_PREFIX


async def send(
    uow: UnitOfWork, by: int, text: str, photo: str | None, grid_ids: list[str], notify: Any = None
) -> Announcement:
    """Record the announcement and queue its channel posts; `notify(row, channels)` runs first so its
    answer is not queued behind them. Direct messages are queued batch by batch afterwards
    (broadcast.feed, run by the broadcaster), only to residents who asked for them."""
    row = Announcement(
        created_by=by,
        text=text,
        photo_file_id=photo,
        grid_ids=grid_ids,
        created_at=uow.now,
        dm_cursor=0,
        dm_queued=0,
    )
    uow.session.add(row)
    await uow.session.flush()
    row.recipients = await broadcast.count_recipients(uow, grid_ids)
    if notify is not None:
        notify(row, len(await broadcast.channels_for(uow, grid_ids)))
    await broadcast.post(uow, row)
    uow.after_commit.append(uow.domain.broadcast_wake.set)
    return row


def set_muted(user: User, muted: bool) -> None:
    """`/mute` and `/unmute`: direct messages of announcements off or on (the channel, when
    the community has one, is the resident's to follow or not)."""
    user.muted_announcements = muted
    user.announcements_dm = not muted


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
