"""What a case ends up as: triage for words that say nothing, one case for one problem,
transfers only where the card offered, the right owner, and cards that stay true."""

from __future__ import annotations

import pytest

from tests.support.chat import (
    LANG_IDS,
    LANGS,
    answer_of,
    case_row,
    event_kinds,
    events,
    label,
    settle,
)
from tests.support.world import (
    LEADER,
    MEMBER_1,
    MEMBER_2,
    PROPERTY_CHAT,
    PROPERTY_STAFF,
    World,
    button_labels,
)

VAGUE = {
    "en": "I would like to know more about the thing we discussed",
    "zh": "我想了解一下我们上次讨论的事情",
}


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_a_message_that_matches_nothing_goes_to_triage_not_other(
    world: World, code: str, lang: str
) -> None:
    user = 1301
    await world.resident(user, lang=lang)
    case_id, filed = await world.report(user, VAGUE[lang])
    row = await case_row(world, case_id)
    assert row.status == "triage" and row.category is None
    assert not any(m in ("lik", "lik to", "would lik") for m in row.matched)
    assert label(world, lang, "cat_other") not in filed["text"]
    created = (await events(world, case_id))[0]
    assert created.kind == "created" and not created.data.get("matched")
    # the grid member gets no card: the leader places it first
    texts = " ".join(m.get("text") or "" for m in await world.sim.bot_messages(MEMBER_1))
    assert case_id not in texts


LIGHT = {
    "en": "The street light outside building 1 has been broken for a week",
    "zh": "楼下路灯坏了一个星期了",
}
LIFT = {
    "en": "The lift in our building is broken, property management ignores us",
    "zh": "电梯坏了，物业不管",
}
STAFF_LANG = "zh"


def buttons_data(message: dict) -> list[str]:
    return [
        b["callback_data"]
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]


async def current(world: World, chat_id: int, message_id: int) -> dict:
    return [m for m in await world.sim.messages(chat_id) if m["message_id"] == message_id][0]


