"""Desk edge of the action table (bot/services/cases/actions.py): the case page draws one form
per row the table offers, and each form's POST runs the row — for every row of the table."""

from __future__ import annotations

import re

import pytest

from bot.services.cases import duty, intake, lifecycle
from bot.services.cases.actions import ACTIONS, Asks, StaffAction
from bot.services.cases.status import Status
from bot.services.public import api_keys
from tests.support.chat import case_row, events
from tests.support.open311_peer import with_superior
from tests.support.world import ADMIN, CASE_ID, LEADER, PROPERTY_STAFF, World
from tests.web.desk_helpers import get, hidden, http_session, post, sign_in

pytestmark = pytest.mark.db

LIGHT = "The street light outside building 1 has been broken for a week"
# The event each action leaves on the case's audit trail.
EVENT = {
    "accept": "accepted",
    "ask": "asked",
    "transfer": "transferred",
    "resolve": "resolved",
    "reject": "rejected",
    "category": "triaged",
    "reassign": "reassigned",
    "public_note": "public_note",
    "note": None,
    "report_up": "handed_off",  # an internal note: its own table, shown on the page, no audit row
    "hold": "hold_asked",
    "release": "hold_ended",
    "extend": "extend_asked",
    "approve": "held",
    "decline": "hold_declined",
    "supervise": "supervised",
    "cohandler": "cohandler_added",
    "summon": "summoned",
    "return": "returned",
    "rule_reassign": "transferred",
    "rule_amend": "transferred",
    "rule_uphold": "return_upheld",
    "offer_org": "offered_org",
    "handoff_contacted": "handoff_contacted",
    "called_back": "called_back",
}


async def _organisation_joins(w: World) -> None:
    from bot.services.participation import volunteers
    from tests.support.world import COMMITTEE

    assert w.app is not None
    async with w.app.domain.unit() as uow:
        code = await volunteers.invite_organisation(uow, COMMITTEE, "xingfu", "Sunshine Care")
        assert await volunteers.accept_invitation(uow, 7499, code) is not None


async def _call_back_waits(w: World, case_id: str) -> None:
    """The case as one filed for a resident without Telegram who hears back by phone, with a
    step they must be called about."""
    from bot.services.cases import staff_intake
    from bot.store.models import AssistedContact

    assert w.app is not None
    async with w.app.domain.unit() as uow:
        case = await lifecycle.find_case(uow, case_id)
        assert case is not None
        case.source = "assisted"
        uow.session.add(
            AssistedContact(
                case_id=case.id,
                channel="phone",
                hear_back="phone",
                phone="138 0013 8000",
                consent_at=uow.now,
                recorded_by=ADMIN,
            )
        )
        await uow.session.flush()
        await staff_intake.remind_call_back(uow, case, "accepted")


def _first_option(page: str, name: str) -> str:
    """The first choice of the select box `name` in this part of the page."""
    match = re.search(rf'<select name="{name}">\s*<option value="([^"]+)"', page)
    assert match, f"no choices for {name}"
    return match.group(1)


