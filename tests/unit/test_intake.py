"""Cases staff file: found on patrol, and for a resident without Telegram with their consent and
how they hear back. The phone is for staff who may see the case, never public, erased on
request and a month after closing; the dashboard counts cases found by staff against those
residents reported, matching a count by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from dialogue_helpers import press, say
from page_helpers import pages
from sqlalchemy import select
from unit_helpers import (
    MEMBER_1,
    MEMBER_2,
    PIN_OUTSIDE,
    PIN_XINGFU_1,
    file_case,
    last_outbox_id,
    new_resident,
    texts_to,
)

from bot.services.cases import staff_intake as intake
from bot.services.public.dashboard import Dashboard
from bot.services.shared.domain import Domain, UnitOfWork
from bot.store.models import AssistedContact, Case

PHONE = "138 0013 8000"


@pytest.fixture
def domain_settings() -> dict[str, Any]:
    return {"dashboard_cache": timedelta(0), "dashboard_min_cases": 1, "web_burst_per_ip": 10_000}


async def _cases(uow: UnitOfWork) -> list[Case]:
    return list((await uow.session.execute(select(Case).order_by(Case.id))).scalars())


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_patrol_and_assisted_cases_from_the_chat(uow: UnitOfWork, lang: str) -> None:
    mark = await last_outbox_id(uow)
    await say(uow, MEMBER_1, "/patrol", lang=lang)
    await say(uow, MEMBER_1, "Broken paving slab by the east gate, a trip hazard", lang=lang)
    await say(uow, MEMBER_1, "Building 99 of nowhere", lang=lang)  # no such place: asked again
    await say(uow, MEMBER_1, "Xingfu Garden building 2", lang=lang)
    (patrol,) = await _cases(uow)
    assert (patrol.source, patrol.grid_id, patrol.resident_id) == ("staff_patrol", "xingfu-1", None)
    told = "\n".join(await texts_to(uow, MEMBER_1, after=mark))
    assert patrol.human_id in told

    await say(uow, MEMBER_1, "/assist", lang=lang)
    await press(uow, MEMBER_1, "it:ok:printed", lang=lang)  # too early: nothing filed
    await press(uow, MEMBER_1, "it:ch:walk_in", lang=lang)
    await say(uow, MEMBER_1, "The stairwell light in building 1 is out", lang=lang)
    await say(uow, MEMBER_1, "Xingfu Garden building 1", lang=lang)
    await say(uow, MEMBER_1, "call me maybe", lang=lang)  # not a phone: asked again
    await say(uow, MEMBER_1, PHONE, lang=lang)
    await press(uow, MEMBER_1, "it:ok:phone", lang=lang)
    await press(uow, MEMBER_1, "it:ok:phone", lang=lang)  # repeated: filed once
    cases = await _cases(uow)
    assert [c.source for c in cases] == ["staff_patrol", "assisted"]
    assisted = cases[1]
    contact = await uow.session.get(AssistedContact, assisted.id)
    assert contact is not None
    assert (contact.channel, contact.hear_back, contact.phone, contact.recorded_by) == (
        "walk_in",
        "phone",
        PHONE,
        MEMBER_1,
    )


async def test_no_consent_no_case_and_only_staff_in_reach_read_the_phone(uow: UnitOfWork) -> None:
    place = intake.place_of(uow, words="Xingfu Garden building 1")
    with pytest.raises(intake.IntakeError) as refused:
        await intake.file_assisted(
            uow,
            MEMBER_1,
            text="Water leaks from the roof",
            place=place,
            channel="phone",
            hear_back="printed",
            phone=None,
            consent=False,
        )
    assert refused.value.key == "intake_no_consent"
    with pytest.raises(intake.IntakeError):  # a pin outside every grid
        intake.place_of(uow, point=PIN_OUTSIDE)
    resident = await new_resident(uow)
    with pytest.raises(intake.IntakeError):  # a resident cannot file for someone else
        await intake.file_patrol(uow, resident.id, text="x", place=place, photos=[])
    assert await _cases(uow) == []
    case = await intake.file_assisted(
        uow,
        MEMBER_1,
        text="Water leaks from the roof",
        place=place,
        channel="phone",
        hear_back="phone",
        phone=PHONE,
        consent=True,
    )
    assert (await intake.assisted_contact(uow, MEMBER_1, case)).phone == PHONE  # type: ignore[union-attr]
    assert await intake.assisted_contact(uow, resident.id, case) is None
    # The resident asks to be forgotten: the number goes.
    with pytest.raises(intake.IntakeError):
        await intake.erase_contact(uow, resident.id, case)
    assert await intake.erase_contact(uow, MEMBER_1, case)
    assert not await intake.erase_contact(uow, MEMBER_1, case)  # once
    kept = await uow.session.get(AssistedContact, case.id)
    assert kept is not None
    await uow.session.refresh(kept)
    assert kept.phone is None and kept.consent_at is not None


async def test_the_phone_is_never_public_and_the_figure_matches_a_hand_count(
    domain: Domain,
) -> None:
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        for words in ("The lamp by building 1 is broken", "Rubbish piled at the gate"):
            await file_case(uow, resident, words, as_category="facilities")
        await intake.file_patrol(
            uow,
            MEMBER_1,
            text="Broken bench in the courtyard",
            place=intake.place_of(uow, point=PIN_XINGFU_1),
            photos=["photo-1"],
        )
        assisted = await intake.file_assisted(
            uow,
            MEMBER_1,
            text="Lift stuck on the fifth floor",
            place=intake.place_of(uow, words="Xingfu Garden building 1"),
            channel="phone",
            hear_back="printed",
            phone=PHONE,
            consent=True,
        )
        human_id = assisted.human_id
        # A member of another grid files nothing in xingfu-1 from patrol there.
        with pytest.raises(intake.IntakeError):
            await intake.file_patrol(
                uow,
                MEMBER_2,
                text="Something",
                place=intake.place_of(uow, point=PIN_XINGFU_1),
                photos=[],
            )
    # By hand: in xingfu-1, 4 cases, 1 found by staff on patrol, 1 filed for a resident.
    community = await Dashboard(domain).community(None)
    assert (community.figures.reported, community.figures.found.part) == (4, 1)
    assert community.figures.assisted == 1
    line = community.grids["xingfu-1"]
    assert (line.found.part, line.found.whole) == (1, 4)
    http = await pages(domain)
    try:
        for lang in ("en", "zh"):
            for path in (
                f"/cases/{human_id}",
                f"/open311/v2/requests/{human_id}.json",
                "/open311/v2/requests.json",
                "/data/cases.csv",
                "/data/cases.geojson",
                "/data/grid-months.csv",
                "/communities/xingfu",
                "/grids/xingfu-1",
            ):
                response = await http.get(path, headers={"Accept-Language": lang})
                body = await response.text()
                assert response.status == 200, path
                assert "0013 8000" not in body and "13800138000" not in body, path
            page = await (await http.get("/communities/xingfu?lang=" + lang)).text()
            assert 'data-figure="found"' in page and "25" in page
        months = await (await http.get("/data/grid-months.csv")).text()
        header, *rows = months.splitlines()
        assert "found_by_staff" in header and "filed_for_residents" in header
        names = header.split(",")
        row = next(
            r.split(",")
            for r in rows
            if r.startswith("xingfu-1") and r.split(",")[names.index("reported")] == "4"
        )
        assert row[names.index("found_by_staff")] == "1"
        assert row[names.index("filed_for_residents")] == "1"
    finally:
        await http.close()


async def test_the_phone_goes_a_month_after_the_case_closed(domain: Domain, clock: Any) -> None:
    from bot.services.cases import lifecycle
    from bot.services.public.open311 import CONTACT_KEEP

    async with domain.unit() as uow:
        case = await intake.file_assisted(
            uow,
            MEMBER_1,
            text="The gate lock is broken",
            place=intake.place_of(uow, words="Xingfu Garden building 1"),
            channel="walk_in",
            hear_back="phone",
            phone=PHONE,
            consent=True,
        )
        await lifecycle.resolve(uow, MEMBER_1, case, "Replaced the lock")
        await lifecycle.auto_close(uow, case)
        case_id = case.id
    clock.advance(CONTACT_KEEP - timedelta(days=1))
    async with domain.unit() as uow:
        assert await intake.forget_contacts(uow, CONTACT_KEEP) == 0
    clock.advance(timedelta(days=2))
    async with domain.unit() as uow:
        assert await intake.forget_contacts(uow, CONTACT_KEEP) == 1
    async with domain.unit() as uow:
        kept = await uow.session.get(AssistedContact, case_id)
        assert kept is not None and kept.phone is None and kept.consent_at is not None
