"""The case lifecycle, status by status and action by action, on the real services.

For every status of the lifecycle table and every action a person can take on a case, a case
is brought to that status through the same functions the chat and the desk call, the action
is tried, and the outcome is checked the way the people involved see it: the new status, the
audit row, the resident's update in their own language — or, when the lifecycle refuses, a
refusal that leaves no trace (the chat answers the refusal inside a transaction that commits).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from unit_helpers import (
    CENTRE,
    LEADER,
    MEMBER_1,
    MEMBER_2,
    PROPERTY_CHAT,
    PROPERTY_STAFF,
    events_of,
    file_case,
    last_outbox_id,
    new_resident,
    outbox,
    texts_to,
)

from bot.clock import ManualClock
from bot.services.cases import lifecycle
from bot.services.cases.lifecycle import TRANSITIONS, CaseActionError
from bot.services.shared.domain import Domain, UnitOfWork
from bot.store.models import Case, CaseEvent, OutboxMessage, StaffMember, User

STATUSES = sorted(TRANSITIONS)
# The rules as a person relies on them, written out here on purpose (not read from the code
# under test): which statuses an action may start from.
OPEN = frozenset(
    {"triage", "assigned", "transferred", "escalated", "reopened", "accepted", "needs_info"}
)
HANDLED = OPEN - {"triage"}  # open and in someone's hands
AWAITING_ACCEPT = frozenset({"assigned", "transferred", "escalated", "reopened"})

Run = Callable[[UnitOfWork, Case, User], Awaitable[Any]]


def actor(uow: UnitOfWork, case: Case) -> int:
    """Who presses the card: the owner when a person owns the case, else the grid's leader."""
    owner = uow.routing.gridmap.staff.get(case.owner_id or 0)
    return owner.telegram_id if owner is not None else LEADER


async def _accept(uow: UnitOfWork, case: Case, resident: User) -> None:
    await lifecycle.accept(uow, actor(uow, case), case)


async def _ask(uow: UnitOfWork, case: Case, resident: User) -> None:
    await lifecycle.ask(uow, actor(uow, case), case, "Which floor is it on?")


async def _transfer(uow: UnitOfWork, case: Case, resident: User) -> None:
    await lifecycle.transfer(uow, actor(uow, case), case, "p:xingfu-wuye", "the lift is theirs")


async def _reassign(uow: UnitOfWork, case: Case, resident: User) -> None:
    to = MEMBER_1 if case.owner_id != MEMBER_1 else LEADER
    await lifecycle.reassign_to(uow, LEADER, case, to, "Wang Fang knows this building")


async def _resolve(uow: UnitOfWork, case: Case, resident: User) -> None:
    await lifecycle.resolve(uow, actor(uow, case), case, "The lamp was replaced")


async def _reject(uow: UnitOfWork, case: Case, resident: User) -> None:
    await lifecycle.reject(uow, actor(uow, case), case, "This lamp belongs to the city")


async def _escalate(uow: UnitOfWork, case: Case, resident: User) -> None:
    await lifecycle.escalate_case(uow, case, "accept")


async def _triage(uow: UnitOfWork, case: Case, resident: User) -> None:
    await lifecycle.triage_set_category(uow, LEADER, case, "facilities")


async def _cancel(uow: UnitOfWork, case: Case, resident: User) -> None:
    await lifecycle.cancel(uow, resident, case)


async def _reopen(uow: UnitOfWork, case: Case, resident: User) -> None:
    await lifecycle.reopen(uow, resident, case, "The lamp is still dark")


async def _close(uow: UnitOfWork, case: Case, resident: User) -> None:
    await lifecycle.auto_close(uow, case)


async def _rework(uow: UnitOfWork, case: Case, resident: User) -> None:
    """An independent check found the closed case not fixed (cases/verification.py)."""
    await lifecycle.rework(uow, case, lifecycle.Actor(resident.id, "resident"), "resident")


