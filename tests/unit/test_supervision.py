"""Supervision (督办): a supervisor flags someone else's open case with a deadline of its own and a
reason; the owner is told, every card, list and page marks it, a missed supervision deadline
escalates the case once and is counted, and the case weighs more in the assessment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dialogue_helpers import press, say
from page_helpers import get, pages
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
from bot.services.cases import actions, lifecycle, queues, views
from bot.services.cases.actions import Where
from bot.services.cases.lifecycle import CaseActionError
from bot.services.cases.status import Status
from bot.services.public.dashboard import Dashboard
from bot.services.shared.domain import Domain, UnitOfWork
from bot.store.models import Case

SUPERVISE = actions.BY_NAME["supervise"]
REASON = "Third complaint this month about this lamp"


async def _open_case(uow: UnitOfWork) -> Case:
    return await file_case(uow, await new_resident(uow), as_category="facilities")


def _codes(keyboard: list) -> list[str]:  # type: ignore[type-arg]
    return [b.data for row in keyboard for b in row]


async def test_a_leader_supervises_the_owner_is_told_and_every_view_marks_it(
    domain: Domain, clock: ManualClock
) -> None:
    async with domain.unit() as uow:
        case = await _open_case(uow)
        assert case.owner_id == MEMBER_1
        # The owner's card never offers it; a leader's copy (`/case`) does.
        assert not any(
            c.startswith("c:sup:") for c in _codes(await views.staff_keyboard(uow, case, MEMBER_1))
        )
        assert any(
            c.startswith("c:sup:") for c in _codes(await views.staff_keyboard(uow, case, LEADER))
        )
        case_id, human_id = case.id, case.human_id
        version = case.version
        mark = await last_outbox_id(uow)

    # Through the chat: Supervise on the leader's card, a deadline, then the reason.
    async with domain.unit() as uow:
        await press(uow, LEADER, f"c:sup:{case_id}:{version}")
        card = (await outbox(uow, LEADER, after=mark))[-1]
        days = [d for _, d in buttons(card) if d.startswith("c:sdd:")]
        assert [d.rsplit(":", 1)[1] for d in days] == ["1", "3", "7"]
        await press(uow, LEADER, days[1])
        await say(uow, LEADER, REASON)
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case_id)
        assert case is not None
        assert case.supervised_by == LEADER and case.supervise_reason == REASON
        assert case.supervised_at is not None
        assert case.supervise_by == case.supervised_at + timedelta(days=3)
        event = (await events_of(uow, case))[-1]
        assert (event.kind, event.actor_id, event.note) == ("supervised", LEADER, REASON)
        # The supervisor's copy is drawn again: marked, no deadline choices, no second Supervise.
        leader_card = [m for m in await outbox(uow, LEADER, after=mark) if buttons(m)][-1]
        assert "Under supervision" in leader_card.payload["text"]  # the leader pressed in English
        assert not any(d.startswith(("c:sdd:", "c:sup:")) for _, d in buttons(leader_card))
        # Staff read the chat in the map's language (Chinese in the demo community).
        to_owner = "\n".join(await texts_to(uow, MEMBER_1, after=mark))
        assert "已被李强督办" in to_owner and REASON in to_owner
        assert "督办中" in to_owner  # the owner's card, edited in place
        # The queue marks it.
        queue_text = uow.domain.renderer.render(
            "en", "queue", cases=await queues.queue(uow, MEMBER_1), now=uow.now
        )
        assert f"{human_id}" in queue_text and "supervised until" in queue_text
        queue_zh = uow.domain.renderer.render(
            "zh", "queue", cases=await queues.queue(uow, MEMBER_1), now=uow.now
        )
        assert "🔔 督办" in queue_zh
        # Supervising it again is refused; the card no longer offers it.
        assert SUPERVISE not in await actions.offered(Where(uow, case, user_id=CENTRE))
        with pytest.raises(CaseActionError) as again:
            await actions.perform(uow, CENTRE, case, SUPERVISE, 3, "again")
        assert again.value.key == "already_supervised"

    # The public page says "under supervision", never who, why or until when.
    client = await pages(domain)
    try:
        status, html = await get(client, f"/cases/{human_id}")
        assert status == 200
        assert "Under supervision" in html
        assert REASON not in html and "李强" not in html
        status, html = await get(client, f"/cases/{human_id}", "zh")
        assert "督办中" in html
    finally:
        await client.close()


async def test_who_may_supervise_and_what_is_refused(uow: UnitOfWork) -> None:
    case = await _open_case(uow)
    for person, key in ((MEMBER_2, "not_allowed"), (MEMBER_1, "not_allowed")):
        with pytest.raises(CaseActionError) as refused:
            await actions.perform(uow, person, case, SUPERVISE, 3, REASON)
        assert refused.value.key == key
    for days, reason, key in ((2, REASON, "not_allowed"), (3, "   ", "supervise_reason_empty")):
        with pytest.raises(CaseActionError) as refused:
            await lifecycle.supervise(uow, LEADER, case, days, reason)
        assert refused.value.key == key
    assert case.supervised_at is None
    # A case the leader owns is supervised by someone else, never by its owner.
    owned = await _open_case(uow)
    await lifecycle.reassign_to(uow, LEADER, owned, LEADER, "I take it")
    assert SUPERVISE not in await actions.offered(Where(uow, owned, user_id=LEADER))
    with pytest.raises(CaseActionError):
        await actions.perform(uow, LEADER, owned, SUPERVISE, 3, REASON)
    await actions.perform(uow, CENTRE, owned, SUPERVISE, 1, REASON)
    assert owned.supervised_by == CENTRE
    # A resolved case is no longer supervised.
    resolved = await _open_case(uow)
    await lifecycle.resolve(uow, MEMBER_1, resolved, "Fixed")
    with pytest.raises(CaseActionError) as refused:
        await actions.perform(uow, LEADER, resolved, SUPERVISE, 3, REASON)
    assert refused.value.key == "case_wrong_state"


async def test_a_stale_supervise_press_changes_nothing(domain: Domain) -> None:
    async with domain.unit() as uow:
        case = await _open_case(uow)
        old_version = case.version
        await lifecycle.accept(uow, MEMBER_1, case)
        case_id = case.id
    async with domain.unit() as uow:
        await press(uow, LEADER, f"c:sup:{case_id}:{old_version}")
        await press(uow, LEADER, f"c:sdd:{case_id}:{old_version}:3")
        await say(uow, LEADER, REASON)
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case_id)
        assert case is not None and case.supervised_at is None
        assert "supervised" not in [e.kind for e in await events_of(uow, case)]


async def test_a_forged_deadline_is_refused(domain: Domain) -> None:
    async with domain.unit() as uow:
        case = await _open_case(uow)
        case_id, version = case.id, case.version
    async with domain.unit() as uow:
        await press(uow, LEADER, f"c:sup:{case_id}:{version}")
        await press(uow, LEADER, f"c:sdd:{case_id}:{version}:365")
        await say(uow, LEADER, REASON)
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case_id)
        assert case is not None and case.supervised_at is None


async def test_a_missed_supervision_deadline_escalates_once_and_is_counted(
    domain: Domain, clock: ManualClock
) -> None:
    async with domain.unit() as uow:
        case = await _open_case(uow)
        await lifecycle.accept(uow, MEMBER_1, case)
        # The usual resolution deadline is far: only supervision can escalate it tomorrow.
        case.resolve_by = uow.now + timedelta(days=30)
        await actions.perform(uow, LEADER, case, SUPERVISE, 1, REASON)
        case_id = case.id
    clock.advance(timedelta(hours=23))
    await scheduler.run_due(domain)
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case_id)
        assert case is not None and case.status == Status.ACCEPTED
        assert case.supervise_missed_at is None
    clock.advance(timedelta(hours=1, minutes=1))
    assert await scheduler.run_due(domain) >= 1
    await scheduler.run_due(domain)  # a second pass (another replica) doubles nothing
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case_id)
        assert case is not None
        assert case.status == Status.ESCALATED and case.escalation_count == 1
        assert case.supervise_missed_at is not None
        kinds = [e.kind for e in await events_of(uow, case)]
        assert kinds.count("supervision_missed") == 1 and kinds[-1] == "escalated"
        escalated = [e for e in await events_of(uow, case) if e.kind == "escalated"][0]
        assert escalated.note == "supervision"
        leader_text = "\n".join(await texts_to(uow, LEADER))
        assert "已超时（督办），升级到您这里" in leader_text
        # The assessment counts it against the owner.
        member = next(r for r in await queues.assessment(uow, LEADER) if r["id"] == MEMBER_1)
        assert (member["supervised"], member["supervision_missed"]) == (1, 1)


async def test_supervised_cases_weigh_more_in_the_assessment(uow: UnitOfWork) -> None:
    plain, supervised = await _open_case(uow), await _open_case(uow)
    await actions.perform(uow, LEADER, supervised, SUPERVISE, 7, REASON)
    weight = float(uow.routing.gridmap.category_weights.get("facilities", 1.0))
    before = next(r for r in await queues.assessment(uow, LEADER) if r["id"] == MEMBER_1)
    assert before["score"] == 0
    await lifecycle.resolve(uow, MEMBER_1, plain, "Fixed")
    one = next(r for r in await queues.assessment(uow, LEADER) if r["id"] == MEMBER_1)
    assert one["score"] == round(weight, 2)
    await lifecycle.resolve(uow, MEMBER_1, supervised, "Fixed")
    two = next(r for r in await queues.assessment(uow, LEADER) if r["id"] == MEMBER_1)
    assert two["score"] == round(weight + weight * queues.SUPERVISED_WEIGHT, 2)
    assert queues.SUPERVISED_WEIGHT == 1.5


@pytest.fixture
def domain_settings() -> dict[str, object]:
    return {"dashboard_min_cases": 3, "dashboard_cache": timedelta(0)}


async def test_the_dashboard_publishes_supervision_outcomes_from_the_minimum(
    domain: Domain, clock: ManualClock
) -> None:
    async with domain.unit() as uow:
        cases = [await _open_case(uow) for _ in range(4)]
        for case in cases:
            await actions.perform(uow, LEADER, case, SUPERVISE, 1, REASON)
        await lifecycle.resolve(uow, MEMBER_1, cases[0], "Fixed in time")
    dashboard = Dashboard(domain)
    figures = (await dashboard.grid("xingfu-1")).figures.supervision
    assert (figures.supervised, figures.on_time, figures.late, figures.open) == (4, 1, 0, 3)
    clock.advance(timedelta(days=2))
    async with domain.unit() as uow:
        late = await uow.session.get(Case, cases[1].id)
        assert late is not None
        await lifecycle.resolve(uow, MEMBER_1, late, "Fixed late")
    await scheduler.run_due(domain)  # the two still open missed it: escalated, counted
    figures = (await dashboard.grid("xingfu-1")).figures.supervision
    assert (figures.supervised, figures.on_time, figures.late, figures.open) == (4, 1, 1, 2)
    assert figures.missed == 2 and figures.enough
    client = await pages(domain)
    try:
        _, html = await get(client, "/grids/xingfu-1")
        assert "1 resolved by the supervision deadline · 1 late · 2 open · 2 escalated" in html
        _, html = await get(client, "/grids/xingfu-2")  # none supervised there: no card
        assert 'data-figure="supervised"' not in html
        _, html = await get(client, "/about/numbers")
        assert 'id="supervision"' in html and 'id="verified"' in html
        _, html = await get(client, "/about/numbers", "zh")
        assert "督办" in html and "Wilson" in html
    finally:
        await client.close()


async def test_cancel_mid_supervision_puts_the_cards_buttons_back(domain: Domain) -> None:
    async with domain.unit() as uow:
        case = await _open_case(uow)
        case_id, version = case.id, case.version
        mark = await last_outbox_id(uow)
    async with domain.unit() as uow:
        await press(uow, LEADER, f"c:sup:{case_id}:{version}")
        await press(uow, LEADER, f"c:sdd:{case_id}:{version}:7")
        await say(uow, LEADER, "/cancel")
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case_id)
        assert case is not None and case.supervised_at is None
        sent = await outbox(uow, LEADER, after=mark)
        assert "Cancelled the supervision" in str(sent[-2].payload.get("text", ""))
        cards = [m for m in sent if any(d.startswith("c:") for _, d in buttons(m))]
        assert any(d.startswith("c:sup:") for _, d in buttons(cards[-1]))  # its own buttons


async def test_a_supervised_case_reopened_after_its_resolution_counts_as_open(
    domain: Domain, clock: ManualClock
) -> None:
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        cases = [await file_case(uow, resident, as_category="facilities") for _ in range(3)]
        for case in cases:
            await actions.perform(uow, LEADER, case, SUPERVISE, 3, REASON)
            await lifecycle.resolve(uow, MEMBER_1, case, "Fixed")
        await lifecycle.reopen(uow, resident, cases[0], "Still dark")
    figures = (await Dashboard(domain).grid("xingfu-1")).figures.supervision
    assert (figures.supervised, figures.on_time, figures.late, figures.open) == (3, 2, 0, 1)
