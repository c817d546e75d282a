"""An announcement Telegram refused while the resident had blocked the bot is sent again when
they come back (bot/services/participation/announcements.py, cases/reachability.py)."""

from __future__ import annotations

from sqlalchemy import select
from unit_helpers import COMMITTEE, new_resident

from bot.services.cases import reachability
from bot.services.participation import announcements, broadcast
from bot.services.shared.domain import UnitOfWork
from bot.store.models import OutboxMessage, User


async def _refused_announcement(uow: UnitOfWork, user_id: int) -> OutboxMessage:
    user = await uow.session.get(User, user_id)
    assert user is not None
    announcements.set_muted(user, False)  # asked for announcements as direct messages
    a = await announcements.send(uow, COMMITTEE, "Water is off on Friday 9-12", None, ["xingfu-1"])
    await broadcast.feed(uow, a, 100)
    await uow.session.flush()
    row = (
        await uow.session.execute(select(OutboxMessage).where(OutboxMessage.chat_id == user_id))
    ).scalar_one()
    row.status = "blocked"  # what the sender records when Telegram answers 403
    return row


async def test_a_refused_announcement_is_sent_again_on_return(uow: UnitOfWork) -> None:
    resident = await new_resident(uow)
    row = await _refused_announcement(uow, resident.id)
    resident.unreachable = True
    await reachability.reachable_again(uow, resident)
    assert row.status == "pending" and row.campaign.startswith("announce:")


async def test_not_sent_again_to_someone_who_muted_announcements_meanwhile(
    uow: UnitOfWork,
) -> None:
    resident = await new_resident(uow)
    row = await _refused_announcement(uow, resident.id)
    resident.unreachable = True
    announcements.set_muted(resident, True)
    await reachability.reachable_again(uow, resident)
    assert row.status == "blocked"
