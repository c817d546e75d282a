"""Proposals in the domain: thresholds from the grid map, one support each held by the store,
the weekly limit and text lengths, how answers count (on time, late, unanswered), /forget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from unit_helpers import new_resident

from bot.services import scheduler
from bot.services.participation import proposals as ps
from bot.services.participation.proposals import ProposalError
from bot.services.people.residents import forget
from bot.services.shared.domain import Domain
from bot.store.models import ProposalSupport
from routing.gridmap import GridMap, GridMapError, ProposalRules

TEXT = "Please fit motion-sensor lights in the stairwells of building 3."


def test_threshold_is_the_share_with_a_floor() -> None:
    rules = ProposalRules(share=0.02, floor=5)
    assert ps.threshold_for(rules, 0) == 5
    assert ps.threshold_for(rules, 250) == 5  # 2% of 250 is 5
    assert ps.threshold_for(rules, 251) == 6  # 5.02 rounds up
    assert ps.threshold_for(rules, 1000) == 20
    assert ps.threshold_for(ProposalRules(share=0.01, floor=100), 1_000_000) == 10_000


def _map(proposals: object) -> dict:
    return {
        "communities": [
            {
                "id": "c1",
                "proposals": proposals,
                "grids": [{"id": "g1", "buildings": [{"id": "b1", "name": "B1"}]}],
            }
        ]
    }


def test_the_grid_map_sets_and_checks_the_rules() -> None:
    gm = GridMap.from_dict(
        _map({"share": 0.05, "floor": 20, "window": "10d", "answer_within": "3d", "per_week": 1})
    )
    rules = gm.communities["c1"].proposals
    assert (rules.share, rules.floor, rules.per_week) == (0.05, 20, 1)
    assert rules.window == timedelta(days=10) and rules.answer_within == timedelta(days=3)
    assert GridMap.from_dict(_map(None)).communities["c1"].proposals == ProposalRules()
    for bad in ({"share": 0}, {"share": 2}, {"floor": 0}, {"per_week": "x"}, {"window": "-1d"}):
        with pytest.raises(GridMapError):
            GridMap.from_dict(_map(bad))


def test_answer_state_counts_on_time_late_unanswered_waiting() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    due = now - timedelta(days=1)

    def row(**kw: object) -> SimpleNamespace:
        base = {"reached_at": now - timedelta(days=9), "answered_at": None}
        base.update(answered_late=False, answer_due=due)
        base.update(kw)
        return SimpleNamespace(**base)

    assert ps.answer_state(row(reached_at=None), now) is None
    assert ps.answer_state(row(answered_at=due - timedelta(hours=1)), now) == "on_time"
    assert ps.answer_state(row(answered_at=now, answered_late=True), now) == "late"
    assert ps.answer_state(row(), now) == "unanswered"
    assert ps.answer_state(row(answer_due=now + timedelta(days=1)), now) == "waiting"


@pytest.mark.db
async def test_limits_and_lengths_have_clear_refusals(domain: Domain) -> None:
    async with domain.unit() as uow:
        author = await new_resident(uow, verified=True)
        unverified = await new_resident(uow)
        with pytest.raises(ProposalError) as refused:
            await ps.create(uow, unverified, title="Lights", text=TEXT)
        assert refused.value.key == "proposal_not_eligible"
        with pytest.raises(ProposalError) as refused:
            await ps.create(uow, author, title="x" * 121, text=TEXT)
        assert refused.value.key == "proposal_title_long" and refused.value.data["length"] == 121
        with pytest.raises(ProposalError) as refused:
            await ps.create(uow, author, title="Lights", text="too short")
        assert refused.value.key == "proposal_text_short"
        for i in range(3):
            await ps.create(uow, author, title=f"Lights {i}", text=TEXT)
        with pytest.raises(ProposalError) as refused:
            await ps.create(uow, author, title="One more", text=TEXT)
        assert refused.value.key == "proposal_week_limit" and refused.value.data["limit"] == 3
    domain.clock.advance(timedelta(days=7, minutes=1))  # type: ignore[attr-defined]
    async with domain.unit() as uow:
        author = await uow.session.get(type(author), author.id)
        assert (await ps.create(uow, author, title="Next week", text=TEXT)).id


async def test_the_scheduler_wakes_for_a_window_end_and_an_answer_due(domain: Domain) -> None:
    """The scheduler sleeps until the earliest deadline it reads (at most a minute): a
    proposal's window end, and once it reached its threshold the committee's answer due, are
    among them, so neither waits for the longest sleep."""
    async with domain.unit() as uow:
        author = await new_resident(uow, verified=True)
        p = await ps.create(uow, author, title="Lights", text=TEXT)
        window_ends = p.window_ends_at
    assert await scheduler.next_due(domain) == window_ends
    answer_due = domain.clock.now() + timedelta(days=2)
    async with domain.unit() as uow:
        p = await ps.get(uow, p.id)
        p.status, p.answer_due = ps.Stage.REACHED, answer_due
    assert await scheduler.next_due(domain) == answer_due
    domain.clock.advance(timedelta(days=2, seconds=1))  # type: ignore[attr-defined]
    assert await ps.run_due(domain) == 1  # marked late: nothing waits any more
    assert await scheduler.next_due(domain) is None


@pytest.mark.db
async def test_one_support_each_held_by_the_store_and_kept_after_forget(domain: Domain) -> None:
    async with domain.unit() as uow:
        author = await new_resident(uow, verified=True)
        neighbour = await new_resident(uow, verified=True, building="xf-2")
        p = await ps.create(uow, author, title="Lights", text=TEXT)
        assert await ps.support(uow, neighbour, p) == "proposal_supported"
        assert await ps.support(uow, neighbour, p) == "proposal_already_supported"
        assert p.supports == 1
        pid, nid = p.id, neighbour.id
    # the constraint itself: a second row for the same resident is refused by the store
    async with domain.sessions() as session:
        session.add(
            ProposalSupport(proposal_id=pid, user_id=nid, grid_id="xingfu-1", at=p.created_at)
        )
        with pytest.raises(IntegrityError):
            await session.commit()
    async with domain.unit() as uow:
        neighbour = await uow.session.get(type(neighbour), nid)
        await forget(uow, neighbour)
    async with domain.unit() as uow:
        rows = (
            await uow.session.execute(
                select(ProposalSupport.user_id).where(ProposalSupport.proposal_id == pid)
            )
        ).all()
        assert rows == [(None,)]  # counted, with nobody behind it
        other = await new_resident(uow, verified=True, building="xf-3")
        p = await ps.get(uow, pid)
        assert await ps.support(uow, other, p) == "proposal_supported"
        assert p.supports == 2
        count = (
            await uow.session.execute(
                select(func.count()).where(ProposalSupport.proposal_id == pid)
            )
        ).scalar_one()
        assert count == 2


@pytest.mark.db
async def test_the_participation_figure_matches_a_hand_count(domain: Domain) -> None:
    from unit_helpers import MEMBER_1, file_case

    from bot.services.participation import volunteers as vol
    from bot.services.public.participation import SOURCES, participation
    from bot.store.models import Volunteer, VolunteerClaim

    assert [s.name for s in SOURCES] == [
        "reported",
        "proposed",
        "supported",
        "voted",
        "commented",
        "volunteered",
    ]
    async with domain.unit() as uow:
        grid1 = [await new_resident(uow, verified=True) for _ in range(6)]
        grid2 = [await new_resident(uow, verified=True, building="xf-7") for _ in range(2)]
        await new_resident(uow)  # unverified: neither part nor whole
        await file_case(uow, grid1[0], as_category="facilities")
        await file_case(uow, grid1[0], "Rubbish piled at the gate", as_category="sanitation")
        p = await ps.create(uow, grid1[1], title="Lights", text=TEXT)
        await ps.support(uow, grid1[0], p)  # reported and supported: counted once
        await ps.support(uow, grid1[2], p)
        await ps.support(uow, grid2[0], p)
        # resident 3 volunteered: an attendance the organiser confirmed
        uow.session.add(Volunteer(user_id=grid1[3].id, joined_at=uow.now))
        task = await vol.post_task(
            uow, MEMBER_1, title="Clean-up", capacity=2, hours=1.0, grid_id="xingfu-1"
        )
        assert await vol.claim(uow, grid1[3].id, task.id) == "claimed"
        claim_id = (
            await uow.session.execute(
                select(VolunteerClaim.id).where(VolunteerClaim.user_id == grid1[3].id)
            )
        ).scalar_one()
        assert (await vol.confirm(uow, MEMBER_1, claim_id))[0] == "confirmed"
        month = uow.now.astimezone(uow.routing.gridmap.tz).strftime("%Y-%m")
    figure = await participation(domain, ["xingfu-1", "xingfu-2"], month, minimum=3)
    one, two = figure["xingfu-1"].share, figure["xingfu-2"].share
    # grid 1: residents 0 (reported, supported), 1 (proposed), 2 (supported), 3 (volunteered)
    assert (one.part, one.whole, one.enough) == (4, 6, True)
    assert one.value == pytest.approx(4 / 6)
    assert (two.part, two.whole, two.enough, two.value) == (1, 2, False, None)  # too few
    last = await participation(domain, ["xingfu-1"], "2026-01", minimum=3)
    assert last["xingfu-1"].share.part == 0
