"""Idempotent intake: the same update delivered twice never makes a second case or message."""

from __future__ import annotations

from sqlalchemy import select

from bot.runtime.intake import store_updates
from bot.store.models import Case, InboxUpdate
from tests.reliability.rel_helpers import count
from tests.support.world import MEMBER_1, World


async def _report(world: World, user: int) -> tuple[dict, dict, dict]:
    after = await world.last_id(user)
    text_update = await world.say(
        user, "The street light outside building 1 has been broken for a week"
    )
    draft = await world.wait_bot(user, after=after, buttons=True)
    press_update = await world.press(user, draft, "✅")
    filed = await world.wait_bot(user, "GV-", after=draft["message_id"])
    return text_update, press_update, filed


async def _confirmations(world: World, user: int) -> int:
    return sum(1 for m in await world.sim.bot_messages(user) if "GV-" in (m.get("text") or ""))


async def test_redelivered_report_updates_make_one_case_and_one_confirmation(world: World) -> None:
    resident = 601
    await world.resident(resident)
    text_update, press_update, filed = await _report(world, resident)
    await world.settle()
    cards = len(
        [m for m in await world.sim.bot_messages(MEMBER_1) if "GV-" in (m.get("text") or "")]
    )

    # Telegram delivers both again after they were processed and confirmed.
    await world.sim.redeliver(press_update["update_id"])
    await world.sim.redeliver(text_update["update_id"])
    await world.settle()
    assert await count(world, Case) == 1
    assert await _confirmations(world, resident) == 1
    assert (
        len([m for m in await world.sim.bot_messages(MEMBER_1) if "GV-" in (m.get("text") or "")])
        == cards
    )
    assert world.app is not None
    assert world.app.metrics.counters["gridvoice_updates_duplicate_total"] >= 2


async def test_restart_before_offset_confirmed_does_not_double(world: World) -> None:
    """Updates stored, the process dies before confirming the offset: they come again after restart."""
    resident = 602
    await world.resident(resident)
    text_update, press_update, _ = await _report(world, resident)
    await world.settle()
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        payloads = [
            r.payload
            for r in (
                await session.execute(
                    select(InboxUpdate).where(
                        InboxUpdate.update_id.in_(
                            [text_update["update_id"], press_update["update_id"]]
                        )
                    )
                )
            ).scalars()
        ]
    assert len(payloads) == 2
    await world.stop_bot()  # "killed" before getUpdates confirmed: Telegram will send them again
    await world.sim.redeliver(text_update["update_id"])
    await world.sim.redeliver(press_update["update_id"])
    await world.start_bot()
    # and a second store of the very same payloads (two pollers racing) is a no-op
    assert await store_updates(world.app.domain, payloads) == 0
    await world.settle()
    assert await count(world, Case) == 1
    assert await _confirmations(world, resident) == 1
    assert await world.sim.pending_updates() == 0
