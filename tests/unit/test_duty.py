"""Whose duty it is: a return cites the duty list, the adjudicator rules once, an amendment
changes who gets the next case, a dispute past its deadline escalates."""

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
    PROPERTY_CHAT,
    STREET,
    buttons,
    events_of,
    file_case,
    last_outbox_id,
    new_resident,
    outbox,
)

from bot.services.cases import actions, duty
from bot.services.cases.lifecycle import CaseActionError
from bot.services.scheduler import run_due
from bot.services.shared.domain import Domain
from bot.store.models import Case, CaseDispute, DutyAmendment
from routing.matrix import clause_for

pytestmark = pytest.mark.asyncio


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


RETURN = actions.BY_NAME["return"]


async def _facilities_case(uow, building: str = "xf-1") -> Case:
    resident = await new_resident(uow, building=building)
    case = await file_case(
        uow, resident, "The lift in my building is stuck", as_category="facilities"
    )
    assert case.owner_id == MEMBER_1 if building == "xf-1" else True
    return case


async def test_a_return_must_cite_a_clause_naming_someone_else(uow) -> None:
    case = await _facilities_case(uow)
    for clause in ("", "no-such-clause"):
        with pytest.raises(CaseActionError) as refused:
            await actions.perform(uow, MEMBER_1, case, RETURN, clause, "not ours")
        assert refused.value.key == "return_needs_clause"
    # The clause that makes facilities the grid's own: the returner's own duty.
    with pytest.raises(CaseActionError) as refused:
        await actions.perform(uow, MEMBER_1, case, RETURN, "all.facilities", "not ours")
    assert refused.value.key == "return_own_duty"
    with pytest.raises(CaseActionError) as refused:
        await actions.perform(uow, MEMBER_1, case, RETURN, "PM-1", "   ")
    assert refused.value.key == "desk_text_required"
    assert (await uow.session.execute(select(CaseDispute))).first() is None
    # Only the clauses naming another owner are offered on the card.
    offered = actions.choices(
        actions.Where(uow, case, user_id=MEMBER_1), RETURN, actions.Asks.CLAUSE
    )
    assert "PM-1" in offered and "all.facilities" not in offered


async def test_only_the_owner_returns_and_only_the_adjudicator_rules(uow) -> None:
    case = await _facilities_case(uow)
    for stranger in (MEMBER_2, LEADER, STREET):
        with pytest.raises(CaseActionError):
            await actions.perform(uow, stranger, case, RETURN, "PM-1", "lifts are the property's")
    mark = await last_outbox_id(uow)
    dispute = await actions.perform(uow, MEMBER_1, case, RETURN, "PM-1", "lifts are the property's")
    assert dispute.adjudicator == "street" and dispute.rule_by == dispute.opened_at + timedelta(
        days=1
    )
    # The case stays with its owner; the resident is told nothing; the street office is asked.
    assert case.owner_id == MEMBER_1 and case.status == "assigned"
    assert not await outbox(uow, case.resident_id, after=mark)
    asked = await outbox(uow, STREET, after=mark)
    assert [d for _, d in buttons(asked[0])] == [
        f"du:{dispute.id}:r",
        f"du:{dispute.id}:u",
        f"du:{dispute.id}:a",
    ]
    # A second return while one waits is refused; the returner, a leader, the centre cannot rule.
    with pytest.raises(CaseActionError) as refused:
        await actions.perform(uow, MEMBER_1, case, RETURN, "PM-1", "again")
    assert refused.value.key == "return_pending"
    for who in (MEMBER_1, LEADER, CENTRE):
        with pytest.raises(CaseActionError) as refused:
            await duty.rule(uow, who, case, "reassigned", "fine")
        assert refused.value.key == "not_allowed"
        with pytest.raises(CaseActionError):
            await duty.open_ruling(uow, who, dispute.id)


