"""Misspelled and partial addresses typed to the bot: the right building is among the 3 buttons."""

from __future__ import annotations

import pytest

from tests.support.chat import label, user_row
from tests.support.world import World, button_labels

CASES = [
    ("en", "xingfu gardn bilding 4", "Xingfu Garden Building 4", "xf-4"),
    ("en", "Heping road no 18", "Heping Rd 18", "hp-18"),
    ("en", "ankang estate bldg 7", "Ankang Estate Building 7", "ak-7"),
    ("en", "the wet market", "Xingfu Market", "xf-market"),
    ("zh-hans", "幸福小区11栋", "幸福小区11号楼", "xf-11"),
    ("zh-hans", "和平路22号院", "和平路22号", "hp-22"),
    ("zh-hans", "安康3号楼", "安康小区3栋", "ak-3"),
    ("zh-hans", "安康幼儿园旁边", "安康幼儿园", "ak-kindergarten"),
]


async def test_typed_addresses_offer_the_right_building(world: World) -> None:
    for i, (code, typed, building, building_id) in enumerate(CASES):
        user = 1300 + i
        lang = "zh" if code.startswith("zh") else "en"
        await world.sim.create_user(user, f"Addr{i}", language_code=code)
        await world.say(user, "/start")
        welcome = await world.wait_bot(user, buttons=True)
        await world.press(user, welcome, label(world, lang, "btn_consent_yes"))
        asked = await world.wait_bot(user, after=welcome["message_id"])
        await world.say(user, typed)
        choose = await world.wait_bot(user, after=asked["message_id"], buttons=True)
        labels = button_labels(choose)
        assert building in labels[:3], (typed, labels)
        assert labels[-1] == label(world, lang, "btn_none_of_these")
        await world.press(user, choose, building)
        await world.wait_bot(user, after=choose["message_id"])
        row = await user_row(world, user)
        assert row is not None and row.home_building_id == building_id, typed


@pytest.mark.parametrize("typed", ["zzzz qqqq", "火星基地"])
async def test_an_address_nobody_knows_says_so_and_asks_again(world: World, typed: str) -> None:
    user = 1350
    await world.sim.create_user(
        user, "Lost", language_code="zh-hans" if typed == "火星基地" else "en"
    )
    await world.say(user, "/start")
    welcome = await world.wait_bot(user, buttons=True)
    await world.press(user, welcome, "✅")
    asked = await world.wait_bot(user, after=welcome["message_id"])
    await world.say(user, typed)
    answer = await world.wait_bot(user, after=asked["message_id"])
    assert "010-12345678" in answer["text"] or answer["reply_markup"]
    assert (await user_row(world, user)).home_grid_id is None  # type: ignore[union-attr]
