"""A resident who blocked the bot: staff are warned, nothing is lost, and their first message
after coming back is theirs, not the answer to a question they never saw."""

from __future__ import annotations

import pytest

from tests.support.chat import (
    LANG_IDS,
    LANGS,
    case_row,
    label,
    render,
    settle,
    user_row,
)
from tests.support.world import MEMBER_1, World

STAFF_LANG = "zh"
LIGHT = {
    "en": "The street light outside building 1 has been broken for a week",
    "zh": "楼下路灯坏了一个星期了",
}
NEW_PROBLEM = {"en": "dead rat in the stairwell", "zh": "楼道里有只死老鼠"}


async def _blocked_with_a_question(world: World, user: int, lang: str) -> tuple[str, dict]:
    """A case whose resident blocked the bot just before the member asked them something."""
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LIGHT[lang])
    card = await world.card(MEMBER_1, case_id)
    await settle(world)
    await world.sim.block(user)
    after = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, "Which pole exactly? Near the gate?", reply_to=card["message_id"])
    warned = await world.wait_bot(MEMBER_1, "⚠️", after=after)
    assert case_id in warned["text"]
    await world.wait_edited(MEMBER_1, card["message_id"], "⚠️")
    row = await user_row(world, user)
    assert row is not None and row.unreachable and row.state != "answer"
    return case_id, card


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_a_blocked_resident_is_shown_on_the_card_and_caught_up_on_return(
    world: World, code: str, lang: str
) -> None:
    user = 1801
    case_id, card = await _blocked_with_a_question(world, user, lang)
    # the next question: the member is told it waits, not that it was sent
    after = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, "Is it dark all night?", reply_to=card["message_id"])
    told = await world.wait_bot(MEMBER_1, case_id, after=after)
    row = await case_row(world, case_id)
    assert "⚠️" in told["text"]
    assert told["text"] != render(world, STAFF_LANG, "staff_sent_to_resident", case=row)
    before_back = await world.last_id(user)

    # back: the first message is a new report, not the answer to an unseen question
    await world.sim.block(user, False)
    after_member = await world.last_id(MEMBER_1)
    await world.say(user, NEW_PROBLEM[lang])
    draft = await world.wait_bot(user, NEW_PROBLEM[lang], after=before_back, buttons=True)
    assert label(world, lang, "btn_send_report") in [
        b["text"] for r in draft["reply_markup"]["inline_keyboard"] for b in r
    ]
    await settle(world)
    texts = [m["text"] or "" for m in await world.sim.bot_messages(user, before_back)]
    first = next(i for i, t in enumerate(texts) if "Which pole exactly" in t)
    second = next(i for i, t in enumerate(texts) if "dark all night" in t)
    missed = next(i for i, t in enumerate(texts) if "📬" in t)
    echo = next(i for i, t in enumerate(texts) if NEW_PROBLEM[lang] in t)
    assert first < second < missed < echo  # what they missed comes first, in order
    member_texts = [m["text"] or "" for m in await world.sim.bot_messages(MEMBER_1, after_member)]
    assert not any(NEW_PROBLEM[lang] in t for t in member_texts)
    assert (await case_row(world, case_id)).status == "needs_info"
    row = await user_row(world, user)
    assert row is not None and not row.unreachable
    card_now = [
        m for m in await world.sim.messages(MEMBER_1) if m["message_id"] == card["message_id"]
    ][0]
    assert "⚠️" not in card_now["text"]
    # answering the re-sent question (a reply to it) reaches the member
    question = [
        m
        for m in await world.sim.bot_messages(user, before_back)
        if "dark all night" in (m["text"] or "")
    ][0]
    await world.say(user, "Yes, all night", reply_to=question["message_id"])
    await world.wait_bot(MEMBER_1, "Yes, all night", after=after_member)


async def test_any_update_makes_a_resident_reachable_again(world: World) -> None:
    user = 1802
    case_id, _ = await _blocked_with_a_question(world, user, "en")
    await world.sim.block(user, False)
    before = await world.last_id(user)
    filed = [
        m
        for m in await world.sim.bot_messages(user)
        if "GV-" in (m["text"] or "") and m["reply_markup"]
    ][0]
    await world.press(user, filed, label(world, "en", "btn_change_category"))
    await world.wait_bot(user, "Which pole exactly", after=before)
    await settle(world)
    row = await user_row(world, user)
    assert row is not None and not row.unreachable
