"""Helpers for the desk's tests: a /web link from the chat, a signed-in HTTP session, and a
snapshot of the database to show that a refused request changed nothing (no tests here)."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from sqlalchemy import func, select

from bot.store.models import Case, CaseEvent, DeskLoginLink, DeskSession, OutboxMessage
from tests.support.world import World
from tests.web.browser_helpers import SCREENSHOT_DIR, in_browser, page_shot  # noqa: F401 (re-exported)

LINK = re.compile(r"https?://\S+/desk/login\?token=[A-Za-z0-9_\-.]+")


async def web_link(world: World, staff_id: int) -> str:
    """Send /web as this person and read the one-time link from the bot's answer."""
    after = await world.last_id(staff_id)
    await world.say(staff_id, "/web")
    message = await world.wait_bot(staff_id, "/desk/login?token=", after=after)
    match = LINK.search(message["text"])
    assert match, message
    return match.group(0)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name} in the page"
    return match.group(1)


def http_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def open_link(
    http: aiohttp.ClientSession, link: str, lang: str = "en"
) -> aiohttp.ClientResponse:
    """Open the login page, then continue (the POST that spends the link)."""
    async with http.get(link, params={"lang": lang}) as page:
        assert page.status == 200, await page.text()
        html = await page.text()
    base = link.split("/desk/", 1)[0]
    form = {"csrf": hidden(html, "csrf"), "token": hidden(html, "token")}
    response = await http.post(base + "/desk/login", data=form)
    await response.read()
    return response


async def sign_in(
    world: World, http: aiohttp.ClientSession, staff_id: int, lang: str = "en"
) -> str:
    """Sign in through a /web link; returns the board's HTML."""
    response = await open_link(http, await web_link(world, staff_id), lang)
    assert response.status == 200 and response.url.path == "/desk/", response.status
    return await response.text()


async def get(http: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, str]:
    async with http.get(url, **kw) as r:
        return r.status, await r.text()


async def post(http: aiohttp.ClientSession, url: str, data: Any) -> tuple[int, str, str]:
    async with http.post(url, data=data) as r:
        return r.status, await r.text(), r.url.path


async def snapshot(world: World) -> dict[str, Any]:
    """What a refused request must not change: cases, audit rows, messages, sessions, links."""
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        cases = (
            await session.execute(
                select(Case.human_id, Case.status, Case.version, Case.owner_id).order_by(Case.id)
            )
        ).all()

        async def count(model: Any, *where: Any) -> int:
            stmt = select(func.count()).select_from(model)
            if where:
                stmt = stmt.where(*where)
            return int((await session.execute(stmt)).scalar_one())

        return {
            "cases": [tuple(c) for c in cases],
            "events": await count(CaseEvent),
            "outbox": await count(OutboxMessage),
            "sessions": await count(DeskSession),
            "open_sessions": await count(DeskSession, DeskSession.ended_at.is_(None)),
            "links_used": await count(DeskLoginLink, DeskLoginLink.used_at.is_not(None)),
        }


async def report_with_photo(world: World, user: int, text: str, photo: bytes) -> str:
    """A resident's report with one photo; returns the case id."""
    from tests.support.chat import label

    after = await world.last_id(user)
    await world.say(user, text)
    draft = await world.wait_bot(user, after=after, buttons=True)
    await world.sim.send_photo(user, photo)
    draft = await world.wait_bot(user, "📷", after=draft["message_id"], buttons=True)
    await world.press(user, draft, label(world, "en", "btn_send_report"))
    filed = await world.wait_bot(user, "GV-", after=draft["message_id"])
    match = re.search(r"GV-\d{4}-\d{6,}", filed["text"])
    assert match, filed
    return match.group(0)


def picture(width: int, height: int, bands: list[tuple[int, int, int]]) -> bytes:
    """A PNG of vertical colour bands (a photo stand-in a person can tell apart)."""
    import struct
    import zlib

    rows = b""
    for _ in range(height):
        row = bytearray([0])
        for x in range(width):
            row += bytes(bands[x * len(bands) // width])
        rows += bytes(row)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
