"""The dashboard's story, played through the chat: the cases whose figures the pages show
(see test_dashboard.py for the story itself)."""

from __future__ import annotations

from datetime import timedelta

from tests.support.chat import resolve, settle
from tests.support.world import MEMBER_1, MEMBER_2, World

LIGHT = "The street light outside building 1 has been broken for a week"
LAMP = "The street light by building 2 flickers and goes out"
POLE = "Street lamp at the corner of the park is broken"
RESIDENT = 901
NEIGHBOUR = 902
H = timedelta(hours=1)


async def _accept(world: World, case_id: str) -> dict:
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "acc")
    await settle(world)
    return await world.wait_edited(MEMBER_1, card["message_id"], "状态：办理中")


async def _rate(world: World, user: int, case_id: str, stars: int, after: int) -> None:
    resolved = await world.wait_bot(user, case_id, after=after, buttons=True)
    await world.press(user, resolved, "⭐" * stars)
    comment = await world.wait_bot(user, case_id, after=resolved["message_id"], buttons=True)
    await world.press(user, comment, "")  # no comment
    await settle(world)


async def play_story(world: World) -> dict[str, str]:
    """Cases through the bot's own flow; returns their human ids."""
    world.settings_overrides["dashboard_min_cases"] = 2
    world.settings_overrides["public_url"] = "https://grid.example.org"
    await world.restart_bot()
    await world.resident(RESIDENT, lang="en")
    await world.resident(NEIGHBOUR, lang="zh", address="幸福小区7号楼")
    ids: dict[str, str] = {}
    # case 1: 1 h to accept, resolved 2 h after filing, rated 5
    ids["c1"], filed = await world.report(RESIDENT, LIGHT)
    assert f"https://grid.example.org/cases/{ids['c1']}" in filed["text"]
    world.clock.advance(H)
    card = await _accept(world, ids["c1"])
    world.clock.advance(H)
    after = await world.last_id(RESIDENT)
    await resolve(world, MEMBER_1, card, "Replaced the bulb")
    await _rate(world, RESIDENT, ids["c1"], 5, after)
    # case 2: 2 h to accept, resolved after 4 h, reopened, resolved again after 5 h, rated 3
    ids["c2"], _ = await world.report(RESIDENT, LAMP)
    world.clock.advance(2 * H)
    card = await _accept(world, ids["c2"])
    world.clock.advance(2 * H)
    after = await world.last_id(RESIDENT)
    await resolve(world, MEMBER_1, card, "Fixed the wiring")
    resolved = await world.wait_bot(RESIDENT, ids["c2"], after=after, buttons=True)
    await world.press(RESIDENT, resolved, "Not solved")
    ask = await world.wait_bot(RESIDENT, ids["c2"], after=resolved["message_id"])
    await world.say(RESIDENT, "Still dark")
    await world.wait_bot(RESIDENT, ids["c2"], after=ask["message_id"])
    await settle(world)
    world.clock.advance(H)
    card = await _accept(world, ids["c2"])
    after = await world.last_id(RESIDENT)
    await resolve(world, MEMBER_1, card, "New cable")
    await _rate(world, RESIDENT, ids["c2"], 3, after)
    # case 3: 3 h to accept, then nobody resolves it until well past its deadline
    ids["c3"], _ = await world.report(RESIDENT, POLE)
    world.clock.advance(3 * H)
    await _accept(world, ids["c3"])
    # case 4: another grid, left waiting
    ids["c4"], _ = await world.report(NEIGHBOUR, "路灯不亮了")
    await world.card(MEMBER_2, ids["c4"])
    await settle(world)
    return ids
