"""A case offered to the community's organisations (bot/services/cases/offers.py): the first to
take it up is recorded and the others are told, "not for us" is recorded, a done note reaches
the case's owner and staff, never the public; forged, stale and doubled presses change nothing.
And the call-back reminders of assisted cases heard back by phone (staff_intake.py)."""

from __future__ import annotations

import asyncio

import pytest
from dialogue_helpers import press, say
from page_helpers import pages
from sqlalchemy import select
from unit_helpers import (
    COMMITTEE,
    MEMBER_1,
    MEMBER_2,
    buttons,
    events_of,
    file_case,
    last_outbox_id,
    new_resident,
    outbox,
    texts_to,
)

from bot.services.cases import actions, lifecycle, offers, views
from bot.services.cases import staff_intake as intake
from bot.services.cases.lifecycle import CaseActionError
from bot.services.participation import volunteers as vol
from bot.services.shared.domain import Domain, UnitOfWork
from bot.store.models import Case, CaseEvent, CaseOffer, User

SECRET_WORDS = "Mrs Zhou in 3-502 fell and cannot carry her shopping MARKER-RESIDENT-77"
PHONE = "138 0013 8000"


async def _answers(uow: UnitOfWork, after: int) -> list[str]:
    return [
        str(m.payload.get("text", ""))
        for m in await outbox(uow, after=after)
        if m.method == "answerCallbackQuery"
    ]


async def _organisation(uow: UnitOfWork, name: str) -> User:
    """An organisation of xingfu that joined, and its contact (a resident, not staff)."""
    code = await vol.invite_organisation(uow, COMMITTEE, "xingfu", name)
    contact = await new_resident(uow)
    assert await vol.accept_invitation(uow, contact.id, code) is not None
    return contact


async def _offered(uow: UnitOfWork, orgs: int = 2) -> tuple[Case, User, list[User]]:
    """A resident's case in MEMBER_1's grid, offered by MEMBER_1 to `orgs` organisations."""
    resident = await new_resident(uow, first_name="Zhou")
    case = await file_case(uow, resident, SECRET_WORDS, as_category="facilities")
    contacts = [await _organisation(uow, f"Org {i}") for i in range(orgs)]
    await actions.perform(uow, MEMBER_1, case, actions.BY_NAME["offer_org"])
    return case, resident, contacts


async def _offer_data(uow: UnitOfWork, contact: User, after: int = 0) -> dict[str, str]:
    """The offer's buttons as the contact's chat shows them: label → callback data."""
    for message in reversed(await outbox(uow, contact.id, after=after)):
        shown = dict(buttons(message))
        if shown:
            return shown
    return {}


async def test_the_first_organisation_takes_it_up_and_the_others_are_told(
    uow: UnitOfWork,
) -> None:
    case, _, (first, second) = await _offered(uow)
    take = (await _offer_data(uow, first))["✅ We'll take it"]
    assert take.startswith("og:") and take.endswith(":t")
    other_take = (await _offer_data(uow, second))["✅ We'll take it"]
    mark = await last_outbox_id(uow)
    await press(uow, first.id, take)
    assert await _answers(uow, mark) == ["Thank you: the grid staff are told you took it up."]
    assert [e.kind for e in await events_of(uow, case)][-1] == "org_took"
    # The owner is told in their chat, in their language (王芳 reads Chinese), and their card
    # shows who took it up.
    told = await texts_to(uow, MEMBER_1, after=mark)
    assert any("<b>Org 0</b>已接下此事" in t for t in told)
    assert any("🤝 <b>Org 0</b>已承接" in t for t in told)
    # The other organisation's offer now says it was taken, without buttons.
    edits = await outbox(uow, second.id, after=mark)
    assert edits and "Another organisation took it up" in edits[-1].payload["text"]
    assert buttons(edits[-1]) == []
    # The one that took it up now has Done.
    assert "🏁 Done" in await _offer_data(uow, first, after=mark)
    # A press on the other's stale button gets a clear answer and changes nothing.
    mark = await last_outbox_id(uow)
    await press(uow, second.id, other_take)
    assert await _answers(uow, mark) == [
        "Another organisation took this case up already: nothing changed."
    ]
    # Pressed twice: nothing more is recorded.
    await press(uow, first.id, take)
    assert (await _answers(uow, mark))[-1] == "You answered this offer already: nothing changed."
    trail = await events_of(uow, case)
    assert [e.kind for e in trail].count("org_took") == 1
    # The audit trail names the organisation, never its contact's Telegram account.
    took = next(e for e in trail if e.kind == "org_took")
    assert (took.actor_id, took.actor_role, took.data["organisation"]) == (
        None,
        "organisation",
        "Org 0",
    )
    status = await offers.status(uow, case)
    assert status is not None and (status.organisation, status.state) == ("Org 0", "taken")


