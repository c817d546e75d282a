"""A card's older copy, retired by two transactions at once, is remembered once and both commit.

The sender recording a newer copy's delivery and a press redrawing the card may retire the same
older copy in the same moment. Before, each checked for the copy's alias and then inserted it:
on PostgreSQL the later commit failed on the key, and with it the sender's `sent` mark (its
message would have gone out again) or the press.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.services.shared.domain import Domain
from bot.services.shared.messaging import case_of_message, remember_retired
from bot.store.models import MessageRef


async def test_two_transactions_retiring_one_copy_both_commit_and_it_is_remembered_once(
    domain: Domain,
) -> None:
    async with domain.unit() as uow:
        uow.session.add(MessageRef(ref="card:5:777", chat_id=777, message_id=4))
    first_wrote = asyncio.Event()
    recorded: list[bool] = []

    async def retire(wait_for: asyncio.Event | None) -> None:
        if wait_for is not None:
            await wait_for.wait()
        async with domain.unit() as uow:
            ref = await uow.session.get(MessageRef, "card:5:777")
            assert ref is not None
            recorded.append(await remember_retired(uow, ref))
            if wait_for is None:
                first_wrote.set()
                await asyncio.sleep(0.2)  # still open while the other one tries

    await asyncio.wait_for(asyncio.gather(retire(None), retire(first_wrote)), timeout=30)
    assert sorted(recorded) == [False, True]
    async with domain.unit() as uow:
        aliases = (
            await uow.session.execute(
                select(func.count()).select_from(MessageRef).where(MessageRef.ref == "card:5:777:4")
            )
        ).scalar_one()
        assert aliases == 1
        assert await case_of_message(uow, 777, 4) == 5  # a reply to the old copy finds its case