async def test_reassign_moves_the_case_to_the_owner_the_clause_names(uow) -> None:
    case = await _facilities_case(uow)
    dispute = await actions.perform(uow, MEMBER_1, case, RETURN, "PM-1", "lifts are the property's")
    mark = await last_outbox_id(uow)
    await actions.perform(
        uow, STREET, case, actions.BY_NAME["rule_reassign"], "the lift is common property"
    )
    assert dispute.outcome == "reassigned" and dispute.ruled_by == STREET
    assert case.party_id == "xingfu-wuye" and case.owner_chat_id == PROPERTY_CHAT
    assert case.status == "transferred" and case.owner_count == 2
    assert await outbox(uow, case.resident_id, after=mark)  # the move is told
    assert any(e.kind == "transferred" for e in await events_of(uow, case))
    # Ruled once: a second ruling, the same press again, or a forged id change nothing.
    for outcome in ("upheld", "reassigned"):
        with pytest.raises(CaseActionError) as refused:
            await duty.rule(uow, STREET, case, outcome, "again")
        assert refused.value.key == "dispute_none"
    with pytest.raises(CaseActionError) as refused:
        await duty.open_ruling(uow, STREET, dispute.id)
    assert refused.value.key == "dispute_ruled"
    with pytest.raises(CaseActionError) as refused:
        await duty.open_ruling(uow, STREET, dispute.id + 999)
    assert refused.value.key == "dispute_none"
    assert case.party_id == "xingfu-wuye"


async def test_an_overruled_return_counts_against_the_returner(uow) -> None:
    case = await _facilities_case(uow)
    dispute = await actions.perform(uow, MEMBER_1, case, RETURN, "PM-1", "not ours")
    uow.now += timedelta(hours=3)
    await actions.perform(
        uow, STREET, case, actions.BY_NAME["rule_uphold"], "a street lamp is the grid's"
    )
    assert dispute.outcome == "upheld" and case.owner_id == MEMBER_1 and case.owner_count == 1
    kinds = [e.kind for e in await events_of(uow, case)]
    assert kinds[-2:] == ["returned", "return_upheld"]
    figures = await duty.figures(uow)
    assert figures[f"m:{MEMBER_1}"].returns == 1 and figures[f"m:{MEMBER_1}"].overruled == 1
    assert figures[f"m:{MEMBER_1}"].mean_hours == pytest.approx(3.0)
    # Once ruled the owner may return it again, with a fresh citation.
    await actions.perform(uow, MEMBER_1, case, RETURN, "all.traffic", "it is a parked car")


async def test_a_ruling_amends_the_duty_list_and_the_next_case_follows_it(domain) -> None:
    async with domain.unit() as uow:
        case = await _facilities_case(uow)
        await actions.perform(uow, MEMBER_1, case, RETURN, "PM-1", "lifts are the property's")
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case.id)
        await actions.perform(uow, STREET, case, actions.BY_NAME["rule_amend"], "from now on")
        assert case.party_id == "xingfu-wuye"
    async with domain.unit() as uow:
        row = (await uow.session.execute(select(DutyAmendment))).scalar_one()
        assert (row.community_id, row.category, row.owner_before, row.owner_after) == (
            "xingfu",
            "facilities",
            "grid",
            "party:xingfu-wuye",
        )
        assert row.made_by == STREET and row.case_id == case.id
        gridmap = uow.routing.gridmap
        assert clause_for(gridmap, "xingfu-2", "facilities").owner == "party:xingfu-wuye"
        nxt = await _facilities_case(uow, building="xf-7")
        assert nxt.party_id == "xingfu-wuye" and nxt.owner_chat_id == PROPERTY_CHAT
    # Another replica (a fresh domain's routing) reads the same list from the database.
    domain._routing = None  # noqa: SLF001 - as a process that just started
    await domain.reload_routing()
    assert clause_for(domain.routing.gridmap, "xingfu-1", "facilities").owner == "party:xingfu-wuye"


async def test_an_amendment_leaving_a_grid_without_owner_is_refused(uow) -> None:
    # The police station loses its chat and has no staff in the map: making facilities the
    # police's in the community would leave every grid with nobody to take such a case.
    from dataclasses import replace

    gridmap = uow.routing.gridmap
    bare = replace(gridmap.parties["heping-police"], chat_id=None, staff_ids=())
    uow.domain._routing.gridmap = replace(  # noqa: SLF001
        gridmap, parties={**gridmap.parties, "heping-police": bare}
    )
    case = await _facilities_case(uow)
    await actions.perform(uow, MEMBER_1, case, RETURN, "all.traffic", "a parked car")
    with pytest.raises(CaseActionError) as refused:
        await duty.rule(uow, STREET, case, "amended", "from now on")
    assert refused.value.key == "duty_amend_unowned"
    assert "Xingfu" in refused.value.data["grids"]
    assert (await uow.session.execute(select(DutyAmendment))).first() is None


