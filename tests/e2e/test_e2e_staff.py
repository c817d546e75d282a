"""Grid members at work: the card, its buttons, transfer, talking through the bot, queues,
triage, invites and deactivation, authorisation, statistics."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.chat import (
    LANG_IDS,
    LANGS,
    PNG,
    answer_of,
    case_row,
    event_kinds,
    events,
    label,
    render,
    resolve,
    settle,
)
from tests.support.world import (
    ADMIN,
    LEADER,
    MEMBER_1,
    MEMBER_2,
    PROPERTY_CHAT,
    PROPERTY_STAFF,
    World,
    button_labels,
)

LIGHT = {
    "en": "The street light outside building 1 has been broken for a week",
    "zh": "楼下路灯坏了一个星期了",
}
BINS = {
    "en": "Garbage bins overflowing next to building 3, smells terrible",
    "zh": "垃圾桶满了没人清理，很臭",
}
STAFF_LANG = "zh"  # the demo staff write in Chinese


def either(world: World, key: str, **data: object) -> tuple[str, str]:
    return (label(world, "en", key, **data), label(world, "zh", key, **data))


def shows(world: World, key: str, text: str, **data: object) -> bool:
    return any(v in text for v in either(world, key, **data))


def buttons_data(message: dict) -> list[str]:
    return [
        b["callback_data"]
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_card_shows_the_case_not_the_person_and_resolve_sends_note_and_photo(
    world: World, code: str, lang: str
) -> None:
    user = 1101
    await world.resident(user, lang=lang)
    after = await world.last_id(user)
    await world.say(user, LIGHT[lang])
    draft = await world.wait_bot(user, after=after, buttons=True)
    await world.sim.send_photo(user, PNG)
    draft = await world.wait_bot(user, "📷", after=draft["message_id"], buttons=True)
    await world.press(user, draft, label(world, lang, "btn_send_report"))
    filed = await world.wait_bot(user, "GV-", after=draft["message_id"])
    case_id = filed["text"].split("GV-", 1)[1][:11]
    case_id = "GV-" + case_id
    card = await world.card(MEMBER_1, case_id)
    text = card["text"]
    assert shows(world, "cat_facilities", text)
    assert ("幸福小区1号楼" in text or "Xingfu Garden Building 1" in text) and LIGHT[lang][
        :10
    ] in text
    assert "📷" in text and "R-" in text
    assert "Resident1101" not in text and "1101" not in text
    assert "2026-11-24 14:00" in text  # accept deadline (4 h, local time)
    assert shows(world, "duration_minutes", text, minutes=0)
    labels = button_labels(card)
    for key in ("btn_accept", "btn_ask", "btn_transfer", "btn_resolve", "btn_reject"):
        assert any(v in labels for v in either(world, key))
    photo = [
        m
        for m in await world.sim.bot_messages(MEMBER_1)
        if m["photo"] and m["message_id"] < card["message_id"]
    ]
    assert len(photo) == 1

    await world.act(MEMBER_1, card, "acc")
    card = await world.wait_edited(
        MEMBER_1, card["message_id"], label(world, STAFF_LANG, "status_accepted")
    )
    assert not any(v in button_labels(card) for v in either(world, "btn_accept"))
    after = await world.last_id(user)
    await resolve(world, MEMBER_1, card, "Replaced the bulb, works now", photo=PNG + b"fixed")
    resolved = await world.wait_bot(user, "Replaced the bulb", after=after, buttons=True)
    pictures = [m for m in await world.sim.bot_messages(user, after) if m["photo"]]
    assert len(pictures) == 1 and pictures[0]["message_id"] < resolved["message_id"]
    card = await world.wait_edited(
        MEMBER_1, card["message_id"], label(world, STAFF_LANG, "status_resolved")
    )
    # a resolved card keeps two buttons: the public note (the note above stays the
    # resident's) and an internal note
    assert [d.split(":")[1] for d in buttons_data(card)] == ["pub", "nte"]
    await world.press(user, resolved, "⭐⭐⭐⭐⭐")
    await world.wait_bot(MEMBER_1, "5/5")
    row = await case_row(world, case_id)
    assert row.status == "resolved" and row.rating == 5 and row.public_note is None


async def test_a_public_note_is_written_from_the_card_and_its_prompt_says_it_is_published(
    world: World,
) -> None:
    user = 1103
    await world.resident(user)
    case_id, _ = await world.report(user, LIGHT["en"])
    card = await world.card(MEMBER_1, case_id)
    await resolve(world, MEMBER_1, card, "Mrs Wang at 5-302 showed me the lamp")
    card = await world.wait_edited(
        MEMBER_1, card["message_id"], label(world, STAFF_LANG, "status_resolved")
    )
    await settle(world)  # the "done" after resolving is in
    last = await world.last_id(MEMBER_1)
    await world.act(MEMBER_1, card, "pub")
    prompt = await world.wait_bot(MEMBER_1, "公开说明", after=last)
    assert "公开发布" in prompt["text"]
    # a phone number is refused, nothing is published
    await world.say(MEMBER_1, "Call 139 1234 5678 if it happens again")
    refused = await world.wait_bot(MEMBER_1, after=prompt["message_id"])
    assert label(world, STAFF_LANG, "public_note_number") in refused["text"]
    assert (await case_row(world, case_id)).public_note is None
    await settle(world)
    last = await world.last_id(MEMBER_1)
    await world.act(MEMBER_1, card, "pub")
    prompt = await world.wait_bot(MEMBER_1, "公开说明", after=last)
    await world.say(MEMBER_1, "Replaced the lamp at the east gate")
    done = await world.wait_bot(MEMBER_1, "Replaced the lamp", after=prompt["message_id"])
    assert case_id in done["text"]
    row = await case_row(world, case_id)
    assert row.public_note == "Replaced the lamp at the east gate"
    assert row.resolution_note == "Mrs Wang at 5-302 showed me the lamp"
    assert "public_note" in await event_kinds(world, case_id)


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_reject_needs_a_reason_the_resident_sees(world: World, code: str, lang: str) -> None:
    user = 1102
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LIGHT[lang])
    card = await world.card(MEMBER_1, case_id)
    after_member = await world.last_id(MEMBER_1)
    await world.act(MEMBER_1, card, "rej")
    prompt = await world.wait_bot(MEMBER_1, after=after_member)
    await world.sim.send_raw("sticker", MEMBER_1)  # not a reason
    await world.wait_bot(MEMBER_1, after=prompt["message_id"])
    assert (await case_row(world, case_id)).status == "assigned"
    after = await world.last_id(user)
    last = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, "This lamp belongs to the city road department, not the community")
    confirm = await world.wait_bot(MEMBER_1, "city road department", after=last, buttons=True)
    assert (await case_row(world, case_id)).status == "assigned"  # not before the confirmation
    await world.press(MEMBER_1, confirm, label(world, STAFF_LANG, "btn_reject_confirm"))
    declined = await world.wait_bot(user, "city road department", after=after)
    assert case_id in declined["text"] and "❌" in declined["text"]
    row = await case_row(world, case_id)
    assert row.status == "rejected"
    assert (await events(world, case_id))[-1].note.startswith("This lamp belongs")


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_transfer_to_property_company_whose_staff_accepts_in_the_group(
    world: World, code: str, lang: str
) -> None:
    user = 1103
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LIGHT[lang])
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "trf")
    await settle(world)
    card = (
        m for m in await world.sim.bot_messages(MEMBER_1) if m["message_id"] == card["message_id"]
    ).__next__()
    data = buttons_data(card)
    assert any(":p:xingfu-wuye" in d for d in data) and any(":p:heping-police" in d for d in data)
    assert label(world, STAFF_LANG, "btn_back") in button_labels(card)
    before_transfer = card
    await world.press(MEMBER_1, card, "幸福物业")
    prompt = await world.wait_bot(MEMBER_1, case_id, after=card["message_id"])
    after = await world.last_id(user)
    await world.say(MEMBER_1, "The lamp is on the property's land")
    party_card = await world.card(PROPERTY_CHAT, case_id)
    told = await world.wait_bot(user, case_id, after=after)
    assert "property's land" in told["text"]
    assert "幸福物业" in told["text"] or "Xingfu Property Management" in told["text"]
    await world.wait_bot(MEMBER_1, case_id, after=prompt["message_id"])
    old = await world.wait_edited(
        MEMBER_1, card["message_id"], label(world, STAFF_LANG, "status_transferred")
    )
    assert not buttons_data(old)
    kinds = await event_kinds(world, case_id)
    assert "transferred" in kinds
    assert (await events(world, case_id))[-1].note == "The lamp is on the property's land"

    # a button pressed on the old card: clearly out of date
    stale = await world.sim.press(
        MEMBER_1, old["message_id"], data=buttons_data(before_transfer)[0], forge=True
    )
    answer = await answer_of(world, stale)
    assert answer["text"] == label(
        world, STAFF_LANG, "card_outdated", status=label(world, STAFF_LANG, "status_transferred")
    )

    after = await world.last_id(user)
    await world.act(PROPERTY_STAFF, party_card, "acc", chat=PROPERTY_CHAT)
    accepted = await world.wait_bot(user, case_id, after=after)
    assert "👍" in accepted["text"]
    await settle(world)
    party_card = [
        m
        for m in await world.sim.messages(PROPERTY_CHAT)
        if m["message_id"] == party_card["message_id"]
    ][0]
    assert shows(world, "status_accepted", party_card["text"])
    row = await case_row(world, case_id)
    assert (
        row.status == "accepted"
        and row.party_id == "xingfu-wuye"
        and row.owner_id == PROPERTY_STAFF
    )


async def test_transfer_to_another_grid_member_records_why(world: World) -> None:
    user = 1104
    await world.resident(user)
    case_id, _ = await world.report(user, LIGHT["en"])
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "trf")
    await settle(world)
    card = (
        m for m in await world.sim.bot_messages(MEMBER_1) if m["message_id"] == card["message_id"]
    ).__next__()
    # only grid 1's members (none besides 10001 in the demo) and the parties of its matrix row
    assert not any(":m:10002" in d for d in buttons_data(card))
    await world.press(MEMBER_1, card, label(world, STAFF_LANG, "btn_back"))
    card = await world.wait_edited(MEMBER_1, card["message_id"], case_id)
    await settle(world)
    card = (
        m for m in await world.sim.bot_messages(MEMBER_1) if m["message_id"] == card["message_id"]
    ).__next__()
    assert label(world, STAFF_LANG, "btn_accept") in button_labels(card)


async def test_queue_by_deadline_and_case_timeline_for_staff(world: World) -> None:
    user = 1105
    await world.resident(user)
    slow, _ = await world.report(user, LIGHT["en"])  # accept within 4 h
    world.clock.advance(timedelta(minutes=5))
    fast, _ = await world.report(
        user, "Exposed electric wires sparking in the stairwell, fire hazard"
    )  # safety: 1 h
    row = await case_row(world, fast)
    assert row.accept_by < (await case_row(world, slow)).accept_by
    after = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, "/queue")
    queue = await world.wait_bot(MEMBER_1, slow, after=after)
    assert queue["text"].index(fast) < queue["text"].index(slow)
    assert button_labels(queue)[:2] == [fast, slow]
    await world.press(MEMBER_1, queue, slow)
    again = await world.wait_bot(MEMBER_1, slow, after=queue["message_id"], buttons=True)
    assert "c:acc:" in " ".join(buttons_data(again))
    after = await world.last_id(user)
    await world.say(user, "/queue")
    refused = await world.wait_bot(user, after=after)
    assert slow not in refused["text"]


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_triage_of_what_the_classifier_abstains_on(
    world: World, code: str, lang: str
) -> None:
    user = 1106
    await world.resident(user, lang=lang)
    text = "hello?? can someone come by" if lang == "en" else "你好，有人能来一下吗"
    case_id, filed = await world.report(user, text)
    row = await case_row(world, case_id)
    assert row.status == "triage" and row.category is None
    after = await world.last_id(LEADER)
    await world.say(LEADER, "/triage")
    card = await world.wait_bot(LEADER, case_id, after=after, buttons=True)
    # the classifier's top three first, then More… for every category
    choice = [b for b in button_labels(card) if b not in either(world, "btn_note")]
    assert len(choice) == 4  # (the internal note's button stands beside them)
    if not any(v in button_labels(card) for v in either(world, "cat_sanitation")):
        more = [v for v in either(world, "btn_more_categories") if v in button_labels(card)]
        await world.press(LEADER, card, more[0])
        await settle(world)
        card = [
            m for m in await world.sim.messages(LEADER) if m["message_id"] == card["message_id"]
        ][-1]
    assert any(v in button_labels(card) for v in either(world, "cat_sanitation"))
    after_member, after_user = await world.last_id(MEMBER_1), await world.last_id(user)
    await world.press(
        LEADER, card, [v for v in either(world, "cat_sanitation") if v in button_labels(card)][0]
    )
    member_card = await world.card(MEMBER_1, case_id, after=after_member)
    assert shows(world, "cat_sanitation", member_card["text"])
    told = await world.wait_bot(user, case_id, after=after_user)
    assert "王芳" in told["text"]
    row = await case_row(world, case_id)
    assert row.status == "assigned" and row.category == "sanitation" and row.owner_id == MEMBER_1
    await settle(world)
    after = await world.last_id(LEADER)
    await world.say(LEADER, "/triage")
    empty = await world.wait_bot(LEADER, after=after)
    assert empty["text"] == render(world, STAFF_LANG, "triage_empty")
    # members cannot triage
    after = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, "/triage")
    assert case_id not in (await world.wait_bot(MEMBER_1, after=after))["text"]


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_strangers_forgers_and_replays_are_refused_and_change_nothing(
    world: World, code: str, lang: str
) -> None:
    user = 1107
    await world.resident(user, lang=lang)
    case_id, filed = await world.report(user, LIGHT[lang])
    card = await world.card(MEMBER_1, case_id)
    row = await case_row(world, case_id)
    accept = f"c:acc:{row.id}:{row.version}"

    # a resident forging a staff button
    pressed = await world.sim.press(user, filed["message_id"], data=accept, forge=True)
    assert (await answer_of(world, pressed))["text"] == label(world, lang, "not_allowed")
    # a member of another grid
    await world.say(MEMBER_2, "/queue")
    other = await world.wait_bot(MEMBER_2)
    pressed = await world.sim.press(MEMBER_2, other["message_id"], data=accept, forge=True)
    assert (await answer_of(world, pressed))["text"] == label(world, STAFF_LANG, "not_allowed")
    for action in ("res", "rej", "ask", "trf"):
        pressed = await world.sim.press(
            MEMBER_2, other["message_id"], data=f"c:{action}:{row.id}:{row.version}", forge=True
        )
        assert (await answer_of(world, pressed))["text"] == label(world, STAFF_LANG, "not_allowed")
    await settle(world)
    unchanged = await case_row(world, case_id)
    assert (unchanged.status, unchanged.version, unchanged.owner_id) == (
        "assigned",
        row.version,
        MEMBER_1,
    )
    assert await event_kinds(world, case_id) == ["created"]

    # the owner accepts; replaying the same press afterwards is refused
    first = await world.act(MEMBER_1, card, "acc")
    await answer_of(world, first)
    moved = await case_row(world, case_id)
    replay = await world.sim.press(MEMBER_1, card["message_id"], data=accept, forge=True)
    answer = (await answer_of(world, replay))["text"]
    assert answer == label(
        world, STAFF_LANG, "card_outdated", status=label(world, STAFF_LANG, "status_accepted")
    )
    await settle(world)
    after = await case_row(world, case_id)
    assert (after.status, after.version) == (moved.status, moved.version)
    assert (await event_kinds(world, case_id)).count("accepted") == 1
    # a resident pressing a resident button of someone else's case
    await world.resident(1108, lang=lang)
    pressed = await world.sim.press(
        1108,
        (await world.sim.bot_messages(1108))[-1]["message_id"],
        data=f"r:cx:{row.id}",
        forge=True,
    )
    assert (await answer_of(world, pressed))["text"] == label(world, lang, "not_allowed")
    assert (await case_row(world, case_id)).status == "accepted"


async def test_deactivation_hands_open_cases_on(world: World) -> None:
    user = 1109
    await world.resident(user)
    case_id, _ = await world.report(user, LIGHT["en"])
    await world.card(MEMBER_1, case_id)
    after = await world.last_id(ADMIN)
    await world.say(ADMIN, f"/deactivate {MEMBER_1}")
    done = await world.wait_bot(ADMIN, after=after)
    assert "1" in done["text"]
    row = await case_row(world, case_id)
    assert row.owner_id != MEMBER_1 and row.owner_id is not None
    await world.card(row.owner_chat_id, case_id)
    assert "reassigned" in await event_kinds(world, case_id)
    # a member can't deactivate anyone
    after = await world.last_id(MEMBER_2)
    await world.say(MEMBER_2, f"/deactivate {LEADER}")
    await world.wait_bot(MEMBER_2, after=after)
    assert (await case_row(world, case_id)).owner_id == row.owner_id


async def test_stats_for_the_leader(world: World) -> None:
    user = 1110
    await world.resident(user)
    a, _ = await world.report(user, LIGHT["en"])
    b, _ = await world.report(user, BINS["en"])
    for case_id, stars in ((a, 5), (b, 3)):
        card = await world.card(MEMBER_1, case_id)
        await world.act(MEMBER_1, card, "acc")
        card = await world.wait_edited(
            MEMBER_1, card["message_id"], label(world, STAFF_LANG, "status_accepted")
        )
        world.clock.advance(timedelta(hours=1))
        after = await world.last_id(user)
        await resolve(world, MEMBER_1, card, f"done {case_id}")
        resolved = await world.wait_bot(user, f"done {case_id}", after=after, buttons=True)
        await world.press(user, resolved, "⭐" * stars)
        await world.wait_bot(MEMBER_1, f"{stars}/5")
    after = await world.last_id(LEADER)
    await world.say(LEADER, "/stats")
    stats = await world.wait_bot(LEADER, "王芳", after=after)
    text = stats["text"]
    assert "2" in text and "4.0" in text and "100%" in text
    assert shows(world, "cat_facilities", text) and shows(world, "cat_sanitation", text)
    after = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, "/stats")
    refused = await world.wait_bot(MEMBER_1, after=after)
    assert "4.0" not in refused["text"]
