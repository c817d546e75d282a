"""The rest of the card's actions from the desk — ask (and the answer on the page), transfer,
reject, reassign — and boards that converge on changes made by another replica."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.store.models import Case, CaseEvent
from tests.support.chat import case_row, event_kinds
from tests.support.world import CENTRE, LEADER, MEMBER_1, MEMBER_2, PROPERTY_CHAT, World
from tests.web.desk_helpers import (
    SUBMITTER,
    get,
    hidden,
    http_session,
    open311_case,
    post,
    sign_in,
    snapshot,
)

pytestmark = pytest.mark.db

LIGHT = "The street light outside building 1 has been broken for a week"


async def _case_page(http, base: str, case_id: str) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    status, page = await get(http, f"{base}/desk/cases/{case_id}")
    assert status == 200
    return page, {"csrf": hidden(page, "csrf"), "version": hidden(page, "version")}


async def test_ask_the_resident_and_read_the_answer_on_the_page(web_world: World) -> None:
    w = web_world
    await w.resident(7001, address="Xingfu Garden Building 1")
    case_id, _ = await w.report(7001, LIGHT)
    await w.card(MEMBER_1, case_id)
    base = w.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        await sign_in(w, http, MEMBER_1)
        _, form = await _case_page(http, base, case_id)
        after = await w.last_id(7001)
        status, page, _ = await post(
            http, f"{base}/desk/cases/{case_id}/ask", {**form, "question": "Which pole exactly?"}
        )
        assert status == 200 and "Which pole exactly?" in page
        await w.wait_bot(7001, "Which pole exactly?", after=after)
        assert (await case_row(w, case_id)).status == "needs_info"
        await w.say(7001, "The one next to the bike shelter")
        await w.wait_bot(MEMBER_1, "next to the bike shelter")
        page, _ = await _case_page(http, base, case_id)
        assert "The one next to the bike shelter" in page and "from the resident" in page
    assert (await case_row(w, case_id)).status == "assigned"


async def test_transfer_to_a_party_and_reject_with_a_reason(web_world: World) -> None:
    w = web_world
    await w.resident(7101, address="Xingfu Garden Building 1")
    await w.resident(7102, address="Xingfu Garden Building 1")
    moved, _ = await w.report(7101, LIGHT)
    declined, _ = await w.report(7102, "Dog barking all night in the flat above mine, noise")
    base = w.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        await sign_in(w, http, MEMBER_1)
        page, form = await _case_page(http, base, moved)
        parties = w.app.domain.routing.gridmap.parties.values()  # type: ignore[union-attr]
        target = "p:" + next(p.id for p in parties if p.chat_id == PROPERTY_CHAT)
        assert f'value="{target}"' in page
        status, _, _ = await post(
            http,
            f"{base}/desk/cases/{moved}/transfer",
            {**form, "target": target, "reason": "The property company owns these lamps"},
        )
        assert status == 200
        _, form = await _case_page(http, base, declined)
        empty = await post(http, f"{base}/desk/cases/{declined}/reject", {**form, "reason": " "})
        assert empty[0] == 400
        after = await w.last_id(7102)
        status, _, _ = await post(
            http,
            f"{base}/desk/cases/{declined}/reject",
            {**form, "reason": "This is for the police, please call 110"},
        )
        assert status == 200
    await w.wait_bot(7102, "please call 110", after=after)
    assert (await case_row(w, declined)).status == "rejected"
    row = await case_row(w, moved)
    assert row.status == "transferred" and row.owner_chat_id == PROPERTY_CHAT
    await w.card(PROPERTY_CHAT, moved)


async def test_the_centre_reassigns_one_case_and_a_stale_form_is_refused(web_world: World) -> None:
    w = web_world
    await w.resident(7201, address="Xingfu Garden Building 1")
    case_id, _ = await w.report(7201, LIGHT)
    card = await w.card(MEMBER_1, case_id)
    base = w.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        await sign_in(w, http, CENTRE)
        _, form = await _case_page(http, base, case_id)
        status, _, _ = await post(
            http,
            f"{base}/desk/cases/{case_id}/reassign",
            {**form, "target": str(LEADER), "reason": "Li is on duty"},
        )
        assert status == 200
        events = await event_kinds(w, case_id)
        status, page, _ = await post(http, f"{base}/desk/cases/{case_id}/accept", form)
        assert status == 403 and "out of date" in page
        assert await event_kinds(w, case_id) == events
    assert (await case_row(w, case_id)).owner_id == LEADER
    await w.card(LEADER, case_id)
    await w.wait_edited(MEMBER_1, card["message_id"], case_id)


async def test_boards_hear_of_changes_made_by_another_replica(web_world: World) -> None:
    """A change committed outside this process (no in-process notice) still reaches the board."""
    w = web_world
    await w.stop_bot()
    w.settings_overrides["desk_recheck_interval"] = 0.3
    await w.start_bot()
    await w.resident(7301, address="Xingfu Garden Building 1")
    case_id, _ = await w.report(7301, LIGHT)
    base = w.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        await sign_in(w, http, LEADER)
        async with http.get(base + "/desk/events") as stream:
            await stream.content.readuntil(b"\n\n")
            await asyncio.sleep(0.8)  # the recheck has seen the newest audit row
            from bot.store.db import create_engine, session_factory

            other = create_engine(w.db_url)  # another replica's connection
            try:
                async with session_factory(other)() as session, session.begin():
                    row = (
                        await session.execute(select(Case).where(Case.human_id == case_id))
                    ).scalar_one()
                    session.add(
                        CaseEvent(
                            case_id=row.id,
                            at=w.clock.now(),
                            actor_role="system",
                            kind="reminder",
                            data={},
                        )
                    )
            finally:
                await other.dispose()

            async def changed() -> None:
                while not (await stream.content.readuntil(b"\n\n")).startswith(b"event: changed"):
                    pass

            await asyncio.wait_for(changed(), timeout=5)


async def test_an_open311_case_shows_staff_its_place_and_submitter_and_offers_no_ask(
    web_world: World,
) -> None:
    """An outside client posted a point, an address and the submitter's contact "for staff
    follow-up": staff who may see the case read them; nobody is asked in a chat that has no
    resident (the card and the desk offer no Ask; a forged form is refused, nothing written);
    the public case page and Open311 keep all of it to themselves."""
    w = web_world
    base = w.app.web_url  # type: ignore[union-attr]
    case_id = await open311_case(w, "The lamp at the east gate flickers all night")
    card = await w.card(MEMBER_1, case_id)
    pressed = [b["callback_data"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert any(d.startswith("c:acc:") for d in pressed), pressed
    assert not any(d.startswith("c:ask:") for d in pressed), pressed
    async with http_session() as http:
        await sign_in(w, http, MEMBER_1)
        page, form = await _case_page(http, base, case_id)
        assert "39.91052, 116.40081" in page and "near Xingfu Garden Building 1" in page
        assert SUBMITTER["address_string"] in page
        for shown in ("Na Li", "li.na@example.org", "+86 138 0000 1234", "city-311"):
            assert shown in page, shown
        assert 'id="act-ask"' not in page and 'id="act-resolve"' in page
        before = await snapshot(w)
        status, body, _ = await post(
            http, f"{base}/desk/cases/{case_id}/ask", {**form, "question": "Which lamp?"}
        )
        assert status == 403 and "nobody can answer" in body
        assert await snapshot(w) == before
        _, zh = await get(http, f"{base}/desk/cases/{case_id}", params={"lang": "zh"})
        assert "靠近幸福小区1号楼" in zh and "提交人" in zh
    async with http_session() as other:  # a member of another grid sees nothing of it
        await sign_in(w, other, MEMBER_2)
        status, page = await get(other, f"{base}/desk/cases/{case_id}")
        assert status == 404 and "li.na@example.org" not in page
    async with http_session() as public:
        for url in (f"/cases/{case_id}", f"/open311/v2/requests/{case_id}.json"):
            status, page = await get(public, base + url)
            assert status == 200
            assert not any(v in page for v in SUBMITTER.values()), url


async def test_a_case_placed_by_a_pin_shows_where_the_pin_is(web_world: World) -> None:
    """A case placed by a point and no building (here Open311 without an address) is not
    "Place —": the point, and the grid's building nearest to it."""
    w = web_world
    base = w.app.web_url  # type: ignore[union-attr]
    case_id = await open311_case(
        w, "Broken paving", address_string="", email="", first_name="", last_name="", phone=""
    )
    async with http_session() as http:
        await sign_in(w, http, MEMBER_1)
        page, _ = await _case_page(http, base, case_id)
    place = page.split('id="place"', 1)[1].split("</dd>", 1)[0]
    assert "39.91052, 116.40081" in place and "Xingfu Garden Building 1" in place
    submitter = page.split('id="submitter"', 1)[1].split("</dd>", 1)[0]
    assert "left no contact" in submitter
