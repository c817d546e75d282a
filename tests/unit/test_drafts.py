"""The resident's report draft, outcome by outcome (bot/services/reports/drafts.py).

A report is gathered without a form — words, photos, a place — and sent; sending files a
case with the right owner and deadlines, or answers that it looks already filed, or that a
neighbour filed it already. Nothing typed is lost on the way.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from unit_helpers import (
    DEMO_MAP,
    LEADER,
    MEMBER_1,
    MEMBER_3,
    PIN_OUTSIDE,
    PIN_XINGFU_1,
    POLICE_CHAT,
    PROPERTY_CHAT,
    START,
    STREET_CHAT,
    file_case,
    last_outbox_id,
    new_resident,
    outbox,
    texts_to,
)

from bot.services.cases import lifecycle
from bot.services.people.residents import Person, ensure_user, give_consent
from bot.services.reports import drafts
from bot.services.shared.domain import Domain, UnitOfWork
from bot.services.shared.gridmap_store import load_document
from bot.store.models import Case, CasePhoto, StaffMember, User
from routing.gridmap import GridMapError

LAMP = "The street lamp outside my building is broken"
TWO_PROBLEMS = (
    "The lift in our building has been broken for three days and the property company "
    "does nothing. Also, cars park on the sidewalk at the gate every night and block the "
    "fire lane."
)


async def _resident(domain: Domain, **kw: Any) -> User:
    async with domain.unit() as uow:
        return await new_resident(uow, **kw)


async def _user(uow: UnitOfWork, user: User) -> User:
    found = await uow.session.get(User, user.id)
    assert found is not None
    return found


async def _write(domain: Domain, user: User, *lines: str) -> dict[str, Any]:
    """The resident writes lines, one message (one transaction) each; returns the draft."""
    current: dict[str, Any] = {}
    for line in lines:
        async with domain.unit() as uow:
            current = drafts.start_or_extend(uow, await _user(uow, user), line)
    return current


async def _send(
    domain: Domain, user: User, *, force_new: bool = False
) -> tuple[str, Case | None, int]:
    """Press "Send report"; returns the outcome, the case and an outbox mark from before."""
    async with domain.unit() as uow:
        mark = await last_outbox_id(uow)
        outcome, case = await drafts.submit(
            uow, await _user(uow, user), update_id=None, force_new=force_new
        )
        return outcome, case, mark


async def test_lines_gather_into_one_draft_until_sent(domain: Domain) -> None:
    user = await _resident(domain)
    current = await _write(domain, user, "The lamp by the gate is broken", "also the pole is bent")
    assert current["text"] == "The lamp by the gate is broken\nalso the pole is bent"
    async with domain.unit() as uow:
        assert (await _user(uow, user)).state == "draft"
        assert drafts.draft(await _user(uow, user))["text"] == current["text"]
        assert (await uow.session.execute(select(Case))).first() is None  # nothing filed yet


async def test_photos_join_the_draft_up_to_the_limit(domain: Domain) -> None:
    user = await _resident(domain)
    limit = domain.settings.max_photos_per_report
    async with domain.unit() as uow:
        resident = await _user(uow, user)
        for n in range(limit):
            current, fitted = drafts.add_photo(uow, resident, f"photo-{n}")
            assert fitted
        current, fitted = drafts.add_photo(uow, resident, "photo-0")  # the same photo again
        assert fitted and len(current["photos"]) == limit
        current, fitted = drafts.add_photo(uow, resident, "one-too-many")
        assert not fitted and "one-too-many" not in current["photos"]
    # A draft of photos alone needs words before it can be sent.
    outcome, case, _ = await _send(domain, user)
    assert (outcome, case) == ("empty", None)
    await _write(domain, user, LAMP)
    outcome, case, _ = await _send(domain, user)
    assert outcome == "filed" and case is not None
    async with domain.unit() as uow:
        photos = (
            await uow.session.execute(select(CasePhoto.file_id).where(CasePhoto.case_id == case.id))
        ).scalars()
        assert sorted(photos) == sorted(f"photo-{n}" for n in range(limit))


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_a_sent_report_goes_to_the_grid_member_with_its_deadlines(
    domain: Domain, lang: str
) -> None:
    user = await _resident(domain, lang=lang)
    await _write(domain, user, LAMP)
    outcome, case, mark = await _send(domain, user)
    assert outcome == "filed" and case is not None
    assert (case.category, case.grid_id, case.building_id) == ("facilities", "xingfu-1", "xf-1")
    assert (case.owner_id, case.status, case.priority) == (MEMBER_1, "assigned", "normal")
    # The demo map's default deadlines: accept within 4 hours, resolve within 3 days.
    assert case.accept_by == START + timedelta(hours=4)
    assert case.resolve_by == START + timedelta(days=3)
    async with domain.unit() as uow:
        resident = await _user(uow, user)
        assert resident.state is None  # the draft is spent
        told = await texts_to(uow, user.id, after=mark)
        filed = {"en": "Your report is filed", "zh": "您的反映已登记"}[lang]
        assert any(filed in t and case.human_id in t for t in told), told
        card = await outbox(uow, MEMBER_1, after=mark)
        assert any(case.human_id in m.payload.get("text", "") for m in card)


@pytest.mark.parametrize(
    ("text", "owner_chat", "accept", "resolve"),
    [
        ("Garbage is piling up by the gate", MEMBER_1, timedelta(hours=4), timedelta(days=2)),
        ("Smoke in the stairwell", MEMBER_1, timedelta(minutes=15), timedelta(hours=4)),
        ("The lift is broken", PROPERTY_CHAT, timedelta(hours=4), timedelta(days=3)),
        ("Illegal parking blocks the gate", POLICE_CHAT, timedelta(hours=4), timedelta(days=3)),
    ],
    ids=["sanitation", "urgent", "property", "traffic"],
)
async def test_each_kind_of_report_finds_its_owner(
    domain: Domain, text: str, owner_chat: int, accept: timedelta, resolve: timedelta
) -> None:
    user = await _resident(domain)
    await _write(domain, user, text)
    outcome, case, _ = await _send(domain, user)
    assert outcome == "filed" and case is not None
    assert case.owner_chat_id == owner_chat
    assert (case.accept_by - START, case.resolve_by - START) == (accept, resolve)  # type: ignore[operator]
    if owner_chat < 0:  # a party's case: the grid member follows it up
        assert case.follow_up_id == MEMBER_1


async def test_unclear_words_go_to_the_leader_for_triage(domain: Domain) -> None:
    user = await _resident(domain)
    await _write(domain, user, "asdf qwer")
    outcome, case, _ = await _send(domain, user)
    assert outcome == "filed" and case is not None
    assert (case.status, case.category, case.owner_id) == ("triage", None, LEADER)


# --- the place ---------------------------------------------------------------------------------


async def test_a_pin_inside_the_map_places_the_report(domain: Domain) -> None:
    user = await _resident(domain, building="hp-2")  # lives in grid 3, reports in grid 1
    await _write(domain, user, LAMP)
    async with domain.unit() as uow:
        grid = uow.routing.locator.locate(*PIN_XINGFU_1)
        assert grid is not None and grid.id == "xingfu-1"
        drafts.set_place(await _user(uow, user), grid_id=grid.id, location=PIN_XINGFU_1)
    outcome, case, _ = await _send(domain, user)
    assert outcome == "filed" and case is not None
    assert (case.grid_id, case.owner_id, case.building_id) == ("xingfu-1", MEMBER_1, None)
    assert (case.latitude, case.longitude) == PIN_XINGFU_1


async def test_a_pin_outside_the_map_is_not_a_place(domain: Domain) -> None:
    """No grid holds the point: the chat says so and the draft keeps the home as its place."""
    user = await _resident(domain, building="hp-2")
    await _write(domain, user, LAMP)
    async with domain.unit() as uow:
        assert uow.routing.locator.locate(*PIN_OUTSIDE) is None
    outcome, case, _ = await _send(domain, user)
    assert outcome == "filed" and case is not None
    assert (case.grid_id, case.building_id, case.owner_id) == ("xingfu-3", "hp-2", MEMBER_3)
    assert case.latitude is None


async def test_a_typed_place_is_kept_in_the_residents_words(domain: Domain) -> None:
    user = await _resident(domain)
    await _write(domain, user, LAMP)
    async with domain.unit() as uow:
        resident = await _user(uow, user)
        drafts.set_place(resident, grid_id=resident.home_grid_id, place_text="by the east gate")
    outcome, case, _ = await _send(domain, user)
    assert outcome == "filed" and case is not None
    assert (case.grid_id, case.place_text, case.building_id) == (
        "xingfu-1",
        "by the east gate",
        None,
    )


async def test_a_building_chosen_for_a_typed_place_routes_there(domain: Domain) -> None:
    user = await _resident(domain)  # home: grid 1
    await _write(domain, user, LAMP)
    async with domain.unit() as uow:
        matches = uow.routing.addresses.match("Heping Rd 6", limit=3)
        assert matches and matches[0].building.id == "hp-6"
        building = matches[0].building
        drafts.set_place(
            await _user(uow, user),
            building_id=building.id,
            grid_id=building.grid_id,
            place_text=building.name.get("en"),
        )
    outcome, case, _ = await _send(domain, user)
    assert outcome == "filed" and case is not None
    assert (case.building_id, case.grid_id, case.owner_id) == ("hp-6", "xingfu-3", MEMBER_3)


async def test_a_place_still_to_be_chosen_holds_the_report(domain: Domain) -> None:
    """ "Which one do you mean?" is pending: sending does not fall back to the home."""
    user = await _resident(domain)
    await _write(domain, user, LAMP)
    async with domain.unit() as uow:
        drafts.update_state(await _user(uow, user), place_choice=True, place_typed="Heping")
    outcome, case, _ = await _send(domain, user)
    assert (outcome, case) == ("choose_place", None)
    async with domain.unit() as uow:
        assert drafts.draft(await _user(uow, user))["text"] == LAMP


async def test_a_report_with_no_place_at_all_asks_for_one(domain: Domain) -> None:
    async with domain.unit() as uow:
        person = Person(700_999, "Homeless", "en")
        user = await ensure_user(uow, person, "en")
        give_consent(uow, user, person)
    await _write(domain, user, LAMP)
    outcome, case, _ = await _send(domain, user)
    assert (outcome, case) == ("no_place", None)
    async with domain.unit() as uow:
        assert drafts.draft(await _user(uow, user))["text"] == LAMP  # kept for when it has one


# --- the same problem twice ------------------------------------------------------------------


async def test_the_residents_own_open_case_is_answered_already_filed(domain: Domain) -> None:
    user = await _resident(domain)
    await _write(domain, user, LAMP)
    _, first, _ = await _send(domain, user)
    await _write(domain, user, "the street lamp outside my building is broken!")
    outcome, case, _ = await _send(domain, user)
    assert outcome == "already_filed" and case is not None and case.id == first.id  # type: ignore[union-attr]
    async with domain.unit() as uow:
        assert drafts.draft(await _user(uow, user))  # the words are kept for "file anyway"
    outcome, second, _ = await _send(domain, user, force_new=True)
    assert outcome == "filed" and second is not None and second.id != first.id  # type: ignore[union-attr]


async def test_a_closed_case_is_no_duplicate(domain: Domain) -> None:
    user = await _resident(domain)
    await _write(domain, user, LAMP)
    _, first, _ = await _send(domain, user)
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, first.id)  # type: ignore[union-attr]
        await lifecycle.resolve(uow, MEMBER_1, case, "Replaced")
        await lifecycle.auto_close(uow, case)
    await _write(domain, user, LAMP)
    outcome, case, _ = await _send(domain, user)
    assert outcome == "filed" and case is not None and case.id != first.id  # type: ignore[union-attr]


async def test_a_neighbours_open_case_is_offered_to_follow(domain: Domain) -> None:
    neighbour = await _resident(domain, building="xf-1")
    async with domain.unit() as uow:
        theirs = await file_case(uow, await _user(uow, neighbour), LAMP)
    user = await _resident(domain, building="xf-1")
    await _write(domain, user, "street lamp outside building 1 is broken")
    outcome, case, _ = await _send(domain, user)
    assert outcome == "similar" and case is not None and case.id == theirs.id
    # Following it instead: the draft goes, the resident gets the case's updates.
    async with domain.unit() as uow:
        resident = await _user(uow, user)
        await drafts.discard(uow, resident)
        await lifecycle.follow(uow, resident, await lifecycle.get_case(uow, theirs.id))
        assert resident.state is None
    # Or filing their own anyway.
    await _write(domain, user, "street lamp outside building 1 is broken")
    outcome, mine, _ = await _send(domain, user, force_new=True)
    assert outcome == "filed" and mine is not None and mine.id != theirs.id


async def test_a_neighbours_case_in_another_grid_is_not_offered(domain: Domain) -> None:
    neighbour = await _resident(domain, building="ak-1")
    async with domain.unit() as uow:
        await file_case(uow, await _user(uow, neighbour), LAMP)
    user = await _resident(domain, building="xf-1")
    await _write(domain, user, LAMP)
    outcome, case, _ = await _send(domain, user)
    assert outcome == "filed" and case is not None and case.grid_id == "xingfu-1"


# --- discarding, and a second problem ----------------------------------------------------------


async def test_a_discarded_draft_is_gone(domain: Domain) -> None:
    user = await _resident(domain)
    await _write(domain, user, LAMP)
    async with domain.unit() as uow:
        await drafts.discard(uow, await _user(uow, user))
    async with domain.unit() as uow:
        resident = await _user(uow, user)
        assert resident.state is None and drafts.draft(resident) == {}
    outcome, case, _ = await _send(domain, user)
    assert (outcome, case) == ("empty", None)


async def test_a_second_problem_for_another_owner_is_filed_separately_once(
    domain: Domain,
) -> None:
    user = await _resident(domain)
    await _write(domain, user, TWO_PROBLEMS)
    outcome, first, mark = await _send(domain, user)
    assert outcome == "filed" and first is not None
    assert (first.category, first.owner_chat_id) == ("property", PROPERTY_CHAT)
    async with domain.unit() as uow:
        offers = [
            m
            for m in await outbox(uow, user.id, after=mark)
            if f"d:second:{first.id}" in str(m.payload.get("reply_markup"))
        ]
        assert len(offers) == 1 and "fire lane" in offers[0].payload["text"]
    async with domain.unit() as uow:
        resident = await _user(uow, user)
        second = await drafts.file_second_problem(
            uow, resident, await lifecycle.get_case(uow, first.id)
        )
        assert second is not None and second.id != first.id
        assert (second.category, second.owner_chat_id) == ("traffic", POLICE_CHAT)
        assert "fire lane" in second.text and "lift" not in second.text
    async with domain.unit() as uow:  # pressed again: filed once
        resident = await _user(uow, user)
        again = await drafts.file_second_problem(
            uow, resident, await lifecycle.get_case(uow, first.id)
        )
        assert again is None
    async with domain.unit() as uow:  # nobody else may split the resident's report
        stranger = await new_resident(uow)
        with pytest.raises(lifecycle.CaseActionError):
            await drafts.file_second_problem(uow, stranger, await lifecycle.get_case(uow, first.id))


async def test_one_problem_is_one_case(domain: Domain) -> None:
    user = await _resident(domain)
    await _write(domain, user, LAMP, "It has been dark for a week.")
    outcome, case, mark = await _send(domain, user)
    assert outcome == "filed" and case is not None
    async with domain.unit() as uow:
        assert await drafts.second_problem(uow, case) is None
        assert not any(
            "d:second:" in str(m.payload) for m in await outbox(uow, user.id, after=mark)
        )


# --- when the map has nobody to give it to -----------------------------------------------------


def _variant(change: Any) -> str:
    """The demo map with a change applied (a function of the parsed document)."""
    document = yaml.safe_load(DEMO_MAP.read_text(encoding="utf-8"))
    change(document)
    return yaml.safe_dump(document, allow_unicode=True)


async def test_with_the_member_gone_the_leader_gets_the_report(domain: Domain) -> None:
    async with domain.unit() as uow:
        (await uow.session.get(StaffMember, MEMBER_1)).active = False  # type: ignore[union-attr]
        await domain.reload_routing_in(uow)
    user = await _resident(domain)
    await _write(domain, user, LAMP)
    outcome, case, mark = await _send(domain, user)
    assert outcome == "filed" and case is not None
    assert (case.owner_id, case.rung) == (LEADER, "leader")
    assert case.assignment["reason"] == "no_member_fallback_leader"
    async with domain.unit() as uow:
        told = await texts_to(uow, user.id, after=mark)
        assert any("李强" in t for t in told), told  # the resident is told who has it


async def test_with_no_staff_at_all_the_street_office_gets_the_report(domain: Domain) -> None:
    await load_document(domain, _variant(lambda d: d.update(staff=[])), "no-staff.yaml")
    user = await _resident(domain)
    await _write(domain, user, LAMP)
    outcome, case, _ = await _send(domain, user)
    assert outcome == "filed" and case is not None
    assert (case.owner_id, case.owner_chat_id) == (None, STREET_CHAT)
    assert case.assignment["reason"] == "street_office_chat"


async def test_with_nobody_anywhere_the_draft_is_kept(domain: Domain) -> None:
    """A map with no staff, no street office group and no admin cannot take a report: the
    transaction fails (the chat apologises and the update is retried) and nothing is lost."""

    def nobody(document: dict[str, Any]) -> None:
        document["staff"] = []
        document["street_office"].pop("chat_id")

    await load_document(domain, _variant(nobody), "nobody.yaml")
    user = await _resident(domain)
    await _write(domain, user, LAMP)
    with pytest.raises(GridMapError):
        await _send(domain, user)
    async with domain.unit() as uow:
        assert drafts.draft(await _user(uow, user))["text"] == LAMP
        assert (await uow.session.execute(select(Case))).first() is None
