"""What staff, followers and the committee see of the case's and the consultation's rules:
`/case` for a follower, one live copy of a card after a press on a retired copy, and the
consultation dialogue's buttons kept after a mistyped date."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.services.cases.actions import ACTIONS, Asks, StaffAction
from bot.services.cases.status import Status
from tests.e2e.consult_helpers import answer_of, press_data, step
from tests.support.chat import LANG_IDS, LANGS, case_row, events, label, render, resolve
from tests.support.world import COMMITTEE, MEMBER_1, World, button_labels

STAFF_LANG = "zh"  # the demo staff write in Chinese


async def _follower(world: World, code: str, lang: str) -> tuple[int, str]:
    """A second resident reports the same problem and follows the first one's case."""
    first, second = 1941, 1942
    await world.resident(first)
    await world.resident(second, lang=code, address="Xingfu Garden Building 2")
    case_id, _ = await world.report(
        first, "The street light outside building 1 is broken. I am in flat 3-402"
    )
    after = await world.last_id(second)
    await world.say(second, "The street light outside building 1 is broken")
    draft = await world.wait_bot(second, buttons=True, after=after)
    await world.press(second, draft, label(world, lang, "btn_send_report"))
    offer = await world.wait_bot(second, case_id, after=draft["message_id"], buttons=True)
    await world.press(second, offer, label(world, lang, "btn_follow_case", case_id=case_id))
    await world.wait_bot(second, "🔔", after=offer["message_id"])
    return second, case_id


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_a_follower_reads_the_followed_case_with_slash_case(
    world: World, code: str, lang: str
) -> None:
    follower, case_id = await _follower(world, code, lang)
    after = await world.last_id(follower)
    await world.say(follower, f"/case {case_id}")
    shown = await world.wait_bot(follower, after=after)
    refused = render(world, lang, "case_not_found", human_id=case_id)
    assert shown["text"].startswith("📋") and case_id in shown["text"], shown["text"]
    assert shown["text"] != refused and not button_labels(shown)  # no staff card for them
    assert "3-402" not in shown["text"]  # the reporter's own words stay theirs
    # someone who does not follow it is still refused
    await world.resident(1943, lang=code, address="Xingfu Garden Building 2")
    after = await world.last_id(1943)
    await world.say(1943, f"/case {case_id}")
    assert (await world.wait_bot(1943, after=after))["text"] == refused


def _markup(messages: list[dict[str, Any]], message_id: int) -> list[str]:
    found = next(m for m in messages if m["message_id"] == message_id)
    return button_labels(found)


async def test_a_press_on_a_retired_card_copy_makes_it_the_live_one(world: World) -> None:
    """The member's card A is retired when `/case` sends copy B; a press that still reaches A
    (its buttons were on screen) makes A the chat's live copy, with buttons, and B loses
    its buttons: the chat keeps exactly one live copy."""
    await world.resident(1951)
    case_id, _ = await world.report(1951, "The street light outside building 1 is broken")
    original = await world.card(MEMBER_1, case_id)
    after = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, f"/case {case_id}")
    copy = await world.wait_bot(MEMBER_1, case_id, after=after, buttons=True)
    await world.settle()
    assert not _markup(await world.sim.messages(MEMBER_1), original["message_id"])
    ask = next(
        b["callback_data"]
        for row in original["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"].startswith("c:ask:")
    )
    await world.sim.press(MEMBER_1, original["message_id"], data=ask, forge=True)
    await world.wait_bot(MEMBER_1, case_id, after=copy["message_id"])  # the ask prompt
    await world.settle()
    messages = await world.sim.messages(MEMBER_1)
    live = [
        m["message_id"]
        for m in messages
        if m["message_id"] in (original["message_id"], copy["message_id"]) and button_labels(m)
    ]
    assert live == [original["message_id"]], live
    assert len(_markup(messages, original["message_id"])) == len(button_labels(original))


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_a_mistyped_opening_date_keeps_the_open_now_button(
    world: World, code: str, lang: str
) -> None:
    await world.sim.create_user(COMMITTEE, "Committee", language_code=code)
    m = await step(world, lambda: world.say(COMMITTEE, "/start"))
    m = await step(world, lambda: world.say(COMMITTEE, "/consult"))
    m = await step(world, lambda: world.say(COMMITTEE, "A bike shed by the gate?"))
    m = await step(world, lambda: world.say(COMMITTEE, "Yes\nNo"))
    m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:kind:1"))
    m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:g:xingfu-1"))
    m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:gok"))
    m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:bal:n"))
    assert label(world, lang, "btn_now") in button_labels(m)
    bad = await step(world, lambda: world.say(COMMITTEE, "31/02/2027 9am"))
    assert label(world, lang, "btn_now") in button_labels(bad), bad
    closes = await step(world, lambda: press_data(world, COMMITTEE, bad, "k:op:now"))
    assert any(d.startswith("k:cl:") for d in _datas(closes)), closes