@dataclass(frozen=True)
class Action:
    """One thing a person (or the scheduler) does to a case, and what the lifecycle allows."""

    name: str
    run: Run
    target: str  # the status it leads to
    event: str  # the audit row it writes
    allowed_from: frozenset[str]
    told: tuple[str, str]  # what the resident reads, in English and in Chinese


ACTIONS = [
    Action("accept", _accept, "accepted", "accepted", AWAITING_ACCEPT, ("was accepted", "受理")),
    Action("ask", _ask, "needs_info", "asked", HANDLED, ("asks", "想问您")),
    Action("transfer", _transfer, "transferred", "transferred", HANDLED, ("passed on", "转办")),
    Action("reassign", _reassign, "transferred", "reassigned", HANDLED, ("new owner", "新的人员")),
    Action("resolve", _resolve, "resolved", "resolved", OPEN, ("is resolved", "已办结")),
    Action("reject", _reject, "rejected", "rejected", OPEN, ("was declined", "被退回")),
    Action("escalate", _escalate, "escalated", "escalated", HANDLED, ("escalated", "升级")),
    Action(
        "triage",
        _triage,
        "assigned",
        "triaged",
        frozenset({"triage"}),
        ("now has an owner", "安排好办理人员"),
    ),
    Action("cancel", _cancel, "cancelled", "cancelled", OPEN, ("withdrawn", "撤回")),
    Action(
        "reopen", _reopen, "reopened", "reopened", frozenset({"resolved"}), ("reopened", "重新办理")
    ),
    Action("close", _close, "closed", "auto_closed", frozenset({"resolved"}), ("closed", "结案")),
    Action("rework", _rework, "reopened", "rework", frozenset({"closed"}), ("not fixed", "返工")),
]
BY_NAME = {a.name: a for a in ACTIONS}

# How a freshly filed facilities case (or, for triage, an unclassified one) reaches each status.
PATHS: dict[str, tuple[str, ...]] = {
    "triage": (),
    "assigned": (),
    "accepted": ("accept",),
    "needs_info": ("ask",),
    "transferred": ("reassign",),
    "escalated": ("escalate",),
    "reopened": ("resolve", "reopen"),
    "resolved": ("resolve",),
    "rejected": ("reject",),
    "closed": ("resolve", "close"),
    "cancelled": ("cancel",),
}


def test_every_status_of_the_table_is_reachable_and_every_move_has_an_action() -> None:
    """The table and the actions say the same thing: no status without a way in, no allowed
    move that no action (or the resident's answer) makes, no action the table forbids."""
    assert set(PATHS) == set(TRANSITIONS)
    made = {(s, a.target) for a in ACTIONS for s in a.allowed_from}
    # The resident's answer takes a waiting case back to whoever had it.
    made |= {("needs_info", "assigned"), ("needs_info", "accepted")}
    table = {(s, t) for s, targets in TRANSITIONS.items() for t in targets}
    staying = {(s, t) for s, t in made if s == t}
    assert made - staying <= table, f"actions the table forbids: {sorted(made - staying - table)}"
    assert table <= made, f"moves of the table no action makes: {sorted(table - made)}"


async def case_in(domain: Domain, status: str, lang: str = "en") -> tuple[User, int]:
    """A new resident's case brought to `status` by the lifecycle's own functions."""
    async with domain.unit() as uow:
        resident = await new_resident(uow, lang=lang)
        case = await file_case(
            uow,
            resident,
            "The street lamp outside my building is broken",
            as_category=None if status == "triage" else "facilities",
        )
        for step in PATHS[status]:
            await BY_NAME[step].run(uow, case, resident)
        assert case.status == status
        return resident, case.id


@dataclass
class Trace:
    """What a refused action must leave as it was."""

    status: str
    version: int
    owner: int | None
    counters: tuple[int, int, int | None]
    events: int
    messages: int


