"""The outbox sender: pacing, 429, 5xx/network errors, blocked users, crash resume, replicas."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.runtime.app import Gridvoice
from bot.runtime.metrics import Metrics
from bot.runtime.sender import Sender, _Countdown
from bot.services.cases import reachability
from bot.services.shared.domain import Domain
from bot.store.models import CaseEvent, OutboxMessage, User
from tests.reliability.rel_helpers import FlakyProxy, close_world, count, open_world
from tests.support.world import MEMBER_1, World

BURST_ONE = int(
    os.environ.get("GV_BURST_ONE_CHAT", "12")
)  # the 100 takes ~100 s at 1 msg/s
TELEGRAM_PACING = {"send_rate_global": 25.0, "send_rate_private": 1.0, "send_burst_private": 3}


async def queue(domain: Domain, chats: list[int], tag: str) -> None:
    async with domain.unit() as uow:
        for i, chat in enumerate(chats):
            uow.outbox.send_text(chat, f"{tag} #{i} to {chat}")


async def delivered(world: World, chat: int, tag: str) -> list[str]:
    return [
        m["text"]
        for m in await world.sim.bot_messages(chat)
        if (m.get("text") or "").startswith(tag)
    ]


async def wait_sent(world: World, total: int, timeout: float, domain: Domain | None = None) -> None:
    domain = domain or world.app.domain  # type: ignore[union-attr]
    deadline = time.monotonic() + timeout
    while True:
        async with domain.sessions() as session:
            left = len(
                (
                    await session.execute(
                        select(OutboxMessage.id).where(
                            OutboxMessage.status.in_(["pending", "sending"])
                        )
                    )
                ).all()
            )
        if left == 0:
            return
        assert time.monotonic() < deadline, f"{left} of {total} messages still queued"
        await asyncio.sleep(0.1)


async def test_burst_within_flood_limits_every_message_once(tmp_path: Path) -> None:
    world = await open_world(tmp_path, flood=True, **TELEGRAM_PACING)
    try:
        one, many = 70001, list(range(71000, 71200))
        for user in [one, *many]:
            await world.sim.create_user(user, f"U{user}")
        assert world.app is not None
        await queue(world.app.domain, [one] * BURST_ONE + many, "burst")
        await wait_sent(world, BURST_ONE + len(many), timeout=BURST_ONE + 40)
        texts = await delivered(world, one, "burst")
        assert texts == [f"burst #{i} to {one}" for i in range(BURST_ONE)]  # once each, in order
        for i, user in enumerate(many):
            assert await delivered(world, user, "burst") == [f"burst #{BURST_ONE + i} to {user}"]
        stats = await world.sim.stats()
        # Pacing keeps within the limits; network jitter may let a rare 429 through, which is
        # obeyed (everything above arrived exactly once, in order).
        assert stats["rejected_429"] <= 3, stats
        assert stats["max_per_second_overall"] <= 30
        assert stats["max_per_second_per_chat"] <= 3
    finally:
        await close_world(world)


async def test_429_retry_after_is_obeyed_and_order_kept(tmp_path: Path) -> None:
    # The bot believes it may send 50/s to one chat; the emulator (like Telegram) says no.
    world = await open_world(
        tmp_path, flood=True, send_rate_private=50.0, send_burst_private=50, send_rate_global=1000.0
    )
    try:
        user = 70100
        await world.sim.create_user(user, "Fast")
        assert world.app is not None
        await queue(world.app.domain, [user] * 8, "fast")
        await wait_sent(world, 8, timeout=30)
        assert await delivered(world, user, "fast") == [f"fast #{i} to {user}" for i in range(8)]
        stats = await world.sim.stats()
        assert stats["rejected_429"] >= 1  # it was told to wait ...
        assert world.app.metrics.counters["gridvoice_outbox_retry_after_total"] >= 1
        assert await count(world, OutboxMessage, OutboxMessage.status == "failed") == 0
        # ... and never asked again before retry_after passed: rejections stay few
        assert stats["rejected_429"] <= 8
    finally:
        await close_world(world)


@pytest.mark.parametrize("mode", ["502", "close"])
async def test_5xx_and_network_errors_retried_nothing_lost(tmp_path: Path, mode: str) -> None:
    world = await open_world(tmp_path, start=False)
    proxy = FlakyProxy(world.emu.url)
    await proxy.start()
    try:
        world.app = Gridvoice(world.settings.with_(api_url=proxy.url), clock=world.clock)
        await world.app.start(migrate=False, serve_http=False)
        users = list(range(70200, 70210))
        for user in users:
            await world.sim.create_user(user, f"U{user}")
        proxy.mode = mode  # the Bot API is down
        assert world.app is not None
        await queue(world.app.domain, users * 3, "outage")
        await asyncio.sleep(1.5)
        assert proxy.failed >= 1
        proxy.mode = "ok"
        await wait_sent(world, 30, timeout=40)
        for user in users:
            assert len(await delivered(world, user, "outage")) == 3
        assert world.app.metrics.counters["gridvoice_outbox_network_errors_total"] >= 1
    finally:
        await close_world(world)
        await proxy.stop()


async def test_blocked_resident_marked_unreachable_and_shown_on_case(world: World) -> None:
    resident = 70300
    await world.resident(resident)
    case_id, _ = await world.report(
        resident, "The street light outside building 1 has been broken for a week"
    )
    card = await world.card(MEMBER_1, case_id)
    await world.settle()
    await world.sim.block(resident)
    await world.act(MEMBER_1, card, "acc")  # the resident would be told: they blocked the bot
    for _ in range(100):
        if await count(world, CaseEvent, CaseEvent.kind == "unreachable"):
            break
        await asyncio.sleep(0.05)
    await world.settle()
    assert await count(world, CaseEvent, CaseEvent.kind == "unreachable") == 1
    blocked = await count(world, OutboxMessage, OutboxMessage.status == "blocked")
    assert blocked >= 1
    calls = len(await world.sim.calls("sendMessage"))
    await asyncio.sleep(1.5)  # not retried forever
    assert len(await world.sim.calls("sendMessage")) == calls
    after = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, f"/case {case_id}")
    timeline = await world.wait_bot(MEMBER_1, case_id, after=after)
    assert "联系不上居民" in timeline["text"], timeline["text"]  # zh: "resident unreachable"


async def test_crash_resume_no_loss_no_repeat(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = list(range(70400, 70420))
    for user in users:
        await world.sim.create_user(user, f"U{user}")
    await world.stop_bot()
    # slow enough to crash mid-way; a short lease so the restarted sender takes over at once
    world.settings_overrides.update(send_rate_global=60.0, outbox_lease=timedelta(seconds=1))
    await world.start_bot()
    assert world.app is not None
    await queue(world.app.domain, users * 5, "crash")
    for _ in range(200):
        if sum([len(await delivered(world, u, "crash")) for u in users]) >= 10:
            break
        await asyncio.sleep(0.02)
    # a crash: the loops die wherever they are (no graceful drain)
    for task in world.app.tasks:
        task.cancel()
    await asyncio.gather(*world.app.tasks, return_exceptions=True)
    world.app.tasks = []
    sent_before = sum([len(await delivered(world, u, "crash")) for u in users])
    assert 0 < sent_before < 100
    await world.stop_bot()
    world.settings_overrides.update(send_rate_global=10_000.0)
    await world.start_bot()
    await wait_sent(world, 100, timeout=30)
    duplicates = 0
    for user in users:
        got = await delivered(world, user, "crash")
        expected = {f"crash #{i} to {user}" for i in range(100) if users[i % len(users)] == user}
        assert set(got) == expected  # nothing lost
        duplicates += len(got) - len(set(got))
    # A call Telegram accepted whose 'sent' mark died with the loops: the courier made it,
    # journalled it, and the restarted sender marked it sent before sending anything.
    assert duplicates == 0


async def test_two_senders_share_500_rows_each_sent_once(world: World) -> None:
    if world.db_url.startswith("sqlite"):
        pytest.skip("SKIP LOCKED sharing is a PostgreSQL feature; SQLite runs one sender per file")
    await world.stop_bot()
    users = list(range(70500, 70550))
    for user in users:
        await world.sim.create_user(user, f"U{user}")
    settings = world.settings
    gv_a, gv_b = Gridvoice(settings), Gridvoice(settings)
    for gv in (gv_a, gv_b):
        await gv.application.initialize()
    try:
        # written by a process that sends nothing itself (the web, a command): a bot's own
        # conversation is born claimed by its own sender, these rows wait in the store
        gv_a.domain.takes_born = False
        await queue(gv_a.domain, users * 10, "shared")
        senders = [
            Sender(gv_a.domain, gv_a.bot, Metrics()),
            Sender(gv_b.domain, gv_b.bot, Metrics()),
        ]
        tasks = [asyncio.create_task(s.run()) for s in senders]
        await wait_sent(world, 500, timeout=60, domain=gv_a.domain)
        for s in senders:
            s.stop()
        await asyncio.gather(*tasks)
        texts = [
            m["text"]
            for u in users
            for m in await world.sim.bot_messages(u)
            if (m.get("text") or "").startswith("shared")
        ]
        assert len(texts) == 500 and len(set(texts)) == 500
        shares = [s.metrics.counters["gridvoice_messages_sent_total"] for s in senders]
        assert sum(shares) == 500 and min(shares) > 0, shares
    finally:
        for gv in (gv_a, gv_b):
            await gv.application.shutdown()
            await gv.domain.dispose()


async def test_a_card_copy_recorded_late_still_leaves_one_live_copy(world: World) -> None:
    """The original card's delivery is recorded after `/case` asked for a copy (the copy's
    request saw no copy to retire): when the copy is recorded, the original loses its buttons,
    and a reply to it still reaches the case."""
    from bot.store.models import MessageRef

    resident = 70310
    await world.resident(resident)
    case_id, _ = await world.report(
        resident, "The street light outside building 2 has been broken for a week"
    )
    original = await world.card(MEMBER_1, case_id)
    await world.settle()
    assert world.app is not None
    async with world.app.domain.unit() as uow:
        # as if the original's delivery were not recorded yet when the copy was asked for
        ref = (
            await uow.session.execute(
                select(MessageRef).where(
                    MessageRef.ref.like("card:%"),
                    MessageRef.chat_id == MEMBER_1,
                    MessageRef.message_id == original["message_id"],
                )
            )
        ).scalar_one()
        name = ref.ref
        await uow.session.delete(ref)
    after = await world.last_id(MEMBER_1)
    async with world.app.domain.unit() as uow:
        uow.outbox.send_text(MEMBER_1, f"copy of {case_id}", ref=name)
        uow.session.add(MessageRef(ref=name, chat_id=MEMBER_1, message_id=original["message_id"]))
    await world.wait_bot(MEMBER_1, f"copy of {case_id}", after=after)
    await world.settle()
    now = [
        m for m in await world.sim.messages(MEMBER_1) if m["message_id"] == original["message_id"]
    ]
    assert original.get("reply_markup", {}).get("inline_keyboard")
    assert not (now[0].get("reply_markup") or {}).get("inline_keyboard")
    async with world.app.domain.sessions() as session:
        alias = await session.get(MessageRef, f"{name}:{original['message_id']}")
        live = await session.get(MessageRef, name)
    assert alias is not None and live is not None
    assert live.message_id != original["message_id"]


async def test_a_person_back_between_claim_and_refusal_still_gets_their_messages(
    world: World,
) -> None:
    """A sender claims messages to someone it reads as having blocked the bot; before it
    records them refused, the person writes again (their return finds nothing refused). The
    messages are sent, and the person is not marked unreachable again."""
    await world.stop_bot()
    user = 70600
    await world.sim.create_user(user, f"U{user}")
    gv = Gridvoice(world.settings)
    await gv.application.initialize()
    try:
        gv.domain.takes_born = False
        async with gv.domain.unit() as uow:
            uow.session.add(
                User(
                    id=user,
                    language="en",
                    pseudonym="R-70600",
                    unreachable=True,
                    created_at=uow.now,
                )
            )
        await queue(gv.domain, [user, user], "back")
        sender = Sender(gv.domain, gv.bot, Metrics())
        rows, unreachable, refs = await sender._claim(10, set())
        assert [r.chat_id for r in rows] == [user, user] and unreachable == {user}
        async with gv.domain.unit() as uow:  # they write: any update brings them back
            person = await uow.session.get(User, user)
            assert person is not None
            assert await reachability.reachable_again(uow, person) == []
        await sender._lane(rows, unreachable, refs, _Countdown(len(rows)))
        while await sender.pass_once():
            pass
        assert await delivered(world, user, "back") == [f"back #{i} to {user}" for i in (0, 1)]
        async with gv.domain.sessions() as session:
            person = await session.get(User, user)
            assert person is not None and not person.unreachable
            statuses = (
                await session.execute(
                    select(OutboxMessage.status).where(OutboxMessage.chat_id == user)
                )
            ).scalars()
            assert sorted(statuses) == ["sent", "sent"]
    finally:
        await gv.application.shutdown()
        await gv.domain.dispose()


class _GatedApi:
    """A Bot API whose first call to `gated` waits for `release`; every call is recorded."""

    def __init__(self, gated: int) -> None:
        self.gated = gated
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.order: list[int] = []
        self.n = 0

    async def call(self, method: str, payload: dict[str, object]) -> dict[str, int]:
        chat = int(payload["chat_id"])  # type: ignore[call-overload]
        if chat == self.gated and not self.started.is_set():
            self.started.set()
            await self.release.wait()
        else:
            await asyncio.sleep(0.02)  # a broadcast's call takes a moment
        self.order.append(chat)
        self.n += 1
        return {"message_id": self.n}

    async def close(self) -> None:
        return None


async def test_an_answer_held_for_a_busy_chat_is_not_sent_behind_a_broadcast(
    world: World,
) -> None:
    """A committee's chat still has a message on its way when its next step writes an answer
    and 40 ballots: the answer goes as soon as the chat is free, before any of the ballots."""
    await world.stop_bot()
    committee, voters = 70700, list(range(70701, 70741))
    gv = Gridvoice(world.settings.with_(courier=False, send_concurrency=4))
    await gv.application.initialize()
    try:
        sender = Sender(gv.domain, gv.bot, Metrics())
        api = _GatedApi(committee)
        sender.api = api  # type: ignore[assignment]
        async with gv.domain.unit() as uow:
            uow.outbox.send_text(committee, "step 1 saved")
        first = asyncio.create_task(sender.pass_once())
        await asyncio.wait_for(api.started.wait(), 10)  # its call is in flight
        async with gv.domain.unit() as uow:  # the next step: the answer, then the ballots
            uow.outbox.send_text(committee, "published")
            for voter in voters:
                uow.outbox.send_text(voter, "ballot", campaign="consult:1")
        second = asyncio.create_task(sender.pass_once())
        await asyncio.sleep(0.05)
        api.release.set()  # the committee's chat is free
        await asyncio.wait_for(asyncio.gather(first, second), 30)
        while await asyncio.wait_for(sender.pass_once(), 30):
            pass
        assert sorted(api.order) == sorted([committee, committee, *voters])
        answered = [i for i, chat in enumerate(api.order) if chat == committee][1]
        assert answered == 1, api.order  # right after the message it waited for
    finally:
        await gv.application.shutdown()
        await gv.domain.dispose()