async def test_a_forged_transfer_target_is_refused_and_changes_nothing(world: World) -> None:
    user = 1302
    await world.resident(user)
    case_id, _ = await world.report(user, LIGHT["en"])
    card = await world.card(MEMBER_1, case_id)
    row = await case_row(world, case_id)
    base = f"c:tgt:{row.id}:{row.version}"
    # another grid's member, the presser themself, an unknown party, a grid leader, garbage
    for target in (
        f"m:{MEMBER_2}",
        f"m:{MEMBER_1}",
        "p:nowhere",
        f"m:{LEADER}",
        "m:99999999999999999999",
        "x:y",
    ):
        after = await world.last_id(MEMBER_1)
        pressed = await world.sim.press(
            MEMBER_1, card["message_id"], data=f"{base}:{target}", forge=True
        )
        answer = await answer_of(world, pressed)
        assert answer["text"] == label(world, STAFF_LANG, "not_allowed"), target
        await settle(world)
        assert await world.last_id(MEMBER_1) == after, target  # no reason prompt
        # and free text afterwards is not a transfer reason
        await world.say(MEMBER_1, "over to you")
        await settle(world)
    unchanged = await case_row(world, case_id)
    assert (unchanged.status, unchanged.owner_id, unchanged.version) == (
        "assigned",
        MEMBER_1,
        row.version,
    )
    assert "transferred" not in await event_kinds(world, case_id)
    texts = " ".join(m.get("text") or "" for m in await world.sim.bot_messages(MEMBER_2))
    assert case_id not in texts
    # what the card offers still works
    await world.act(MEMBER_1, card, "trf")
    await settle(world)
    offered = await current(world, MEMBER_1, card["message_id"])
    assert any(d.endswith(":p:xingfu-wuye") for d in buttons_data(offered))


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_a_follow_up_member_cannot_accept_a_party_case(
    world: World, code: str, lang: str
) -> None:
    user = 1303
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LIFT[lang])
    await world.card(PROPERTY_CHAT, case_id)
    row = await case_row(world, case_id)
    assert row.party_id == "xingfu-wuye" and row.follow_up_id == MEMBER_1
    # the follow-up member's own copy of the card offers no Accept
    after = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, f"/case {case_id}")
    copy = await world.wait_bot(MEMBER_1, case_id, after=after, buttons=True)
    assert not any(d.startswith("c:acc:") for d in buttons_data(copy))
    # and a forged Accept is refused on the server
    after_user = await world.last_id(user)
    pressed = await world.sim.press(
        MEMBER_1, copy["message_id"], data=f"c:acc:{row.id}:{row.version}", forge=True
    )
    answer = await answer_of(world, pressed)
    assert answer["text"] == label(world, STAFF_LANG, "accept_party_only")
    await settle(world)
    after_row = await case_row(world, case_id)
    assert (after_row.status, after_row.owner_id, after_row.party_id, after_row.version) == (
        row.status,
        None,
        "xingfu-wuye",
        row.version,
    )
    assert not [m for m in await world.sim.bot_messages(user, after_user) if "👍" in m["text"]]
    # the party accepts: the resident hears it from the party, never from the member
    card = await world.card(PROPERTY_CHAT, case_id)
    await world.act(PROPERTY_STAFF, card, "acc", chat=PROPERTY_CHAT)
    accepted = await world.wait_bot(user, "👍", after=after_user)
    assert "王芳" not in accepted["text"]
    assert (await case_row(world, case_id)).owner_id == PROPERTY_STAFF


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_category_change_with_the_same_owner_refreshes_the_card(
    world: World, code: str, lang: str
) -> None:
    user = 1304
    await world.resident(user, lang=lang)
    case_id, filed = await world.report(user, LIGHT[lang])
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "acc")
    await world.wait_edited(
        MEMBER_1, card["message_id"], label(world, STAFF_LANG, "status_accepted")
    )
    await world.press(user, filed, label(world, lang, "btn_change_category"))
    choose = await world.wait_bot(user, after=filed["message_id"], buttons=True)
    after_card = await case_row(world, case_id)
    await world.press(user, choose, label(world, lang, "cat_sanitation"))
    await world.wait_bot(user, label(world, lang, "cat_sanitation"), after=choose["message_id"])
    row = await case_row(world, case_id)
    assert row.category == "sanitation" and row.owner_id == MEMBER_1
    assert row.version > after_card.version
    refreshed = await world.wait_edited(
        MEMBER_1, card["message_id"], label(world, STAFF_LANG, "cat_sanitation")
    )
    assert all(f":{row.version}" in d for d in buttons_data(refreshed) if d.startswith("c:"))
    # its buttons work: Ask prompts for the question, not "out of date"
    after = await world.last_id(MEMBER_1)
    pressed = await world.act(MEMBER_1, refreshed, "ask")
    answer = await answer_of(world, pressed)
    assert not answer.get("text")
    await world.wait_bot(MEMBER_1, case_id, after=after)


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_rating_keeps_not_solved_open_and_the_stars_go_away(
    world: World, code: str, lang: str
) -> None:
    from datetime import timedelta

    from tests.support.chat import resolve, wake

    user = 1305
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LIGHT[lang])
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "acc")
    card = await world.wait_edited(MEMBER_1, card["message_id"], case_id)
    after = await world.last_id(user)
    await resolve(world, MEMBER_1, card, "Replaced the bulb")
    resolved = await world.wait_bot(user, "Replaced the bulb", after=after, buttons=True)
    stars = [
        b["callback_data"]
        for row in resolved["reply_markup"]["inline_keyboard"]
        for b in row
        if "⭐" in b["text"]
    ]
    await world.press(user, resolved, "⭐⭐⭐⭐⭐")
    await world.wait_bot(MEMBER_1, "5/5")
    await settle(world)
    row = await case_row(world, case_id)
    assert (row.status, row.rating) == ("resolved", 5)
    # the stars are gone from the message; "Not solved" stays
    now = await current(world, user, resolved["message_id"])
    assert [b for b in button_labels(now) if "⭐" in b] == []
    assert button_labels(now) == [label(world, lang, "btn_not_solved")]
    # a replayed star changes nothing
    pressed = await world.sim.press(user, resolved["message_id"], data=stars[0], forge=True)
    assert (await answer_of(world, pressed))["text"] == label(world, lang, "already_rated")
    assert (await case_row(world, case_id)).rating == 5
    # two days later it is not solved after all: reopening still works
    world.clock.advance(timedelta(days=2))
    await wake(world)
    await world.press(user, now, label(world, lang, "btn_not_solved"))
    ask = await world.wait_bot(user, case_id, after=resolved["message_id"])
    await world.say(user, "It went dark again last night")
    reopened = await world.wait_bot(user, "🔄", after=ask["message_id"])
    assert case_id in reopened["text"]
    row = await case_row(world, case_id)
    assert row.status == "reopened" and row.rating is None
    await settle(world)
    assert button_labels(await current(world, user, resolved["message_id"])) == []