async def trace(uow: UnitOfWork, case: Case) -> Trace:
    await uow.session.flush()
    events = await uow.session.execute(
        select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)
    )
    messages = await uow.session.execute(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.case_id == case.id)
    )
    return Trace(
        case.status,
        case.version,
        case.owner_id,
        (case.reopen_count, case.escalation_count, case.rating),
        events.scalar_one(),
        messages.scalar_one(),
    )


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
async def test_action_from_every_status(domain: Domain, action: Action) -> None:
    """Allowed from the statuses the lifecycle lists (new status, audit row, the resident told
    in their language); refused with "wrong state" from every other, leaving no trace."""
    problems: list[str] = []
    for i, status in enumerate(STATUSES):
        lang = ("en", "zh")[i % 2]
        resident, case_id = await case_in(domain, status, lang)
        async with domain.unit() as uow:
            case = await lifecycle.get_case(uow, case_id)
            resident = await uow.session.get(User, resident.id)  # type: ignore[assignment]
            before = await trace(uow, case)
            mark = await last_outbox_id(uow)
            refused: CaseActionError | None = None
            try:
                await action.run(uow, case, resident)
            except CaseActionError as exc:  # the chat answers it and commits the unit
                refused = exc
        async with domain.unit() as uow:
            case = await lifecycle.get_case(uow, case_id)
            after = await trace(uow, case)
            where = f"{action.name} from {status}"
            if status not in action.allowed_from:
                if refused is None:
                    problems.append(f"{where}: allowed, went to {case.status}")
                elif refused.key != "case_wrong_state":
                    problems.append(f"{where}: refused as {refused.key!r}")
                if after != before:
                    problems.append(f"{where}: refused but changed {before} -> {after}")
                continue
            if refused is not None:
                problems.append(f"{where}: refused as {refused.key!r}")
                continue
            if case.status != action.target:
                problems.append(f"{where}: went to {case.status}, not {action.target}")
            if case.version <= before.version:
                problems.append(f"{where}: the version did not move (old cards stay live)")
            last = (await events_of(uow, case))[-1]
            if (last.kind, last.from_status, last.to_status) != (
                action.event,
                status,
                action.target,
            ):
                problems.append(
                    f"{where}: audit {last.kind} {last.from_status}->{last.to_status}, "
                    f"not {action.event} {status}->{action.target}"
                )
            told = await texts_to(uow, resident.id, after=mark)
            phrase = action.told[lang == "zh"]
            if not any(case.human_id in t and phrase in t for t in told):
                problems.append(f"{where}: the {lang} resident was not told ({phrase!r}): {told}")
    assert not problems, "\n".join(problems)


async def test_the_resident_answer_gives_the_case_back_to_whoever_had_it(domain: Domain) -> None:
    """needs_info -> assigned when nobody had accepted it, -> accepted when someone had; the
    owner reads the answer, the resident is told it was passed on."""
    resident, waiting = await case_in(domain, "needs_info", "zh")
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, waiting)
        mark = await last_outbox_id(uow)
        await lifecycle.resident_message(uow, resident, case, "三楼，靠电梯")
        assert case.status == "assigned"
        events = await events_of(uow, case)
        assert (events[-1].kind, events[-1].actor_role) == ("answered", "resident")
        assert any("三楼，靠电梯" in t for t in await texts_to(uow, MEMBER_1, after=mark))
        assert await texts_to(uow, resident.id, after=mark)
    resident, accepted = await case_in(domain, "accepted")
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, accepted)
        await lifecycle.ask(uow, MEMBER_1, case, "Which lamp?")
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, accepted)
        await lifecycle.resident_message(uow, resident, case, "The one by the gate")
        assert case.status == "accepted"


async def test_a_question_arms_the_resident_answer(domain: Domain) -> None:
    """After a staff question the resident's next message is their answer to that case."""
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        case = await file_case(uow, resident, as_category="facilities")
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case.id)
        assert await lifecycle.ask(uow, MEMBER_1, case, "Which floor?") is True
    async with domain.unit() as uow:
        resident = await uow.session.get(User, resident.id)  # type: ignore[assignment]
        assert resident.state == "answer"
        assert (resident.state_data or {}).get("case_id") == case.id


