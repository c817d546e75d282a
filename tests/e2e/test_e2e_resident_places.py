"""Homes and places: onboarding buttons that lapse, homes given as pins, venues, image files,
and text written before consent."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.services.shared.outbox import document_file_id
from bot.store.models import Case, CasePhoto, User
from tests.support.world import CASE_ID, MEMBER_1, MEMBER_2, MEMBER_4, World, button_labels

LANGS = [("en", "en"), ("zh-hans", "zh")]
pytestmark = pytest.mark.parametrize(("code", "lang"), LANGS, ids=["en", "zh"])

STAFF_LANG = "zh"  # the demo map's staff read Chinese
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def label(world: World, lang: str, key: str, **data: Any) -> str:
    assert world.app is not None
    return world.app.domain.renderer.label(lang, key, **data)


def building_name(world: World, building_id: str, lang: str) -> str:
    assert world.app is not None
    return world.app.domain.routing.gridmap.buildings[building_id].name.get(lang)


def grid_name(world: World, grid_id: str, lang: str) -> str:
    assert world.app is not None
    return world.app.domain.routing.gridmap.grids[grid_id].name.get(lang)


async def user_row(world: World, user_id: int) -> User:
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        row = await session.get(User, user_id)
    assert row is not None
    return row


async def case_row(world: World, human_id: str) -> Case:
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        return (await session.execute(select(Case).where(Case.human_id == human_id))).scalar_one()


async def answer_of(world: World, pressed: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        answer = await world.sim.callback_answer(pressed["callback_query_id"])
        if answer.get("answered"):
            return answer
        if loop.time() > deadline:
            raise AssertionError(f"callback never answered: {answer}")
        await asyncio.sleep(0.03)


def verify_buttons(message: dict[str, Any]) -> bool:
    return any(
        b["callback_data"].startswith("h:y:")
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    )


async def verify_requests(world: World, member: int) -> list[dict[str, Any]]:
    return [m for m in await world.sim.bot_messages(member) if verify_buttons(m)]


async def onboard_to_choice(world: World, user: int, code: str, typed: str) -> dict[str, Any]:
    """Consent, then type an address: returns the bot's "which is your building?" message."""
    await world.sim.create_user(user, f"Resident{user}", language_code=code)
    await world.say(user, "/start")
    welcome = await world.wait_bot(user, buttons=True)
    await world.press(user, welcome, "✅")
    asked = await world.wait_bot(user, after=welcome["message_id"])
    await world.say(user, typed)
    return await world.wait_bot(user, after=asked["message_id"], buttons=True)


async def test_an_old_building_button_moves_no_verified_resident(
    world: World, code: str, lang: str
) -> None:
    user = 1601
    choose = await onboard_to_choice(world, user, code, "５号楼")
    xf5, ak5 = building_name(world, "xf-5", lang), building_name(world, "ak-5", lang)
    assert {xf5, ak5} <= set(button_labels(choose))  # two estates have a building 5
    await world.press(user, choose, xf5)
    await world.wait_bot(user, after=choose["message_id"])
    await world.settle()
    [request] = await verify_requests(world, MEMBER_1)
    approved = await world.press(MEMBER_1, request, label(world, STAFF_LANG, "btn_verify_yes"))
    await answer_of(world, approved)
    await world.settle()
    assert (await user_row(world, user)).verified

    # Two weeks later the old list is still in the chat: its other building counts no more.
    world.clock.advance(timedelta(days=14))
    after = await world.last_id(user)
    pressed = await world.press(user, choose, ak5)
    answer = await answer_of(world, pressed)
    assert answer["text"] == label(world, lang, "choice_expired")
    # A forged press of a building never offered, and of "none of these", change nothing too.
    for data in ("o:bld:hp-12", "o:none"):
        forged = await world.sim.press(user, choose["message_id"], data=data, forge=True)
        assert (await answer_of(world, forged))["text"] == label(world, lang, "choice_expired")
    await world.settle()
    row = await user_row(world, user)
    assert (row.home_grid_id, row.home_building_id, row.verified) == ("xingfu-1", "xf-5", True)
    assert row.state is None
    assert await world.sim.bot_messages(user, after) == []
    assert await verify_requests(world, MEMBER_4) == []  # nobody in another grid was asked


