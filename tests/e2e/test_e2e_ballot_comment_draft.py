"""A ballot's «Comment» and an unsent report, through the chat: the draft survives the comment,
and a comment prompt left open for days never swallows a new problem. English and Chinese."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.store.models import Case, ConsultComment
from tests.e2e.consult_helpers import T, consultation, people, vote, with_button
from tests.support.chat import LANG_IDS, LANGS, label, wake
from tests.support.world import World

DOOR = {"en": "The entrance door of building 1 does not close", "zh": "1号楼单元门关不上了"}
COMMENT = {"en": "Near the gate please", "zh": "请放在大门旁边"}
SEWAGE = {
    "en": "Sewage is overflowing in front of building 2",
    "zh": "2号楼前面污水井冒水了，臭得很",
}


async def _comment_button(world: World, user: int, cid: int) -> int:
    ballot = await with_button(world, user, f"v:{cid}:c")
    return int(ballot["message_id"])


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_a_ballot_comment_keeps_the_unsent_report(world: World, code: str, lang: str) -> None:
    user = 33001
    await people(world, [user], "xingfu-1", code)
    cid, _ = await consultation(world, grids=["xingfu-1"])
    await vote(world, user, cid, 0)
    after = await world.last_id(user)
    await world.say(user, DOOR[lang])
    await world.wait_bot(user, after=after, buttons=True)

    after = await world.last_id(user)
    await world.sim.press(user, await _comment_button(world, user, cid), data=f"v:{cid}:c")
    await world.wait_bot(user, T[lang]["ask_comment"], after=after)
    await world.say(user, COMMENT[lang])
    await world.wait_bot(user, T[lang]["saved"], after=after)
    # the draft is back, with its buttons, and its words are the door's, not the comment's
    back = await world.wait_bot(user, DOOR[lang], after=after, buttons=True)
    assert COMMENT[lang] not in back["text"]
    await world.press(user, back, label(world, lang, "btn_send_report"))
    filed = await world.wait_bot(user, "GV-", after=back["message_id"])
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        texts = (await session.execute(select(Case.text))).scalars().all()
        comments = (await session.execute(select(ConsultComment.text))).scalars().all()
    assert texts == [DOOR[lang]], filed["text"]
    assert comments == [COMMENT[lang]]


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_a_comment_prompt_left_for_days_does_not_take_a_new_problem(
    world: World, code: str, lang: str
) -> None:
    user = 33002
    await people(world, [user], "xingfu-1", code)
    cid, _ = await consultation(world, grids=["xingfu-1"], days=7)
    after = await world.last_id(user)
    await world.sim.press(user, await _comment_button(world, user, cid), data=f"v:{cid}:c")
    await world.wait_bot(user, T[lang]["ask_comment"], after=after)

    world.clock.advance(timedelta(days=2))
    await wake(world)
    after = await world.last_id(user)
    await world.say(user, SEWAGE[lang])
    draft = await world.wait_bot(user, SEWAGE[lang], after=after, buttons=True)
    assert label(world, lang, "btn_send_report") in str(draft["reply_markup"])
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        comments = (await session.execute(select(ConsultComment.text))).scalars().all()
    assert comments == []
