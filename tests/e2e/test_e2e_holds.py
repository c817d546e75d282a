"""Holds in the chat: the owner asks on the case card (a reason, then days, then a note for the
leader), the leader decides with one press on the message the request brings, once; the
resident is told the case is on hold, why (the category, in their language) and until when."""

from __future__ import annotations

from tests.support.chat import answer_of, case_row, event_kinds, label, settle
from tests.support.world import LEADER, MEMBER_1, World, button_labels

LIGHT = "The street light outside building 1 has been broken for a week"
STAFF_LANG = "zh"
NOTE = "Lamp head on order from the supplier, MARKER-NOTE-8Y"


async def _current(world: World, chat: int, message: dict) -> dict:
    await settle(world)
    return [m for m in await world.sim.messages(chat) if m["message_id"] == message["message_id"]][
        0
    ]


async def test_a_hold_asked_on_the_card_is_approved_by_the_leader_in_one_press(
    world: World,
) -> None:
    user = 1701
    await world.resident(user)
    case_id, _ = await world.report(user, LIGHT)
    card = await world.card(MEMBER_1, case_id)
    after_leader = await world.last_id(LEADER)
    after_user = await world.last_id(user)

    await world.act(MEMBER_1, card, "hld")
    card = await _current(world, MEMBER_1, card)
    await world.press(MEMBER_1, card, label(world, STAFF_LANG, "hold_reason_parts"))
    card = await _current(world, MEMBER_1, card)
    assert label(world, STAFF_LANG, "btn_days", n=14) in button_labels(card)
    assert label(world, STAFF_LANG, "btn_days", n=21) not in button_labels(card)  # at most 14
    after = await world.last_id(MEMBER_1)
    await world.press(MEMBER_1, card, label(world, STAFF_LANG, "btn_days", n=3))
    prompt = await world.wait_bot(MEMBER_1, case_id, after=after)
    await world.say(MEMBER_1, NOTE)
    await world.wait_bot(MEMBER_1, "📨", after=prompt["message_id"])
    assert (await case_row(world, case_id)).held_since is None  # not before the leader decides

    request = await world.wait_bot(LEADER, "MARKER-NOTE-8Y", after=after_leader, buttons=True)
    assert case_id in request["text"]
    await world.press(LEADER, request, label(world, STAFF_LANG, "btn_approve"))
    told = await world.wait_bot(user, "on hold", after=after_user)
    assert "waiting for parts" in told["text"] and "MARKER" not in told["text"]
    row = await case_row(world, case_id)
    assert row.held_since is not None and row.deferrals == 1 and row.held_reason == "parts"
    assert (row.held_until - row.held_since).days == 3

    # The request's buttons are used: a replayed press changes nothing.
    used = await _current(world, LEADER, request)
    assert not button_labels(used)
    data = request["reply_markup"]["inline_keyboard"][0][1]["callback_data"]  # decline
    pressed = await world.sim.press(LEADER, request["message_id"], data=data, forge=True)
    assert (await answer_of(world, pressed))["text"]
    await settle(world)
    assert (await event_kinds(world, case_id)).count("held") == 1
    assert "hold_declined" not in await event_kinds(world, case_id)
    assert (await case_row(world, case_id)).deferrals == 1


async def test_a_forged_day_count_is_refused(world: World) -> None:
    user = 1702
    await world.resident(user)
    case_id, _ = await world.report(user, LIGHT)
    card = await world.card(MEMBER_1, case_id)
    row = await case_row(world, case_id)
    forged = f"c:hlu:{row.id}:{row.version}:parts:99"
    pressed = await world.sim.press(MEMBER_1, card["message_id"], data=forged, forge=True)
    assert (await answer_of(world, pressed))["text"]
    await settle(world)
    assert await event_kinds(world, case_id) == ["created"]
