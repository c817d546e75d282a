"""The spine: a resident reports, the grid member accepts and resolves, the resident is told."""

from __future__ import annotations

from tests.support.world import MEMBER_1, World


async def test_resident_report_reaches_member_who_accepts_and_resolves(world: World) -> None:
    resident = 501
    await world.resident(resident)
    case_id, filed = await world.report(
        resident, "The street light outside building 1 has been broken for a week"
    )
    assert "Public facilities" in filed["text"]
    assert "王芳" in filed["text"]

    card = await world.card(MEMBER_1, case_id)
    assert "street light" in card["text"]
    assert (
        "R-" in card["text"] and "Resident501" not in card["text"]
    )  # a pseudonym, not the account

    after = await world.last_id(resident)
    await world.act(MEMBER_1, card, "acc")
    accepted = await world.wait_bot(resident, case_id, after=after)
    assert "accepted" in accepted["text"]

    card = await world.wait_edited(MEMBER_1, card["message_id"], case_id)
    await world.act(MEMBER_1, card, "res")
    prompt = await world.wait_bot(MEMBER_1, after=card["message_id"])
    await world.say(MEMBER_1, "Replaced the bulb, works now")
    photo_prompt = await world.wait_bot(MEMBER_1, after=prompt["message_id"], buttons=True)
    await world.press(MEMBER_1, photo_prompt, "")
    resolved = await world.wait_bot(resident, "resolved", after=accepted["message_id"])
    assert "Replaced the bulb" in resolved["text"]
    assert any(
        "⭐" in b["text"] for row in resolved["reply_markup"]["inline_keyboard"] for b in row
    )