async def test_a_rated_case_closes_when_the_reopen_window_ends(world: World) -> None:
    from datetime import timedelta

    from tests.support.chat import resolve, wake

    user = 1306
    await world.resident(user)
    case_id, _ = await world.report(user, LIGHT["en"])
    card = await world.card(MEMBER_1, case_id)
    after = await world.last_id(user)
    await resolve(world, MEMBER_1, card, "Replaced the bulb")
    resolved = await world.wait_bot(user, "Replaced the bulb", after=after, buttons=True)
    await world.press(user, resolved, "⭐⭐⭐")
    await world.wait_bot(MEMBER_1, "3/5")
    assert world.app is not None
    world.clock.advance(world.app.settings.auto_close_after + timedelta(hours=1))
    await wake(world)
    assert (await case_row(world, case_id)).status == "resolved"
    world.clock.advance(world.app.settings.reopen_window)
    await wake(world)
    row = await case_row(world, case_id)
    assert (row.status, row.rating) == ("closed", 3)
    # no "closed because you did not reply" to someone who rated
    texts = [m["text"] or "" for m in await world.sim.bot_messages(user, resolved["message_id"])]
    assert not any("📁" in t for t in texts)


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_the_same_report_twice_makes_one_case_and_one_card(
    world: World, code: str, lang: str
) -> None:
    from sqlalchemy import func, select

    from bot.store.models import Case

    user = 1307
    await world.resident(user, lang=lang)
    case_id, filed = await world.report(user, LIGHT[lang])
    await world.card(MEMBER_1, case_id)
    after = await world.last_id(user)
    await world.say(user, LIGHT[lang])
    draft = await world.wait_bot(user, after=after, buttons=True)
    await world.press(user, draft, label(world, lang, "btn_send_report"))
    told = await world.wait_bot(user, case_id, after=draft["message_id"], buttons=True)
    assert label(world, lang, "btn_file_anyway") in button_labels(told)
    await world.press(user, told, label(world, lang, "btn_discard"))
    await settle(world)
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        count = (
            await session.execute(select(func.count()).where(Case.resident_id == user))
        ).scalar_one()
    assert count == 1
    cards = [
        m
        for m in await world.sim.bot_messages(MEMBER_1)
        if "GV-" in (m["text"] or "") and button_labels(m)
    ]
    assert len(cards) == 1
    # a triage case sent twice (no category) is caught by its words
    vague, _ = await world.report(user, VAGUE[lang])
    after = await world.last_id(user)
    await world.say(user, VAGUE[lang])
    draft = await world.wait_bot(user, after=after, buttons=True)
    await world.press(user, draft, label(world, lang, "btn_send_report"))
    told = await world.wait_bot(user, vague, after=draft["message_id"], buttons=True)
    await world.press(user, told, label(world, lang, "btn_discard"))
    # a different problem is still filed
    other, _ = await world.report(
        user,
        "Garbage bins overflowing next to building 3" if lang == "en" else "垃圾桶满了没人清理",
    )
    assert other not in (case_id, vague)
    # and "it is a different problem" files the repeat anyway
    after = await world.last_id(user)
    await world.say(user, LIGHT[lang])
    draft = await world.wait_bot(user, after=after, buttons=True)
    await world.press(user, draft, label(world, lang, "btn_send_report"))
    told = await world.wait_bot(user, case_id, after=draft["message_id"], buttons=True)
    await world.press(user, told, label(world, lang, "btn_file_anyway"))
    filed = await world.wait_bot(user, "GV-", after=told["message_id"])
    assert case_id not in filed["text"]


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_a_typed_place_is_not_dropped_by_the_older_send_button(
    world: World, code: str, lang: str
) -> None:
    from tests.support.world import MEMBER_3

    user = 1308
    await world.resident(user, lang=lang)
    problem = "The water pipe burst in the corridor" if lang == "en" else "楼道里水管爆了"
    after = await world.last_id(user)
    await world.say(user, problem)
    draft = await world.wait_bot(user, after=after, buttons=True)
    await world.press(user, draft, label(world, lang, "btn_elsewhere"))
    ask = await world.wait_bot(user, after=draft["message_id"])
    typed = "Heping Road 16" if lang == "en" else "和平路16号"
    await world.say(user, typed)
    choose = await world.wait_bot(user, after=ask["message_id"], buttons=True)
    # the older Send button: the typed place is asked about, not dropped for the home
    await world.press(user, draft, label(world, lang, "btn_send_report"))
    again = await world.wait_bot(user, typed, after=choose["message_id"], buttons=True)
    target = "Heping Rd 16" if lang == "en" else "和平路16号"
    assert target in button_labels(again)
    await settle(world)
    texts = [m["text"] or "" for m in await world.sim.bot_messages(user, choose["message_id"])]
    assert not any("GV-" in t for t in texts)
    await world.press(user, again, target)
    placed = await world.wait_bot(user, target, after=again["message_id"], buttons=True)
    await world.press(user, placed, label(world, lang, "btn_send_report"))
    filed = await world.wait_bot(user, "GV-", after=placed["message_id"])
    assert "📍" in filed["text"] and target in filed["text"]
    case_id = filed["text"][filed["text"].index("GV-") :][:14]
    assert (await case_row(world, case_id)).building_id == "hp-16"
    await world.card(MEMBER_3, case_id)
    # a report at home says where too
    _, home = await world.report(user, LIGHT[lang])
    assert "📍" in home["text"]
    assert ("Xingfu Garden Building 1" in home["text"]) or ("幸福小区1号楼" in home["text"])


