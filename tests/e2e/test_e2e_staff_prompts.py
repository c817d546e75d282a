"""Staff prompts: /cancel leaves every one, a command never leaves one armed, and declining
a case is confirmed before the resident reads the reason."""

from __future__ import annotations

import pytest

from tests.support.chat import answer_of, case_row, event_kinds, label, render, settle
from tests.support.world import COMMITTEE, MEMBER_1, World, button_labels

LIGHT = "The street light outside building 1 has been broken for a week"
STAFF_LANG = "zh"
OOPS = "oops wrong button"


async def _reported(world: World, user: int) -> tuple[str, dict]:
    await world.resident(user)
    case_id, _ = await world.report(user, LIGHT)
    return case_id, await world.card(MEMBER_1, case_id)


async def _open_prompt(world: World, card: dict, prompt: str) -> dict:
    """Press the card's button for `prompt` (for a transfer: then a target); returns the prompt."""
    after = await world.last_id(MEMBER_1)
    if prompt == "trf":
        await world.act(MEMBER_1, card, "trf")
        await settle(world)
        card = [
            m for m in await world.sim.messages(MEMBER_1) if m["message_id"] == card["message_id"]
        ][0]
        await world.press(MEMBER_1, card, "幸福物业")
    else:
        await world.act(MEMBER_1, card, prompt)
    return await world.wait_bot(MEMBER_1, after=after)


async def _nothing_happened(world: World, user: int, case_id: str, after_user: int) -> None:
    await settle(world)
    row = await case_row(world, case_id)
    assert (row.status, row.owner_id) == ("assigned", MEMBER_1)
    assert await event_kinds(world, case_id) == ["created"]
    assert OOPS not in " ".join(
        m["text"] or "" for m in await world.sim.bot_messages(user, after_user)
    )


@pytest.mark.parametrize("prompt", ["ask", "res", "rej", "trf"])
async def test_cancel_leaves_every_card_prompt(world: World, prompt: str) -> None:
    user = 1601
    case_id, card = await _reported(world, user)
    after_user = await world.last_id(user)
    asked = await _open_prompt(world, card, prompt)
    await world.say(MEMBER_1, "/cancel")
    left = await world.wait_bot(MEMBER_1, after=asked["message_id"])
    assert case_id in left["text"] and "↩️" in left["text"]
    assert left["text"] != render(world, STAFF_LANG, "nothing_to_cancel")
    await world.say(MEMBER_1, OOPS)
    await _nothing_happened(world, user, case_id, after_user)


@pytest.mark.parametrize("command", ["/queue", "/help", "/my", "/stats"])
async def test_a_command_does_not_leave_the_reject_prompt_armed(world: World, command: str) -> None:
    user = 1602
    case_id, card = await _reported(world, user)
    after_user = await world.last_id(user)
    asked = await _open_prompt(world, card, "rej")
    await world.say(MEMBER_1, command)
    left = await world.wait_bot(MEMBER_1, "↩️", after=asked["message_id"])
    assert case_id in left["text"]
    await world.say(MEMBER_1, OOPS)
    await _nothing_happened(world, user, case_id, after_user)


async def test_declining_is_confirmed_and_the_confirmation_is_used_once(world: World) -> None:
    user = 1603
    case_id, card = await _reported(world, user)
    after_user = await world.last_id(user)
    asked = await _open_prompt(world, card, "rej")
    await world.say(MEMBER_1, OOPS)
    confirm = await world.wait_bot(MEMBER_1, OOPS, after=asked["message_id"], buttons=True)
    assert case_id in confirm["text"]
    assert label(world, STAFF_LANG, "btn_reject_confirm") in button_labels(confirm)
    await settle(world)
    assert (await case_row(world, case_id)).status == "assigned"
    # "no": nothing happens, the confirmation's buttons go away
    pressed = await world.press(MEMBER_1, confirm, label(world, STAFF_LANG, "btn_reject_keep"))
    assert (await answer_of(world, pressed))["text"] == label(world, STAFF_LANG, "reject_kept")
    await settle(world)
    used = [
        m for m in await world.sim.messages(MEMBER_1) if m["message_id"] == confirm["message_id"]
    ]
    assert not button_labels(used[0])
    # a replayed "yes" on the used confirmation changes nothing
    yes = [
        b["callback_data"]
        for row in confirm["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == label(world, STAFF_LANG, "btn_reject_confirm")
    ][0]
    pressed = await world.sim.press(MEMBER_1, confirm["message_id"], data=yes, forge=True)
    assert (await answer_of(world, pressed))["text"] == label(world, STAFF_LANG, "prompt_expired")
    await _nothing_happened(world, user, case_id, after_user)

    # a second reason replaces the first; "yes" declines with the reason shown
    card = [m for m in await world.sim.messages(MEMBER_1) if m["message_id"] == card["message_id"]][
        0
    ]
    asked = await _open_prompt(world, card, "rej")
    await world.say(MEMBER_1, "first try")
    first = await world.wait_bot(MEMBER_1, "first try", after=asked["message_id"], buttons=True)
    await world.say(MEMBER_1, "The lamp belongs to the city road department")
    second = await world.wait_bot(MEMBER_1, "city road", after=first["message_id"], buttons=True)
    await world.press(MEMBER_1, second, label(world, STAFF_LANG, "btn_reject_confirm"))
    declined = await world.wait_bot(user, "city road", after=after_user)
    assert case_id in declined["text"] and "first try" not in declined["text"]
    row = await case_row(world, case_id)
    assert row.status == "rejected"


@pytest.mark.parametrize("command", ["/consult", "/announce"])
async def test_cancel_leaves_the_committee_dialogues(world: World, command: str) -> None:
    after = await world.last_id(COMMITTEE)
    await world.say(COMMITTEE, command)
    step = await world.wait_bot(COMMITTEE, after=after)
    await world.say(COMMITTEE, "/cancel")
    left = await world.wait_bot(COMMITTEE, "↩️", after=step["message_id"])
    await world.say(COMMITTEE, "Should we repaint the playground?")
    await settle(world)
    later = await world.sim.bot_messages(COMMITTEE, left["message_id"])
    assert all(label(world, STAFF_LANG, "btn_all_residents") not in button_labels(m) for m in later)
    assert all(
        label(world, STAFF_LANG, "btn_proposals_first") not in button_labels(m) for m in later
    )
