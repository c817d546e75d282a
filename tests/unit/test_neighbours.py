"""Learning at once: a settled case joins the classifier's neighbours in the same transaction."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select
from unit_helpers import LEADER, MEMBER_1, file_case, new_resident

from bot.services.cases import labels, lifecycle, neighbours
from bot.services.shared.domain import Domain
from bot.store.models import CaseNeighbour
from routing import voter as voters
from tests.support.voters import voting_classifier

# Local words the packaged corpus does not know ("the Pumpkin": the estate's old boiler).
FIRST = "The Pumpkin keeps wheezing next to staircase B every night"
AGAIN = "the pumpkin by staircase B is wheezing again tonight"


@pytest.fixture
def voting(domain: Domain) -> Domain:
    """The domain with the second voter (loaded once per process; skipped without it)."""
    domain.classifier = voting_classifier()  # shared and never mutated: neighbours come per call
    return domain


async def _rows(uow, case_id: int) -> list[CaseNeighbour]:
    return list(
        (await uow.session.execute(select(CaseNeighbour).where(CaseNeighbour.case_id == case_id)))
        .scalars()
        .all()
    )


async def _first_settled(domain: Domain):  # type: ignore[no-untyped-def]
    """A resident's case about FIRST, settled as "facilities" at triage; (resident, case)."""
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        case = await file_case(uow, resident, FIRST, as_category=None)
        await lifecycle.triage_set_category(uow, LEADER, case, "facilities")
    return resident, case


async def test_a_settled_cases_words_are_read_right_next_time(voting: Domain) -> None:
    async with voting.unit() as uow:
        resident = await new_resident(uow)
        assert (await neighbours.classify(uow, AGAIN)).category != "facilities"
        case = await file_case(uow, resident, FIRST, as_category=None)  # triage
        await lifecycle.triage_set_category(uow, LEADER, case, "facilities")
        # in the transaction that settled it: the entry is there, and already votes
        (row,) = await _rows(uow, case.id)
        assert row.category == "facilities" and row.embedding and row.language == "en"
        assert (await neighbours.classify(uow, AGAIN)).category == "facilities"
    async with voting.unit() as uow:  # the next message, no retraining, no restart
        res = await neighbours.classify(uow, AGAIN)
        assert res.category == "facilities"
        case2 = await file_case(uow, await new_resident(uow), AGAIN)
        assert case2.category == "facilities" and case2.status != "triage"


async def test_a_wrong_correction_is_undone_by_the_next(voting: Domain) -> None:
    async with voting.unit() as uow:
        resident = await new_resident(uow)
        case = await file_case(uow, resident, FIRST, as_category=None)
        await lifecycle.triage_set_category(uow, LEADER, case, "dispute")  # a slip of the leader
    async with voting.unit() as uow:
        assert (await neighbours.classify(uow, AGAIN)).category == "dispute"
        case = await uow.session.get(type(case), case.id)
        await lifecycle.resident_change_category(uow, resident, case, "facilities")
    async with voting.unit() as uow:
        (row,) = await _rows(uow, case.id)  # replaced, not added
        assert row.category == "facilities"
        assert (await neighbours.classify(uow, AGAIN)).category == "facilities"


async def test_resolving_settles_and_a_reopened_case_recategorised_is_updated(
    voting: Domain,
) -> None:
    async with voting.unit() as uow:
        resident = await new_resident(uow)
        case = await file_case(uow, resident, FIRST, as_category="dispute")
        assert await _rows(uow, case.id) == []  # a guess nobody confirmed teaches nothing
        await lifecycle.resolve(uow, MEMBER_1, case, "Talked to the neighbour")
        (row,) = await _rows(uow, case.id)
        assert row.category == "dispute"
    async with voting.unit() as uow:
        case = await uow.session.get(type(case), case.id)
        await lifecycle.reopen(uow, resident, case, "It is the boiler, not a neighbour")
        await labels.settle_label(
            uow, case, "facilities", lifecycle.Actor(LEADER, "leader"), "triage"
        )
    async with voting.unit() as uow:
        (row,) = await _rows(uow, case.id)
        assert row.category == "facilities"
        assert (await neighbours.classify(uow, AGAIN)).category == "facilities"


