"""The staff's action table (bot/services/cases/actions.py): every row complete, and both edges
— the chat card and the desk's case form — reach every row.

The card's keyboard is built from the table (`views.staff_keyboard`), the card's press and the
desk's POST both run `actions.perform`; here each row is offered where the table says, run
through that one entry point, and refused where it must be.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from unit_helpers import (
    ADMIN,
    LEADER,
    MEMBER_1,
    PROPERTY_CHAT,
    events_of,
    file_case,
    new_resident,
)

from bot.services.cases import actions, intake, lifecycle, staff_intake, views
from bot.services.cases.actions import ACTIONS, Asks, Where
from bot.services.cases.lifecycle import CaseActionError
from bot.services.cases.status import Status
from bot.services.people.policy import Capability
from bot.services.public import api_keys
from bot.services.shared.domain import UnitOfWork
from bot.store.models import Case, CaseNote, User
from tests.support.open311_peer import with_superior

ROOT = Path(__file__).resolve().parents[2]
LANGS = ("en", "zh")
# Codes of buttons that are no action of the table: a queue list's case, and the buttons on
# the chat prompts of an action (resolve's "skip photo", reject's "yes"/"no").
OTHER_CODES = {"view", "tpl", "tpu"}  # and a text prompt's reply templates
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
    "report_up": "handed_off",  # an internal note: its own table, never the case's audit trail
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
# Rows only the case's owner presses (at the desk too), and rows waiting for a return.
OWNER_ONLY = {"return"}
NEEDS_RETURN = {"rule_reassign", "rule_amend", "rule_uphold"}
# Rows offered only once something waits: a request for the leader's decision, a hold to end.
NEEDS_REQUEST = {"approve", "decline", "release"}
# Rows offered only where an organisation joined the case's community.
NEEDS_ORGANISATION = {"offer_org"}
NEEDS_HANDOFF = {"handoff_contacted"}
# Rows offered only while a reminder to call an assisted resident back waits.
NEEDS_CALL_BACK = {"called_back"}


def _yaml(lang: str, name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "templates" / lang / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("lang", LANGS)
def test_every_action_has_its_texts_in_both_languages(lang: str) -> None:
    labels, web = _yaml(lang, "labels.yaml"), _yaml(lang, "web.yaml")
    for a in ACTIONS:
        assert a.desk_button in web and a.desk_done in web, a.name
        if Asks.TEXT in a.asks:
            assert a.text_label in web, a.name
        if a.code is not None:
            for key in (a.button, a.done):
                assert key is None or key in labels, (a.name, key)
            if a.prompt_text is not None:
                assert (ROOT / "templates" / lang / f"{a.prompt_text}.j2").is_file(), a.name
    for key in ("ask_no_resident", "accept_party_only", "no_transfer_target", "case_wrong_state"):
        assert key in labels, key


def test_an_action_on_the_card_says_how_it_asks_for_what_it_needs() -> None:
    for a in ACTIONS:
        if a.code is None:
            continue
        picked = Asks.TARGET in a.asks or Asks.HELPER in a.asks  # chosen on the card
        if a.asks and a.asks[0] is Asks.TEXT or picked:
            assert a.prompt and a.prompt_text, f"{a.name}: the chat asks its text in a prompt"
        if picked or Asks.DAYS in a.asks:  # a choice per answer, and Back
            choices = sum(
                ask in (Asks.TARGET, Asks.HELPER, Asks.REASON, Asks.DAYS) for ask in a.asks
            )
            assert len(a.steps) == choices + 1, f"{a.name}: a choice and Back on the card"
        assert a.button is not None or Asks.CATEGORY in a.asks, a.name


def test_callback_codes_are_unique_and_fit_telegram_callback_data() -> None:
    codes = [a.code for a in ACTIONS if a.code]
    codes += [s for a in ACTIONS for s in (*a.steps, *a.prompt_codes)]
    assert len(codes) == len(set(codes)) and not set(codes) & OTHER_CODES, codes
    assert len({a.name for a in ACTIONS}) == len(ACTIONS)
    # The largest ids there can be, and the longest argument a press carries.
    case = Case(id=2**63 - 1, version=2**31 - 1)
    longest = "p:" + "x" * 24  # a party id of the map (kept short by routing/check.py)
    for code in codes:
        data = views.cb(code, case, *longest.split(":"))
        assert len(data.encode()) <= 64, data


def test_each_row_runs_a_lifecycle_function_taking_its_answers_in_order() -> None:
    for a in ACTIONS:
        assert getattr(lifecycle, a.run.__name__) is a.run, a.name
        params = list(inspect.signature(a.run).parameters.values())
        assert [p.name for p in params[:3]] == ["uow", "user_id", "case"], a.name
        assert (
            len(params) - 3 >= len(a.asks) >= len([p for p in params[3:] if p.default is p.empty])
        )


async def _case_in(uow: UnitOfWork, status: str, action: str = "") -> Case:
    """A case of MEMBER_1's grid (a resident's, in `status`), reached through the lifecycle;
    with MEMBER_1's request to hold it waiting (or approved, to release it) where the row
    needs one."""
    if action == "report_up":
        with_superior(uow.domain)
    resident = await new_resident(uow)
    if action in NEEDS_CALL_BACK:  # an assisted case heard back by phone, filed by MEMBER_1
        case = await staff_intake.file_assisted(
            uow,
            MEMBER_1,
            text="The lamp by building 1 is broken",
            place=staff_intake.place_of(uow, words="Xingfu Garden building 1"),
            channel="phone",
            hear_back="phone",
            phone="138 0000 0000",
            consent=True,
        )
        await lifecycle.accept(uow, MEMBER_1, case)  # a step the resident is called about
        if status == Status.RESOLVED:
            await lifecycle.resolve(uow, MEMBER_1, case, "Fixed")
        return case
    if status == Status.TRIAGE:
        return await file_case(uow, resident, "Something odd", as_category=None)
    case = await file_case(uow, resident, as_category="facilities")
    if action in NEEDS_REQUEST:
        await lifecycle.ask_hold(uow, MEMBER_1, case, "parts", 3, "The pump is on order")
        if action == "release":
            await lifecycle.approve_deferral(uow, LEADER, case)
    if action in NEEDS_RETURN:
        await lifecycle.return_case(uow, MEMBER_1, case, "PM-1", "A lift is the property's")
    if action in NEEDS_ORGANISATION:
        from unit_helpers import COMMITTEE

        from bot.services.participation import volunteers

        code = await volunteers.invite_organisation(uow, COMMITTEE, "xingfu", "Sunshine Care")
        contact = await new_resident(uow)
        assert await volunteers.accept_invitation(uow, contact.id, code) is not None
    if action in NEEDS_HANDOFF:  # received from a link, as an Open311 POST with a link key files it
        key = await api_keys.create_key(
            uow.session, "district", uow.now, link="d", level="district"
        )
        case.source = "link"
        row = await api_keys.check_key(uow.session, key.key)
        assert row is not None
        intake.receive(uow, case, row, "link", None)
    if status == Status.ACCEPTED:
        await lifecycle.accept(uow, MEMBER_1, case)
    elif status == Status.RESOLVED:
        await lifecycle.resolve(uow, MEMBER_1, case, "Fixed")
    elif status == Status.CANCELLED:
        await lifecycle.cancel(uow, resident, case)
    return case


def _offered_in(action: actions.StaffAction) -> str:
    """A status the row is offered in: a fresh case's, else a resolved one."""
    if action.name in NEEDS_CALL_BACK:
        return Status.ACCEPTED
    for status in (Status.TRIAGE, Status.ASSIGNED, Status.RESOLVED):
        if status in action.statuses:
            return status
    raise AssertionError(f"{action.name}: no status to try it in")


