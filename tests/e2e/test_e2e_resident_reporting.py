"""Reporting: a draft from plain messages, photos, place, category, owner, duplicates."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.store.models import CasePhoto, Correction
from tests.support.chat import (
    LANG_IDS,
    LANGS,
    PNG,
    case_id_in,
    case_row,
    event_kinds,
    has_button,
    label,
    resolve,
    settle,
)
from tests.support.world import MEMBER_1, MEMBER_3, PROPERTY_CHAT, World, button_labels

pytestmark = pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)

LIGHT = {
    "en": "The street light outside building 1 has been broken for a week",
    "zh": "楼下路灯坏了一个星期了",
}
LIFT = {
    "en": "The lift in our building is broken, property management ignores us",
    "zh": "电梯坏了，物业不管",
}
PIPE = {"en": "There is a pothole in the road outside", "zh": "路上有个大坑"}


async def test_draft_with_album_single_photo_and_pin_reaches_member_with_photos(
    world: World, code: str, lang: str
) -> None:
    user = 701
    await world.resident(user, lang=lang)
    after = await world.last_id(user)
    await world.say(user, LIGHT[lang])
    draft = await world.wait_bot(user, after=after, buttons=True)
    await world.sim.send_album(user, [PNG, PNG + b"2"])
    await world.sim.send_photo(user, PNG + b"3")
    await world.sim.send_location(user, 39.9106, 116.4009)  # next to building 1, grid 1
    await settle(world)
    last = (await world.sim.bot_messages(user))[-1]
    assert "3" in last["text"] and "📷" in last["text"] and "📍" in last["text"]
    drafts = [
        m for m in await world.sim.bot_messages(user, draft["message_id"]) if m["reply_markup"]
    ]
    # after the first draft answer: at most one for the album, one for the single photo, one
    # for the pin; fewer when they arrive together (a burst is answered once)
    assert 1 <= len(drafts) <= 3
    await world.press(user, last, label(world, lang, "btn_send_report"))
    filed = await world.wait_bot(user, "GV-", after=last["message_id"])
    case_id = case_id_in(filed)
    assert label(world, lang, "cat_facilities") in filed["text"]
    assert "王芳" in filed["text"]
    assert "⏱" in filed["text"]
    assert has_button(filed, label(world, lang, "btn_change_category"))

    card = await world.card(MEMBER_1, case_id)
    before = [
        m
        for m in await world.sim.bot_messages(MEMBER_1)
        if m["message_id"] < card["message_id"] and m["photo"]
    ]
    assert len(before) == 3
    assert "39.91060" in card["text"] and "R-" in card["text"] and "Resident701" not in card["text"]
    row = await case_row(world, case_id)
    assert row.latitude == pytest.approx(39.9106) and row.grid_id == "xingfu-1"
    async with world.app.domain.sessions() as session:  # type: ignore[union-attr]
        photos = (
            (await session.execute(select(CasePhoto).where(CasePhoto.case_id == row.id)))
            .scalars()
            .all()
        )
    assert len(photos) == 3


async def test_somewhere_else_with_a_typed_address_routes_to_that_grid(
    world: World, code: str, lang: str
) -> None:
    user = 702
    await world.resident(user, lang=lang)
    after = await world.last_id(user)
    await world.say(user, PIPE[lang])
    draft = await world.wait_bot(user, after=after, buttons=True)
    await world.press(user, draft, label(world, lang, "btn_elsewhere"))
    ask = await world.wait_bot(user, after=draft["message_id"])
    await world.say(user, "Heping Road 16" if lang == "en" else "和平路16号")
    choose = await world.wait_bot(user, after=ask["message_id"], buttons=True)
    target = "Heping Rd 16" if lang == "en" else "和平路16号"
    assert target in button_labels(choose)[:3]
    await world.press(user, choose, target)
    placed = await world.wait_bot(user, target, after=choose["message_id"], buttons=True)
    await world.press(user, placed, label(world, lang, "btn_send_report"))
    filed = await world.wait_bot(user, "GV-", after=placed["message_id"])
    assert "陈刚" in filed["text"]
    case_id = case_id_in(filed)
    card = await world.card(MEMBER_3, case_id)
    assert target in card["text"] or "Heping Rd 16" in card["text"] or "和平路16号" in card["text"]
    assert (await case_row(world, case_id)).building_id == "hp-16"


async def test_property_problem_names_company_and_follow_up_member(
    world: World, code: str, lang: str
) -> None:
    user = 703
    await world.resident(user, lang=lang)
    case_id, filed = await world.report(user, LIFT[lang])
    if lang == "en":
        assert (
            "Xingfu Property Management handles this; your grid member 王芳 follows up"
            in filed["text"]
        )
    else:
        assert "由幸福物业负责办理，您的网格员王芳会跟进" in filed["text"]
    await world.card(PROPERTY_CHAT, case_id)
    follow = await world.wait_bot(MEMBER_1, case_id)
    assert not follow["reply_markup"]  # the follow-up member is told, the party acts


async def test_change_category_reroutes_and_records_a_correction(
    world: World, code: str, lang: str
) -> None:
    user = 704
    await world.resident(user, lang=lang)
    case_id, filed = await world.report(user, PIPE[lang])
    card = await world.card(MEMBER_1, case_id)
    await world.press(user, filed, label(world, lang, "btn_change_category"))
    choose = await world.wait_bot(user, after=filed["message_id"], buttons=True)
    pressed = await world.press(user, choose, label(world, lang, "cat_property"))
    update = await world.wait_bot(user, case_id, after=choose["message_id"])
    assert "幸福物业" in update["text"] or "Xingfu Property Management" in update["text"]
    await world.card(PROPERTY_CHAT, case_id)
    await world.wait_edited(MEMBER_1, card["message_id"], case_id)
    answer = await world.sim.callback_answer(pressed["callback_query_id"])
    assert answer["answered"]
    row = await case_row(world, case_id)
    assert row.category == "property" and row.party_id == "xingfu-wuye"
    async with world.app.domain.sessions() as session:  # type: ignore[union-attr]
        fix = (
            await session.execute(select(Correction).where(Correction.case_id == row.id))
        ).scalar_one()
    assert (
        fix.predicted == "facilities" and fix.corrected == "property" and fix.by_role == "resident"
    )
    assert "category_changed" in await event_kinds(world, case_id)


async def test_duplicate_is_offered_follow_and_follower_gets_updates(
    world: World, code: str, lang: str
) -> None:
    first, second = 705, 706
    await world.resident(first, lang="en")
    await world.resident(second, lang=lang, address="Xingfu Garden Building 2")
    case_id, _ = await world.report(
        first, "The street light outside building 1 has been broken for a week"
    )
    after = await world.last_id(second)
    await world.say(
        second,
        "The street light outside building 1 is broken"
        if lang == "en"
        else "The street light outside building 1 broken, 路灯坏了",
    )
    draft = await world.wait_bot(second, buttons=True, after=after)
    await world.press(second, draft, label(world, lang, "btn_send_report"))
    similar = await world.wait_bot(second, case_id, after=draft["message_id"], buttons=True)
    follow_label = label(world, lang, "btn_follow_case", case_id=case_id)
    assert follow_label in button_labels(similar)
    assert label(world, lang, "btn_file_new") in button_labels(similar)
    await world.press(second, similar, follow_label)
    followed = await world.wait_bot(second, case_id, after=similar["message_id"])
    assert "🔔" in followed["text"]

    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "acc")
    accepted = await world.wait_bot(second, case_id, after=followed["message_id"])
    assert "👍" in accepted["text"]
    card = await world.wait_edited(MEMBER_1, card["message_id"], case_id)
    await resolve(world, MEMBER_1, card, "Fixed the lamp")
    resolved = await world.wait_bot(second, "✅", after=accepted["message_id"])
    assert case_id in resolved["text"]
    assert "Fixed the lamp" not in resolved["text"]  # the note was for the reporter
    assert not resolved["reply_markup"]  # only the reporter rates
    assert "followed" in await event_kinds(world, case_id)
