"""Consultations (议事协商) from the committee's draft to the results
(bot/services/participation/consultations.py).

The committee's draft becomes a consultation that opens now or later (or first collects
proposals), delivers one ballot to every verified resident of its audience, takes one vote
each — on a secret ballot without any row saying who chose what — and gives results only
once it is closed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from unit_helpers import COMMITTEE, MEMBER_1, new_resident, new_user_id, outbox, texts_to

from bot.clock import ManualClock
from bot.services.participation import consultations as cs
from bot.services.participation.consultations import ConsultError
from bot.services.shared.domain import Domain, UnitOfWork
from bot.services.shared.outbox import Button
from bot.store.models import (
    Consultation,
    ConsultBallot,
    ConsultComment,
    ConsultTally,
    InboxUpdate,
    OutboxMessage,
    User,
)

OPTIONS = ["Paint the bike shed green", "Paint it blue", "Leave it as it is"]


@pytest.fixture(autouse=True)
def no_chart_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The results chart (matplotlib, tests/test_chart.py) is not the point here: a stand-in
    image keeps these tests fast; the results text and the photo's place are still checked."""
    monkeypatch.setattr(cs, "bar_chart", lambda text: b"\x89PNG stand-in")


def draft(now: datetime, **changes: Any) -> dict[str, Any]:
    """The committee's draft as the chat's guided dialogue leaves it (handlers/participation/consultations.py)."""
    values: dict[str, Any] = {
        "question": "Which colour for the bike shed?",
        "options": list(OPTIONS),
        "multiple": False,
        "grids": ["xingfu-1"],
        "secret": False,
        "change": False,
        "live": False,
        "opens_at": now.isoformat(),
        "closes_at": (now + timedelta(days=3)).isoformat(),
    }
    values.update(changes)
    return values


async def electorate(uow: UnitOfWork) -> dict[str, User]:
    """Voters and non-voters of a grid-1 consultation."""
    people = {
        "voter_en": await new_resident(uow, lang="en", verified=True),
        "voter_zh": await new_resident(uow, lang="zh", building="xf-2", verified=True),
        "unverified": await new_resident(uow, verified=False),
        "other_grid": await new_resident(uow, building="ak-1", verified=True),
        "erased": await new_resident(uow, verified=True),
        "blocked": await new_resident(uow, verified=True),
    }
    people["erased"].erased_at = uow.now
    people["blocked"].unreachable = True
    await uow.session.flush()
    return people


async def publish(uow: UnitOfWork, **changes: Any) -> Consultation:
    c = cs.create(uow, COMMITTEE, draft(uow.now, **changes))
    await cs.publish(uow, c)
    return c


async def ballots_sent(uow: UnitOfWork, c: Consultation) -> dict[int, OutboxMessage]:
    await uow.session.flush()
    rows = await uow.session.execute(
        select(OutboxMessage).where(OutboxMessage.campaign == f"consult:{c.id}")
    )
    return {m.chat_id: m for m in rows.scalars()}


async def test_published_now_it_opens_with_one_ballot_per_eligible_resident(
    domain: Domain,
) -> None:
    async with domain.unit() as uow:
        people = await electorate(uow)
        c = await publish(uow)
        assert c.status == "open"
        # Eligible: verified, consented, living in the audience's grids, not erased. A
        # resident who blocked the bot counts in the electorate but gets no ballot now.
        assert c.eligible == {"xingfu-1": 3}
        sent = await ballots_sent(uow, c)
        assert set(sent) == {people["voter_en"].id, people["voter_zh"].id}
        assert "Which colour" in sent[people["voter_en"].id].payload["text"]
        assert "议事协商" in sent[people["voter_zh"].id].payload["text"]
        assert sent[people["voter_en"].id].ref == f"cv:{c.id}:{people['voter_en'].id}"


