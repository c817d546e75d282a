"""Resident onboarding: consent first, /privacy, address matching, location pin, invites."""

from __future__ import annotations

import pytest

from tests.support.chat import (
    LANG_IDS,
    LANGS,
    failed_inbox,
    has_button,
    label,
    render,
    user_row,
)
from tests.support.world import ADMIN, MEMBER_2, World, button_labels

pytestmark = pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)


async def test_consent_before_anything_personal_then_fuzzy_address(
    world: World, code: str, lang: str
) -> None:
    user = 601
    await world.sim.create_user(user, "Meiling", language_code=code)
    await world.say(user, "/start")
    welcome = await world.wait_bot(user, buttons=True)
    assert has_button(welcome, label(world, lang, "btn_consent_yes"))
    assert has_button(welcome, label(world, lang, "btn_consent_no"))
    assert ("agree" in welcome["text"]) if lang == "en" else ("同意" in welcome["text"])
    row = await user_row(world, user)
    assert row is not None and row.language == lang
    assert (
        row.first_name is None
        and row.home_address is None
        and row.home_grid_id is None
        and row.consent_at is None
    )

    after = await world.last_id(user)
    await world.say(user, "/privacy")
    notice = await world.wait_bot(user, after=after)
    assert "/forget" in notice["text"] and "/mydata" in notice["text"]
    assert (await user_row(world, user)).first_name is None  # type: ignore[union-attr]

    await world.press(user, welcome, label(world, lang, "btn_consent_yes"))
    asked = await world.wait_bot(user, after=notice["message_id"])
    row = await user_row(world, user)
    assert row is not None and row.consent_at is not None and row.first_name == "Meiling"
    assert row.home_grid_id is None

    await world.say(user, "Xingfu Gardn Bldg 5" if lang == "en" else "幸福小区5号")
    choose = await world.wait_bot(user, after=asked["message_id"], buttons=True)
    labels = button_labels(choose)
    # up to three buildings (no unrelated filler), then "none of these"
    assert 2 <= len(labels) <= 4 and labels[-1] == label(world, lang, "btn_none_of_these")
    five = "Xingfu Garden Building 5" if lang == "en" else "幸福小区5号楼"
    assert five in labels[:3]
    await world.press(user, choose, five)
    done = await world.wait_bot(user, after=choose["message_id"])
    assert "王芳" in done["text"]
    assert ("Grid 1" in done["text"]) if lang == "en" else ("第一网格" in done["text"])
    row = await user_row(world, user)
    assert row is not None and row.home_building_id == "xf-5" and row.home_grid_id == "xingfu-1"
    assert await failed_inbox(world) == 0


async def test_location_pin_places_home_in_its_grid_polygon(
    world: World, code: str, lang: str
) -> None:
    user = 602
    await world.sim.create_user(user, "Pin", language_code=code)
    await world.say(user, "/start")
    welcome = await world.wait_bot(user, buttons=True)
    await world.press(user, welcome, "✅")
    asked = await world.wait_bot(user, after=welcome["message_id"])
    await world.sim.send_location(user, 39.9150, 116.4020)  # inside xingfu-2
    done = await world.wait_bot(user, after=asked["message_id"])
    assert "刘洋" in done["text"]
    row = await user_row(world, user)
    assert row is not None and row.home_grid_id == "xingfu-2"

    after = await world.last_id(user)
    await world.say(user, "/mygrid")
    grid = await world.wait_bot(user, after=after)
    assert "刘洋" in grid["text"] and "010-12345678" in grid["text"]
    assert ("Grid 2" in grid["text"]) if lang == "en" else ("第二网格" in grid["text"])


async def test_pin_outside_every_grid_and_none_of_these(world: World, code: str, lang: str) -> None:
    user = 603
    await world.sim.create_user(user, "Far", language_code=code)
    await world.say(user, "/start")
    welcome = await world.wait_bot(user, buttons=True)
    await world.press(user, welcome, "✅")
    asked = await world.wait_bot(user, after=welcome["message_id"])
    await world.sim.send_location(user, 31.2, 121.5)  # Shanghai
    outside = await world.wait_bot(user, after=asked["message_id"])
    assert "幸福" in outside["text"] or "Xingfu" in outside["text"]
    assert (await user_row(world, user)).home_grid_id is None  # type: ignore[union-attr]
    await world.say(user, "Heping Rd 12" if lang == "en" else "和平路12号")
    choose = await world.wait_bot(user, after=outside["message_id"], buttons=True)
    await world.press(user, choose, label(world, lang, "btn_none_of_these"))
    none = await world.wait_bot(user, after=choose["message_id"])
    assert (
        "010-12345678" in none["text"]
        or "Xingfu Rd 8" in none["text"]
        or "幸福路8号" in none["text"]
    )
    # still asked for the address: a pin now works
    await world.sim.send_location(user, 39.9110, 116.4060)
    done = await world.wait_bot(user, after=none["message_id"])
    assert "陈刚" in done["text"]


