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
        html = await page.text()
        if page.status != 200:  # a dead link says why on the page it opens
            return page
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


LIGHT = "The street light outside building 1 has been broken for a week"
LIFT = "The lift in our building is broken, property management ignores us"
NORTH = "Garbage bins overflowing next to building 7, smells terrible"
BENCH = "The bench by the playground of building 1 is broken, a child got hurt"
LAMP_ZH = "幸福小区1号楼东门的路灯坏了一个星期了，晚上很黑"
VAGUE = "hello?? can someone come by"
SUBMITTER = {
    "email": "li.na@example.org",
    "first_name": "Na",
    "last_name": "Li",
    "phone": "+86 138 0000 1234",
    "address_string": "East gate of Xingfu Garden, by the bike shelter",
}
OPEN311_POINT = {"lat": "39.91052", "long": "116.40081"}


async def open311_case(world: World, description: str, **fields: str) -> str:
    """A request filed by an outside Open311 client (a point and the submitter's contact)."""
    from tests.web.open311_helpers import issue_key

    key = await issue_key(world)
    form = {
        "api_key": key,
        "service_code": "facilities",
        "description": description,
        **OPEN311_POINT,
        **SUBMITTER,
        **fields,
    }
    base = world.app.web_url  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "/open311/v2/requests.json", data=form) as r:
            body = await r.json()
            assert r.status == 200, body
    return str(body[0]["service_request_id"])


async def busy_desk(world: World) -> dict[str, str]:
    """A desk with work on it: cases of several grids, a party's case, a Chinese report, one
    in triage, an Open311 request with its submitter's contact, one resolved from the desk."""
    from tests.support.world import MEMBER_1

    await world.resident(5001, address="Xingfu Garden Building 1")
    await world.resident(5002, address="Xingfu Garden Building 7")
    await world.resident(5003, lang="zh", address="幸福小区1号楼")
    cases = {
        "light": await report_with_photo(
            world, 5001, LIGHT, picture(240, 160, [(40, 60, 90), (200, 170, 60), (90, 90, 90)])
        )
    }
    cases["lift"], _ = await world.report(5001, LIFT)
    cases["north"], _ = await world.report(5002, NORTH)
    cases["zh"], _ = await world.report(5003, LAMP_ZH)
    cases["vague"], _ = await world.report(5001, VAGUE)
    cases["done"], _ = await world.report(5001, BENCH)
    cases["open311"] = await open311_case(world, "The lamp at the east gate flickers all night")
    base = world.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        await sign_in(world, http, MEMBER_1)
        done = f"{base}/desk/cases/{cases['done']}"
        _, page = await get(http, done)
        form = {"csrf": hidden(page, "csrf"), "version": hidden(page, "version")}
        _, page, _ = await post(http, done + "/accept", form)
        form = {**form, "version": hidden(page, "version"), "note": "Replaced the seat board"}
        status, _, _ = await post(http, done + "/resolve", form)
        assert status == 200
    await world.settle()
    await closed_consultation(world)
    return cases


async def closed_consultation(world: World) -> None:
    """A consultation of two grids that closed yesterday, with its results."""
    from datetime import timedelta

    from bot.store.models import Consultation

    now = world.clock.now()
    async with world.app.domain.unit() as uow:  # type: ignore[union-attr]
        uow.session.add(
            Consultation(
                created_by=10040,
                question="Where should the new bike shelter go?",
                options=["By the east gate", "Behind building 3"],
                grid_ids=["xingfu-1", "xingfu-2"],
                status="closed",
                opens_at=now - timedelta(days=3),
                closes_at=now - timedelta(days=1),
                created_at=now - timedelta(days=4),
                closed_at=now - timedelta(days=1),
                eligible={"xingfu-1": 40, "xingfu-2": 20},
                results={
                    "options": [
                        {"n": 1, "text": "By the east gate", "votes": 18, "percent": 60.0},
                        {"n": 2, "text": "Behind building 3", "votes": 12, "percent": 40.0},
                    ],
                    "ballots": 30,
                    "eligible": 60,
                    "turnout": 50.0,
                    "grids": [],
                },
            )
        )