async def test_scheduled_it_opens_and_closes_on_time(domain: Domain, clock: ManualClock) -> None:
    async with domain.unit() as uow:
        people = await electorate(uow)
        c = await publish(
            uow,
            opens_at=(uow.now + timedelta(hours=2)).isoformat(),
            closes_at=(uow.now + timedelta(days=1)).isoformat(),
        )
        assert c.status == "scheduled" and await ballots_sent(uow, c) == {}
        with pytest.raises(ConsultError) as refused:
            await cs.vote(uow, people["voter_en"], c, [0], update_id=1)
        assert refused.value.key == "consult_not_open"
        cid = c.id
    assert await cs.run_due(domain) == 0  # not yet
    clock.advance(timedelta(hours=2))
    assert await cs.run_due(domain) == 1
    async with domain.unit() as uow:
        c = await cs.get(uow, cid)
        assert c.status == "open" and len(await ballots_sent(uow, c)) == 2
        assert (
            await cs.vote(uow, people["voter_en"], c, [1], update_id=2) == "consult_vote_recorded"
        )
    clock.advance(timedelta(days=1))
    assert await cs.run_due(domain) == 1
    assert await cs.run_due(domain) == 0  # closed once
    async with domain.unit() as uow:
        c = await cs.get(uow, cid)
        assert c.status == "closed" and c.results["ballots"] == 1
        with pytest.raises(ConsultError) as refused:
            await cs.vote(uow, people["voter_zh"], c, [0], update_id=3)
        assert refused.value.key == "consult_not_open"


async def test_one_ballot_per_resident(domain: Domain) -> None:
    async with domain.unit() as uow:
        people = await electorate(uow)
        c = await publish(uow)
        voter = people["voter_en"]
        assert await cs.vote(uow, voter, c, [0], update_id=1) == "consult_vote_recorded"
        with pytest.raises(ConsultError) as refused:
            await cs.vote(uow, voter, c, [1], update_id=2)
        assert refused.value.key == "consult_already_voted"
        ballot = await cs.ballot_of(uow, c, voter)
        assert ballot is not None and ballot.choices == [0]


async def test_a_named_ballot_may_be_changed_when_the_committee_allows_it(domain: Domain) -> None:
    async with domain.unit() as uow:
        people = await electorate(uow)
        c = await publish(uow, change=True)
        voter = people["voter_en"]
        await cs.vote(uow, voter, c, [0], update_id=1)
        assert await cs.vote(uow, voter, c, [2], update_id=2) == "consult_vote_changed"
        votes, ballots, _ = await cs.counts(uow, c)
        assert (votes, ballots) == ([0, 0, 1], 1)


@pytest.mark.parametrize(
    ("who", "key"),
    [
        ("unverified", "consult_not_eligible"),
        ("other_grid", "consult_not_eligible"),
        ("erased", "consult_not_eligible"),
        ("nobody", "consult_not_eligible"),
    ],
)
async def test_only_the_audience_votes(domain: Domain, who: str, key: str) -> None:
    async with domain.unit() as uow:
        people = await electorate(uow)
        c = await publish(uow)
        with pytest.raises(ConsultError) as refused:
            await cs.vote(uow, people.get(who), c, [0], update_id=1)
        assert refused.value.key == key
        assert (await cs.counts(uow, c))[1] == 0


@pytest.mark.parametrize("choices", [[], [3], [-1], [0, 1]], ids=["none", "past", "neg", "two"])
async def test_a_vote_must_name_one_of_the_options(domain: Domain, choices: list[int]) -> None:
    async with domain.unit() as uow:
        people = await electorate(uow)
        c = await publish(uow)
        with pytest.raises(ConsultError) as refused:
            await cs.vote(uow, people["voter_en"], c, choices, update_id=1)
        assert refused.value.key == "consult_choose_first"
        assert await cs.ballot_of(uow, c, people["voter_en"]) is None


async def test_several_choices_where_the_committee_allows_them(domain: Domain) -> None:
    async with domain.unit() as uow:
        people = await electorate(uow)
        c = await publish(uow, multiple=True)
        await cs.vote(uow, people["voter_en"], c, [0, 2], update_id=1)
        await cs.vote(uow, people["voter_zh"], c, [2], update_id=2)
        assert (await cs.counts(uow, c))[:2] == ([1, 0, 2], 2)