async def _left_its_trace(uow: UnitOfWork, case: Case, action: actions.StaffAction) -> None:
    """The action's audit row is the case's latest; an internal note is kept in its own table
    and leaves no audit row (a resident's timeline lists the audit rows)."""
    if EVENT[action.name] is None:
        kept = await uow.session.execute(select(CaseNote).where(CaseNote.case_id == case.id))
        assert [n.text for n in kept.scalars()] == ["Done as asked"]
        assert "internal_note" not in {e.kind for e in await events_of(uow, case)}
        return
    assert (await events_of(uow, case))[-1].kind == EVENT[action.name]


def _not_offered_in(action: actions.StaffAction) -> str:
    """A status the row is not offered in: resolved, else withdrawn."""
    if Status.CANCELLED in action.statuses and Status.RESOLVED in action.statuses:
        pytest.skip("offered in every status")
    return Status.RESOLVED if Status.RESOLVED not in action.statuses else Status.CANCELLED


async def _answers(uow: UnitOfWork, where: Where, action: actions.StaffAction) -> list[Any]:
    given: dict[Asks, Any] = {
        Asks.REASON: "weather",
        Asks.TEXT: "Done as asked",
        Asks.PHOTO: None,
        Asks.CATEGORY: "sanitation",
        Asks.MENTION: None,
    }
    if Asks.DAYS in action.asks:  # 3 days for a hold or an extension, a supervision deadline
        given[Asks.DAYS] = (
            int(actions.choices(where, action, Asks.DAYS)[0]) if not action.days_of else 3
        )
    if Asks.TARGET in action.asks:
        given[Asks.TARGET] = next(f"{t.kind[0]}:{t.id}" for t in actions.targets(where))
    if Asks.MEMBER in action.asks:
        given[Asks.MEMBER] = actions.members(where)[0].telegram_id
    if Asks.HELPER in action.asks:  # a co-handler or a summoned party of the map
        given[Asks.HELPER] = next(f"{t.kind[0]}:{t.id}" for t in await actions.helpers(where))
    if Asks.CLAUSE in action.asks:  # a clause naming another owner
        given[Asks.CLAUSE] = actions.choices(where, action, Asks.CLAUSE)[0]
    return [given[ask] for ask in action.asks]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