async def test_only_an_offered_building_can_be_chosen(world: World, code: str, lang: str) -> None:
    user = 1602
    choose = await onboard_to_choice(world, user, code, "安康小区五栋")
    assert button_labels(choose)[0] == building_name(world, "ak-5", lang)
    forged = await world.sim.press(user, choose["message_id"], data="o:bld:xf-1", forge=True)
    assert (await answer_of(world, forged))["text"] == label(world, lang, "choice_expired")
    await world.settle()
    row = await user_row(world, user)
    assert row.home_grid_id is None and row.state == "address"  # still choosing
    await world.press(user, choose, building_name(world, "ak-5", lang))
    await world.wait_bot(user, "杨丽", after=choose["message_id"])
    row = await user_row(world, user)
    assert (row.home_grid_id, row.home_building_id) == ("xingfu-4", "ak-5")
    # the consent button of the first message is used up as well
    welcome = (await world.sim.bot_messages(user))[0]
    pressed = await world.press(user, welcome, "✅")
    assert (await answer_of(world, pressed))["text"] == label(world, lang, "choice_expired")
    await world.settle()
    assert (await user_row(world, user)).state is None


async def register_by_pin(world: World, user: int, code: str, lat: float, lon: float) -> None:
    await world.sim.create_user(user, f"Pin{user}", language_code=code)
    await world.say(user, "/start")
    welcome = await world.wait_bot(user, buttons=True)
    await world.press(user, welcome, "✅")
    asked = await world.wait_bot(user, after=welcome["message_id"])
    await world.sim.send_location(user, lat, lon)
    await world.wait_bot(user, after=asked["message_id"])
    await world.settle()


SMOKE = {"en": "Smoke is coming out of the stairwell!", "zh": "楼道里冒烟了，快来看看！"}


async def test_a_report_from_a_pinned_home_tells_staff_which_block(
    world: World, code: str, lang: str
) -> None:
    user = 1603
    await register_by_pin(world, user, code, 39.91352, 116.40243)  # at Xingfu Building 8
    row = await user_row(world, user)
    assert row.home_grid_id == "xingfu-2" and row.home_building_id is None
    assert row.home_address == "39.9135, 116.4024"  # rounded: the building, not the door
    [request] = await verify_requests(world, MEMBER_2)  # the member is told where the pin is
    assert building_name(world, "xf-8", STAFF_LANG) in request["text"]

    case_id, filed = await world.report(user, SMOKE[lang])
    grid = grid_name(world, "xingfu-2", lang)
    assert filed["text"].count(grid) == 1, filed["text"]  # the grid is named once
    card = await world.card(MEMBER_2, case_id)
    near = building_name(world, "xf-8", STAFF_LANG)
    assert near in card["text"] and "39.91350" in card["text"], card["text"]
    case = await case_row(world, case_id)
    assert (case.latitude, case.longitude) == (39.9135, 116.4024)


async def test_a_venue_is_a_place_in_a_report_and_at_onboarding(
    world: World, code: str, lang: str
) -> None:
    user = 1604
    venue = {
        "location": {"latitude": 39.91352, "longitude": 116.40243},
        "title": "幸福菜市场" if lang == "zh" else "Xingfu wet market",
        "address": "幸福路" if lang == "zh" else "Xingfu Rd",
    }
    await world.sim.create_user(user, "Venue", language_code=code)
    await world.say(user, "/start")
    welcome = await world.wait_bot(user, buttons=True)
    await world.press(user, welcome, "✅")
    asked = await world.wait_bot(user, after=welcome["message_id"])
    await send_venue(world, user, venue)
    await world.wait_bot(user, "刘洋", after=asked["message_id"])
    assert (await user_row(world, user)).home_grid_id == "xingfu-2"

    after = await world.last_id(user)
    await world.say(user, SMOKE[lang])
    await world.wait_bot(user, after=after, buttons=True)
    after = await world.last_id(user)
    await send_venue(
        world, user, {**venue, "location": {"latitude": 39.9105, "longitude": 116.4058}}
    )
    draft = await world.wait_bot(user, after=after, buttons=True)
    assert venue["title"] in draft["text"]
    assert grid_name(world, "xingfu-3", lang) in draft["text"]
    await world.press(user, draft, "✅")
    filed = await world.wait_bot(user, "GV-", after=draft["message_id"])
    case = await case_row(world, human_id(filed))
    assert case.grid_id == "xingfu-3" and case.place_text == f"{venue['title']}, {venue['address']}"


async def send_venue(world: World, user: int, venue: dict[str, Any]) -> None:
    """A venue as Telegram sends it: the venue and its location."""
    await world.sim.raw_update(
        {
            "message": {
                "message_id": 50_000 + await world.last_id(user),
                "date": 0,
                "chat": {"id": user, "type": "private"},
                "from": {"id": user, "is_bot": False, "first_name": "R"},
                "location": venue["location"],
                "venue": venue,
            }
        }
    )