async def test_a_secret_ballot_keeps_who_apart_from_what(domain: Domain) -> None:
    async with domain.unit() as uow:
        people = await electorate(uow)
        c = await publish(uow, secret=True, change=True, multiple=True)
        assert not c.allow_change  # a secret vote cannot be taken back
        voter = people["voter_en"]
        ref = cs.ballot_ref(c, voter.id)
        # The press as it arrived, and an interim selection shown on the ballot.
        update_id = 5001
        uow.session.add(
            InboxUpdate(
                update_id=update_id,
                user_id=voter.id,
                received_at=uow.now,
                status="pending",
                attempts=0,
                payload={"callback_query": {"from": {"id": voter.id}, "data": f"v:{c.id}:s:5"}},
            )
        )
        cs.show_selection(uow, c, voter, 0b101)
        await cs.vote(uow, voter, c, [0, 2], update_id=update_id)
        await cs.vote(uow, people["voter_zh"], c, [1], update_id=update_id + 1)
        await uow.session.flush()
        ballots = (
            (
                await uow.session.execute(
                    select(ConsultBallot).where(ConsultBallot.consultation_id == c.id)
                )
            )
            .scalars()
            .all()
        )
        assert {b.user_id for b in ballots} == {voter.id, people["voter_zh"].id}
        assert all(b.choices is None for b in ballots)  # that they voted, not what
        tallies = dict(
            (
                await uow.session.execute(
                    select(ConsultTally.option, ConsultTally.votes).where(
                        ConsultTally.consultation_id == c.id
                    )
                )
            ).all()
        )
        assert tallies == {0: 1, 1: 1, 2: 1}
        stored = await uow.session.get(InboxUpdate, update_id)
        assert stored is not None and f"v:{c.id}" not in str(stored.payload)
        interim = [
            m
            for m in await outbox(uow, voter.id)
            if m.edit_ref == ref and m.method == "editMessageText"
        ]
        assert interim == []
        with pytest.raises(ConsultError) as refused:
            await cs.vote(uow, voter, c, [1], update_id=update_id + 2)
        assert refused.value.key == "consult_already_voted"
        # The confirmation names no choice.
        mark = max(m.id for m in await outbox(uow))
        cs.confirm_ballot(uow, c, voter, [0, 2])
        confirmation = " ".join(await texts_to(uow, voter.id, after=mark))
        assert not any(option in confirmation for option in OPTIONS)


async def test_results_only_after_the_close(domain: Domain) -> None:
    async with domain.unit() as uow:
        people = await electorate(uow)
        c = await publish(uow)
        await cs.vote(uow, people["voter_en"], c, [0], update_id=1)
        await cs.vote(uow, people["voter_zh"], c, [0], update_id=2)
        for early in (cs.visible_results(uow, c), cs.export_csv(uow, c)):
            with pytest.raises(ConsultError) as refused:
                await early
            assert refused.value.key == "consult_results_after_close"
        mark = max(m.id for m in await outbox(uow))
        await cs.close_now(uow, c)
        assert c.status == "closed" and c.closes_at == uow.now
        results = await cs.visible_results(uow, c)
        assert [o["votes"] for o in results["options"]] == [2, 0, 0]
        assert (results["ballots"], results["eligible"]) == (2, 3)
        assert results["turnout"] == pytest.approx(66.7)
        assert results["grids"] == [
            {"grid": "xingfu-1", "ballots": 2, "eligible": 3, "turnout": pytest.approx(66.7)}
        ]
        # Every voter and the committee get the results (text and chart), each in their language.
        for person, words in ((people["voter_en"], "Results"), (people["voter_zh"], "结果")):
            sent = await outbox(uow, person.id, after=mark)
            assert any(words in (m.payload.get("text") or "") for m in sent)
            assert any(m.method == "sendPhoto" for m in sent)
        assert await outbox(uow, COMMITTEE, after=mark)
        assert await outbox(uow, people["unverified"].id, after=mark) == []
        assert "Paint the bike shed green" in (await cs.export_csv(uow, c)).decode("utf-8-sig")
        with pytest.raises(ConsultError):
            await cs.vote(uow, people["blocked"], c, [0], update_id=3)


async def test_live_counts_show_while_open_as_non_binding(domain: Domain) -> None:
    async with domain.unit() as uow:
        people = await electorate(uow)
        c = await publish(uow, live=True)
        await cs.vote(uow, people["voter_en"], c, [1], update_id=1)
        assert [o["votes"] for o in (await cs.visible_results(uow, c))["options"]] == [0, 1, 0]