# --- who may act: the refusals the edges rely on ------------------------------------------


async def _filed(domain: Domain, **kw: Any) -> tuple[User, int]:
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        case = await file_case(uow, resident, **kw)
        return resident, case.id


async def test_a_stranger_and_another_grids_member_are_refused(domain: Domain) -> None:
    resident, case_id = await _filed(domain, as_category="facilities")
    async with domain.unit() as uow:
        other = await new_resident(uow)
        for person in (other.id, resident.id, MEMBER_2, 123):
            with pytest.raises(CaseActionError) as refused:
                await lifecycle.authorise(uow, person, case_id, None)
            assert refused.value.key == "not_allowed", person
        # The owner, the grid's leader and the community centre may.
        for person in (MEMBER_1, LEADER, CENTRE):
            assert (await lifecycle.authorise(uow, person, case_id, None)).id == case_id


async def test_a_stale_card_is_refused_after_the_case_moved(domain: Domain) -> None:
    """Two presses on one card: the second carries the old version and is refused."""
    _, case_id = await _filed(domain, as_category="facilities")
    async with domain.unit() as uow:
        case = await lifecycle.authorise(uow, MEMBER_1, case_id, 0)
        await lifecycle.accept(uow, MEMBER_1, case)
    async with domain.unit() as uow:
        with pytest.raises(CaseActionError) as refused:
            await lifecycle.authorise(uow, MEMBER_1, case_id, 0)
        assert refused.value.key == "card_outdated"
        assert refused.value.data["status"] == "accepted"
        case = await lifecycle.authorise(uow, MEMBER_1, case_id, 1)
        assert case.status == "accepted"


async def test_a_deactivated_member_loses_their_cases(domain: Domain) -> None:
    _, case_id = await _filed(domain, as_category="facilities")
    async with domain.unit() as uow:
        (await uow.session.get(StaffMember, MEMBER_1)).active = False  # type: ignore[union-attr]
        await domain.reload_routing_in(uow)
    async with domain.unit() as uow:
        with pytest.raises(CaseActionError):
            await lifecycle.authorise(uow, MEMBER_1, case_id, None)


async def test_a_reload_while_the_staff_list_changes_does_not_put_the_old_list_back(
    domain: Domain,
) -> None:
    """The scheduler reloads routing from its own session; while a transaction that
    deactivated a member is open, that session still reads the member active. Seen as a
    deactivated member's message being taken as still staff."""
    async with domain.unit() as uow:
        (await uow.session.get(StaffMember, MEMBER_1)).active = False  # type: ignore[union-attr]
        await domain.reload_routing_in(uow)
        assert MEMBER_1 not in domain.routing.gridmap.staff or not (
            domain.routing.gridmap.staff[MEMBER_1].active
        )
        await domain.reload_routing(force=True)  # another session, before the commit
        staff = domain.routing.gridmap.staff.get(MEMBER_1)
        assert staff is None or not staff.active
    await domain.reload_routing(force=True)  # after it: the committed list
    staff = domain.routing.gridmap.staff.get(MEMBER_1)
    assert staff is None or not staff.active


async def test_a_resident_acts_only_on_their_own_case(domain: Domain) -> None:
    resident, case_id = await _filed(domain, as_category="facilities")
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        await lifecycle.resolve(uow, MEMBER_1, case, "Fixed")
    async with domain.unit() as uow:
        neighbour = await new_resident(uow)
        case = await lifecycle.get_case(uow, case_id)
        for attempt in (
            lifecycle.cancel(uow, neighbour, case),
            lifecycle.reopen(uow, neighbour, case, "no"),
            lifecycle.rate(uow, neighbour, case, 1),
            lifecycle.resident_change_category(uow, neighbour, case, "sanitation"),
        ):
            with pytest.raises(CaseActionError) as refused:
                await attempt
            assert refused.value.key == "not_allowed"
        assert case.status == "resolved" and case.rating is None