# Where a page's layout fails a person, as a list of sentences (empty: it works). Every table
# column is readable (its header in the viewport, or each cell labelled with it when rows are
# stacked as cards), nothing is under the board's side column, the page is no wider than the
# screen, a short category name is not broken character by character, and a timeline dot
# never covers its time.
LAYOUT_PROBLEMS = r"""
const out = [];
const vw = document.documentElement.clientWidth;
const aside = document.querySelector('.board-side');
const ar = aside ? aside.getBoundingClientRect() : null;
const shown = el => {
  const r = el.getBoundingClientRect();
  const cs = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && cs.visibility !== 'hidden' && cs.display !== 'none';
};
const name = el => (el.id ? '#' + el.id : el.tagName.toLowerCase()) + ' "' +
  el.textContent.trim().replace(/\s+/g, ' ').slice(0, 40) + '"';
const inView = r => r.left >= -0.5 && r.right <= vw + 0.5;
const scroller = el => {
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    const o = getComputedStyle(p).overflowX;
    if ((o === 'auto' || o === 'scroll') && p.scrollWidth > p.clientWidth) return p;
  }
  return null;
};
// on screen, or inside a sideways-scrolling box that is itself on screen
const reachable = (el, r) => {
  const box = scroller(el);
  return box ? inView(box.getBoundingClientRect()) : inView(r);
};
// the part of a box that is drawn (a scrolling box hides what is scrolled away)
const visible = (el, r) => {
  const box = scroller(el);
  if (!box) return r;
  const b = box.getBoundingClientRect();
  const left = Math.max(r.left, b.left), right = Math.min(r.right, b.right);
  return right > left ? {left, right, top: r.top, bottom: r.bottom} : null;
};
const covered = (el, r) => { const v = visible(el, r); return v !== null && underAside(v); };
const underAside = r => ar && ar.width > 0 && r.right > ar.left + 0.5 && r.left < ar.right - 0.5
  && r.bottom > ar.top + 0.5 && r.top < ar.bottom - 0.5;
// what of a cell is drawn: its text and its controls, not the empty rest of its box
const drawn = el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  return Array.from(range.getClientRects()).filter(r => r.width > 0.5 && r.height > 0.5);
};
// how many lines an element's text takes (its text's line boxes, not its children's boxes)
const lines = el => {
  const tops = new Set();
  const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(node);
    Array.from(range.getClientRects()).filter(r => r.width > 0.5).forEach(r => tops.add(Math.round(r.bottom)));
  }
  return tops.size;
};
if (document.documentElement.scrollWidth > vw + 1)
  out.push('page is ' + document.documentElement.scrollWidth + ' px wide in a ' + vw + ' px screen');
document.querySelectorAll('main table').forEach(table => {
  const heads = Array.from(table.querySelectorAll('thead th'));
  const rows = Array.from(table.querySelectorAll('tbody tr')).filter(tr => tr.cells.length === heads.length);
  heads.forEach((th, i) => {
    const label = th.textContent.trim();
    if (shown(th)) {
      const r = th.getBoundingClientRect();
      if (!reachable(th, r)) out.push(table.id + ': header ' + name(th) + ' outside the screen');
      if (covered(th, r)) out.push(table.id + ': header ' + name(th) + ' under the side column');
    } else if (label) {
      rows.forEach(tr => {
        const before = getComputedStyle(tr.cells[i], '::before');
        if (shown(tr.cells[i]) && before.content.indexOf(label) < 0)
          out.push(table.id + ': column "' + label + '" has no header and no label');
        else if (parseFloat(before.height) > tr.cells[i].getBoundingClientRect().height + 0.5)
          out.push(table.id + ': label "' + label + '" runs out of its cell');
      });
    }
    rows.forEach(tr => {
      const td = tr.cells[i];
      if (!shown(td)) { if (label) out.push(table.id + ': cell of "' + label + '" hidden'); return; }
      drawn(td).forEach(r => {
        if (!reachable(td, r)) out.push(table.id + ': ' + name(td) + ' outside the screen');
        if (covered(td, r)) out.push(table.id + ': ' + name(td) + ' under the side column');
      });
    });
  });
});
document.querySelectorAll('main td, main dd, main .pill').forEach(el => {
  const text = el.textContent.trim();
  if (shown(el) && /^[\u3400-\u9fff（）]{2,8}$/.test(text) && lines(el) > 1)
    out.push(name(el) + ' broken over ' + lines(el) + ' lines');
});
document.querySelectorAll('ol.timeline li').forEach(li => {
  const dot = getComputedStyle(li, '::before');
  const time = li.querySelector('time');
  if (!time || dot.content === 'none' || dot.display === 'none') return;
  const left = li.getBoundingClientRect().left + li.clientLeft + parseFloat(dot.left);
  const right = left + parseFloat(dot.width);
  const t = time.getBoundingClientRect();
  if (right > t.left - 0.5) out.push('timeline dot covers ' + name(time));
  if (left < -0.5 || !inView(t)) out.push('timeline ' + name(time) + ' outside the screen');
});
return out;
"""