def _datas(message: dict[str, Any]) -> list[str]:
    return [
        b["callback_data"]
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]


# Rows the owner's card of a fresh case does not offer: a decision on a request to hold or
# extend and Resume need a request or a hold first (tests/e2e/test_e2e_holds.py,
# tests/unit/test_holds.py), and supervision is someone else's on the owner's case
# (tests/unit/test_supervision.py presses it on the leader's card). Contact made is offered on
# a hand-off received from a link only (tests/e2e/test_e2e_handoffs.py); reporting up is a
# leader's and needs a superior in the map (tests/unit/test_actions.py presses it on the
# leader's card). *Called* waits on a case filed for a resident without Telegram who hears back
# by phone (tests/unit/test_org_offers.py presses it through the chat).
NOT_ON_A_FRESH_OWNERS_CARD = {
    "approve",
    "decline",
    "release",
    "supervise",
    "handoff_contacted",
    "report_up",
    "called_back",
}


@pytest.mark.parametrize(
    "action",
    [a for a in ACTIONS if a.code is not None and a.name not in NOT_ON_A_FRESH_OWNERS_CARD],
    ids=lambda a: a.name,
)
async def test_every_card_action_of_the_table_is_pressed_through_the_chat(
    world: World, action: StaffAction
) -> None:
    """Chat edge of the action table: for each row with a callback code, the card the owner
    gets carries it and a press does what the row says — runs it, asks for its text in a
    prompt, or offers its choices on the card."""
    resident = 1960 + ACTIONS.index(action)
    await world.resident(resident)
    if action.name == "offer_org":  # offered where an organisation joined the community
        from bot.services.participation import volunteers

        assert world.app is not None
        async with world.app.domain.unit() as uow:
            code = await volunteers.invite_organisation(uow, COMMITTEE, "xingfu", "Sunshine")
            assert await volunteers.accept_invitation(uow, 1999, code) is not None
    triage = Status.TRIAGE in action.statuses
    text = (
        "hello?? can someone come by" if triage else "The street light outside building 1 is broken"
    )
    case_id, _ = await world.report(resident, text)
    owner = (await case_row(world, case_id)).owner_chat_id
    assert owner is not None
    if triage:
        after = await world.last_id(owner)
        await world.say(owner, "/triage")
        card = await world.wait_bot(owner, case_id, after=after, buttons=True)
    else:
        card = await world.card(owner, case_id)
    if Status.ASSIGNED not in action.statuses and not triage:  # a row of resolved cases
        await resolve(world, owner, card, "Fixed")
        card = await world.wait_edited(
            owner, card["message_id"], label(world, STAFF_LANG, "status_resolved")
        )
        await world.settle()  # the "done" after resolving is in
    after = await world.last_id(owner)
    pressed = await world.act(owner, card, action.code or "")
    first = action.asks[0] if action.asks else None
    if first is None or first is Asks.CATEGORY:
        await world.settle()
        answer = await answer_of(world, pressed)
        assert answer == label(world, STAFF_LANG, action.done or ""), answer
        kinds = [e.kind for e in await events(world, case_id)]
        assert (
            kinds[-1]
            == {"accept": "accepted", "category": "triaged", "offer_org": "offered_org"}[
                action.name
            ]
        ), kinds
    elif first is Asks.TEXT:
        prompt = await world.wait_bot(owner, case_id, after=after)
        expected = render(
            world, STAFF_LANG, action.prompt_text or "", case=await case_row(world, case_id)
        )
        assert prompt["text"] == re.sub(r"<[^>]+>", "", expected)
    else:
        edited = await world.wait_edited(owner, card["message_id"], case_id)
        assert any(d.startswith(f"c:{action.steps[0]}:") for d in _datas(edited)), edited