async def test_an_unruled_dispute_escalates_once_and_is_counted(domain, clock) -> None:
    async with domain.unit() as uow:
        case = await _facilities_case(uow)
        await actions.perform(uow, MEMBER_1, case, RETURN, "PM-1", "not ours")
    clock.advance(timedelta(hours=23))
    await run_due(domain)
    async with domain.unit() as uow:
        assert (await uow.session.execute(select(CaseDispute))).scalar_one().escalated_at is None
    clock.advance(timedelta(hours=2))
    mark = 0
    async with domain.unit() as uow:
        mark = await last_outbox_id(uow)
    await run_due(domain)
    await run_due(domain)
    async with domain.unit() as uow:
        dispute = (await uow.session.execute(select(CaseDispute))).scalar_one()
        assert dispute.escalated_at is not None and dispute.outcome is None
        assert len(await outbox(uow, STREET, after=mark)) == 1
        kinds = [e.kind for e in await events_of(uow, await uow.session.get(Case, case.id))]
        assert kinds.count("return_overdue") == 1
        assert (await duty.figures(uow))[f"m:{MEMBER_1}"].escalated == 1


async def test_the_chat_card_offers_clauses_then_a_prompt_and_the_adjudicator_rules_in_one_press(
    domain,
) -> None:
    """Chat: *Not ours* shows the clauses naming another owner as buttons; one pressed, the
    reason is the member's next message. The street office's message has one button per
    ruling; its press asks the reason; a press after the ruling (or a forged one) changes
    nothing."""
    from dialogue_helpers import press, say

    from bot.services.cases.views import cb

    async with domain.unit() as uow:
        case = await _facilities_case(uow)
        card = [b for row in await _keyboard(uow, case) for b in row]
        assert any(b.startswith(f"c:rtn:{case.id}:") for b in card)
        mark = await last_outbox_id(uow)
        await press(uow, MEMBER_1, cb("rtn", case))
        shown = [d for m in await outbox(uow, MEMBER_1, after=mark) for _, d in buttons(m)]
        token = duty.clause_token  # a clause rides on its button as a short token
        assert cb("rtc", case, token("PM-1")) in shown
        assert cb("rtc", case, token("all.facilities")) not in shown
        await press(uow, MEMBER_1, cb("rtc", case, token("all.facilities")))  # forged: own duty
        await press(uow, MEMBER_1, cb("rtc", case, "PM-1"))  # forged: not a token
        assert (await uow.session.execute(select(CaseDispute))).first() is None
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case.id)
        await press(uow, MEMBER_1, cb("rtn", case))
        await press(uow, MEMBER_1, cb("rtc", case, duty.clause_token("PM-1")))
        await say(uow, MEMBER_1, "The lift is the property company's")
        dispute = (await uow.session.execute(select(CaseDispute))).scalar_one()
        assert (dispute.clause, dispute.reason) == ("PM-1", "The lift is the property company's")
    async with domain.unit() as uow:
        await press(uow, LEADER, f"du:{dispute.id}:r")  # not the adjudicator
        await say(uow, LEADER, "reassign it")
        await press(uow, STREET, f"du:{dispute.id}:u")
        await say(uow, STREET, "Street lamps and lifts in the open are the grid's")
    async with domain.unit() as uow:
        dispute = await uow.session.get(CaseDispute, dispute.id)
        assert dispute.outcome == "upheld" and dispute.ruled_by == STREET
        await press(uow, STREET, f"du:{dispute.id}:r")  # stale: ruled already
        await say(uow, STREET, "changed my mind")
        await press(uow, STREET, f"du:{dispute.id + 50}:r")  # forged id
        case = await uow.session.get(Case, case.id)
        assert case.owner_id == MEMBER_1 and dispute.outcome == "upheld"


async def _keyboard(uow, case: Case) -> list[list[str]]:
    from bot.services.cases.views import staff_keyboard

    return [[b.data for b in row] for row in await staff_keyboard(uow, case, MEMBER_1)]


