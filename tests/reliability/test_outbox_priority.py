"""During a broadcast, a person waiting for an answer is not queued behind it."""

from __future__ import annotations

import time

from bot.services.shared.outbox import Outbox
from tests.support.world import World


async def test_reply_is_sent_before_a_pending_broadcast(world: World) -> None:
    # Realistic pacing: 25 messages a second overall.
    world.settings_overrides.update(
        send_rate_global=25.0, send_rate_private=1.0, send_burst_private=3
    )
    await world.restart_bot()
    residents = list(range(30_000, 30_150))
    for user in residents:
        await world.sim.create_user(user, f"R{user}", language_code="en")
    app = world.app
    assert app is not None
    async with app.domain.unit() as uow:
        outbox = Outbox(uow.session, app.domain.renderer, uow.now)
        for user in residents:
            outbox.send_text(
                user, "Water will be off on Friday 9:00–12:00.", campaign="announce:test"
            )
    started = time.monotonic()
    await world.sim.create_user(777, "Asker", language_code="en")
    after = await world.last_id(777)
    await world.say(777, "/help")
    await world.wait_bot(777, "/my", after=after, timeout=5)
    answered_in = time.monotonic() - started
    broadcast_sent = 0
    for user in residents:
        if any(m.get("from_bot") for m in await world.sim.messages(user)):
            broadcast_sent += 1
    # 150 broadcast messages take 6 s at 25/s; the answer came long before the broadcast ended.
    assert answered_in < 3.0
    assert broadcast_sent < 150
