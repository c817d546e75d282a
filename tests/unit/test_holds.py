"""Fair clocks: holds, extensions and the time a case waits for its resident's answer.

An owner asks to hold a case (a reason category, days, a note for the leader) or to extend its
resolve-by deadline; a leader of the grid approves or declines in one press, once. A held case's
clock stands still — the scheduler neither reminds nor escalates — and when the hold ends (by
itself, or the owner's Resume) both deadlines move on by the time held. A question to the
resident stops the clock without approval. The official on-time rate (按期结案率) leaves cases
with an approved deferral out; ours keeps them. The public sees a hold's reason category, never
the owner's note.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from page_helpers import pages
from sqlalchemy import select
from unit_helpers import (
    CENTRE,
    LEADER,
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

from bot.clock import ManualClock
from bot.services import scheduler
from bot.services.cases import actions, lifecycle, queues
from bot.services.cases.lifecycle import CaseActionError
from bot.services.public.cases import find_public_case
from bot.services.public.dashboard import Dashboard
from bot.services.public.open_data import MONTH_FIELDS, grid_months
from bot.services.shared.domain import Domain, UnitOfWork
from bot.store.models import Case, CaseEvent

# The owner's note to the leader: staff text, never public.
NOTE = "Pump ordered from Hongda Supply, call Mr Zhao 13812345678. MARKER-HOLD-4K"
HOLD = actions.BY_NAME["hold"]
EXTEND = actions.BY_NAME["extend"]
APPROVE = actions.BY_NAME["approve"]
DECLINE = actions.BY_NAME["decline"]
RELEASE = actions.BY_NAME["release"]


@pytest.fixture
def domain_settings() -> dict[str, Any]:
    return {
        "dashboard_cache": timedelta(0),
        "dashboard_min_cases": 1,
        "public_url": "http://gridvoice.test",
        "web_burst_per_ip": 10_000,
    }


@pytest.fixture
async def client(domain: Domain) -> AsyncIterator[TestClient]:
    http = await pages(domain)
    try:
        yield http
    finally:
        await http.close()


async def _accepted(uow: UnitOfWork) -> Case:
    resident = await new_resident(uow)
    case = await file_case(uow, resident, as_category="facilities")
    await lifecycle.accept(uow, MEMBER_1, case)
    return case


async def _kinds(uow: UnitOfWork, case: Case) -> list[str]:
    return [e.kind for e in await events_of(uow, case)]


async def _case(uow: UnitOfWork, case_id: int) -> Case:
    return await lifecycle.get_case(uow, case_id)


async def test_a_hold_stops_the_clock_and_ends_by_itself_with_the_deadlines_moved_on(
    domain: Domain, clock: ManualClock
) -> None:
    async with domain.unit() as uow:
        case = await _accepted(uow)
        case_id, resident_id = case.id, case.resident_id
        accept_by, resolve_by = case.accept_by, case.resolve_by
        assert accept_by is not None and resolve_by is not None
        mark = await last_outbox_id(uow)
        await actions.perform(uow, MEMBER_1, case, HOLD, "parts", 10, NOTE)
        # Asked, not yet held: the leader gets the request with its two buttons.
        assert case.held_since is None and case.deferrals == 0
        to_leader = (await outbox(uow, LEADER, after=mark))[-1]
        presses = [data for _, data in buttons(to_leader)]
        assert [p.split(":")[1] for p in presses] == ["apv", "dcl"]
        assert "MARKER-HOLD-4K" in str(to_leader.payload.get("text"))
    clock.advance(timedelta(hours=1))
    async with domain.unit() as uow:
        # The press, as the card handler runs it: authorised with the button's version.
        case = await lifecycle.authorise(uow, LEADER, case_id, int(presses[0].split(":")[3]))
        mark = await last_outbox_id(uow)
        await actions.perform(uow, LEADER, case, APPROVE)
        held_since, held_until = case.held_since, case.held_until
        assert held_since == uow.now and held_until == uow.now + timedelta(days=10)
        assert case.deferrals == 1
        assert held_until > resolve_by  # the original deadline passes while it is held
        told = " ".join(await texts_to(uow, resident_id or 0, after=mark))
        assert "on hold" in told and "waiting for parts" in told and "MARKER" not in told
        assert any(t.startswith("✅") for t in await texts_to(uow, MEMBER_1, after=mark))
    # Past the original deadline, still held: no reminder, no escalation.
    clock.advance(resolve_by - clock.now() + timedelta(hours=2))
    assert await scheduler.run_due(domain) == 0
    async with domain.unit() as uow:
        case = await _case(uow, case_id)
        kinds = await _kinds(uow, case)
        assert "reminder" not in kinds and "escalated" not in kinds
        assert case.status == "accepted" and case.owner_id == MEMBER_1
    # The hold's end: the scheduler ends it; both deadlines move on by the time held.
    clock.advance(held_until - clock.now() + timedelta(minutes=1))
    assert await scheduler.run_due(domain) >= 1
    async with domain.unit() as uow:
        case = await _case(uow, case_id)
        stood = clock.now() - held_since
        assert case.held_since is None and case.held_until is None
        assert case.resolve_by == resolve_by + stood
        assert case.accept_by == accept_by + stood
        assert (await _kinds(uow, case))[-1] == "hold_ended"
        assert any("resumed" in t for t in await texts_to(uow, resident_id or 0))
        # Resolved after the original deadline but within it plus the time held: on time.
        clock.advance(timedelta(hours=1))
    async with domain.unit() as uow:
        case = await _case(uow, case_id)
        await lifecycle.resolve(uow, MEMBER_1, case, "Pump replaced")
        assert case.resolved_at is not None and case.resolved_at > resolve_by
        assert case.resolved_at <= case.resolve_by


async def test_the_owner_resumes_early_and_only_the_time_held_is_added(
    domain: Domain, clock: ManualClock
) -> None:
    async with domain.unit() as uow:
        case = await _accepted(uow)
        case_id, resolve_by = case.id, case.resolve_by
        assert resolve_by is not None
        await actions.perform(uow, MEMBER_1, case, HOLD, "weather", 5, "Rain all week")
        await actions.perform(uow, LEADER, case, APPROVE)
        assert RELEASE in await actions.offered(actions.Where(uow, case, chat_id=MEMBER_1))
        assert HOLD not in await actions.offered(actions.Where(uow, case, chat_id=MEMBER_1))
    clock.advance(timedelta(hours=6))
    async with domain.unit() as uow:
        case = await _case(uow, case_id)
        await actions.perform(uow, MEMBER_1, case, RELEASE)
        assert case.resolve_by == resolve_by + timedelta(hours=6)
        assert case.held_since is None
        with pytest.raises(CaseActionError) as again:
            await actions.perform(uow, MEMBER_1, case, RELEASE)
        assert again.value.key == "case_not_held"


async def test_an_extension_declined_changes_nothing_approved_moves_the_deadline(
    domain: Domain,
) -> None:
    async with domain.unit() as uow:
        case = await _accepted(uow)
        resolve_by = case.resolve_by
        assert resolve_by is not None
        await actions.perform(uow, MEMBER_1, case, EXTEND, 3, "The contractor comes next week")
        mark = await last_outbox_id(uow)
        await actions.perform(uow, LEADER, case, DECLINE)
        assert case.resolve_by == resolve_by and case.deferrals == 0
        assert (await _kinds(uow, case))[-1] == "extend_declined"
        assert any(t.startswith("✖️") for t in await texts_to(uow, MEMBER_1, after=mark))
        # Decided once: a second press (of either button) changes nothing.
        for action in (APPROVE, DECLINE):
            with pytest.raises(CaseActionError) as refused:
                await actions.perform(uow, LEADER, case, action)
            assert refused.value.key == "deferral_none"
        assert case.resolve_by == resolve_by and case.deferrals == 0
        # Asked again and approved: the deadline moves on, counted as a deferral.
        await actions.perform(uow, MEMBER_1, case, EXTEND, 3, "The contractor comes next week")
        await actions.perform(uow, LEADER, case, APPROVE)
        assert case.resolve_by == resolve_by + timedelta(days=3) and case.deferrals == 1
        assert (await _kinds(uow, case))[-1] == "extended"


async def test_only_the_owner_asks_and_only_a_leader_of_the_grid_decides(
    domain: Domain,
) -> None:
    async with domain.unit() as uow:
        case = await _accepted(uow)
        # A member of another grid may not ask; nor a day count beyond the limit.
        with pytest.raises(CaseActionError):
            await actions.perform(uow, MEMBER_2, case, HOLD, "parts", 3, "x")
        with pytest.raises(CaseActionError) as too_long:
            await actions.perform(uow, MEMBER_1, case, HOLD, "parts", 15, "x")
        assert too_long.value.key == "deferral_days"
        with pytest.raises(CaseActionError):
            await actions.perform(uow, MEMBER_1, case, HOLD, "holiday", 3, "x")
        version = case.version
        await actions.perform(uow, MEMBER_1, case, HOLD, "department", 3, "Water company")
        # The owner, another grid's member: no decision. A press drawn before the request: stale.
        for person in (MEMBER_1, MEMBER_2):
            assert APPROVE not in await actions.offered(actions.Where(uow, case, user_id=person))
            with pytest.raises(CaseActionError):
                await actions.perform(uow, person, case, APPROVE)
        with pytest.raises(CaseActionError) as stale:
            await lifecycle.authorise(uow, LEADER, case.id, version)
        assert stale.value.key == "card_outdated"
        # A second request while one waits is refused.
        with pytest.raises(CaseActionError) as waiting:
            await actions.perform(uow, MEMBER_1, case, EXTEND, 2, "x")
        assert waiting.value.key == "deferral_pending"
        assert case.held_since is None

        # A leader's own request is decided by someone else: the community centre.
        own = await file_case(uow, await new_resident(uow), as_category="facilities")
        await lifecycle.accept(uow, MEMBER_1, own)
        await lifecycle.reassign_to(uow, CENTRE, own, LEADER, "Leader takes it")
        await actions.perform(uow, LEADER, own, HOLD, "other", 2, "Waiting for the audit")
        with pytest.raises(CaseActionError) as mine:
            await actions.perform(uow, LEADER, own, APPROVE)
        assert mine.value.key == "deferral_own"
        await actions.perform(uow, CENTRE, own, APPROVE)
        assert own.held_since is not None


async def test_a_question_to_the_resident_stops_the_clock_until_the_answer(
    domain: Domain, clock: ManualClock
) -> None:
    async with domain.unit() as uow:
        case = await _accepted(uow)
        case_id, resolve_by = case.id, case.resolve_by
        assert resolve_by is not None
        await lifecycle.ask(uow, MEMBER_1, case, "Which lamp?")
        assert case.held_since == uow.now and case.held_reason == lifecycle.ANSWER
        assert case.deferrals == 0  # no approval, and not a deferral
        assert HOLD not in await actions.offered(actions.Where(uow, case, chat_id=MEMBER_1))
    clock.advance(timedelta(days=2))
    assert await scheduler.run_due(domain) == 0
    async with domain.unit() as uow:
        case = await _case(uow, case_id)
        resident = await uow.session.get(lifecycle.User, case.resident_id)
        assert resident is not None
        await lifecycle.resident_message(uow, resident, case, "The one by the gate")
        assert case.held_since is None
        assert case.resolve_by == resolve_by + timedelta(days=2)
        # Asked again and never answered: after `answer_wait` the clock runs again.
        await lifecycle.ask(uow, MEMBER_1, case, "Still broken?")
        asked_at, resolve_by = uow.now, case.resolve_by
    clock.advance(domain.settings.answer_wait + timedelta(minutes=1))
    assert await scheduler.run_due(domain) >= 1
    async with domain.unit() as uow:
        case = await _case(uow, case_id)
        assert case.held_since is None and case.status == "needs_info"
        assert case.resolve_by == resolve_by + (clock.now() - asked_at)
        assert (await _kinds(uow, case))[-1] == "answer_wait_over"


async def test_a_hold_approved_during_a_question_keeps_the_time_already_waited(
    domain: Domain, clock: ManualClock
) -> None:
    async with domain.unit() as uow:
        case = await _accepted(uow)
        case_id, resolve_by = case.id, case.resolve_by
        assert resolve_by is not None
        await actions.perform(uow, MEMBER_1, case, HOLD, "resident", 2, "Needs the key")
        await lifecycle.ask(uow, MEMBER_1, case, "When are you home?")
    clock.advance(timedelta(hours=5))
    async with domain.unit() as uow:
        case = await _case(uow, case_id)
        await actions.perform(uow, LEADER, case, APPROVE)
        assert case.resolve_by == resolve_by + timedelta(hours=5)
        assert case.held_reason == "resident" and case.held_since == uow.now


async def test_the_official_rate_differs_from_ours_exactly_by_the_deferred_cases(
    domain: Domain, clock: ManualClock
) -> None:
    """Five cases, the same deadline: A on time; B late; C extended and on time; D held,
    resumed and on time within its moved deadline; E extended and still late. Ours: 3 of 5.
    Official: 1 of (5 − 3)."""
    async with domain.unit() as uow:
        a, b, c, d, e = [await _accepted(uow) for _ in range(5)]
        ids = [x.id for x in (a, b, c, d, e)]
        deadline = a.resolve_by
        assert deadline is not None and all(x.resolve_by == deadline for x in (b, c, d, e))
        await lifecycle.resolve(uow, MEMBER_1, a, "Fixed")
        for x in (c, e):
            await actions.perform(uow, MEMBER_1, x, EXTEND, 2, "Contractor")
            await actions.perform(uow, LEADER, x, APPROVE)
        await actions.perform(uow, MEMBER_1, d, HOLD, "parts", 3, "Pump")
        await actions.perform(uow, LEADER, d, APPROVE)
    clock.advance(timedelta(hours=6))
    async with domain.unit() as uow:
        await actions.perform(uow, MEMBER_1, await _case(uow, ids[3]), RELEASE)
    clock.advance(deadline - clock.now() + timedelta(hours=1))  # past the original deadline
    async with domain.unit() as uow:
        for case_id in ids[1:4]:
            await lifecycle.resolve(uow, MEMBER_1, await _case(uow, case_id), "Fixed")
    clock.advance(timedelta(days=3))  # past E's extended deadline too
    async with domain.unit() as uow:
        await lifecycle.resolve(uow, MEMBER_1, await _case(uow, ids[4]), "Fixed")
        on_time = {
            c.id: c.resolved_at <= c.resolve_by
            for c in (await uow.session.execute(select(Case).where(Case.id.in_(ids)))).scalars()
        }
    assert [on_time[i] for i in ids] == [True, False, True, True, False]

    figures = (await Dashboard(domain).community()).figures
    assert (figures.on_time.part, figures.on_time.whole) == (3, 5)
    assert figures.deferred == 3
    assert (figures.official_on_time.part, figures.official_on_time.whole) == (1, 2)
    assert figures.on_time.whole - figures.official_on_time.whole == figures.deferred

    async with domain.unit() as uow:
        (row,) = [r for r in await queues.assessment(uow, LEADER) if r["id"] == MEMBER_1]
    assert row["within_deadline"] == 3 / 5 and row["official_within_deadline"] == 1 / 2
    assert row["deferred"] == 3 and row["held"] == 1

    names = [name for name, _, _ in MONTH_FIELDS]
    month = [
        r for r in await grid_months(domain) if r[0] == "xingfu-1" and r[names.index("reported")]
    ]
    assert len(month) == 1
    cells = dict(zip(names, month[0], strict=True))
    assert (cells["due"], cells["deferred"], cells["official_on_time"]) == (5, 3, 1)


async def test_the_public_sees_the_reason_category_never_the_note(
    domain: Domain, clock: ManualClock, client: TestClient
) -> None:
    async with domain.unit() as uow:
        case = await _accepted(uow)
        human_id, case_id = case.human_id or "", case.id
        await actions.perform(uow, MEMBER_1, case, HOLD, "parts", 4, NOTE)
        await actions.perform(uow, LEADER, case, APPROVE)
        extended = await _accepted(uow)
        await actions.perform(uow, MEMBER_1, extended, EXTEND, 2, NOTE)
        await actions.perform(uow, LEADER, extended, APPROVE)
    public = await find_public_case(domain, human_id)
    assert public is not None and public.hold_reason == "parts"
    assert [e.kind for e in public.timeline][-1] == "on_hold_parts"

    page = await (await client.get(f"/cases/{human_id}", headers={"Accept-Language": "en"})).text()
    assert "waiting for parts" in page.lower() and "MARKER-HOLD-4K" not in page
    zh = await (await client.get(f"/cases/{human_id}", headers={"Accept-Language": "zh"})).text()
    assert "等待配件" in zh and "MARKER-HOLD-4K" not in zh
    response = await client.get(f"/open311/v2/requests/{human_id}.json")
    (body,) = await response.json()
    assert "waiting for parts" in body["status_notes"] and "MARKER" not in body["status_notes"]
    for path in ("/open311/v2/requests.json", "/open311/v2/requests.xml", "/data/cases.csv"):
        text = await (await client.get(path)).text()
        assert "MARKER-HOLD-4K" not in text and "13812345678" not in text, path

    clock.advance(timedelta(hours=2))
    async with domain.unit() as uow:
        await actions.perform(uow, MEMBER_1, await _case(uow, case_id), RELEASE)
        kinds = [
            k
            for (k,) in await uow.session.execute(
                select(CaseEvent.kind).where(CaseEvent.case_id == case_id)
            )
        ]
        assert "hold_asked" in kinds and "held" in kinds and "hold_ended" in kinds
    public = await find_public_case(domain, human_id)
    assert public is not None and public.hold_reason is None
    assert [e.kind for e in public.timeline][-2:] == ["on_hold_parts", "resumed"]
    assert "hold_asked" not in [e.kind for e in public.timeline]
    response = await client.get(f"/open311/v2/requests/{human_id}.json")
    assert (await response.json())[0]["status_notes"] is None
