"""Rough edges a resident or a member stumbles on: album counts, the card's wording,
reminder timing, rate limits that count what costs, staff answers for staff."""

from __future__ import annotations

from datetime import timedelta

import pytest

from routing.deadlines import reminder_lead
from routing.gridmap import GridMap
from tests.support.chat import LANG_IDS, LANGS, PNG, settle, user_row, wake
from tests.support.world import DEMO_MAP, MEMBER_1, MEMBER_2, PROPERTY_CHAT, PROPERTY_STAFF, World

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


async def staff_reads(world: World, staff: int, lang: str) -> None:
    """Make a staff member read `lang` (the demo staff read Chinese until they choose)."""
    if lang == "zh":
        return
    await world.say(staff, "/language")
    choose = await world.wait_bot(staff, buttons=True)
    await world.press(staff, choose, "English")
    await world.wait_bot(staff, after=choose["message_id"])


WAITING_FOR_RESIDENT = {"en": "waiting for the resident's answer", "zh": "等居民回复"}
WAITING_FOR_YOU = {"en": "waiting for your answer", "zh": "等您回复"}


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_card_says_the_resident_must_answer_after_a_question(
    world: World, code: str, lang: str
) -> None:
    user = 1711
    await staff_reads(world, MEMBER_1, lang)
    await world.resident(user)
    case_id, _ = await world.report(user, "The street light outside building 1 is broken")
    card = await world.card(MEMBER_1, case_id)
    after = await world.last_id(MEMBER_1)
    await world.act(MEMBER_1, card, "ask")
    await world.wait_bot(MEMBER_1, after=after)
    await world.say(MEMBER_1, "Which side of the building?")
    edited = await world.wait_edited(MEMBER_1, card["message_id"], WAITING_FOR_RESIDENT[lang])
    assert WAITING_FOR_YOU[lang] not in edited["text"]
    await settle(world)
    before = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, "/queue")
    queue = await world.wait_bot(MEMBER_1, case_id, after=before)
    assert WAITING_FOR_RESIDENT[lang] in queue["text"], queue["text"]


async def test_urgent_reminder_comes_half_way_to_a_short_deadline_not_with_the_card(
    world: World,
) -> None:
    user = 1712
    await world.resident(user)
    case_id, _ = await world.report(user, "Smoke coming out of the electrical box in building 1")
    card = await world.card(MEMBER_1, case_id)
    assert "🚨" in card["text"]
    await wake(world, 2)
    reminders = [m for m in await world.sim.bot_messages(MEMBER_1) if "⏰" in (m["text"] or "")]
    assert reminders == []  # 15 minutes to accept: not reminded in the same second
    world.clock.advance(timedelta(minutes=8))
    await wake(world)
    reminder = await world.wait_bot(MEMBER_1, "⏰", after=card["message_id"])
    assert case_id in reminder["text"]


def test_reminder_lead_is_at_most_half_the_time_given() -> None:
    gridmap = GridMap.from_file(DEMO_MAP)
    lead = timedelta(minutes=30)
    assert reminder_lead(gridmap, None, "urgent", "accept", lead) == timedelta(minutes=7.5)
    assert reminder_lead(gridmap, "facilities", "normal", "accept", lead) == lead
    assert reminder_lead(gridmap, "facilities", "normal", "resolve", lead) == lead