async def test_declining_consent_stores_nothing(world: World, code: str, lang: str) -> None:
    user = 604
    await world.sim.create_user(user, "Shy", language_code=code)
    await world.say(user, "/start")
    welcome = await world.wait_bot(user, buttons=True)
    await world.press(user, welcome, label(world, lang, "btn_consent_no"))
    declined = await world.wait_bot(user, after=welcome["message_id"])
    assert "/start" in declined["text"]
    row = await user_row(world, user)
    assert (
        row is not None
        and row.first_name is None
        and row.consent_at is None
        and row.home_grid_id is None
    )


async def test_text_before_onboarding_is_kept_and_offered_afterwards(
    world: World, code: str, lang: str
) -> None:
    user = 605
    await world.sim.create_user(user, "Early", language_code=code)
    problem = (
        "The lift in my building is stuck again" if lang == "en" else "我们楼的电梯又坏了，困在三楼"
    )
    await world.say(user, problem)
    welcome = await world.wait_bot(user, buttons=True)
    assert ("kept" in welcome["text"]) if lang == "en" else ("留着" in welcome["text"])
    row = await user_row(world, user)
    assert row is not None and row.first_name is None and row.consent_at is None
    await world.press(user, welcome, "✅")
    asked = await world.wait_bot(user, after=welcome["message_id"])
    await world.say(user, "Xingfu Garden Building 2" if lang == "en" else "幸福小区2号楼")
    choose = await world.wait_bot(user, after=asked["message_id"], buttons=True)
    await world.press(user, choose, button_labels(choose)[0])
    draft = await world.wait_bot(user, problem[:10], after=choose["message_id"], buttons=True)
    assert has_button(draft, label(world, lang, "btn_send_report"))
    await world.press(user, draft, label(world, lang, "btn_send_report"))
    filed = await world.wait_bot(user, "GV-", after=draft["message_id"])
    assert "GV-" in filed["text"]


async def test_invite_deep_link_makes_a_grid_member_who_receives_cards(
    world: World, code: str, lang: str
) -> None:
    await world.say(ADMIN, "/invite member xingfu-2")
    created = await world.wait_bot(ADMIN, "start=")
    invite_code = created["text"].split("start=", 1)[1].split()[0]
    newbie = 30001
    await world.sim.create_user(newbie, "小新", language_code=code)
    await world.say(newbie, f"/start {invite_code}")
    welcome = await world.wait_bot(newbie)
    assert (
        "xingfu-2" in welcome["text"]
        or "第二网格" in welcome["text"]
        or "Grid 2" in welcome["text"]
    )
    # the link works once
    other = 30002
    await world.sim.create_user(other, "Other", language_code=code)
    await world.say(other, f"/start {invite_code}")
    refused = await world.wait_bot(other)
    assert refused["text"].strip() == render(world, lang, "invite_used").strip()

    # two residents of grid 2 report different problems: least-loaded routing gives the newcomer one
    first, second = 611, 612
    await world.resident(first, lang=lang, address="Xingfu Garden Building 8")
    await world.resident(second, lang=lang, address="Xingfu Garden Building 9")
    case_a, _ = await world.report(first, "The street light near building 8 is broken")
    case_b, _ = await world.report(
        second, "Garbage bins overflowing next to building 9, smells terrible"
    )
    await world.settle()
    newbie_texts = " ".join(m["text"] or "" for m in await world.sim.bot_messages(newbie))
    member_texts = " ".join(m["text"] or "" for m in await world.sim.bot_messages(MEMBER_2))
    assert (case_a in newbie_texts) != (case_b in newbie_texts)
    assert (case_a in member_texts) != (case_b in member_texts)
    card = await world.card(newbie, case_a if case_a in newbie_texts else case_b)
    await world.act(newbie, card, "acc")
    await world.wait_edited(newbie, card["message_id"], "GV-")
