"""Rough edges a resident or a member stumbles on: album counts, the card's wording,
reminder timing, rate limits that count what costs, staff answers for staff."""

from __future__ import annotations

import pytest
from gv_world import World
from test_e2e_resident_support import LANG_IDS, LANGS, PNG, settle

PHOTOS = {"en": ("1 photo attached", "photos attached"), "zh": ("已附1张照片", "张照片")}
COUNT = {"en": "📷 {n} photos attached", "zh": "📷 已附{n}张照片"}
TOO_MANY = {"en": "up to", "zh": "最多"}


async def draft_echoes(world: World, user: int, after: int) -> list[dict]:
    return [m for m in await world.sim.bot_messages(user, after) if m.get("reply_markup")]


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_an_album_is_counted_in_full_in_one_draft_echo(
    world: World, code: str, lang: str
) -> None:
    user = 1701
    await world.resident(user, lang=code)
    after = await world.last_id(user)
    await world.say(user, "The street light outside building 1 is broken")
    first = await world.wait_bot(user, after=after, buttons=True)
    await world.sim.send_album(user, [PNG, PNG + b"2", PNG + b"3"])
    await settle(world)
    echoes = await draft_echoes(world, user, first["message_id"])
    assert len(echoes) == 1, [m["text"] for m in echoes]
    assert COUNT[lang].format(n=3) in echoes[0]["text"], echoes[0]["text"]
    texts = [m.get("text") or "" for m in await world.sim.bot_messages(user, first["message_id"])]
    assert not any(PHOTOS[lang][0] in t for t in texts)


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_photos_past_the_limit_are_warned_about_once_per_album(
    world: World, code: str, lang: str
) -> None:
    user = 1702
    await world.resident(user, lang=code)
    after = await world.last_id(user)
    await world.say(user, "Graffiti all over the wall next to building 2")
    first = await world.wait_bot(user, after=after, buttons=True)
    await world.sim.send_album(user, [PNG + bytes([i]) for i in range(8)])
    await settle(world)
    await world.sim.send_album(user, [PNG + bytes([20 + i]) for i in range(4)])
    await settle(world)
    texts = [m.get("text") or "" for m in await world.sim.bot_messages(user, first["message_id"])]
    limit = world.settings.max_photos_per_report
    assert sum(TOO_MANY[lang] in t and str(limit) in t for t in texts) == 1, texts
    echoes = await draft_echoes(world, user, first["message_id"])
    assert COUNT[lang].format(n=limit) in echoes[-1]["text"], echoes[-1]["text"]