async def test_the_card_offers_the_action_and_its_press_runs_it(
    uow: UnitOfWork, action: actions.StaffAction
) -> None:
    """Chat edge: the owner's card carries the row's code where it is offered, and the
    press's entry point (`perform`, as `card_button` calls it) runs the lifecycle function."""
    if action.code is None:
        pytest.skip("a desk-only action (the table says so)")
    status = _offered_in(action)
    case = await _case_in(uow, status, action.name)
    deciding = action.capability is Capability.APPROVE  # the leader's copy of the card
    presser = LEADER if status == Status.TRIAGE or deciding else MEMBER_1
    assert case.owner_chat_id == (MEMBER_1 if deciding else presser)
    if action.name in ("supervise", "report_up"):
        presser = LEADER  # a supervisor's card of someone else's case (`/case`), never the owner's
        assert action not in await actions.offered(Where(uow, case, chat_id=MEMBER_1))
    keyboard = await views.staff_keyboard(uow, case, presser)
    pressed = [b.data for row in keyboard for b in row if b.data.startswith(f"c:{action.code}:")]
    assert pressed, f"{action.name} is not on the card in {status}"
    where = Where(uow, case, user_id=presser, chat_id=presser)
    await actions.perform(uow, presser, case, action, *await _answers(uow, where, action))
    await _left_its_trace(uow, case, action)


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
async def test_the_desk_offers_the_action_and_its_form_runs_it(
    uow: UnitOfWork, action: actions.StaffAction
) -> None:
    """Desk edge: the admin (every capability) is offered each row on a case in one of its
    statuses, and the form's entry point runs it."""
    case = await _case_in(uow, _offered_in(action), action.name)
    person = MEMBER_1 if action.name in OWNER_ONLY else ADMIN  # the owner's own desk
    where = Where(uow, case, user_id=person)
    assert action in await actions.offered(where)
    await actions.perform(uow, person, case, action, *await _answers(uow, where, action))
    await _left_its_trace(uow, case, action)


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
async def test_the_action_is_neither_offered_nor_run_outside_its_statuses(
    uow: UnitOfWork, action: actions.StaffAction
) -> None:
    case = await _case_in(uow, _not_offered_in(action))
    for where in (Where(uow, case, user_id=ADMIN), Where(uow, case, chat_id=MEMBER_1)):
        assert action not in await actions.offered(where)
    keyboard = await views.staff_keyboard(uow, case, MEMBER_1)
    assert not [b for row in keyboard for b in row if action.code and f":{action.code}:" in b.data]
    with pytest.raises(CaseActionError) as refused:
        await actions.perform(uow, ADMIN, case, action, *([None] * len(action.asks)))
    assert refused.value.key == "case_wrong_state"


async def test_ask_is_not_offered_when_nobody_can_answer(uow: UnitOfWork) -> None:
    """A resident who used /forget, or a case from Open311 without one: no "Ask" on the card
    or the desk, and a forged press is refused before the case waits for nobody."""
    ask = actions.BY_NAME["ask"]
    forgotten = await _case_in(uow, Status.ASSIGNED)
    resident = await uow.session.get(User, forgotten.resident_id)
    assert resident is not None
    resident.erased_at = uow.now
    open311 = await file_case(uow, None, as_category="facilities")
    for case in (forgotten, open311):
        assert ask not in await actions.offered(Where(uow, case, user_id=LEADER))
        assert ask not in await actions.offered(Where(uow, case, chat_id=MEMBER_1))
        codes = [b.data for row in await views.staff_keyboard(uow, case, MEMBER_1) for b in row]
        assert codes and not any(c.startswith("c:ask:") for c in codes)
        with pytest.raises(CaseActionError) as refused:
            await actions.perform(uow, MEMBER_1, case, ask, "Which lamp?")
        assert refused.value.key == "ask_no_resident"
        assert case.status == Status.ASSIGNED


async def test_a_party_case_offers_accept_only_to_the_party(uow: UnitOfWork) -> None:
    accept = actions.BY_NAME["accept"]
    case = await file_case(uow, await new_resident(uow), as_category="property")
    assert case.party_id == "xingfu-wuye" and case.follow_up_id == MEMBER_1
    assert accept in await actions.offered(Where(uow, case, chat_id=PROPERTY_CHAT))
    assert accept not in await actions.offered(Where(uow, case, chat_id=MEMBER_1))
    with pytest.raises(CaseActionError) as refused:
        await actions.perform(uow, MEMBER_1, case, accept)
    assert refused.value.key == "accept_party_only"


async def test_a_role_without_the_capability_is_refused(uow: UnitOfWork) -> None:
    """Placing a triage case is the triage capability's (a member pressing a forged category
    button is refused), reassigning the supervisors'."""
    case = await _case_in(uow, Status.TRIAGE)
    with pytest.raises(CaseActionError):
        await actions.perform(uow, MEMBER_1, case, actions.BY_NAME["category"], "sanitation")
    case = await _case_in(uow, Status.ASSIGNED)
    assert actions.BY_NAME["reassign"] not in await actions.offered(
        Where(uow, case, user_id=MEMBER_1)
    )
    assert actions.BY_NAME["reassign"] in await actions.offered(Where(uow, case, user_id=LEADER))
