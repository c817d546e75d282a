"""Volunteers, organisations, patrol and assisted intake, played through the emulator: a task
claimed, withdrawn, claimed again and confirmed (the hours counted), in both languages; a
patrol case and an assisted case in the dashboard's figures, matching a count by hand; a
volunteer and an organisation who try to read a resident's details are refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.services.participation import volunteers as vol
from bot.services.public.dashboard import Dashboard
from bot.store.models import Case, VolunteerClaim, VolunteerTask
from tests.e2e.consult_helpers import press_data
from tests.support.chat import settle
from tests.support.world import COMMITTEE, MEMBER_1, World

SECRET = "Old Mrs Zhou in 3-502 fell MARKER-SECRET-51 call 13911112222"


async def _ask(
    world: World, user: int, text: str, *, buttons: bool | None = None
) -> dict[str, Any]:
    after = await world.last_id(user)
    await world.say(user, text)
    return await world.wait_bot(user, after=after, buttons=buttons)


async def _tap(world: World, user: int, message: dict[str, Any], prefix: str) -> None:
    await press_data(world, user, message, prefix)
    await settle(world)


async def _volunteer(world: World, user: int, lang: str) -> None:
    await world.resident(user, lang=lang)
    await _ask(world, user, "/volunteer")
    await _ask(world, user, "carry shopping, fix bikes")
    await _ask(world, user, "weekends")
    asked = await _ask(world, user, "Xingfu Garden", buttons=True)
    await _tap(world, user, asked, "vt:ty")


async def _claim_state(world: World, user: int) -> tuple[int, str | None]:
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        task = (await session.execute(select(VolunteerTask))).scalar_one()
        state = (
            await session.execute(
                select(VolunteerClaim.state).where(VolunteerClaim.user_id == user)
            )
        ).scalar_one_or_none()
        return task.claimed, state


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_a_task_claimed_withdrawn_claimed_again_and_confirmed(
    world: World, lang: str
) -> None:
    user = 6101
    await _volunteer(world, user, lang)
    await _ask(world, MEMBER_1, "/newtask")
    await _ask(world, MEMBER_1, "Courtyard clean-up, Saturday 9:00")
    await _ask(world, MEMBER_1, "2")
    posted = await _ask(world, MEMBER_1, "1.5")
    assert "Courtyard clean-up" in posted["text"]

    listed = await _ask(world, user, "/tasks", buttons=True)
    assert "Courtyard clean-up" in listed["text"] and "0/2" in listed["text"]
    after = await world.last_id(user)
    await _tap(world, user, listed, "vt:c:")
    assert await _claim_state(world, user) == (1, "claimed")
    shown = await world.wait_bot(user, "1/2", after=after, buttons=True)
    await _tap(world, user, listed, "vt:c:")  # the old message's Claim again: nothing changes
    assert await _claim_state(world, user) == (1, "claimed")
    await _tap(world, user, shown, "vt:w:")
    assert await _claim_state(world, user) == (0, "withdrawn")
    await _tap(world, user, shown, "vt:w:")  # a stale Withdraw: nothing changes
    assert await _claim_state(world, user) == (0, "withdrawn")
    await _tap(world, user, listed, "vt:c:")  # claimed again
    assert await _claim_state(world, user) == (1, "claimed")

    card = await _ask(world, MEMBER_1, "/mytasks", buttons=True)
    after = await world.last_id(user)
    await _tap(world, MEMBER_1, card, "vt:a:")
    await _tap(world, MEMBER_1, card, "vt:a:")  # twice: counted once
    thanked = await world.wait_bot(user, "1.5", after=after)
    assert "Courtyard clean-up" in thanked["text"]
    assert await _claim_state(world, user) == (1, "attended")
    assert world.app is not None
    async with world.app.domain.unit() as uow:
        assert await vol.hours_of(uow, user) == 1.5
    page = await vol.public_page(world.app.domain, "xingfu")
    assert [(t.name, t.hours) for t in page.thanks] == [(f"Resident{user}", 1.5)]


async def test_a_patrol_case_and_an_assisted_case_in_the_figures(world: World) -> None:
    await world.resident(6201)
    for words in (
        "The street light outside building 1 has been broken for a week",
        "Rubbish has piled up by the gate of building 2 for days",
    ):
        await world.report(6201, words)
    await _ask(world, MEMBER_1, "/patrol")
    await _ask(world, MEMBER_1, "Broken paving slab by the east gate, people trip on it")
    patrol = await _ask(world, MEMBER_1, "Xingfu Garden Building 2")
    assert re.search(r"GV-\d{4}-\d+", patrol["text"]), patrol["text"]

    channel = await _ask(world, MEMBER_1, "/assist", buttons=True)
    after = await world.last_id(MEMBER_1)
    await _tap(world, MEMBER_1, channel, "it:ch:phone")
    await world.wait_bot(MEMBER_1, after=after)
    await _ask(world, MEMBER_1, "The lift in building 1 stops between floors")
    await _ask(world, MEMBER_1, "Xingfu Garden Building 1")
    consent = await _ask(world, MEMBER_1, "138 0013 8000", buttons=True)
    after = await world.last_id(MEMBER_1)
    await _tap(world, MEMBER_1, consent, "it:ok:printed")
    filed = await world.wait_bot(MEMBER_1, "GV-", after=after)
    assisted_id = re.search(r"GV-\d{4}-\d+", filed["text"])
    assert assisted_id

    assert world.app is not None
    async with world.app.domain.sessions() as session:  # the hand count
        by_source = dict(
            (await session.execute(select(Case.source, func.count()).group_by(Case.source))).all()
        )
    assert by_source == {"bot": 2, "staff_patrol": 1, "assisted": 1}
    figures = (await Dashboard(world.app.domain).community(None)).figures
    assert (figures.reported, figures.found.part, figures.assisted) == (4, 1, 1)
    assert figures.found.whole == sum(by_source.values())


async def test_a_volunteer_and_an_organisation_cannot_read_a_residents_details(
    world: World,
) -> None:
    await world.resident(6301)
    case_id, _ = await world.report(6301, SECRET)
    await _volunteer(world, 6302, "en")
    invited = await _ask(world, COMMITTEE, "/orginvite Sunshine Elderly Care")
    code = re.search(r"org_[A-Za-z0-9_\-]+", invited["text"])
    assert code, invited["text"]
    await world.sim.create_user(6303, "Sunshine", language_code="en")
    await _ask(world, 6303, f"/start {code.group(0)}")
    await _ask(world, 6303, "Visits to elderly neighbours")
    await _ask(world, 6303, "Xingfu Garden")
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        case = (await session.execute(select(Case).where(Case.human_id == case_id))).scalar_one()
    for person in (6302, 6303):
        shown = await _ask(world, person, f"/case {case_id}")
        for forged in (
            f"c:acc:{case.id}:{case.version}",
            f"c:res:{case.id}:{case.version}",
            f"r:tl:{case.id}",
            f"vt:a:{case.id}",
        ):
            await world.sim.press(person, shown["message_id"], data=forged, forge=True)
        await _ask(world, person, "/tasks")
        await settle(world)
        seen = "\n".join(
            (m.get("text") or "") + (m.get("caption") or "")
            for m in await world.sim.messages(person)
        )
        answers = [
            c
            for c in await world.sim.calls("answerCallbackQuery")
            if "MARKER-SECRET-51" in str(c.get("params"))
        ]
        assert "MARKER-SECRET-51" not in seen and "13911112222" not in seen and not answers
    async with world.app.domain.sessions() as session:
        after = (await session.execute(select(Case).where(Case.id == case.id))).scalar_one()
    assert (after.status, after.owner_id) == (case.status, case.owner_id)
