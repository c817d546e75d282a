"""Household verification is answered once: the buttons go, a second press changes nothing."""

from __future__ import annotations

import pytest

from bot.services.people.residents import pseudonym_for
from tests.support.chat import LANG_IDS, LANGS, answer_of, label, settle, user_row
from tests.support.world import MEMBER_1, World, button_labels

STAFF_LANG = "zh"
VERIFIED = {"en": "verified by your grid member", "zh": "网格员已确认您的住址"}


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_a_verification_decision_is_final_and_its_buttons_go(
    world: World, code: str, lang: str
) -> None:
    resident = 1701
    await world.resident(resident, lang=lang)
    request = await world.wait_bot(MEMBER_1, pseudonym_for(resident), buttons=True)
    yes = label(world, STAFF_LANG, "btn_verify_yes")
    no = label(world, STAFF_LANG, "btn_verify_no")
    assert {yes, no} <= set(button_labels(request))
    after = await world.last_id(resident)
    pressed = await world.press(MEMBER_1, request, yes)
    await answer_of(world, pressed)
    await world.wait_bot(resident, VERIFIED[lang], after=after)
    await settle(world)
    shown = [
        m for m in await world.sim.messages(MEMBER_1) if m["message_id"] == request["message_id"]
    ][0]
    assert button_labels(shown) == []
    assert pseudonym_for(resident) in shown["text"] and "王芳" in shown["text"]
    # the old "no" button, pressed again (a slow client, a replay): nothing flips
    before = await world.last_id(resident)
    data = [
        b["callback_data"]
        for row in request["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == no
    ][0]
    pressed = await world.sim.press(MEMBER_1, request["message_id"], data=data, forge=True)
    answer = await answer_of(world, pressed)
    assert answer["text"] == label(world, STAFF_LANG, "verify_already_decided", approved=True)
    await settle(world)
    row = await user_row(world, resident)
    assert row is not None and row.verified
    assert await world.last_id(resident) == before  # no contradictory message
