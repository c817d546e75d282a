"""The property company works a case from its group chat: accept, ask, resolve with a photo."""

from __future__ import annotations

import pytest

from tests.support.chat import (
    LANG_IDS,
    LANGS,
    PNG,
    answer_of,
    case_row,
    event_kinds,
    failed_inbox,
    label,
    settle,
)
from tests.support.world import MEMBER_1, PROPERTY_CHAT, PROPERTY_STAFF, World

LIFT = {
    "en": "The lift in our building is broken, property management ignores us",
    "zh": "电梯坏了，物业不管",
}


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_party_accepts_asks_and_resolves_with_photo_from_its_group(
    world: World, code: str, lang: str
) -> None:
    user = 1401
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LIFT[lang])
    card = await world.card(PROPERTY_CHAT, case_id)
    after = await world.last_id(user)
    pressed = await world.act(PROPERTY_STAFF, card, "acc", chat=PROPERTY_CHAT)
    await answer_of(world, pressed)
    accepted = await world.wait_bot(user, case_id, after=after)
    assert "👍" in accepted["text"]
    await settle(world)
    card = [
        m for m in await world.sim.messages(PROPERTY_CHAT) if m["message_id"] == card["message_id"]
    ][0]

    # ask: the prompt comes privately (the group is for cards); the question reaches the resident
    after_staff = await world.last_id(PROPERTY_STAFF)
    pressed = await world.act(PROPERTY_STAFF, card, "ask", chat=PROPERTY_CHAT)
    await answer_of(world, pressed)
    prompt = await world.wait_bot(PROPERTY_STAFF, case_id, after=after_staff)
    await world.say(PROPERTY_STAFF, "Which floor does it stop at?")
    question = await world.wait_bot(user, "Which floor", after=accepted["message_id"])
    assert "物业小王" not in question["text"] and "20001" not in question["text"]
    after_group = await world.last_id(PROPERTY_CHAT)
    await world.say(user, "Between 3 and 4")
    answer = await world.wait_bot(PROPERTY_CHAT, "Between 3 and 4", after=after_group)
    assert case_id in answer["text"] and "Resident1401" not in answer["text"]
    await settle(world)
    card = [
        m for m in await world.sim.messages(PROPERTY_CHAT) if m["message_id"] == card["message_id"]
    ][0]

    # resolve with a note and a photo, then the resident rates
    after_staff = await world.last_id(PROPERTY_STAFF)
    pressed = await world.act(PROPERTY_STAFF, card, "res", chat=PROPERTY_CHAT)
    await answer_of(world, pressed)
    await world.wait_bot(PROPERTY_STAFF, case_id, after=after_staff)
    await world.say(PROPERTY_STAFF, "Technician reset the lift controller")
    await world.wait_bot(PROPERTY_STAFF, after=prompt["message_id"], buttons=True)
    after = await world.last_id(user)
    await world.sim.send_photo(PROPERTY_STAFF, PNG)
    resolved = await world.wait_bot(user, "Technician reset", after=after, buttons=True)
    assert [m for m in await world.sim.bot_messages(user, after) if m["photo"]]
    await world.press(user, resolved, "⭐⭐⭐⭐")
    await world.wait_bot(PROPERTY_CHAT, "4/5")
    row = await case_row(world, case_id)
    assert (row.status, row.rating) == ("resolved", 4)
    assert [
        k
        for k in await event_kinds(world, case_id)
        if k in ("accepted", "asked", "answered", "resolved", "rated")
    ] == ["accepted", "asked", "answered", "resolved", "rated"]
    assert await failed_inbox(world) == 0
    # the follow-up member saw it all along without having to act
    assert any(case_id in (m["text"] or "") for m in await world.sim.bot_messages(MEMBER_1))


async def test_party_rejects_with_a_reason_from_its_group(world: World) -> None:
    user = 1402
    await world.resident(user)
    case_id, _ = await world.report(user, LIFT["en"])
    card = await world.card(PROPERTY_CHAT, case_id)
    after_staff = await world.last_id(PROPERTY_STAFF)
    await world.act(PROPERTY_STAFF, card, "rej", chat=PROPERTY_CHAT)
    await world.wait_bot(PROPERTY_STAFF, case_id, after=after_staff)
    after = await world.last_id(user)
    last = await world.last_id(PROPERTY_STAFF)
    await world.say(PROPERTY_STAFF, "The lift was inspected yesterday and works")
    confirm = await world.wait_bot(PROPERTY_STAFF, "inspected yesterday", after=last, buttons=True)
    await world.press(PROPERTY_STAFF, confirm, "❌")
    declined = await world.wait_bot(user, "inspected yesterday", after=after)
    assert case_id in declined["text"]
    assert (await case_row(world, case_id)).status == "rejected"
    assert label(world, "en", "status_rejected")