async def test_not_for_us_is_recorded_once_and_the_offer_stays_open_to_others(
    uow: UnitOfWork,
) -> None:
    case, _, (first, second) = await _offered(uow)
    decline = (await _offer_data(uow, first))["🙅 Not for us"]
    mark = await last_outbox_id(uow)
    await press(uow, first.id, decline)
    await press(uow, first.id, decline)
    await press(uow, first.id, decline.replace(":n", ":t"))  # changing its mind: refused
    assert await _answers(uow, mark) == [
        "Thank you for answering: noted.",
        "You answered this offer already: nothing changed.",
        "You answered this offer already: nothing changed.",
    ]
    assert [e.kind for e in await events_of(uow, case)].count("org_declined") == 1
    await press(uow, second.id, (await _offer_data(uow, second))["✅ We'll take it"])
    status = await offers.status(uow, case)
    assert status is not None and (status.organisation, status.declined) == ("Org 1", 1)


async def test_forged_presses_change_nothing(uow: UnitOfWork) -> None:
    case, _, (contact,) = await _offered(uow, orgs=1)
    offer_id = int((await _offer_data(uow, contact))["✅ We'll take it"].split(":")[1])
    stranger = await new_resident(uow)
    mark = await last_outbox_id(uow)
    for who, data in (
        (stranger.id, f"og:{offer_id}:t"),  # not their organisation's offer
        (MEMBER_1, f"og:{offer_id}:t"),  # staff are no organisation either
        (contact.id, f"og:{offer_id + 999}:t"),  # no such offer
        (contact.id, "og:99999999999999999999:t"),  # out of range
        (contact.id, "og:-1:t"),
        (contact.id, "og:１:t"),  # not ASCII digits
        (contact.id, f"og:{offer_id}:x"),  # no such answer
        (contact.id, "og:"),
        (contact.id, f"og:{offer_id}:d"),  # Done before taking it up
    ):
        await press(uow, who, data)
    answers = await _answers(uow, mark)
    assert len(answers) == 9
    assert set(answers[:8]) == {"This offer is not yours to answer."}
    assert answers[8] == "Only the organisation that took the case up reports it done."
    offer = await uow.session.get(CaseOffer, offer_id)
    assert offer is not None
    await uow.session.refresh(offer)
    assert offer.state == "offered"
    assert not {"org_took", "org_declined", "org_done"} & {
        e.kind for e in await events_of(uow, case)
    }


async def test_a_finished_case_closes_its_offer(uow: UnitOfWork) -> None:
    case, _, (contact,) = await _offered(uow, orgs=1)
    take = (await _offer_data(uow, contact))["✅ We'll take it"]
    await lifecycle.reject(uow, MEMBER_1, case, "Not a problem of the estate")
    mark = await last_outbox_id(uow)
    await press(uow, contact.id, take)
    assert await _answers(uow, mark) == ["This case is finished: the offer is closed."]
    assert "org_took" not in {e.kind for e in await events_of(uow, case)}


