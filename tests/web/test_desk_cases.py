"""Working cases at the desk: scope, the board's filters, actions through the chat's services
(the resident and the chat card see exactly what the buttons would do), bulk reassignment, and
live updates over server-sent events."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select

from bot.services.people import access
from bot.store.models import Case
from tests.support.chat import case_row, events, label, resolve
from tests.support.world import CASE_ID, CENTRE, LEADER, MEMBER_1, MEMBER_2, STAFF, World
from tests.web.desk_helpers import get, hidden, http_session, post, sign_in, snapshot

pytestmark = pytest.mark.db

LIGHT = "The street light outside building 1 has been broken for a week"
NORTH = "Garbage bins overflowing next to building 7, smells terrible"


def alike(text: str) -> str:
    """A card's text with the case id and the resident's pseudonym made alike."""
    return re.sub(r"R-[0-9A-F]{6}", "R-X", CASE_ID.sub("GV-X", text))


async def resident_texts(world: World, user: int, after: int) -> list[str]:
    """What the resident read after `after`, with case ids made alike."""
    messages = await world.sim.bot_messages(user, after)
    return [CASE_ID.sub("GV-X", (m.get("text") or m.get("caption") or "")) for m in messages]


async def test_desk_accept_and_resolve_tell_the_resident_what_the_chat_buttons_do(
    web_world: World,
) -> None:
    w = web_world
    # In the chat: a resident reports, the member accepts and resolves with the card's buttons.
    await w.resident(4001, address="Xingfu Garden Building 1")
    chat_case, _ = await w.report(4001, LIGHT)
    card = await w.card(MEMBER_1, chat_case)
    after_chat = await w.last_id(4001)
    await w.act(MEMBER_1, card, "acc")
    card = await w.wait_edited(MEMBER_1, card["message_id"], label(w, "zh", "status_accepted"))
    await resolve(w, MEMBER_1, card, "Replaced the bulb")
    await w.wait_bot(4001, "Replaced the bulb", after=after_chat)
    chat_card = await w.wait_edited(MEMBER_1, card["message_id"], label(w, "zh", "status_resolved"))

    # At the desk: the same report by another resident, accepted and resolved from its page.
    await w.resident(4002, address="Xingfu Garden Building 1")
    desk_case, _ = await w.report(4002, LIGHT)
    desk_card = await w.card(MEMBER_1, desk_case)
    after_desk = await w.last_id(4002)
    base = w.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        await sign_in(w, http, MEMBER_1)
        status, page = await get(http, f"{base}/desk/cases/{desk_case}")
        assert status == 200 and "R-" in page and "Resident4002" not in page
        form = {"csrf": hidden(page, "csrf"), "version": hidden(page, "version")}
        status, page, path = await post(http, f"{base}/desk/cases/{desk_case}/accept", form)
        assert status == 200 and path == f"/desk/cases/{desk_case}" and "Accepted." in page
        await w.wait_edited(MEMBER_1, desk_card["message_id"], label(w, "zh", "status_accepted"))
        form = {
            "csrf": hidden(page, "csrf"),
            "version": hidden(page, "version"),
            "note": "Replaced the bulb",
        }
        status, page, _ = await post(http, f"{base}/desk/cases/{desk_case}/resolve", form)
        assert status == 200 and "Resolved." in page
    await w.wait_bot(4002, "Replaced the bulb", after=after_desk)
    edited = await w.wait_edited(
        MEMBER_1, desk_card["message_id"], label(w, "zh", "status_resolved")
    )
    await w.settle()
    assert await resident_texts(w, 4002, after_desk) == await resident_texts(w, 4001, after_chat)
    assert alike(edited["text"]) == alike(chat_card["text"])

    def buttons(card: dict) -> list[list[tuple[str, str]]]:  # label and code, not the case id
        rows = (card.get("reply_markup") or {}).get("inline_keyboard", [])
        return [[(b["text"], b["callback_data"].split(":")[1]) for b in row] for row in rows]

    assert buttons(edited) == buttons(chat_card)
    assert (await case_row(w, desk_case)).status == "resolved"


async def test_a_member_cannot_open_or_act_on_another_grids_case(web_world: World) -> None:
    w = web_world
    await w.resident(4101, address="Xingfu Garden Building 7")
    north, _ = await w.report(4101, NORTH)
    await w.card(MEMBER_2, north)
    base = w.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        board = await sign_in(w, http, MEMBER_1)
        assert north not in board
        before = await snapshot(w)
        status, page = await get(http, f"{base}/desk/cases/{north}")
        assert status == 404 and "outside your grids" in page
        form = {"csrf": hidden(board, "csrf"), "version": "0", "note": "done", "reason": "x"}
        for action in ("accept", "resolve", "reject"):
            status, _, _ = await post(http, f"{base}/desk/cases/{north}/{action}", form)
            assert status == 404
        status, _, _ = await post(
            http,
            f"{base}/desk/reassign",
            {"csrf": form["csrf"], "case": north, "target": str(MEMBER_1), "reason": "mine"},
        )
        assert status == 403
        status, _ = await get(http, f"{base}/desk/cases/{north}/photos/0")
        assert status == 404
        assert await snapshot(w) == before


async def test_the_board_filters_and_the_centre_reassigns_in_bulk(web_world: World) -> None:
    w = web_world
    await w.resident(4201, address="Xingfu Garden Building 1")
    await w.resident(4202, address="Xingfu Garden Building 7")
    south, _ = await w.report(4201, LIGHT)
    north, _ = await w.report(4202, NORTH)
    await w.card(MEMBER_2, north)
    base = w.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        board = await sign_in(w, http, CENTRE)
        assert south in board and north in board
        _, only_north = await get(http, f"{base}/desk/", params={"grid": "xingfu-2"})
        assert north in only_north and south not in only_north
        _, sanitation = await get(http, f"{base}/desk/", params={"category": "sanitation"})
        assert north in sanitation and south not in sanitation
        _, mine = await get(http, f"{base}/desk/", params={"owner": str(MEMBER_1)})
        assert south in mine and north not in mine
        _, overdue = await get(http, f"{base}/desk/", params={"due": "overdue"})
        assert south not in overdue
        _, today = await get(http, f"{base}/desk/", params={"due": "today"})
        assert south in today
        _, zh = await get(http, f"{base}/desk/", params={"lang": "zh"})
        assert "办理中的诉求" in zh and "第一网格" in zh
        status, page, path = await post(
            http,
            f"{base}/desk/reassign",
            {
                "csrf": hidden(board, "csrf"),
                "case": [south, north],
                "target": str(LEADER),
                "reason": "Li covers both this week",
            },
        )
        assert status == 200 and path == "/desk/"
    for human_id in (south, north):
        row = await case_row(w, human_id)
        assert row.owner_id == LEADER and row.status == "transferred"
        assert (await events(w, human_id))[-1].kind == "reassigned"
    await w.card(LEADER, south)
    await w.card(LEADER, north)


async def test_bulk_reassignment_is_all_or_nothing(web_world: World) -> None:
    """A member of another grid cannot take a case: the whole batch is refused, nothing moves."""
    w = web_world
    await w.resident(4211, address="Xingfu Garden Building 1")
    await w.resident(4212, address="Xingfu Garden Building 7")
    south, _ = await w.report(4211, LIGHT)
    north, _ = await w.report(4212, NORTH)
    await w.card(MEMBER_2, north)
    base = w.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        board = await sign_in(w, http, CENTRE)
        before = await snapshot(w)
        status, _, _ = await post(
            http,
            f"{base}/desk/reassign",
            {"csrf": hidden(board, "csrf"), "case": [south, north], "target": str(MEMBER_2),
             "reason": "Liu takes both"},
        )  # fmt: skip
        assert status == 403
        assert await snapshot(w) == before
    async with http_session() as http:
        board = await sign_in(w, http, MEMBER_1)
        assert 'id="bulk-submit"' not in board  # members hand cases on by transfer


async def test_scope_as_a_query_is_exactly_may_view(web_world: World) -> None:
    w = web_world
    await w.resident(4301, address="Xingfu Garden Building 1")
    await w.resident(4302, address="Xingfu Garden Building 7")
    await w.report(4301, LIGHT)
    await w.report(4302, NORTH)
    await w.settle()
    domain = w.app.domain  # type: ignore[union-attr]
    async with domain.unit() as uow:
        every = list((await uow.session.execute(select(Case))).scalars().all())
        for person in STAFF:
            query = select(Case.id).where(access.scope(uow, person))
            scoped = set((await uow.session.execute(query)).scalars().all())
            viewable = {c.id for c in every if access.may_view(uow, person, c)}
            assert scoped == viewable, person


async def test_a_second_session_hears_of_the_change_without_reloading(web_world: World) -> None:
    w = web_world
    await w.resident(4401, address="Xingfu Garden Building 1")
    case_id, _ = await w.report(4401, LIGHT)
    await w.card(MEMBER_1, case_id)
    base = w.app.web_url  # type: ignore[union-attr]
    async with http_session() as watcher, http_session() as worker:
        await sign_in(w, watcher, LEADER)
        await sign_in(w, worker, MEMBER_1)
        async with watcher.get(base + "/desk/events") as stream:
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            assert b"event: ready" in await stream.content.readuntil(b"\n\n")
            _, page = await get(worker, f"{base}/desk/cases/{case_id}")
            form = {"csrf": hidden(page, "csrf"), "version": hidden(page, "version")}
            await post(worker, f"{base}/desk/cases/{case_id}/accept", form)

            async def changed() -> bytes:
                while True:
                    chunk = await stream.content.readuntil(b"\n\n")
                    if chunk.startswith(b"event: changed"):
                        return chunk

            assert await asyncio.wait_for(changed(), timeout=5)
        _, board = await get(watcher, base + "/desk/")
        row = re.search(rf'data-case="{case_id}".*?</tr>', board, re.S)
        assert row and 'data-status="accepted"' in row.group(0)


async def test_stopping_the_bot_ends_an_open_board_at_once(web_world: World) -> None:
    """A restart does not wait for each open board's next beat (5 s): the stream ends with the
    stop, without a spurious "changed" that would make the board reload."""
    w = web_world
    base = w.app.web_url  # type: ignore[union-attr]
    async with http_session() as watcher:
        await sign_in(w, watcher, LEADER)
        async with watcher.get(base + "/desk/events") as stream:
            assert b"event: ready" in await stream.content.readuntil(b"\n\n")
            loop = asyncio.get_running_loop()
            started = loop.time()
            await w.stop_bot()
            assert loop.time() - started < 2.5
            assert await asyncio.wait_for(stream.content.read(), timeout=1) == b""


async def test_only_those_who_may_reassign_get_the_boxes_to_tick(web_world: World) -> None:
    """A member cannot reassign: their board has no tick boxes (nor the reassign form); a
    leader's has both."""
    w = web_world
    await w.resident(4301, address="Xingfu Garden Building 1")
    case_id, _ = await w.report(4301, LIGHT)
    async with http_session() as http:
        board = await sign_in(w, http, MEMBER_1)
        assert case_id in board
        assert 'type="checkbox" name="case"' not in board and 'id="bulk-submit"' not in board
    async with http_session() as http:
        board = await sign_in(w, http, LEADER)
        assert f'type="checkbox" name="case" value="{case_id}"' in board
        assert 'id="bulk-submit"' in board