async def test_an_image_sent_as_a_file_is_a_photo(world: World, code: str, lang: str) -> None:
    user = 1605
    await world.resident(user, lang=lang)
    after = await world.last_id(user)
    sent = await world.sim.send_raw(
        "document",
        user,
        value={"file_name": "leak.png", "mime_type": "image/png"},
        caption=SMOKE[lang],
    )
    [message] = [m for m in await world.sim.messages(user) if m["message_id"] == sent["message_id"]]
    draft = await world.wait_bot(user, after=after, buttons=True)
    assert SMOKE[lang] in draft["text"]
    await world.press(user, draft, "✅")
    filed = await world.wait_bot(user, "GV-", after=draft["message_id"])
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        photos = (await session.execute(select(CasePhoto))).scalars().all()
    file_id = message["document"]["file_id"]
    assert [document_file_id(p.file_id) for p in photos] == [file_id], filed
    # The member gets it back the only way Telegram allows: as a document, never a photo.
    async with world.app.domain.sessions() as session:
        owner_chat = (await session.execute(select(Case.owner_chat_id))).scalar_one()
    for _ in range(50):
        sent_back = [
            m
            for m in await world.sim.messages(owner_chat)
            if m.get("from_bot") and (m.get("document") or {}).get("file_id") == file_id
        ]
        if sent_back:
            break
        await asyncio.sleep(0.1)
    assert sent_back, "the image never reached the member"

    # Too large a file is refused as a photo is; a file that is no image stays unsupported.
    after = await world.last_id(user)
    big = {"file_name": "big.jpg", "mime_type": "image/jpeg", "file_size": 50 * 1024 * 1024}
    await world.sim.send_raw("document", user, value=big)
    too_large = await world.wait_bot(user, after=after)
    assert (
        too_large["text"].strip()
        == world.app.domain.renderer.render(lang, "photo_too_large").strip()
    )
    after = await world.last_id(user)
    await world.sim.send_raw("document", user)  # application/octet-stream
    refused = await world.wait_bot(user, after=after)
    assert (
        refused["text"].strip()
        == world.app.domain.renderer.render(lang, "unsupported_content").strip()
    )


GREETING = {"en": "hello", "zh": "你好"}
LIFT = {
    "en": "The lift in my building has been broken for three days",
    "zh": "我家楼的电梯坏了三天了",
}


async def test_a_greeting_before_consent_is_not_a_report(
    world: World, code: str, lang: str
) -> None:
    user = 1606
    await world.sim.create_user(user, "Greeter", language_code=code)
    await world.say(user, GREETING[lang])
    welcome = await world.wait_bot(user, buttons=True)
    await world.press(user, welcome, "✅")
    asked = await world.wait_bot(user, after=welcome["message_id"])
    await world.say(user, "Xingfu Garden Building 1" if lang == "en" else "幸福小区1号楼")
    choose = await world.wait_bot(user, after=asked["message_id"], buttons=True)
    await world.press(user, choose, button_labels(choose)[0])
    await world.wait_bot(user, "王芳", after=choose["message_id"])
    await world.settle()
    assert (await user_row(world, user)).state is None  # no draft made of "hello"
    assert not any(
        button_labels(m) for m in await world.sim.bot_messages(user, choose["message_id"])
    )

    case_id, _ = await world.report(user, LIFT[lang])
    assert (await case_row(world, case_id)).text == LIFT[lang]
    after = await world.last_id(user)
    await world.say(user, "/my")
    listing = await world.wait_bot(user, case_id, after=after)
    line = next(x for x in listing["text"].splitlines() if case_id in x)
    assert LIFT[lang][:10] in line


async def test_a_problem_before_consent_is_offered_as_a_draft(
    world: World, code: str, lang: str
) -> None:
    user = 1607
    await world.sim.create_user(user, "Early", language_code=code)
    await world.say(user, GREETING[lang])
    welcome = await world.wait_bot(user, buttons=True)
    await world.say(user, LIFT[lang])
    kept = await world.wait_bot(user, after=welcome["message_id"], buttons=True)
    await world.press(user, kept, "✅")
    asked = await world.wait_bot(user, after=kept["message_id"])
    await world.say(user, "Xingfu Garden Building 1" if lang == "en" else "幸福小区1号楼")
    choose = await world.wait_bot(user, after=asked["message_id"], buttons=True)
    await world.press(user, choose, button_labels(choose)[0])
    draft = await world.wait_bot(user, LIFT[lang], after=choose["message_id"], buttons=True)
    assert GREETING[lang] not in draft["text"]
    await world.press(user, draft, "✅")
    filed = await world.wait_bot(user, "GV-", after=draft["message_id"])
    assert (await case_row(world, human_id(filed))).text == LIFT[lang]  # no greeting as title


def human_id(message: dict[str, Any]) -> str:
    match = CASE_ID.search(message.get("text") or "")
    assert match, message
    return match.group(0)
