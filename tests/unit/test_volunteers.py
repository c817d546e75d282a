"""Volunteers and organisations: opting in from the chat, one-tap claims within a capacity the
database holds under concurrent presses, withdrawing and claiming again, the organiser's
confirmation and the hours, public thanks only with consent, an organisation's invitation —
and neither a volunteer nor an organisation ever reads a resident's details."""

from __future__ import annotations

import asyncio

import pytest
from dialogue_helpers import press, say
from sqlalchemy import select
from unit_helpers import (
    COMMITTEE,
    MEMBER_1,
    START,
    buttons,
    file_case,
    last_outbox_id,
    new_resident,
    outbox,
    texts_to,
)

from bot.services.cases import actions
from bot.services.cases.lifecycle import CaseActionError
from bot.services.participation import volunteers as vol
from bot.services.shared.domain import Domain, UnitOfWork
from bot.store.models import User, Volunteer, VolunteerClaim, VolunteerTask

SECRET_WORDS = "Mrs Zhou in 3-502 fell and cannot carry her shopping MARKER-RESIDENT-77"


async def _answers(uow: UnitOfWork, after: int) -> list[str]:
    return [
        str(m.payload.get("text", ""))
        for m in await outbox(uow, after=after)
        if m.method == "answerCallbackQuery"
    ]


async def _volunteer(
    uow: UnitOfWork, *, thanks: bool = False, name: str = "Li", lang: str = "en"
) -> User:
    """A resident who opted in through the chat: skills, times, area, the thanks question."""
    user = await new_resident(uow, first_name=name, lang=lang)
    await say(uow, user.id, "/volunteer", lang=lang)
    await say(uow, user.id, "carry shopping", lang=lang)
    await say(uow, user.id, "weekday evenings", lang=lang)
    await say(uow, user.id, "Xingfu Garden", lang=lang)
    await press(uow, user.id, "vt:ty" if thanks else "vt:tn", lang=lang)
    assert await vol.volunteer_of(uow, user.id) is not None
    return user


async def _task(uow: UnitOfWork, capacity: int = 2, hours: float = 2.0) -> VolunteerTask:
    return await vol.post_task(
        uow,
        MEMBER_1,
        title="Courtyard clean-up",
        capacity=capacity,
        hours=hours,
        grid_id="xingfu-1",
    )


async def _seats(uow: UnitOfWork, task_id: int) -> tuple[int, int]:
    task = await vol.get_task(uow, task_id)
    assert task is not None
    states = (
        await uow.session.execute(
            select(VolunteerClaim.state).where(VolunteerClaim.task_id == task_id)
        )
    ).scalars()
    return task.claimed, sum(1 for s in states if s in ("claimed", "attended"))


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_opt_in_claim_withdraw_claim_again_and_confirm_counts_hours(
    uow: UnitOfWork, lang: str
) -> None:
    volunteer = await _volunteer(uow, thanks=True, lang=lang)
    row = await uow.session.get(Volunteer, volunteer.id)
    assert row is not None
    assert (row.skills, row.times, row.area) == (
        "carry shopping",
        "weekday evenings",
        "Xingfu Garden",
    )
    assert row.thank_publicly

    mark = await last_outbox_id(uow)
    await say(uow, MEMBER_1, "/newtask")
    await say(uow, MEMBER_1, "Courtyard clean-up, Saturday 9:00")
    await say(uow, MEMBER_1, "many")  # not a number: asked again, nothing posted
    await say(uow, MEMBER_1, "2")
    await say(uow, MEMBER_1, "1.5")
    task = (await uow.session.execute(select(VolunteerTask))).scalar_one()
    assert (task.capacity, task.hours, task.organiser_id) == (2, 1.5, MEMBER_1)
    assert any(
        "1 to 500" in t or "1 到 500" in t for t in await texts_to(uow, MEMBER_1, after=mark)
    )

    mark = await last_outbox_id(uow)
    await say(uow, volunteer.id, "/tasks", lang=lang)
    shown = await outbox(uow, volunteer.id, after=mark)
    assert f"vt:c:{task.id}" in [data for m in shown for _, data in buttons(m)]

    await press(uow, volunteer.id, f"vt:c:{task.id}", lang=lang)
    assert await _seats(uow, task.id) == (1, 1)
    await press(uow, volunteer.id, f"vt:c:{task.id}", lang=lang)  # repeated: nothing changes
    assert await _seats(uow, task.id) == (1, 1)
    await press(uow, volunteer.id, f"vt:w:{task.id}", lang=lang)
    assert await _seats(uow, task.id) == (0, 0)
    await press(uow, volunteer.id, f"vt:w:{task.id}", lang=lang)  # stale withdraw
    assert await _seats(uow, task.id) == (0, 0)
    await press(uow, volunteer.id, f"vt:c:{task.id}", lang=lang)  # claimed again
    assert await _seats(uow, task.id) == (1, 1)

    mark = await last_outbox_id(uow)
    await say(uow, MEMBER_1, "/mytasks")
    card = [m for m in await outbox(uow, MEMBER_1, after=mark) if buttons(m)]
    (claim_button,) = [data for m in card for _, data in buttons(m)]
    assert claim_button.startswith("vt:a:")
    mark = await last_outbox_id(uow)
    await press(uow, MEMBER_1, claim_button)
    await press(uow, MEMBER_1, claim_button)  # twice: the hours count once
    assert await vol.hours_of(uow, volunteer.id) == 1.5
    told = await texts_to(uow, volunteer.id, after=mark)
    assert any("1.5" in t for t in told)
    # Attendance confirmed: withdrawing now changes nothing.
    await press(uow, volunteer.id, f"vt:w:{task.id}", lang=lang)
    assert await _seats(uow, task.id) == (1, 1)
    page = await vol.page_of(uow.session, "xingfu")
    assert [(t.name, t.hours) for t in page.thanks] == [("Li", 1.5)]
    assert page.hours_total == 1.5