async def test_done_note_reaches_the_owner_and_staff_never_the_public(domain: Domain) -> None:
    async with domain.unit() as uow:
        case, resident, (contact,) = await _offered(uow, orgs=1)
        await press(uow, contact.id, (await _offer_data(uow, contact))["✅ We'll take it"])
        done = (await _offer_data(uow, contact))["🏁 Done"]
        mark = await last_outbox_id(uow)
        await press(uow, contact.id, done)
        await say(uow, contact.id, "We carried her shopping up NOTE-MARKER-5")
        assert (await texts_to(uow, contact.id, after=mark))[-1].startswith("Thank you")
        event = (await events_of(uow, case))[-1]
        assert (event.kind, event.note) == ("org_done", "We carried her shopping up NOTE-MARKER-5")
        to_owner = "\n".join(await texts_to(uow, MEMBER_1, after=mark))
        assert "NOTE-MARKER-5" in to_owner
        # Done once: a second Done is refused.
        mark = await last_outbox_id(uow)
        await press(uow, contact.id, done)
        assert await _answers(uow, mark) == ["You answered this offer already: nothing changed."]
        # The resident's own timeline and the public steps never carry it.
        await say(uow, resident.id, f"/case {case.human_id}")
        assert "NOTE-MARKER-5" not in "\n".join(await texts_to(uow, resident.id, after=mark))
        await lifecycle.resolve(uow, MEMBER_1, case, "Fixed")
        human_id = case.human_id
    http = await pages(domain)
    try:
        for path in (f"/cases/{human_id}", f"/open311/v2/requests/{human_id}.json"):
            body = await (await http.get(path)).text()
            assert "NOTE-MARKER-5" not in body and "Org 0" not in body, path
    finally:
        await http.close()


async def test_an_organisation_never_gets_the_residents_identity(uow: UnitOfWork) -> None:
    mark = await last_outbox_id(uow)
    case, resident, (contact,) = await _offered(uow, orgs=1)
    await press(uow, contact.id, (await _offer_data(uow, contact))["✅ We'll take it"])
    await press(uow, contact.id, (await _offer_data(uow, contact))["🏁 Done"])
    await say(uow, contact.id, "Visited")
    everything = "\n".join(str(m.payload) for m in await outbox(uow, contact.id, after=mark))
    assert case.human_id in everything
    for secret in ("MARKER-RESIDENT-77", "Zhou", "3-502", str(resident.id), resident.pseudonym):
        assert secret not in everything, secret


async def test_the_committee_may_offer_a_case_of_its_community(uow: UnitOfWork) -> None:
    """The committee invites the organisations: it offers them a case too, from its copy of
    the card and the desk; a resident or a member of another grid may not."""
    resident = await new_resident(uow)
    case = await file_case(uow, resident, as_category="facilities")
    contact = await _organisation(uow, "Sunshine Care")
    offer = actions.BY_NAME["offer_org"]
    assert offer in await actions.offered_to(uow, COMMITTEE, case)
    assert [a.name for a in await actions.offered_to(uow, COMMITTEE, case)] == ["offer_org"]
    keyboard = await views.staff_keyboard(uow, case, COMMITTEE)
    codes = [b.data for row in keyboard for b in row]
    assert codes == [views.cb("org", case)]
    for stranger in (resident.id, MEMBER_2):
        with pytest.raises(CaseActionError):
            await actions.perform(uow, stranger, case, offer)
    mark = await last_outbox_id(uow)
    await press(uow, COMMITTEE, views.cb("org", case))
    assert await texts_to(uow, contact.id, after=mark)
    assert [e.kind for e in await events_of(uow, case)][-1] == "offered_org"
    # Still nothing else of the case's work for the committee.
    with pytest.raises(CaseActionError):
        await actions.perform(uow, COMMITTEE, case, actions.BY_NAME["accept"])


# --- calling back an assisted resident ------------------------------------------------------


async def _assisted(uow: UnitOfWork, hear_back: str) -> Case:
    return await intake.file_assisted(
        uow,
        MEMBER_1,
        text="The lamp by building 1 is broken",
        place=intake.place_of(uow, words="Xingfu Garden building 1"),
        channel="phone",
        hear_back=hear_back,
        phone=PHONE,
        consent=True,
    )


async def test_a_call_back_reminder_for_phone_hear_back_and_called_recorded_once(
    uow: UnitOfWork,
) -> None:
    case = await _assisted(uow, "phone")
    mark = await last_outbox_id(uow)
    await lifecycle.accept(uow, MEMBER_1, case)
    reminders = [
        m
        for m in await outbox(uow, MEMBER_1, after=mark)
        if m.method == "sendMessage" and "请致电" in str(m.payload)
    ]
    assert len(reminders) == 1 and PHONE in reminders[0].payload["text"]
    called = dict(buttons(reminders[0]))["📞 已回电"]
    # The owner's card shows the reminder waiting, with its Called button.
    card = (await texts_to(uow, MEMBER_1, after=mark))[-1]
    assert "请回电告知居民" in card and PHONE in card
    await lifecycle.resolve(uow, MEMBER_1, case, "Lamp replaced")
    assert (await intake.call_back_due(uow, case)) == {"count": 2, "phone": PHONE}
    # Pressed (the reminder's button is older than the case now: the card's is current).
    mark = await last_outbox_id(uow)
    await press(uow, MEMBER_1, views.cb("cbk", case))
    assert await _answers(uow, mark) == ["Recorded: the resident was called back."]
    assert await intake.call_back_due(uow, case) is None
    await press(uow, MEMBER_1, views.cb("cbk", case))
    await press(uow, MEMBER_1, called)
    assert [e.kind for e in await events_of(uow, case)].count("called_back") == 1
    assert len(await _answers(uow, mark)) == 3
    with pytest.raises(CaseActionError) as refused:
        await actions.perform(uow, MEMBER_1, case, actions.BY_NAME["called_back"])
    assert refused.value.key == "called_back_none"


