"""Following a case and closing the loop: /my, timeline, questions, /cancel, rating, reopen."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services.shared.outbox import document_file_id
from bot.store.models import CasePhoto
from tests.support.chat import (
    LANG_IDS,
    LANGS,
    answer_of,
    case_row,
    event_kinds,
    label,
    resolve,
    settle,
    wake,
)
from tests.support.world import LEADER, MEMBER_1, World, button_labels

pytestmark = pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)

LIGHT = {
    "en": "The street light outside building 1 has been broken for a week",
    "zh": "楼下路灯坏了一个星期了",
}
BINS = {
    "en": "Garbage bins overflowing next to building 3, smells terrible",
    "zh": "垃圾桶满了没人清理，很臭",
}
POLE = {"en": "This pole, by the gate", "zh": "就是门口这根电线杆"}


async def test_my_lists_cases_with_status_and_age_and_tap_shows_timeline(
    world: World, code: str, lang: str
) -> None:
    user = 801
    await world.resident(user, lang=lang)
    first, _ = await world.report(user, LIGHT[lang])
    world.clock.advance(timedelta(hours=2))
    second, _ = await world.report(user, BINS[lang])
    card = await world.card(MEMBER_1, first)
    await world.act(MEMBER_1, card, "acc")
    await settle(world)
    world.clock.advance(timedelta(hours=1))
    after = await world.last_id(user)
    await world.say(user, "/my")
    mine = await world.wait_bot(user, after=after, buttons=True)
    assert first in mine["text"] and second in mine["text"]
    assert label(world, lang, "status_accepted") in mine["text"]
    assert label(world, lang, "status_assigned") in mine["text"]
    assert label(world, lang, "duration_hours", hours=3, minutes=0) in mine["text"]
    assert label(world, lang, "duration_hours", hours=1, minutes=0) in mine["text"]
    await world.press(user, mine, first)
    timeline = await world.wait_bot(user, first, after=mine["message_id"])
    assert label(world, lang, "event_created") in timeline["text"]
    assert label(world, lang, "event_accepted") in timeline["text"]


async def test_member_question_reaches_resident_and_answer_comes_back(
    world: World, code: str, lang: str
) -> None:
    user = 802
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LIGHT[lang])
    card = await world.card(MEMBER_1, case_id)
    # a reply to the card is a question to the resident
    await world.say(MEMBER_1, "Which pole exactly? Near the gate?", reply_to=card["message_id"])
    question = await world.wait_bot(user, "Which pole exactly", after=card["message_id"] * 0)
    assert case_id in question["text"]
    assert "王芳" not in question["text"] and "10001" not in question["text"]
    # the resident's next message goes to that case
    after_member = await world.last_id(MEMBER_1)
    await world.say(user, "The second pole from the gate")
    answer = await world.wait_bot(MEMBER_1, "The second pole", after=after_member)
    assert (
        case_id in answer["text"] and "R-" in answer["text"] and "Resident802" not in answer["text"]
    )
    assert answer["reply_to_message_id"] == card["message_id"]
    # a second question via the Ask button; the resident answers with a reply to it
    await settle(world)
    card = await world.wait_edited(MEMBER_1, card["message_id"], case_id)
    await world.act(MEMBER_1, card, "ask")
    prompt = await world.wait_bot(MEMBER_1, after=answer["message_id"])
    await world.say(MEMBER_1, "Is it dark all night?")
    question2 = await world.wait_bot(user, "dark all night", after=question["message_id"])
    await world.say(user, "/my")  # something else in between
    await settle(world)
    await world.say(user, "Yes, all night", reply_to=question2["message_id"])
    await world.wait_bot(MEMBER_1, "Yes, all night", after=prompt["message_id"])
    kinds = await event_kinds(world, case_id)
    assert kinds.count("asked") == 2 and kinds.count("answered") == 2
    after = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, f"/case {case_id}")
    timeline = await world.wait_bot(MEMBER_1, "all night", after=after)
    assert "Which pole exactly" in timeline["text"] and "second pole" in timeline["text"]


async def test_an_answer_sent_as_an_image_file_reaches_the_member_as_a_document(
    world: World, code: str, lang: str
) -> None:
    user = 809
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LIGHT[lang])
    card = await world.card(MEMBER_1, case_id)
    await world.say(MEMBER_1, "Which pole exactly? A photo?", reply_to=card["message_id"])
    await world.wait_bot(user, "Which pole exactly")
    after_member = await world.last_id(MEMBER_1)
    image = {"file_name": "pole.png", "mime_type": "image/png"}
    sent = await world.sim.send_raw("document", user, value=image, caption=POLE[lang])
    [message] = [m for m in await world.sim.messages(user) if m["message_id"] == sent["message_id"]]
    file_id = message["document"]["file_id"]
    await world.wait_bot(MEMBER_1, POLE[lang], after=after_member)
    # Telegram sends an image that came as a file back only as a document.
    for _ in range(50):
        sent_back = [
            m
            for m in await world.sim.messages(MEMBER_1)
            if m.get("from_bot") and (m.get("document") or {}).get("file_id") == file_id
        ]
        if sent_back:
            break
        await asyncio.sleep(0.1)
    assert sent_back, "the image never reached the member"
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        photos = (await session.execute(select(CasePhoto.file_id))).scalars().all()
    assert file_id in [document_file_id(p) for p in photos]
    assert (await case_row(world, case_id)).status != "needs_info"


async def test_cancel_withdraws_an_unresolved_case(world: World, code: str, lang: str) -> None:
    user = 803
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LIGHT[lang])
    card = await world.card(MEMBER_1, case_id)
    after = await world.last_id(user)
    await world.say(user, "/cancel")
    choose = await world.wait_bot(user, after=after, buttons=True)
    pressed = await world.press(user, choose, label(world, lang, "btn_withdraw", case_id=case_id))
    assert (await answer_of(world, pressed))["text"] == label(world, lang, "case_cancelled")
    await world.wait_bot(user, case_id, after=choose["message_id"])
    await world.wait_edited(MEMBER_1, card["message_id"], "status" if False else case_id)
    assert (await case_row(world, case_id)).status == "cancelled"
    after = await world.last_id(user)
    await world.say(user, "/cancel")
    nothing = await world.wait_bot(user, after=after)
    assert not nothing["reply_markup"]


async def _resolved(world: World, user: int, lang: str) -> tuple[str, dict, dict]:
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LIGHT[lang])
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "acc")
    card = await world.wait_edited(MEMBER_1, card["message_id"], case_id)
    after = await world.last_id(user)
    await resolve(world, MEMBER_1, card, "Replaced the bulb")
    resolved = await world.wait_bot(user, "Replaced the bulb", after=after, buttons=True)
    return case_id, card, resolved


async def test_rate_with_comment_tells_the_member(world: World, code: str, lang: str) -> None:
    user = 804
    case_id, card, resolved = await _resolved(world, user, lang)
    after_member = await world.last_id(MEMBER_1)
    await world.press(user, resolved, "⭐⭐⭐⭐")
    ask = await world.wait_bot(user, case_id, after=resolved["message_id"], buttons=True)
    await world.say(user, "Quick work, thanks")
    saved = await world.wait_bot(user, after=ask["message_id"])
    assert case_id in saved["text"]
    rated = await world.wait_bot(MEMBER_1, "4/5", after=after_member)
    assert case_id in rated["text"]
    row = await case_row(world, case_id)
    assert (
        row.status == "resolved" and row.rating == 4 and row.rating_comment == "Quick work, thanks"
    )


async def test_not_solved_reopens_to_owner_with_reason_and_leader_is_told(
    world: World, code: str, lang: str
) -> None:
    user = 805
    case_id, card, resolved = await _resolved(world, user, lang)
    after_member, after_leader = await world.last_id(MEMBER_1), await world.last_id(LEADER)
    await world.press(user, resolved, label(world, lang, "btn_not_solved"))
    ask = await world.wait_bot(user, case_id, after=resolved["message_id"])
    await world.say(user, "It went dark again last night")
    reopened = await world.wait_bot(user, case_id, after=ask["message_id"])
    assert "🔄" in reopened["text"]
    await world.wait_bot(MEMBER_1, "It went dark again", after=after_member)
    # the card is back in the owner's chat, edited in place with the Accept button again
    card = await world.wait_edited(
        MEMBER_1, card["message_id"], label(world, "zh", "status_reopened")
    )
    assert any(
        b["callback_data"].startswith("c:acc:")
        for row in card["reply_markup"]["inline_keyboard"]
        for b in row
    )
    await world.wait_bot(LEADER, "It went dark again", after=after_leader)
    row = await case_row(world, case_id)
    assert row.status == "reopened" and row.reopen_count == 1 and row.owner_id == MEMBER_1


async def test_not_solved_after_the_window_is_refused(world: World, code: str, lang: str) -> None:
    world.settings_overrides["auto_close_after"] = timedelta(days=30)
    await world.restart_bot()
    user = 806
    case_id, card, resolved = await _resolved(world, user, lang)
    world.clock.advance(timedelta(days=8))
    await world.press(user, resolved, label(world, lang, "btn_not_solved"))
    ask = await world.wait_bot(user, case_id, after=resolved["message_id"])
    await world.say(user, "Broken again")
    refused = await world.wait_bot(user, after=ask["message_id"])
    assert label(world, lang, "reopen_too_late", days=7) in refused["text"]
    assert (await case_row(world, case_id)).status == "resolved"


async def test_silence_auto_closes_then_follow_up_question(
    world: World, code: str, lang: str
) -> None:
    user = 807
    case_id, card, resolved = await _resolved(world, user, lang)
    assert world.app is not None
    world.clock.advance(world.app.settings.auto_close_after + timedelta(minutes=1))
    await wake(world)
    closed = await world.wait_bot(user, case_id, after=resolved["message_id"])
    assert "📁" in closed["text"]
    assert (await case_row(world, case_id)).status == "closed"
    assert world.app.settings.follow_up_after is not None
    world.clock.advance(world.app.settings.follow_up_after + timedelta(minutes=1))
    await wake(world)
    follow = await world.wait_bot(user, case_id, after=closed["message_id"], buttons=True)
    assert label(world, lang, "btn_still_fixed") in button_labels(follow)
    pressed = await world.press(user, follow, label(world, lang, "btn_broken_again"))
    await answer_of(world, pressed)
    again = await world.wait_bot(user, case_id, after=follow["message_id"])
    assert again["message_id"] > follow["message_id"]
    kinds = await event_kinds(world, case_id)
    assert (
        kinds.count("auto_closed") == 1
        and kinds.count("follow_up_sent") == 1
        and "follow_up_answer" in kinds
    )