async def test_no_thanks_in_public_without_consent_and_forget_removes_them(uow: UnitOfWork) -> None:
    private = await _volunteer(uow, thanks=False, name="Quiet")
    public = await _volunteer(uow, thanks=True, name="Wei")
    task = await _task(uow, capacity=5)
    for person in (private, public):
        assert await vol.claim(uow, person.id, task.id) == "claimed"
        claim = (
            await uow.session.execute(
                select(VolunteerClaim).where(VolunteerClaim.user_id == person.id)
            )
        ).scalar_one()
        assert (await vol.confirm(uow, MEMBER_1, claim.id))[0] == "confirmed"
    page = await vol.page_of(uow.session, "xingfu")
    assert [t.name for t in page.thanks] == ["Wei"]
    assert page.hours_total == 4.0
    await say(uow, public.id, "/forget")
    await press(uow, public.id, "f:yes")
    page = await vol.page_of(uow.session, "xingfu")
    assert page.thanks == [] and page.hours_total == 4.0  # the hours stay, without a name


async def test_forged_and_foreign_presses_change_nothing(uow: UnitOfWork) -> None:
    volunteer = await _volunteer(uow)
    stranger = await new_resident(uow)  # not a volunteer
    task = await _task(uow, capacity=1)
    mark = await last_outbox_id(uow)
    await press(uow, stranger.id, f"vt:c:{task.id}")
    for forged in ("vt:c:999999", "vt:c:-1", "vt:c:abc", "vt:c:1e9", "vt:zz:1", "vt:c"):
        await press(uow, volunteer.id, forged)
    assert await _seats(uow, task.id) == (0, 0)
    answers = await _answers(uow, mark)
    assert any("Only volunteers" in a for a in answers)
    assert await vol.claim(uow, volunteer.id, task.id) == "claimed"
    claim = (await uow.session.execute(select(VolunteerClaim))).scalar_one()
    # Only the organiser confirms: a volunteer, a stranger, another member cannot.
    for someone in (volunteer.id, stranger.id, COMMITTEE):
        await press(uow, someone, f"vt:a:{claim.id}")
    await uow.session.refresh(claim)
    assert claim.state == "claimed" and claim.hours is None
    # Full: a second volunteer is refused, the count stays at the capacity.
    other = await _volunteer(uow, name="Ma")
    assert await vol.claim(uow, other.id, task.id) == "full"
    assert await _seats(uow, task.id) == (1, 1)


async def test_capacity_holds_under_concurrent_claims(domain: Domain) -> None:
    async with domain.unit() as uow:
        people = [await _volunteer(uow, name=f"V{i}") for i in range(12)]
        task = await _task(uow, capacity=3)
        ids = [p.id for p in people]
        task_id = task.id

    async def one(user_id: int) -> str:
        async with domain.unit() as uow:
            return await vol.claim(uow, user_id, task_id)

    # Every volunteer presses twice, all at once.
    outcomes = await asyncio.gather(*(one(i) for i in ids + ids))
    assert outcomes.count("claimed") == 3
    assert set(outcomes) <= {"claimed", "full", "already"}
    async with domain.unit() as uow:
        assert await _seats(uow, task_id) == (3, 3)
        claimed = (
            await uow.session.execute(
                select(VolunteerClaim.user_id).where(VolunteerClaim.state == "claimed")
            )
        ).scalars()
        assert len(set(claimed)) == 3