async def test_the_public_duty_list_and_its_history_in_both_languages(domain, client) -> None:
    """Organisations and roles only: the list in force, the regulation a clause cites, and
    each amendment with its version, the role that ruled and the case's public id."""
    page = await (await client.get("/communities/xingfu/duties?lang=en")).text()
    assert "Xingfu Property Management" in page and "PM-1" in page
    assert "Property Management Regulations, art. 35" in page
    assert "No change since the grid map was loaded." in page and "Version 0" in page
    async with domain.unit() as uow:
        case = await _facilities_case(uow)
        await actions.perform(uow, MEMBER_1, case, RETURN, "PM-1", "Lifts: 王芳 says so")
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case.id)
        await duty.rule(uow, STREET, case, "amended", "Lifts go to the property company, 赵磊")
    en = await (await client.get("/communities/xingfu/duties?lang=en")).text()
    zh = await (await client.get("/communities/xingfu/duties?lang=zh")).text()
    row = en.split('data-category="facilities"', 1)[1].split("</tr>", 1)[0]
    assert "Xingfu Property Management" in row and "xingfu.facilities" in row
    history = en.split('id="duty-history"', 1)[1]
    assert "Version 1" in history and "street office" in history and case.human_id in history
    assert "The grid&#39;s members → Xingfu Property Management" in history
    assert "幸福物业" in zh and "第1版" in zh and "街道办事处审定" in zh
    for text in (en, zh):  # no staff names, no staff words
        for private in ("王芳", "赵磊", "says so", "property company,"):
            assert private not in text
    assert (await client.get("/communities/nowhere/duties")).status == 404
    assert 'id="duties-link"' in await (await client.get("/communities/xingfu")).text()


async def test_open311_says_the_ownership_is_reviewed_without_staff_words(domain, client) -> None:
    async with domain.unit() as uow:
        case = await _facilities_case(uow)
        await actions.perform(uow, MEMBER_1, case, RETURN, "PM-1", "Secret words of 王芳")
        human_id = case.human_id
    body = await (await client.get(f"/open311/v2/requests/{human_id}.json")).text()
    assert "ownership" in body.lower() or "owns this case" in body
    assert "王芳" not in body and "Secret words" not in body and "PM-1" not in body
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case.id)
        await duty.rule(uow, STREET, case, "upheld", "Stays with the grid")
    body = await (await client.get(f"/open311/v2/requests/{human_id}.json")).text()
    assert "owns this case" not in body and "Stays with" not in body


async def test_the_map_names_the_adjudicator_and_the_ruling_deadline(uow) -> None:
    """`duty: {adjudicator: centre, ruling_within: 4h}`: the community centre is asked and
    rules, the street office may not; a ruling needs its reason."""
    from dataclasses import replace

    from routing.gridmap import DutyRules

    gridmap = uow.routing.gridmap
    uow.domain._routing.gridmap = replace(  # noqa: SLF001 - the map in force, as loaded
        gridmap, duty=DutyRules("centre", timedelta(hours=4))
    )
    case = await _facilities_case(uow)
    mark = await last_outbox_id(uow)
    dispute = await actions.perform(uow, MEMBER_1, case, RETURN, "PM-1", "not ours")
    assert dispute.adjudicator == "centre" and dispute.rule_by == uow.now + timedelta(hours=4)
    assert await outbox(uow, CENTRE, after=mark) and not await outbox(uow, STREET, after=mark)
    with pytest.raises(CaseActionError) as refused:
        await duty.rule(uow, STREET, case, "reassigned", "mine to say")
    assert refused.value.key == "not_allowed"
    with pytest.raises(CaseActionError) as refused:
        await duty.rule(uow, CENTRE, case, "reassigned", "  ")
    assert refused.value.key == "desk_text_required"
    await duty.rule(uow, CENTRE, case, "reassigned", "The lift is the property company's")
    assert case.party_id == "xingfu-wuye" and dispute.ruled_by == CENTRE