RATE_NOTICE = {"en": "did not add the last", "zh": "没有加进您的反映"}


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_commands_are_not_rate_limited(world: World, code: str, lang: str) -> None:
    user = 1721
    await world.resident(user, lang=code)
    after = await world.last_id(user)
    for _ in range(2 * world.settings.user_rate_per_minute):
        await world.say(user, "/my")
    await settle(world)
    texts = [m.get("text") or "" for m in await world.sim.bot_messages(user, after)]
    assert len(texts) == 2 * world.settings.user_rate_per_minute
    assert not any(RATE_NOTICE[lang] in t for t in texts)


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_a_flood_is_told_what_was_dropped_and_echoed_once(
    world: World, code: str, lang: str
) -> None:
    user = 1722
    limit = world.settings.user_rate_per_minute
    await world.resident(user, lang=code)
    after = await world.last_id(user)
    # 50 messages that reach Telegram together (a client sending what it queued offline):
    # one batch of updates, so the whole burst is answered by one echo and one notice
    await world.sim.send_texts(user, [f"flood {i}" for i in range(50)])
    await settle(world)
    messages = await world.sim.bot_messages(user, after)
    notices = [m for m in messages if RATE_NOTICE[lang] in (m.get("text") or "")]
    assert len(notices) == 1, [m.get("text") for m in messages]
    assert str(50 - limit) in notices[0]["text"], notices[0]["text"]
    echoes = [m for m in messages if m.get("reply_markup")]
    assert len(echoes) == 1, [m.get("text") for m in echoes]
    assert f"flood {limit - 1}" in echoes[-1]["text"] and f"flood {limit}" not in echoes[-1]["text"]
    # a minute later the person is read again
    world.clock.advance(timedelta(seconds=61))
    before = await world.last_id(user)
    await world.say(user, "one more thing")
    echo = await world.wait_bot(user, "one more thing", after=before, timeout=2.0)
    assert echo["reply_markup"]


STAFF_DESK = {"en": "staff desk", "zh": "工作台"}
SENT = {"en": "Sent to the resident", "zh": "已发给"}


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_staff_get_staff_answers_not_the_residents_consent_prompt(
    world: World, code: str, lang: str
) -> None:
    await staff_reads(world, MEMBER_2, lang)
    for text in ("/start", "hello, testing the bot"):
        after = await world.last_id(MEMBER_2)
        await world.say(MEMBER_2, text)
        reply = await world.wait_bot(MEMBER_2, after=after, timeout=2.0)
        assert STAFF_DESK[lang] in reply["text"], reply["text"]
        assert not reply.get("reply_markup")  # no consent buttons
    after = await world.last_id(MEMBER_2)
    await world.sim.send_photo(MEMBER_2, PNG)
    reply = await world.wait_bot(MEMBER_2, after=after, timeout=2.0)
    assert STAFF_DESK[lang] in reply["text"]
    row = await user_row(world, MEMBER_2)
    assert row is not None and row.consent_at is None
    assert not (row.state_data or {}).get("pending")  # nothing kept as a resident's report


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_a_photo_only_reply_to_a_card_reaches_the_resident(
    world: World, code: str, lang: str
) -> None:
    user = 1731
    await staff_reads(world, MEMBER_1, lang)
    await world.resident(user)
    case_id, _ = await world.report(user, "The street light outside building 1 is broken")
    card = await world.card(MEMBER_1, case_id)
    after_resident = await world.last_id(user)
    after = await world.last_id(MEMBER_1)
    await world.sim.send_photo(MEMBER_1, PNG + b"reply", reply_to=card["message_id"])
    sent = await world.wait_bot(MEMBER_1, SENT[lang], after=after, timeout=2.0)
    assert case_id in sent["text"]
    await settle(world)
    photos = [m for m in await world.sim.bot_messages(user, after_resident) if m.get("photo")]
    assert len(photos) == 1


async def test_a_photo_only_reply_in_a_party_group_reaches_the_resident(world: World) -> None:
    user = 1732
    await world.resident(user)
    case_id, _ = await world.report(
        user, "The lift in our building is broken again, the property company ignores us"
    )
    card = await world.card(PROPERTY_CHAT, case_id)
    after_resident = await world.last_id(user)
    await world.sim.send_photo(
        PROPERTY_STAFF, PNG + b"group", chat=PROPERTY_CHAT, reply_to=card["message_id"]
    )
    await world.wait_bot(user, case_id, after=after_resident, timeout=2.0)
    await settle(world)
    photos = [m for m in await world.sim.bot_messages(user, after_resident) if m.get("photo")]
    assert len(photos) == 1
