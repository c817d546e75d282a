"""What staff and strangers can see: cases stay out of arbitrary groups, staff-facing data is
pseudonymous and coarse, and the similar-case offer does not show a neighbour's words."""

from __future__ import annotations

import pytest

from bot.services.people.household import resident_of_token, resident_token
from tests.support.chat import LANG_IDS, LANGS, answer_of, label, user_row
from tests.support.world import MEMBER_1, PROPERTY_CHAT, PROPERTY_STAFF, World

NEIGHBOURS_GROUP = -100777


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_case_and_queue_are_refused_in_a_group_the_map_does_not_name(
    world: World, code: str, lang: str
) -> None:
    resident = 1601
    await world.resident(resident, lang=lang)
    case_id, _ = await world.report(resident, "The street light outside building 1 is broken")
    await world.card(MEMBER_1, case_id)
    await world.sim.create_user(1602, "Neighbour", language_code=code)
    await world.sim.create_chat(NEIGHBOURS_GROUP, "Building 1 chat", [MEMBER_1, resident, 1602])
    for user, command in (
        (MEMBER_1, f"/case {case_id}"),
        (MEMBER_1, "/queue"),
        (resident, f"/case {case_id}"),
    ):
        after = await world.last_id(NEIGHBOURS_GROUP)
        await world.sim.send_text(user, command, chat=NEIGHBOURS_GROUP)
        reply = await world.wait_bot(NEIGHBOURS_GROUP, after=after, timeout=2.0)
        assert case_id not in reply["text"] and not reply.get("reply_markup"), reply
        assert "🔒" in reply["text"]
    await world.settle()
    shown = await world.sim.messages(NEIGHBOURS_GROUP)
    assert not any(case_id in (m.get("text") or "") for m in shown if m.get("from_bot"))
    assert not any(m.get("reply_markup") for m in shown if m.get("from_bot"))


async def test_queue_still_works_in_a_party_group_of_the_map(world: World) -> None:
    resident = 1603
    await world.resident(resident)
    case_id, _ = await world.report(
        resident, "The lift in our building is broken again, the property company ignores us"
    )
    await world.card(PROPERTY_CHAT, case_id)
    after = await world.last_id(PROPERTY_CHAT)
    await world.sim.send_text(PROPERTY_STAFF, "/queue", chat=PROPERTY_CHAT)
    reply = await world.wait_bot(PROPERTY_CHAT, after=after, timeout=2.0)
    assert "🔒" not in reply["text"]


def callback_data(message: dict) -> list[str]:
    return [
        b["callback_data"]
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]


async def verification_request(world: World, after: int) -> dict:
    return await world.sim.wait_for(
        MEMBER_1, lambda m: any(d.startswith("h:") for d in callback_data(m)), after=after
    )


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_verification_request_names_the_resident_by_pseudonym_in_the_staff_language(
    world: World, code: str, lang: str
) -> None:
    resident = 1611
    after = await world.last_id(MEMBER_1)
    await world.resident(resident, lang=code)
    request = await verification_request(world, after)
    assert not any(str(resident) in d for d in callback_data(request)), callback_data(request)
    assert str(resident) not in request["text"]
    # the member reads Chinese: the building is named in Chinese, whatever the resident reads
    assert "幸福小区1号楼" in request["text"] and "Xingfu Garden" not in request["text"]
    # the old form of the button (the Telegram id) is a forgery now
    forged = await world.sim.press(
        MEMBER_1, request["message_id"], data=f"h:y:{resident}", forge=True
    )
    await answer_of(world, forged)
    await world.settle()
    assert not (await user_row(world, resident)).verified  # type: ignore[union-attr]
    approved = await world.press(MEMBER_1, request, label(world, "zh", "btn_verify_yes"))
    await answer_of(world, approved)
    await world.settle()
    assert (await user_row(world, resident)).verified  # type: ignore[union-attr]


async def test_a_pinned_home_reaches_staff_as_the_grid_only(world: World) -> None:
    resident = 1612
    await world.sim.create_user(resident, "Pin", language_code="en")
    after_member = await world.last_id(MEMBER_1)
    await world.say(resident, "/start")
    welcome = await world.wait_bot(resident, buttons=True)
    await world.press(resident, welcome, "✅")
    asked = await world.wait_bot(resident, after=welcome["message_id"])
    await world.sim.send_location(resident, 39.91234, 116.40123)
    await world.wait_bot(resident, after=asked["message_id"])
    request = await verification_request(world, after_member)
    text = request["text"]
    assert "39.91" not in text and "116.40" not in text
    assert "第一网格（幸福小区南）" in text, text


def test_resident_token_turns_back_into_the_id_and_hides_it() -> None:
    for user_id in (50001, 9876543, 2**52 - 1):
        token = resident_token("secret", user_id)
        assert len(token) == 16 and str(user_id) not in token
        assert resident_of_token("secret", token) == user_id
        assert resident_of_token("other", token) != user_id
    assert resident_of_token("secret", "50001") is None
    assert resident_of_token("secret", "zz" * 8) is None


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_similar_case_offer_shows_category_place_and_date_not_the_neighbours_words(
    world: World, code: str, lang: str
) -> None:
    first, second = 1621, 1622
    await world.resident(first, lang="en")
    await world.resident(second, lang=code, address="Xingfu Garden Building 2")
    words = "The street light outside building 1 has been broken for a week, my flat 301 is dark"
    case_id, _ = await world.report(first, words)
    after = await world.last_id(second)
    await world.say(second, "The street light outside building 1 is broken")
    draft = await world.wait_bot(second, buttons=True, after=after)
    await world.press(second, draft, label(world, lang, "btn_send_report"))
    offer = await world.wait_bot(second, case_id, after=draft["message_id"], buttons=True)
    text = offer["text"]
    assert "flat 301" not in text and "for a week" not in text
    assert label(world, lang, "cat_facilities") in text
    assert {"en": "Xingfu Garden Building 1", "zh": "幸福小区1号楼"}[lang] in text
    assert "2026-11-24" in text