async def test_a_closed_consultation_does_not_close_or_open_again(domain: Domain) -> None:
    async with domain.unit() as uow:
        await electorate(uow)
        c = await publish(uow)
        await cs.close_now(uow, c)
        results = dict(c.results)
        for again in (cs.close(uow, c), cs.open_consultation(uow, c)):
            with pytest.raises(ConsultError):
                await again
        assert c.status == "closed" and c.results == results
        with pytest.raises(ConsultError):
            await cs.set_options_and_open(uow, c, ["a", "b"])


async def test_proposals_first_then_options_then_ballots(domain: Domain) -> None:
    async with domain.unit() as uow:
        people = await electorate(uow)
        c = await publish(uow, options=[])
        assert c.status == "proposals"
        invited = await ballots_sent(uow, c)
        assert {people["voter_en"].id, people["voter_zh"].id} <= set(invited)
        assert not {people[p].id for p in ("unverified", "other_grid", "erased")} & set(invited)
        with pytest.raises(ConsultError):
            await cs.vote(uow, people["voter_en"], c, [0], update_id=1)
        await cs.add_comment(uow, people["voter_en"], c, "proposal", "A bike rack instead")
        await cs.set_options_and_open(uow, c, ["Green", "Bike rack"])
        assert c.status == "open" and c.options == ["Green", "Bike rack"]
        assert (
            await cs.vote(uow, people["voter_zh"], c, [1], update_id=2) == "consult_vote_recorded"
        )
        with pytest.raises(ConsultError) as refused:
            await cs.set_options_and_open(uow, c, ["a", "b"])
        assert refused.value.key == "consult_wrong_state"


async def test_comments_are_pseudonymous_grouped_and_closed_with_the_vote(domain: Domain) -> None:
    async with domain.unit() as uow:
        people = await electorate(uow)
        c = await publish(uow)
        voter = people["voter_en"]
        await cs.vote(uow, voter, c, [1], update_id=1)
        await cs.add_comment(uow, voter, c, "comment", "Blue matches the gate")
        await cs.add_comment(uow, people["voter_zh"], c, "comment", "无所谓")
        with pytest.raises(ConsultError):
            await cs.add_comment(uow, people["other_grid"], c, "comment", "Not my grid")
        await uow.session.flush()
        groups = await cs.comment_groups(uow, c)
        assert [(g.option, [i.text for i in g.items]) for g in groups] == [
            ("Paint it blue", ["Blue matches the gate"]),
            (None, ["无所谓"]),
        ]
        assert groups[0].items[0].author == voter.pseudonym != str(voter.id)
        await cs.close_now(uow, c)
        with pytest.raises(ConsultError) as refused:
            await cs.add_comment(uow, voter, c, "comment", "Too late")
        assert refused.value.key == "consult_not_open"


async def test_a_secret_ballots_comments_name_nobody(domain: Domain) -> None:
    async with domain.unit() as uow:
        people = await electorate(uow)
        c = await publish(uow, secret=True)
        voter = people["voter_en"]
        await cs.vote(uow, voter, c, [1], update_id=1)
        await cs.add_comment(uow, voter, c, "comment", "Blue please")
        await uow.session.flush()
        comment = (
            await uow.session.execute(
                select(ConsultComment).where(ConsultComment.consultation_id == c.id)
            )
        ).scalar_one()
        assert (comment.author, comment.option) == (None, None)


async def test_only_the_committee_runs_consultations(domain: Domain) -> None:
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        assert cs.is_committee(uow, COMMITTEE)
        for person in (MEMBER_1, resident.id, new_user_id()):
            assert not cs.is_committee(uow, person)


async def test_the_ballot_offers_every_option_and_a_comment(domain: Domain) -> None:
    async with domain.unit() as uow:
        await electorate(uow)
        c = await publish(uow)
        keyboard = cs.ballot_keyboard(c)
        data = [b.data for row in keyboard for b in row]
        assert data == [f"v:{c.id}:o:{i}" for i in range(len(OPTIONS))] + [f"v:{c.id}:c"]
        assert all(isinstance(b, Button) and len(b.data) <= 64 for row in keyboard for b in row)