async def test_a_press_on_either_copy_of_a_card_edits_the_copy_pressed(world: World) -> None:
    user = 1309
    await world.resident(user)
    case_id, _ = await world.report(user, LIGHT["en"])
    original = await world.card(MEMBER_1, case_id)
    after = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, f"/case {case_id}")
    copy = await world.wait_bot(MEMBER_1, case_id, after=after, buttons=True)
    await settle(world)
    # one live copy in the chat: the original's buttons are gone
    assert buttons_data(await current(world, MEMBER_1, original["message_id"])) == []
    # a press on the original (its buttons were still on screen) edits the original
    accept = [d for d in buttons_data(original) if d.startswith("c:acc:")][0]
    pressed = await world.sim.press(MEMBER_1, original["message_id"], data=accept, forge=True)
    assert (await answer_of(world, pressed))["text"] == label(world, STAFF_LANG, "accepted_ok")
    edited = await world.wait_edited(
        MEMBER_1, original["message_id"], label(world, STAFF_LANG, "status_accepted")
    )
    assert any(d.startswith("c:res:") for d in buttons_data(edited))
    await settle(world)
    other = await current(world, MEMBER_1, copy["message_id"])
    assert buttons_data(other) == []
    assert label(world, STAFF_LANG, "status_accepted") not in (other["text"] or "")
    # a stale press on the other copy is answered clearly and changes nothing
    row = await case_row(world, case_id)
    stale = [d for d in buttons_data(copy) if d.startswith("c:rej:")][0]
    pressed = await world.sim.press(MEMBER_1, copy["message_id"], data=stale, forge=True)
    assert (await answer_of(world, pressed))["text"] == label(
        world, STAFF_LANG, "card_outdated", status=label(world, STAFF_LANG, "status_accepted")
    )
    assert (await case_row(world, case_id)).version == row.version
    # the edited original keeps working: Ask prompts
    after = await world.last_id(MEMBER_1)
    await world.act(MEMBER_1, edited, "ask")
    await world.wait_bot(MEMBER_1, case_id, after=after)
    # a reply to the retired copy still reaches the case
    await world.say(MEMBER_1, "/cancel")
    await settle(world)
    after_user = await world.last_id(user)
    await world.say(MEMBER_1, "Which pole is it?", reply_to=copy["message_id"])
    await world.wait_bot(user, "Which pole", after=after_user)


async def test_a_leaders_copy_shows_the_change_the_leader_made(world: World) -> None:
    user = 1310
    await world.resident(user)
    case_id, _ = await world.report(user, LIGHT["en"])
    owner_card = await world.card(MEMBER_1, case_id)
    after = await world.last_id(LEADER)
    await world.say(LEADER, f"/case {case_id}")
    copy = await world.wait_bot(LEADER, case_id, after=after, buttons=True)
    await world.act(LEADER, copy, "acc")
    await world.wait_edited(LEADER, copy["message_id"], label(world, STAFF_LANG, "status_accepted"))
    await world.wait_edited(
        MEMBER_1, owner_card["message_id"], label(world, STAFF_LANG, "status_accepted")
    )


async def test_opening_a_card_from_the_queue_leaves_the_queue_alone(world: World) -> None:
    user = 1311
    await world.resident(user)
    case_id, _ = await world.report(user, LIGHT["en"])
    original = await world.card(MEMBER_1, case_id)
    after = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, "/queue")
    queue = await world.wait_bot(MEMBER_1, case_id, after=after, buttons=True)
    await world.press(MEMBER_1, queue, case_id)
    copy = await world.wait_bot(MEMBER_1, case_id, after=queue["message_id"], buttons=True)
    await settle(world)
    assert button_labels(await current(world, MEMBER_1, queue["message_id"])) == [case_id]
    assert buttons_data(await current(world, MEMBER_1, original["message_id"])) == []
    await world.act(MEMBER_1, copy, "acc")
    await world.wait_edited(
        MEMBER_1, copy["message_id"], label(world, STAFF_LANG, "status_accepted")
    )
    assert button_labels(await current(world, MEMBER_1, queue["message_id"])) == [case_id]