async def test_without_the_voter_cases_settle_and_are_embedded_once_it_loads(
    domain: Domain, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> voters.Voter:
        raise OSError("weights file damaged")

    with monkeypatch.context() as patch:
        patch.setattr(voters, "LOADER", broken)
        patch.setattr(voters, "_state", {})
        caplog.set_level(logging.WARNING, logger="routing.voter")
        assert await domain.warm_classifier() is False
        assert await domain.warm_classifier() is False
        assert len([r for r in caplog.records if "cannot load" in r.getMessage()]) == 1
        async with domain.unit() as uow:
            case = await file_case(uow, await new_resident(uow), FIRST, as_category=None)
            await lifecycle.triage_set_category(uow, LEADER, case, "facilities")
            (row,) = await _rows(uow, case.id)
            assert row.embedding is None and row.category == "facilities"
            assert (await neighbours.classify(uow, AGAIN)).category != "facilities"
    # the voter loads (a later start): the waiting case is embedded and votes
    domain.classifier = voting_classifier()
    assert await neighbours.fill_missing(domain) == 1
    async with domain.unit() as uow:
        (row,) = await _rows(uow, case.id)
        assert row.embedding and row.encoder == domain.classifier.voter.name
        assert (await neighbours.classify(uow, AGAIN)).category == "facilities"


async def test_warming_lets_the_voter_vote_without_touching_the_shared_classifier(
    domain: Domain,
) -> None:
    from routing.classifier import Classifier

    voting_classifier()  # skips where the voter cannot load
    shared = Classifier.default()
    assert domain.classifier is shared and not shared.voting
    assert await domain.warm_classifier() is True
    assert domain.classifier.voting and domain.classifier is not shared
    assert not shared.voting  # other domains (and tests) keep the classifier they had
    assert await domain.warm_classifier() is True  # once is enough


async def test_another_replica_reads_the_settlement_from_the_database(
    voting: Domain, settings, clock
) -> None:
    replica = Domain(settings, clock=clock, engine=voting.engine)  # the same store, its own memory
    replica.classifier = voting.classifier
    replica._routing = voting._routing
    async with replica.unit() as uow:
        assert (await neighbours.classify(uow, AGAIN)).category != "facilities"  # cached empty
    resident, case = await _first_settled(voting)
    async with replica.unit() as uow:
        assert (await neighbours.classify(uow, AGAIN)).category == "facilities"
    async with voting.unit() as uow:
        case = await uow.session.get(type(case), case.id)
        await lifecycle.resident_change_category(uow, resident, case, "dispute")
    async with replica.unit() as uow:  # the replaced row, not a second one
        assert (await neighbours.classify(uow, AGAIN)).category == "dispute"
        assert len(replica.neighbour_cache.entries) == 1


def test_the_operating_point_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import Settings
    from bot.services.shared.domain import build_classifier

    monkeypatch.setenv("GRIDVOICE_CLASSIFIER_THRESHOLD", "0.55")
    monkeypatch.setenv("GRIDVOICE_MODEL", "/nonexistent/category_model.npz")
    clf = build_classifier(Settings.from_env())
    assert clf.vote_threshold == clf.threshold == 0.55
    monkeypatch.setenv("GRIDVOICE_CLASSIFIER_THRESHOLD", "1.5")
    with pytest.raises(ValueError, match="GRIDVOICE_CLASSIFIER_THRESHOLD"):
        Settings.from_env()
    monkeypatch.delenv("GRIDVOICE_CLASSIFIER_THRESHOLD")
    default = build_classifier(Settings.from_env())
    assert (default.threshold, default.vote_threshold) == (0.5, 0.4)


async def test_the_same_message_asked_again_is_classified_once_until_a_case_settles(
    voting: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "File a new one anyway" classifies the draft a second time: the answer is reused while
    the classifier and the settled cases are the same, and computed anew once one settles."""
    runs: list[str] = []
    classify = voting.classifier.classify

    def counted(text, *args, **kwargs):  # type: ignore[no-untyped-def]
        runs.append(text)
        return classify(text, *args, **kwargs)

    monkeypatch.setattr(voting.classifier, "classify", counted)
    async with voting.unit() as uow:
        first = await neighbours.classify(uow, AGAIN)
        assert await neighbours.classify(uow, AGAIN) == first
        assert runs == [AGAIN]
        case = await file_case(uow, await new_resident(uow), FIRST, as_category=None)
        await lifecycle.triage_set_category(uow, LEADER, case, "facilities")
        runs.clear()
        assert (await neighbours.classify(uow, AGAIN)).category == "facilities"
        assert runs == [AGAIN]


async def _settle_row(uow, resident, text: str, category: str, row_id: int | None = None) -> int:
    """A settled case's row written as another process would (with its id, if given)."""
    from routing.neighbours import to_bytes

    case = await file_case(uow, resident, text, as_category=None)
    row = CaseNeighbour(
        id=row_id,
        case_id=case.id,
        category=category,
        language="en",
        encoder=uow.domain.classifier.voter.name,
        embedding=to_bytes(uow.domain.classifier.embed(text)),
        at=uow.now,
    )
    uow.session.add(row)
    await uow.session.flush()
    return row.id


async def test_classifying_does_not_count_the_settled_cases_each_time(
    voting: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row count scans the whole table: with many settled cases that was a scan per
    report. The largest id (one step down the primary key) says whether rows came; the count
    is read once every RECOUNT seconds."""
    asked: list[object] = []
    hot_rows = neighbours.hot_rows

    async def recording(session, statement, params):  # type: ignore[no-untyped-def]
        asked.append(statement)
        return await hot_rows(session, statement, params)

    monkeypatch.setattr(neighbours, "hot_rows", recording)
    async with voting.unit() as uow:
        resident = await new_resident(uow)
        await neighbours.classify(uow, "the bins behind block 4 are overflowing")
        case = await file_case(uow, resident, FIRST, as_category=None)
        await lifecycle.triage_set_category(uow, LEADER, case, "facilities")
    for text in ("water is dripping in the lift lobby", AGAIN, "a dog barks all night"):
        async with voting.unit() as uow:
            found = await neighbours.classify(uow, text)
    assert found is not None
    assert asked[0] is neighbours._STATE  # the first look counts
    assert asked[1:] == [neighbours._TOP] * 3
    async with voting.unit() as uow:
        assert (await neighbours.classify(uow, "noise AGAIN " + AGAIN)) is not None
    assert asked[-1] is neighbours._TOP
    monkeypatch.setattr(neighbours, "RECOUNT", 0.0)
    async with voting.unit() as uow:
        await neighbours.classify(uow, "the stairwell light flickers")
    assert asked[-1] is neighbours._STATE


async def test_a_row_deleted_outside_the_bot_is_forgotten_at_the_next_count(
    voting: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import delete

    _, case = await _first_settled(voting)
    async with voting.unit() as uow:
        assert (await neighbours.classify(uow, AGAIN)).category == "facilities"
        await uow.session.execute(delete(CaseNeighbour).where(CaseNeighbour.case_id == case.id))
    monkeypatch.setattr(neighbours, "RECOUNT", 0.0)  # the count is due
    async with voting.unit() as uow:
        assert (await neighbours.classify(uow, AGAIN)).category != "facilities"
        assert voting.neighbour_cache.entries == {}


async def test_a_row_committed_after_a_later_one_is_still_read(
    voting: Domain, settings, clock
) -> None:
    """Ids are taken in order, commits need not be: a settlement whose id is below one already
    read (its transaction committed later) is read at the next look, not lost."""
    replica = Domain(settings, clock=clock, engine=voting.engine)
    replica.classifier = voting.classifier
    replica._routing = voting._routing
    async with voting.unit() as uow:
        resident = await new_resident(uow)
        first = await _settle_row(
            uow, resident, "the bins behind block 4 are overflowing", "sanitation"
        )
    async with replica.unit() as uow:
        assert (await neighbours.classify(uow, AGAIN)).category != "facilities"
    async with voting.unit() as uow:  # the later transaction, committed first
        await _settle_row(
            uow, resident, "someone dumped a sofa by the gate", "sanitation", first + 2
        )
    async with replica.unit() as uow:
        assert (await neighbours.classify(uow, AGAIN)).category != "facilities"
        assert len(replica.neighbour_cache.entries) == 2
    async with voting.unit() as uow:  # the earlier one commits now
        await _settle_row(uow, resident, FIRST, "facilities", first + 1)
    async with replica.unit() as uow:
        assert (await neighbours.classify(uow, AGAIN)).category == "facilities"
        assert len(replica.neighbour_cache.entries) == 3
