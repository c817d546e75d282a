"""Deadlines with a controllable clock: reminders, the escalation ladder, restarts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.chat import LANG_IDS, LANGS, case_row, event_kinds, label, settle, wake
from tests.support.world import CENTRE, LEADER, MEMBER_1, STREET, World

LIGHT = {
    "en": "The street light outside building 1 has been broken for a week",
    "zh": "楼下路灯坏了一个星期了",
}


def buttons_data(message: dict) -> list[str]:
    return [
        b["callback_data"]
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]


async def cards_with_buttons(world: World, chat_id: int, case_id: str) -> list[dict]:
    return [
        m
        for m in await world.sim.bot_messages(chat_id)
        if case_id in (m["text"] or "") and any(d.startswith("c:") for d in buttons_data(m))
    ]


async def card_sends(world: World, chat_id: int, case_id: str) -> int:
    """How many times a card for the case was sent (not edited) to the chat."""
    return sum(
        1
        for c in await world.sim.calls("sendMessage")
        if str(c["params"].get("chat_id")) == str(chat_id)
        and case_id in str(c["params"].get("text"))
        and "reply_markup" in c["params"]
        and c.get("status", 200) == 200
    )


async def until(world: World, case_id: str, minutes_after: int, field: str = "accept_by") -> None:
    row = await case_row(world, case_id)
    target = getattr(row, field)
    world.clock.advance(target - world.clock.now() + timedelta(minutes=minutes_after))


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_reminder_then_the_ladder_member_leader_centre_street(
    world: World, code: str, lang: str
) -> None:
    user = 1201
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LIGHT[lang])
    card = await world.card(MEMBER_1, case_id)

    # reminder before the accept deadline
    await until(world, case_id, -20)
    await wake(world)
    reminder = await world.wait_bot(MEMBER_1, "⏰", after=card["message_id"])
    assert case_id in reminder["text"]
    await wake(world)  # only once
    assert sum(1 for m in await world.sim.bot_messages(MEMBER_1) if "⏰" in (m["text"] or "")) == 1

    # missed: up to the leader; the old owner, the new owner and the resident are told
    after_user, after_member = await world.last_id(user), await world.last_id(MEMBER_1)
    await until(world, case_id, 1)
    await wake(world)
    leader_card = await world.card(LEADER, case_id)
    assert any(d.startswith("c:acc:") for d in buttons_data(leader_card))
    await world.wait_bot(LEADER, "⏫")
    told = await world.wait_bot(MEMBER_1, "⏫", after=after_member)
    assert case_id in told["text"] and "李强" in told["text"]
    old = [
        m for m in await world.sim.bot_messages(MEMBER_1) if m["message_id"] == card["message_id"]
    ][0]
    assert not buttons_data(old)
    resident_told = await world.wait_bot(user, "⏫", after=after_user)
    assert case_id in resident_told["text"] and "李强" in resident_told["text"]
    row = await case_row(world, case_id)
    assert (row.status, row.owner_id, row.rung) == ("escalated", LEADER, "leader")

    # the leader misses it too: the community centre, then the street office
    await until(world, case_id, 1)
    await wake(world)
    await world.card(CENTRE, case_id)
    assert (await case_row(world, case_id)).owner_id == CENTRE
    await world.wait_bot(LEADER, "⏫", after=leader_card["message_id"])
    await until(world, case_id, 1)
    await wake(world)
    street_card = await world.card(STREET, case_id)
    row = await case_row(world, case_id)
    assert (row.owner_id, row.rung, row.escalation_count) == (STREET, "street", 3)
    # the top of the ladder: nothing further, but it is recorded once
    await until(world, case_id, 1)
    await wake(world, 2)
    kinds = await event_kinds(world, case_id)
    assert kinds.count("escalated") == 3 and kinds.count("escalation_top") == 1
    updates = [
        m for m in await world.sim.bot_messages(user, after_user) if "⏫" in (m["text"] or "")
    ]
    assert len(updates) == 3
    # the street office can still act
    await world.act(STREET, street_card, "acc")
    await world.wait_bot(user, "👍", after=updates[-1]["message_id"])


async def test_resolve_deadline_escalates_an_accepted_case(world: World) -> None:
    user = 1202
    await world.resident(user)
    case_id, _ = await world.report(user, LIGHT["en"])
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "acc")
    await world.wait_edited(MEMBER_1, card["message_id"], label(world, "zh", "status_accepted"))
    await until(world, case_id, -20, "resolve_by")
    await wake(world)
    reminder = await world.wait_bot(MEMBER_1, "⏰")
    assert "办结" in reminder["text"] or "resolved" in reminder["text"]
    await until(world, case_id, 1, "resolve_by")
    await wake(world)
    await world.card(LEADER, case_id)
    row = await case_row(world, case_id)
    assert (row.status, row.owner_id) == ("escalated", LEADER)


async def test_restart_between_deadline_and_escalation_escalates_exactly_once(world: World) -> None:
    user = 1203
    await world.resident(user)
    case_id, _ = await world.report(user, LIGHT["en"])
    await world.card(MEMBER_1, case_id)
    await settle(world)
    due = (await case_row(world, case_id)).accept_by
    await world.stop_bot()
    world.clock.advance(
        due - world.clock.now() + timedelta(minutes=5)
    )  # passes while the bot is down
    await world.start_bot()
    await wake(world, 3)
    await world.restart_bot()
    await wake(world, 3)
    await world.card(LEADER, case_id)
    kinds = await event_kinds(world, case_id)
    assert kinds.count("escalated") == 1
    assert len(await cards_with_buttons(world, LEADER, case_id)) == 1
    assert await card_sends(world, LEADER, case_id) == 1
    resident_updates = [m for m in await world.sim.bot_messages(user) if "⏫" in (m["text"] or "")]
    assert len(resident_updates) == 1


async def test_two_bots_on_one_database_escalate_once(world: World) -> None:
    """Two replicas waking their schedulers at the same moment: one escalation."""
    from bot.runtime.app import Gridvoice

    user = 1204
    await world.resident(user)
    case_id, _ = await world.report(user, LIGHT["en"])
    await world.card(MEMBER_1, case_id)
    await settle(world)
    second = Gridvoice(world.settings, clock=world.clock)
    await second.start(migrate=False, serve_http=False)
    try:
        await until(world, case_id, 5)
        for _ in range(3):
            assert world.app is not None
            world.app.domain.schedule_changed.set()
            second.domain.schedule_changed.set()
            await settle(world)
    finally:
        await second.stop()
    await world.card(LEADER, case_id)
    assert (await event_kinds(world, case_id)).count("escalated") == 1
    assert await card_sends(world, LEADER, case_id) == 1
