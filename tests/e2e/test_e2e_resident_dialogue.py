"""Dialogue state that must not outlive its welcome: the address step, consent, optional prompts."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select

from bot.store.models import Case, User
from tests.support.chat import (
    LANG_IDS,
    LANGS,
    label,
    render,
    settle,
    user_row,
)
from tests.support.world import World, button_labels

pytestmark = pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)

PROBLEM = {
    "en": "The lift in my building is stuck again",
    "zh": "我们楼的电梯又坏了，困在三楼",
}
HOME = {"en": "Xingfu Garden Building 2", "zh": "幸福小区2号楼"}


def shown(world: World, lang: str, template: str, **data: object) -> str:
    """A template as the person reads it (Telegram shows HTML as formatted plain text)."""
    return html.unescape(re.sub(r"<[^>]+>", "", render(world, lang, template, **data))).strip()


async def test_cancel_at_the_address_step_keeps_the_recorded_consent(
    world: World, code: str, lang: str
) -> None:
    user = 1501
    await world.sim.create_user(user, "Hasty", language_code=code)
    await world.say(user, "/start")
    welcome = await world.wait_bot(user, buttons=True)
    await world.press(user, welcome, label(world, lang, "btn_consent_yes"))
    asked = await world.wait_bot(user, after=welcome["message_id"])
    await world.say(user, "/cancel")
    cancelled = await world.wait_bot(user, after=asked["message_id"])
    assert cancelled["text"].strip() == shown(world, lang, "address_cancelled")
    consent = label(world, lang, "btn_consent_yes")
    # /start asks for the address, not for consent
    await world.say(user, "/start")
    again = await world.wait_bot(user, after=cancelled["message_id"])
    assert consent not in button_labels(again)
    assert again["text"].strip() == shown(world, lang, "ask_address")
    # so does a message, which is kept for afterwards (consent is recorded)
    await world.say(user, "/cancel")
    cancelled = await world.wait_bot(user, after=again["message_id"])
    await world.say(user, PROBLEM[lang])
    kept = await world.wait_bot(user, after=cancelled["message_id"])
    assert consent not in button_labels(kept)
    assert kept["text"].strip() == shown(world, lang, "ask_address", kept=True)
    row = await user_row(world, user)
    assert row is not None and row.consent_at is not None and row.state == "address"
    await world.say(user, HOME[lang])
    choose = await world.wait_bot(user, after=kept["message_id"], buttons=True)
    await world.press(user, choose, button_labels(choose)[0])
    draft = await world.wait_bot(user, PROBLEM[lang][:10], after=choose["message_id"], buttons=True)
    assert label(world, lang, "btn_send_report") in button_labels(draft)


async def _stored_anywhere(world: World, user: int, text: str) -> bool:
    """Whether `text` is kept in the person's row or a case (the inbox keeps raw updates
    only until they are handled and pruned, and is not personal data the bot uses)."""
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        row = await session.get(User, user)
        in_row = text in json.dumps(row.state_data or {}, ensure_ascii=False) if row else False
        cases = (
            (await session.execute(select(Case.text).where(Case.resident_id == user)))
            .scalars()
            .all()
        )
    return in_row or any(text in c for c in cases)


async def test_text_after_declining_consent_is_not_kept(world: World, code: str, lang: str) -> None:
    user = 1502
    await world.sim.create_user(user, "Shy", language_code=code)
    await world.say(user, "/start")
    welcome = await world.wait_bot(user, buttons=True)
    await world.press(user, welcome, label(world, lang, "btn_consent_no"))
    declined = await world.wait_bot(user, after=welcome["message_id"])
    await world.say(user, PROBLEM[lang])
    answer = await world.wait_bot(user, after=declined["message_id"])
    assert answer["text"].strip() == shown(world, lang, "welcome", not_kept=True)
    assert "I have kept" not in answer["text"] and "先留着" not in answer["text"]
    await settle(world)
    assert not await _stored_anywhere(world, user, PROBLEM[lang])
    # /start again, then text before agreeing: still not kept
    await world.say(user, "/start")
    welcome = await world.wait_bot(user, after=answer["message_id"], buttons=True)
    await world.say(user, PROBLEM[lang] + " 2")
    answer = await world.wait_bot(user, after=welcome["message_id"])
    assert answer["text"].strip() == shown(world, lang, "welcome", not_kept=True)
    await settle(world)
    assert not await _stored_anywhere(world, user, PROBLEM[lang])
    # agreeing now offers no draft of what was not kept
    await world.press(user, answer, label(world, lang, "btn_consent_yes"))
    asked = await world.wait_bot(user, after=answer["message_id"])
    await world.say(user, HOME[lang])
    choose = await world.wait_bot(user, after=asked["message_id"], buttons=True)
    await world.press(user, choose, button_labels(choose)[0])
    await world.wait_bot(user, after=choose["message_id"])
    await settle(world)
    texts = " ".join(
        m["text"] or "" for m in await world.sim.bot_messages(user, asked["message_id"])
    )
    assert PROBLEM[lang][:10] not in texts


async def test_text_after_forget_is_not_kept(world: World, code: str, lang: str) -> None:
    user = 1503
    await world.resident(user, lang=lang)
    after = await world.last_id(user)
    await world.say(user, "/forget")
    confirm = await world.wait_bot(user, after=after, buttons=True)
    await world.press(user, confirm, label(world, lang, "btn_forget_yes"))
    gone = await world.wait_bot(user, after=confirm["message_id"])
    await world.say(user, PROBLEM[lang])
    answer = await world.wait_bot(user, after=gone["message_id"])
    assert answer["text"].strip() == shown(world, lang, "welcome", not_kept=True)
    await settle(world)
    assert not await _stored_anywhere(world, user, PROBLEM[lang])
    row = await user_row(world, user)
    assert row is not None and row.consent_at is None and row.first_name is None


LIGHT = {
    "en": "The street light outside building 1 has been broken for a week",
    "zh": "楼下路灯坏了一个星期了",
}
NEW_PROBLEM = {"en": "dead rat in the stairwell", "zh": "楼道里有只死老鼠"}
COMMENT = {"en": "Quick work, thanks", "zh": "谢谢，很快就修好了"}


async def _rated(world: World, user: int, lang: str) -> tuple[str, dict]:
    """A resolved case the resident has just rated; returns the case id and the comment prompt."""
    from tests.support.chat import resolve
    from tests.support.world import MEMBER_1

    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LIGHT[lang])
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "acc")
    card = await world.wait_edited(MEMBER_1, card["message_id"], case_id)
    after = await world.last_id(user)
    await resolve(world, MEMBER_1, card, "Replaced the bulb")
    resolved = await world.wait_bot(user, "Replaced the bulb", after=after, buttons=True)
    await world.press(user, resolved, "⭐⭐⭐⭐")
    ask = await world.wait_bot(user, case_id, after=resolved["message_id"], buttons=True)
    return case_id, ask


async def test_a_new_report_after_a_rating_is_not_swallowed_as_a_comment(
    world: World, code: str, lang: str
) -> None:
    from tests.support.chat import case_row

    user = 1504
    case_id, ask = await _rated(world, user, lang)
    await world.say(user, NEW_PROBLEM[lang])
    told = await world.wait_bot(user, after=ask["message_id"])
    assert told["text"].strip() == shown(
        world, lang, "comment_taken_as_report", case=await case_row(world, case_id)
    )
    draft = await world.wait_bot(user, NEW_PROBLEM[lang], after=ask["message_id"], buttons=True)
    assert label(world, lang, "btn_send_report") in button_labels(draft)
    assert (await case_row(world, case_id)).rating_comment is None
    await world.press(user, draft, label(world, lang, "btn_send_report"))
    filed = await world.wait_bot(user, "GV-", after=draft["message_id"])
    assert case_id not in filed["text"]
    # a comment that is a comment is still saved
    case_id, ask = await _rated(world, user + 10, lang)
    await world.say(user + 10, COMMENT[lang])
    saved = await world.wait_bot(user + 10, after=ask["message_id"])
    assert case_id in saved["text"]
    assert (await case_row(world, case_id)).rating_comment == COMMENT[lang]


async def test_the_comment_prompt_expires(world: World, code: str, lang: str) -> None:
    from datetime import timedelta

    from tests.support.chat import case_row

    user = 1505
    case_id, ask = await _rated(world, user, lang)
    world.clock.advance(timedelta(hours=2))
    await world.say(user, COMMENT[lang])
    draft = await world.wait_bot(user, COMMENT[lang], after=ask["message_id"], buttons=True)
    assert label(world, lang, "btn_send_report") in button_labels(draft)
    await settle(world)
    assert (await case_row(world, case_id)).rating_comment is None