async def test_a_partys_case_is_accepted_only_by_the_party(domain: Domain) -> None:
    """The grid member who follows a property case may not take it over with one tap."""
    _, case_id = await _filed(domain, text="The lift is broken", as_category="property")
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        assert (case.party_id, case.owner_chat_id, case.follow_up_id) == (
            "xingfu-wuye",
            PROPERTY_CHAT,
            MEMBER_1,
        )
        with pytest.raises(CaseActionError) as refused:
            await lifecycle.accept(uow, MEMBER_1, case)
        assert refused.value.key == "accept_party_only"
        await lifecycle.accept(uow, PROPERTY_STAFF, case)
        assert case.status == "accepted" and case.owner_id == PROPERTY_STAFF


async def test_a_transfer_goes_only_to_a_target_the_card_offers(domain: Domain) -> None:
    _, case_id = await _filed(domain, as_category="facilities")
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        for forged in (f"m:{MEMBER_2}", f"m:{MEMBER_1}", "p:nobody", "x:1", "m:abc"):
            with pytest.raises(CaseActionError) as refused:
                await lifecycle.transfer(uow, MEMBER_1, case, forged, "because")
            assert refused.value.key == "not_allowed", forged
        assert case.status == "assigned" and case.owner_id == MEMBER_1


async def test_only_a_supervisor_reassigns_and_only_within_the_grid(domain: Domain) -> None:
    _, case_id = await _filed(domain, as_category="facilities")
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        for who, to in ((MEMBER_1, LEADER), (LEADER, MEMBER_2), (LEADER, MEMBER_1)):
            with pytest.raises(CaseActionError):
                await lifecycle.reassign_to(uow, who, case, to, "because")
        await lifecycle.reassign_to(uow, LEADER, case, LEADER, "I will do it")
        assert (case.status, case.owner_id) == ("transferred", LEADER)


async def test_a_triage_category_must_be_one_of_the_map(domain: Domain) -> None:
    _, case_id = await _filed(domain, text="hello", as_category=None)
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        assert case.status == "triage" and case.owner_id == LEADER
        with pytest.raises(CaseActionError):
            await lifecycle.triage_set_category(uow, LEADER, case, "no-such-category")
        assert case.status == "triage" and case.category is None


# --- the resident's side of a resolved case -------------------------------------------------


async def test_reopen_only_within_the_window(domain: Domain, clock: ManualClock) -> None:
    resident, case_id = await _filed(domain, as_category="facilities")
    async with domain.unit() as uow:
        await lifecycle.resolve(uow, MEMBER_1, await lifecycle.get_case(uow, case_id), "Done")
    clock.advance(timedelta(days=7, minutes=1))
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        with pytest.raises(CaseActionError) as refused:
            await lifecycle.reopen(uow, resident, case, "Still broken")
        assert refused.value.key == "reopen_too_late"
        assert case.status == "resolved" and case.reopen_count == 0


async def test_a_rating_is_kept_once_and_taken_back_by_not_solved(domain: Domain) -> None:
    resident, case_id = await _filed(domain, as_category="facilities")
    async with domain.unit() as uow:
        await lifecycle.resolve(uow, MEMBER_1, await lifecycle.get_case(uow, case_id), "Done")
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        for bad in (0, 6):
            with pytest.raises(CaseActionError):
                await lifecycle.rate(uow, resident, case, bad)
        mark = await last_outbox_id(uow)
        await lifecycle.rate(uow, resident, case, 4)
        assert case.rating == 4 and case.status == "resolved"
        assert await texts_to(uow, MEMBER_1, after=mark)  # the member learns of the rating
        with pytest.raises(CaseActionError) as refused:
            await lifecycle.rate(uow, resident, case, 5)
        assert refused.value.key == "already_rated"
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        mark = await last_outbox_id(uow)
        await lifecycle.reopen(uow, resident, case, "It went dark again")
        assert (case.status, case.rating, case.reopen_count) == ("reopened", None, 1)
        assert case.owner_id == MEMBER_1  # back to whoever resolved it
        # The leader hears of it too, with the reason.
        assert any("It went dark again" in t for t in await texts_to(uow, LEADER, after=mark))


