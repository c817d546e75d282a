"""Party staff talk to the resident by replying to the case card in their group."""

from __future__ import annotations

from tests.support.world import PROPERTY_CHAT, PROPERTY_STAFF, World


async def test_reply_to_card_in_party_group_reaches_resident_and_answer_comes_back(
    world: World,
) -> None:
    resident = 1501
    await world.resident(resident)
    case_id, _ = await world.report(
        resident, "The lift in our building is broken again, the property company ignores us"
    )
    card = await world.card(PROPERTY_CHAT, case_id)
    assert "R-" in card["text"] and "Resident1501" not in card["text"]

    after = await world.last_id(resident)
    await world.sim.send_text(
        PROPERTY_STAFF,
        "Which floor does it stop at?",
        chat=PROPERTY_CHAT,
        reply_to=card["message_id"],
    )
    question = await world.wait_bot(resident, "Which floor does it stop at?", after=after)
    assert case_id in question["text"]
    assert "物业小王" not in question["text"]  # the staff member's account stays hidden

    group_after = await world.last_id(PROPERTY_CHAT)
    await world.say(resident, "It stops between the 5th and 6th floor")
    answer = await world.wait_bot(PROPERTY_CHAT, "5th and 6th floor", after=group_after)
    assert case_id in answer["text"] and "Resident1501" not in answer["text"]


async def test_plain_chatter_in_a_party_group_is_ignored(world: World) -> None:
    before = await world.last_id(PROPERTY_CHAT)
    await world.sim.send_text(PROPERTY_STAFF, "lunch at 12?", chat=PROPERTY_CHAT)
    await world.settle()
    assert [
        m for m in await world.sim.messages(PROPERTY_CHAT, after=before) if m.get("from_bot")
    ] == []