async def test_a_volunteer_and_an_organisation_never_read_a_residents_details(
    uow: UnitOfWork,
) -> None:
    resident = await new_resident(uow, first_name="Zhou")
    case = await file_case(uow, resident, SECRET_WORDS, as_category="facilities")
    volunteer = await _volunteer(uow)
    code = await vol.invite_organisation(uow, COMMITTEE, "xingfu", "Sunshine Elderly Care")
    org_contact = await new_resident(uow)
    await say(uow, org_contact.id, f"/start {vol.INVITE_PREFIX}{code}")
    await say(uow, org_contact.id, "Visits to elderly neighbours")
    await say(uow, org_contact.id, "Xingfu Garden")
    org = await vol.organisation_of(uow, org_contact.id)
    assert org is not None and org.about == "Visits to elderly neighbours"
    # A task helping on the case names the case's grid, never the resident.
    task = await vol.post_task(
        uow,
        MEMBER_1,
        title="Help a neighbour carry shopping",
        capacity=2,
        hours=1,
        grid_id=case.grid_id,
        case_id=case.id,
    )
    await vol.claim(uow, volunteer.id, task.id)
    mark = await last_outbox_id(uow)
    # The grid member offers the case to the organisations: once, without the resident.
    offer = actions.BY_NAME["offer_org"]
    assert offer in await actions.offered(actions.Where(uow, case, user_id=MEMBER_1))
    await actions.perform(uow, MEMBER_1, case, offer)
    offered = await texts_to(uow, org_contact.id, after=mark)
    assert len(offered) == 1 and case.human_id in offered[0]
    assert offer not in await actions.offered(actions.Where(uow, case, user_id=MEMBER_1))
    with pytest.raises(CaseActionError):
        await actions.perform(uow, MEMBER_1, case, offer)
    for person in (volunteer.id, org_contact.id):
        await say(uow, person, "/tasks")
        await say(uow, person, f"/case {case.human_id}")
        await say(uow, person, "/mytasks")
        for forged in (
            f"c:acc:{case.id}:{case.version}",
            f"c:res:{case.id}:{case.version}",
            f"r:tl:{case.id}",
            f"r:fol:{case.id}",
        ):
            await press(uow, person, forged)
    everything = "\n".join(
        str(m.payload)
        for m in await outbox(uow, after=mark)
        if m.chat_id in (volunteer.id, org_contact.id)
    )
    for secret in ("MARKER-RESIDENT-77", "Zhou", "3-502", str(resident.id)):
        assert secret not in everything, secret
    await uow.session.refresh(case)
    assert case.owner_id != volunteer.id and case.status != "resolved"
    # An invitation works once.
    again = await new_resident(uow)
    mark = await last_outbox_id(uow)
    await say(uow, again.id, f"/start {vol.INVITE_PREFIX}{code}")
    assert await vol.organisation_of(uow, again.id) is None
    assert any("not valid" in t for t in await texts_to(uow, again.id, after=mark))


async def test_volunteered_residents_counts_confirmed_attendance_in_the_month(
    uow: UnitOfWork,
) -> None:
    came, absent = await _volunteer(uow, name="A"), await _volunteer(uow, name="B")
    task = await _task(uow, capacity=5)
    for person in (came, absent):
        await vol.claim(uow, person.id, task.id)
    claim = (
        await uow.session.execute(select(VolunteerClaim).where(VolunteerClaim.user_id == came.id))
    ).scalar_one()
    await vol.confirm(uow, MEMBER_1, claim.id)
    month = START.replace(day=1, hour=0)
    after = month.replace(month=month.month + 1)
    assert await vol.volunteered_residents(uow.session, ["xingfu-1"], month, after) == {came.id}
    assert await vol.volunteered_residents(uow.session, ["xingfu-2"], month, after) == set()
    assert await vol.volunteered_residents(uow.session, None, month, after) == {came.id}


async def test_hours_total_waits_for_the_minimum_of_volunteers(uow: UnitOfWork) -> None:
    """One volunteer's attendance never shows as a move of the public total: below the
    dashboard's minimum of distinct volunteers the total is withheld."""
    first = await _volunteer(uow, thanks=False, name="One")
    second = await _volunteer(uow, thanks=False, name="Two")
    task = await _task(uow, capacity=5)
    for person in (first, second):
        assert await vol.claim(uow, person.id, task.id) == "claimed"
    claims = (
        (await uow.session.execute(select(VolunteerClaim).where(VolunteerClaim.task_id == task.id)))
        .scalars()
        .all()
    )
    assert (await vol.confirm(uow, MEMBER_1, claims[0].id))[0] == "confirmed"
    assert (await vol.page_of(uow.session, "xingfu", minimum=2)).hours_total is None
    assert (await vol.confirm(uow, MEMBER_1, claims[1].id))[0] == "confirmed"
    page = await vol.page_of(uow.session, "xingfu", minimum=2)
    assert page.hours_total == 2 * task.hours