async def test_a_resolved_case_closes_silently_once_rated(domain: Domain) -> None:
    resident, case_id = await _filed(domain, as_category="facilities")
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        await lifecycle.resolve(uow, MEMBER_1, case, "Done")
        await lifecycle.rate(uow, resident, case, 5)
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        mark = await last_outbox_id(uow)
        await lifecycle.auto_close(uow, case)
        assert case.status == "closed"
        assert await texts_to(uow, resident.id, after=mark) == []


# --- owners and followers ---------------------------------------------------------------------


async def test_escalation_climbs_the_ladder_and_stops_at_the_top(domain: Domain) -> None:
    """member -> leader -> centre -> street; at the top the case stays and is marked."""
    resident, case_id = await _filed(domain, as_category="facilities")
    owners = []
    for _ in range(3):
        async with domain.unit() as uow:
            case = await lifecycle.get_case(uow, case_id)
            assert await lifecycle.escalate_case(uow, case, "accept") is True
            owners.append((case.rung, case.owner_id))
    assert [rung for rung, _ in owners] == ["leader", "centre", "street"]
    assert owners[0][1] == LEADER and owners[1][1] == CENTRE
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        version = case.version
        assert await lifecycle.escalate_case(uow, case, "accept") is False
        assert case.status == "escalated" and case.version == version
        assert case.reminded == "top:accept"
        assert (await events_of(uow, case))[-1].kind == "escalation_top"


async def test_a_transfer_to_a_party_sends_the_card_to_its_group(domain: Domain) -> None:
    resident, case_id = await _filed(domain, as_category="facilities")
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        mark = await last_outbox_id(uow)
        await lifecycle.transfer(uow, MEMBER_1, case, "p:xingfu-wuye", "The lamp is on their land")
        assert (case.owner_chat_id, case.party_id, case.follow_up_id) == (
            PROPERTY_CHAT,
            "xingfu-wuye",
            MEMBER_1,
        )
        cards = await outbox(uow, PROPERTY_CHAT, after=mark)
        assert any(case.human_id in m.payload.get("text", "") for m in cards)
        # The member who passed it on keeps following it (and may still work on it).
        assert (await lifecycle.authorise(uow, MEMBER_1, case_id, None)).id == case_id


async def test_followers_are_told_of_every_step(domain: Domain) -> None:
    resident, case_id = await _filed(domain, as_category="facilities")
    async with domain.unit() as uow:
        neighbour = await new_resident(uow, lang="zh")
        case = await lifecycle.get_case(uow, case_id)
        await lifecycle.follow(uow, neighbour, case)
        await lifecycle.follow(uow, neighbour, case)  # twice is once
        kinds = [e.kind for e in await events_of(uow, case)]
        assert kinds.count("followed") == 1
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        mark = await last_outbox_id(uow)
        await lifecycle.resolve(uow, MEMBER_1, case, "Fixed")
        told = await texts_to(uow, neighbour.id, after=mark)
        assert any(case.human_id in t and "已办结" in t for t in told)
        rating_for = [m for m in await outbox(uow, neighbour.id, after=mark)]
        assert all("reply_markup" not in m.payload for m in rating_for)  # only the reporter rates


# --- refusals that once were missing ----------------------------------------------------------


async def test_a_refused_escalation_is_not_counted(domain: Domain) -> None:
    """The dashboard's escalation figures count escalations that happened, not attempts."""
    _, case_id = await case_in(domain, "resolved")
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        with pytest.raises(CaseActionError):
            await lifecycle.escalate_case(uow, case, "resolve")
        assert case.escalation_count == 0


async def test_a_closed_case_is_not_closed_again(domain: Domain) -> None:
    """Closing twice would write a second audit row and tell the resident twice."""
    _, case_id = await case_in(domain, "closed")
    async with domain.unit() as uow:
        case = await lifecycle.get_case(uow, case_id)
        with pytest.raises(CaseActionError):
            await lifecycle.auto_close(uow, case)