async def test_the_dashboard_counts_returns_and_owners_and_defines_them(domain, client) -> None:
    async with domain.unit() as uow:
        case = await _facilities_case(uow)
        await actions.perform(uow, MEMBER_1, case, RETURN, "PM-1", "not ours")
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case.id)
        await duty.rule(uow, STREET, case, "upheld", "It is the grid's")
        other = await _facilities_case(uow)
        await actions.perform(uow, MEMBER_1, other, RETURN, "PM-1", "not ours either")
    async with domain.unit() as uow:
        other = await uow.session.get(Case, other.id)
        await duty.rule(uow, STREET, other, "reassigned", "The property company's")
    en = await (await client.get("/communities/xingfu?lang=en")).text()
    card = en.split('data-figure="returns"', 1)[1].split('data-figure="owners"', 1)[0]
    assert "1 overruled · 1 reassigned · 0 waiting · 0 ruled late" in card
    owners = en.split('data-figure="owners"', 1)[1].split("</div>\n</div>", 1)[0]
    assert "1.50" in owners  # two cases: one kept its owner, one had two
    zh = await (await client.get("/communities/xingfu?lang=zh")).text()
    assert "被驳回1 · 改派1" in zh and "每案承办方数" in zh
    for lang, words in (("en", "Owners per case"), ("zh", "每案承办方数")):
        numbers = await (await client.get(f"/about/numbers?lang={lang}")).text()
        assert 'id="returns"' in numbers and 'id="owners"' in numbers and words in numbers


async def test_the_resident_is_told_nothing_of_a_return(domain) -> None:
    """Neither a message nor a line on their timeline until a ruling moves the case."""
    from dialogue_helpers import press

    async with domain.unit() as uow:
        case = await _facilities_case(uow)
        await actions.perform(uow, MEMBER_1, case, RETURN, "PM-1", "Not ours, the returner says")
        await duty.rule(uow, STREET, case, "upheld", "It is the grid's")
        mark = await last_outbox_id(uow)
        await press(uow, case.resident_id, f"r:tl:{case.id}")
        shown = "\n".join(
            str(m.payload.get("text")) for m in await outbox(uow, case.resident_id, after=mark)
        )
        assert case.human_id in shown
        for word in ("ownership", "returner says", "Not ours", "grid's"):
            assert word not in shown, word


async def test_stats_show_a_members_returns_in_both_languages(uow) -> None:
    from bot.services.cases import queues

    case = await _facilities_case(uow)
    await actions.perform(uow, MEMBER_1, case, RETURN, "PM-1", "not ours")
    uow.now += timedelta(hours=2)
    await duty.rule(uow, STREET, case, "upheld", "It is the grid's")
    report = await queues.assessment(uow, STREET, days=30)
    row = next(r for r in report if r["id"] == MEMBER_1)
    assert (row["returns"], row["overruled"], row["dispute_hours"]) == (1, 1, 2.0)
    assert row["owners_per_case"] == 1
    render = uow.domain.renderer.render
    en = render("en", "stats", report=report, days=30)
    zh = render("zh", "stats", report=report, days=30)
    assert "returned 1 as not theirs (1 overruled), 2.0 h in dispute" in en
    assert "退单1次（被驳回1次），平均审定用时2.0小时" in zh


async def test_a_return_lapses_when_its_case_ends_before_the_ruling(domain, clock) -> None:
    from bot.services.cases import lifecycle

    async with domain.unit() as uow:
        case = await _facilities_case(uow)
        await actions.perform(uow, MEMBER_1, case, RETURN, "PM-1", "not ours")
        await lifecycle.resolve(uow, MEMBER_1, case, "Fixed it anyway")
    clock.advance(timedelta(days=2))
    await run_due(domain)
    async with domain.unit() as uow:
        dispute = (await uow.session.execute(select(CaseDispute))).scalar_one()
        assert dispute.outcome == "lapsed" and dispute.escalated_at is None
        assert await duty.figures(uow) == {}
        with pytest.raises(CaseActionError) as refused:
            await duty.open_ruling(uow, STREET, dispute.id)
        assert refused.value.key == "dispute_ruled"


async def test_owners_per_case_counts_distinct_owners_and_older_cases_start_from_theirs(
    uow,
) -> None:
    from bot.services.cases import lifecycle

    case = await _facilities_case(uow)
    assert (case.owners_seen, case.owner_count) == ([f"m:{MEMBER_1}"], 1)
    case.owners_seen = None  # a case filed before owners were kept (the migration's default)
    await lifecycle.transfer(uow, MEMBER_1, case, "p:xingfu-wuye", "The property's lift")
    assert case.owner_count == 2
    assert case.owners_seen == [f"m:{MEMBER_1}", "p:xingfu-wuye"]