async def test_every_action_of_the_table_has_a_form_that_runs_it(web_world: World) -> None:
    w = web_world
    base = w.app.web_url  # type: ignore[union-attr]
    assert set(EVENT) == {a.name for a in ACTIONS}, "a new row needs its event here"
    async with http_session() as http:
        await sign_in(w, http, ADMIN)  # the admin has every capability
        cases: dict[str, str] = {}
        for n, action in enumerate(ACTIONS):
            resident = 7401 + n
            await w.resident(resident)
            triage = Status.TRIAGE in action.statuses
            case_id, filed = await w.report(
                resident, "hello?? can someone come by" if triage else LIGHT
            )
            if "filed as" not in filed["text"]:  # a neighbour's similar case: file one's own
                await w.press(resident, filed, "📝")
                filed = await w.wait_bot(resident, "filed as", after=filed["message_id"])
                case_id = CASE_ID.search(filed["text"]).group(0)  # type: ignore[union-attr]
            if action.name in ("approve", "decline", "release"):
                await _member_asks_to_hold(w, case_id, approved=action.name == "release")
            if action.name.startswith("rule_"):
                await _owner_returns(w, case_id)
            if action.name == "offer_org":
                await _organisation_joins(w)
            if action.name == "handoff_contacted":
                await _received_from_a_link(w, case_id)
            if action.name == "called_back":
                await _call_back_waits(w, case_id)
            if action.name == "report_up":  # only where the map names a superior centre
                with_superior(w.app.domain)  # type: ignore[union-attr]
            if action.name == "return":  # only the case's owner returns it: their own desk
                async with http_session() as own:
                    await sign_in(w, own, (await case_row(w, case_id)).owner_id or 0)
                    _, page = await get(own, f"{base}/desk/cases/{case_id}")
                    status, after, _ = await post(
                        own, f"{base}/desk/cases/{case_id}/return", _form(page, action)
                    )
                assert status == 200 and 'id="dispute"' in after, after
                assert [e.kind for e in await events(w, case_id)][-1] == "returned"
                _, board = await get(http, f"{base}/desk/")  # marked on the admin's board
                row = board.split(f'data-case="{case_id}"', 1)[1].split("</tr>", 1)[0]
                assert 'class="pill returned"' in row
                cases[action.name] = case_id
                continue
            status, page = await get(http, f"{base}/desk/cases/{case_id}")
            assert status == 200
            if Status.ASSIGNED not in action.statuses and not triage:  # on a resolved case
                form = {"csrf": hidden(page, "csrf"), "version": hidden(page, "version")}
                await post(http, f"{base}/desk/cases/{case_id}/resolve", {**form, "note": "Fixed"})
                status, page = await get(http, f"{base}/desk/cases/{case_id}")
            form_url = f"/desk/cases/{case_id}/{action.name}"
            assert f'action="{form_url}"' in page, f"no {action.name} form"
            assert f'id="act-{action.name}"' in page
            data = _form(page, action)
            status, after, _ = await post(http, base + form_url, data)
            assert status == 200, after
            kinds = [e.kind for e in await events(w, case_id)]
            if EVENT[action.name] is None:
                assert 'class="ev-internal_note internal"' in after, action.name
            else:
                assert kinds[-1] == EVENT[action.name], (action.name, kinds)
            if action.name == "supervise":  # marked on the case page and the board
                assert 'id="supervision"' in after and "Done as asked" in after
                _, board = await get(http, f"{base}/desk/")
                row = board.split(f'data-case="{case_id}"', 1)[1].split("</tr>", 1)[0]
                assert 'class="pill supervised"' in row
            cases[action.name] = case_id
        # a resolved case offers two forms only: the public note and an internal note
        case_id = cases["reassign"]
        assert (await case_row(w, case_id)).status == Status.TRANSFERRED
        _, page = await get(http, f"{base}/desk/cases/{case_id}")
        _, form = page, {"csrf": hidden(page, "csrf"), "version": hidden(page, "version")}
        await post(http, f"{base}/desk/cases/{case_id}/resolve", {**form, "note": "Fixed"})
        _, page = await get(http, f"{base}/desk/cases/{case_id}")
        assert re.findall(r'id="act-([a-z_]+)"', page) == ["public_note", "note"]


async def _member_asks_to_hold(w: World, human_id: str, *, approved: bool) -> None:
    """The case's owner asks to hold it (in the chat: the same lifecycle call); the leader
    approves where the row needs a hold."""
    assert w.app is not None
    case = await case_row(w, human_id)
    assert case.owner_id is not None
    async with w.app.domain.unit() as uow:
        found = await lifecycle.get_case(uow, case.id)
        await lifecycle.ask_hold(uow, case.owner_id, found, "parts", 3, "The pump is on order")
        if approved:
            await lifecycle.approve_deferral(uow, LEADER, found)


async def _received_from_a_link(w: World, human_id: str) -> None:
    """The case as a hand-off received from a link (cases/intake.py), as a link key's POST
    files it."""
    assert w.app is not None
    case = await case_row(w, human_id)
    async with w.app.domain.unit() as uow:
        issued = await api_keys.create_key(
            uow.session, "district", uow.now, link="district", level="district"
        )
        key = await api_keys.check_key(uow.session, issued.key)
        assert key is not None
        found = await lifecycle.get_case(uow, case.id)
        found.source = "link"
        intake.receive(uow, found, key, "link", None)


async def _owner_returns(w: World, human_id: str) -> None:
    """The case's owner returns it citing a clause naming another owner (the same lifecycle
    call as the chat's and the desk's)."""
    assert w.app is not None
    case = await case_row(w, human_id)
    async with w.app.domain.unit() as uow:
        found = await lifecycle.get_case(uow, case.id)
        owner = found.owner_id or PROPERTY_STAFF  # after the amendment: the property company's
        offered = [c.id for c in duty.offered_clauses(uow, found)]
        clause = "PM-1" if "PM-1" in offered else offered[0]
        await lifecycle.return_case(uow, owner, found, clause, "Not ours")


def _form(page: str, action: StaffAction) -> dict[str, str]:
    part = page.split(f'/{action.name}"', 1)[1].split("</form>", 1)[0]
    data = {"csrf": hidden(page, "csrf"), "version": hidden(page, "version")}
    for ask in action.asks:
        if ask is Asks.TEXT:
            data[action.text_field] = "Done as asked"
        elif ask in (Asks.TARGET, Asks.MEMBER, Asks.HELPER):
            data["target"] = _first_option(part, "target")
        elif ask is Asks.CATEGORY:
            data["category"] = _first_option(part, "category")
        elif ask is Asks.REASON:
            data["hold_reason"] = _first_option(part, "hold_reason")
        elif ask is Asks.DAYS:
            data["days"] = _first_option(part, "days")
        elif ask is Asks.CLAUSE:
            data["clause"] = _first_option(part, "clause")
    return data