async def test_no_call_back_for_a_printed_id_nor_for_a_residents_own_case(
    uow: UnitOfWork,
) -> None:
    printed = await _assisted(uow, "printed")
    resident = await new_resident(uow)
    own = await file_case(uow, resident, as_category="facilities")
    mark = await last_outbox_id(uow)
    for case in (printed, own):
        await lifecycle.accept(uow, MEMBER_1, case)
        await lifecycle.resolve(uow, MEMBER_1, case, "Done")
        assert await intake.call_back_due(uow, case) is None
        assert actions.BY_NAME["called_back"] not in await actions.offered_to(uow, MEMBER_1, case)
    assert not [m for m in await outbox(uow, MEMBER_1, after=mark) if PHONE in str(m.payload)]


async def test_only_staff_who_work_the_case_record_the_call(uow: UnitOfWork) -> None:
    case = await _assisted(uow, "phone")
    await lifecycle.accept(uow, MEMBER_1, case)
    for stranger in (MEMBER_2, COMMITTEE, (await new_resident(uow)).id):
        with pytest.raises(CaseActionError):
            await actions.perform(uow, stranger, case, actions.BY_NAME["called_back"])
    assert await intake.call_back_due(uow, case) is not None


async def test_one_organisation_takes_it_up_under_simultaneous_presses(domain: Domain) -> None:
    async with domain.unit() as uow:
        case, _, contacts = await _offered(uow, orgs=4)
        presses = []
        for contact in contacts:
            take = (await _offer_data(uow, contact))["✅ We'll take it"]
            presses.append((contact.id, int(take.split(":")[1])))
        case_id = case.id

    async def one(user_id: int, offer_id: int) -> str:
        async with domain.unit() as uow:
            return await offers.answer(uow, user_id, offer_id, take=True)

    # Every organisation presses twice, all at once.
    outcomes = await asyncio.gather(*(one(u, o) for u, o in presses + presses))
    assert outcomes.count("taken") == 1
    assert set(outcomes) <= {"taken", "already_taken", "already"}
    async with domain.unit() as uow:
        states = (
            await uow.session.execute(select(CaseOffer.state).where(CaseOffer.case_id == case_id))
        ).scalars()
        assert sorted(states) == ["gone", "gone", "gone", "taken"]
        kinds = (
            await uow.session.execute(select(CaseEvent.kind).where(CaseEvent.case_id == case_id))
        ).scalars()
        assert list(kinds).count("org_took") == 1


async def test_the_offer_button_comes_with_the_first_organisation_to_join(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A card reads whether the community has organisations at most every JOINED_FOR seconds;
    a join through this process shows the button on the next card at once, and another
    replica's join shows once that time has passed."""
    offer = actions.BY_NAME["offer_org"]
    case = await file_case(uow, await new_resident(uow), as_category="facilities")
    assert offer not in await actions.offered_to(uow, COMMITTEE, case)
    await _organisation(uow, "Sunshine Care")
    assert offer in await actions.offered_to(uow, COMMITTEE, case)
    # what another replica remembered: no organisation yet
    uow.domain.joined_organisations["xingfu"] = (False, float("inf"))
    assert offer not in await actions.offered_to(uow, COMMITTEE, case)
    monkeypatch.setattr(vol, "JOINED_FOR", 0.0)
    uow.domain.joined_organisations["xingfu"] = (False, 0.0)  # its time has passed
    assert offer in await actions.offered_to(uow, COMMITTEE, case)
