"""What anyone can send to the web edge — crafted numbers, broken bodies, bad cookies and
languages, oversized or non-HTTP requests, non-UTF-8 query strings, hang-ups mid-body — gets a
defined answer: never a 500, and never an ERROR line or a traceback in the log."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.runtime.web import build_web_app
from bot.store.models import CaseEvent
from tests.support.chat import case_row
from tests.support.world import CENTRE, LEADER, MEMBER_1, World
from tests.web.desk_helpers import get, hidden, http_session, sign_in
from tests.web.open311_helpers import V2, issue_key

pytestmark = pytest.mark.db

LIGHT = "The street light outside building 1 has been broken for a week"


async def _raw(host: str, port: int, data: bytes, *, hang_up: bool = False) -> bytes:
    """Send bytes as they are; the answer (empty when the server just closed), or nothing
    read at all when `hang_up` (the client leaves half-way)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        if hang_up:
            return b""
        return await asyncio.wait_for(reader.read(), 10)
    except ConnectionError:
        return b""
    finally:
        writer.close()


def _status(answer: bytes) -> int | None:
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def _req(method: str, path: bytes, *headers: bytes, body: bytes = b"") -> bytes:
    lines = [method.encode() + b" " + path + b" HTTP/1.1", b"Host: x", *headers]
    if body or method == "POST":
        lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _multipart(fields: dict[str, bytes], boundary: bytes = b"B") -> bytes:
    out = b"".join(
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (boundary, name.encode(), value)
        for name, value in fields.items()
    )
    return out + b"--%s--\r\n" % boundary


def _traces(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.levelname} {r.name}: {r.getMessage()[:200]}"
        for r in caplog.records
        if r.levelno >= logging.ERROR or r.exc_info
    ]


async def test_no_request_gets_a_500_or_writes_a_traceback(
    web_world: World, caplog: pytest.LogCaptureFixture
) -> None:
    w = web_world
    w.settings_overrides = {"web_burst_per_ip": 100_000, "web_rate_per_ip": 10_000.0}
    await w.restart_bot()
    await w.resident(7501, address="Xingfu Garden Building 1")
    case_id, _ = await w.report(7501, LIGHT)
    key = await issue_key(w)
    base = w.app.web_url  # type: ignore[union-attr]
    host, port = base.split("//", 1)[1].rsplit(":", 1)
    caplog.set_level(logging.INFO)
    statuses: list[tuple[Any, int | None]] = []

    # --- pages, Open311 and the desk, through an ordinary client ------------------------------
    digits = "9" * 5000
    paths = [
        "/?lang=%ff%fe",
        "/?lang=zh%00",
        "/?%ff=%fe",
        "/%ff%fe",
        "/grids?page=%C2%B2",
        "/grids?page=" + "9" * 23,
        "/grids/%ff",
        "/cases/GV-2026-%ff",
        f"/cases/GV-2026-{digits}",
        "/data/cases-0000-01.csv",
        "/data/cases-%D9%A2%D9%A0%D9%A2%D9%A6-01.csv",
        f"{V2}/requests.json?page=%C2%B2",
        f"{V2}/requests.json?page_size=" + "9" * 30,
        f"{V2}/requests.xml?status=%ff&lang=%ff",
        f"{V2}/requests.json?service_request_id=GV-%D9%A2%D9%A0%D9%A2%D9%A6-1",
        f"{V2}/requests.json?start_date=" + "2" * 5000,
        f"{V2}/requests/GV-2026-{digits}.json",
        f"{V2}/services/%ff%fe.xml",
        "/desk/?owner=%C2%B2",
        "/desk/?owner=" + "9" * 23,
        f"/desk/cases/{case_id}?done=foo",
        f"/desk/cases/{case_id}/photos/{digits}",
        "/desk/reports?month=0000-01",
        "/desk/reports?month=9999-12",
        "/desk/reports.csv?month=%C2%B2",
        "/desk/login?token=%ff&lang=%ff",
        "/metrics",
    ]
    cookies = [
        {},
        {"Cookie": "gv_lang=zz; gv_desk=" + "x" * 600},
        {"Cookie": ';;;=;a="b'},
        {"Accept-Language": "zh;q=nan, en;q=1e999, *;q=-1"},
        {"Authorization": "Bearer ¿"},
    ]
    async with http_session() as http:
        await sign_in(w, http, CENTRE)
        for path in paths:
            for headers in cookies[:1] if path.startswith("/desk") else cookies:
                async with http.get(base + path, headers=headers) as r:
                    await r.read()
                    statuses.append((path, r.status))

        # Desk forms with forged numbers, targets and return paths.
        _, page = await get(http, f"{base}/desk/cases/{case_id}")
        csrf, version = hidden(page, "csrf"), hidden(page, "version")
        for path, form in (
            (f"/desk/cases/{case_id}/accept", {"csrf": csrf, "version": "²"}),
            (f"/desk/cases/{case_id}/accept", {"csrf": csrf, "version": "9" * 40}),
            (f"/desk/cases/{case_id}/reassign", {"csrf": csrf, "version": version, "target": "²"}),
            (f"/desk/cases/{case_id}/no-such-action", {"csrf": csrf}),
            ("/desk/triage", {"csrf": csrf, "case": case_id, "version": "²", "category": "x"}),
            ("/desk/reassign", {"csrf": csrf, "case": case_id, "target": "²", "reason": "r"}),
            ("/desk/reassign", {"csrf": csrf, "case": case_id, "target": "9" * 30, "reason": "r"}),
            ("/desk/login", {"csrf": "é", "token": "é.é"}),
            ("/desk/app", {"csrf": "é", "init_data": "hash=é&auth_date=²"}),
            ("/desk/logout", {"csrf": "é"}),
        ):
            async with http.post(base + path, data=form) as r:
                await r.read()
                statuses.append((path, r.status))
                assert r.status < 500, (path, form)

        # A return path that would split the Location header: the action is done once and
        # the person lands on the board, on a connection that is still fine.
        form = {
            "csrf": csrf,
            "case": case_id,
            "target": str(LEADER),
            "reason": "Li is on \u202eytud\u202c\x07",
            "back": "/desk/?grid=x\r\nSet-Cookie: gv_desk=stolen",
        }
        async with http.post(base + "/desk/reassign", data=form, allow_redirects=False) as r:
            assert r.status == 303
            assert r.headers["Location"] == "/desk/?done=reassigned"
            assert "stolen" not in r.headers.get("Set-Cookie", "")
        assert (await case_row(w, case_id)).owner_id == LEADER
        async with w.app.domain.sessions() as session:  # type: ignore[union-attr]
            notes = (await session.execute(select(CaseEvent.note))).scalars().all()
        assert "Li is on ytud" in notes  # stored without the controls that reversed it
        bad_backs = ("//evil.example/desk/", "https://evil.example/desk/", "/desk/\\x")
        for back, target in zip(bad_backs, (MEMBER_1, LEADER, MEMBER_1), strict=True):
            moved = {**form, "back": back, "target": str(target)}
            async with http.post(base + "/desk/reassign", data=moved, allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"] == "/desk/?done=reassigned"

    # --- raw requests no client library would send ------------------------------------------
    json_ct = b"Content-Type: application/json"
    form_ct = b"Content-Type: application/x-www-form-urlencoded"
    post311 = f"{V2}/requests.json".encode()
    truncated = _multipart({"api_key": key.encode(), "service_code": b"facilities"})[:-12]
    raws = [
        _req("GET", b"/?lang=\xff\xfe"),
        _req("GET", b"/open311/v2/requests.json?status=\xff"),
        _req("GET", b"/desk/", b"Cookie: gv_desk=caf\xc3\xa9; gv_lang=\xc3\xa9"),
        _req("GET", b"/", b"Cookie: gv_desk=\x01"),
        _req("GET", b"/", b"X-Big: " + b"a" * 40_000),
        _req("GET", b"/", *[b"X-H%d: v" % n for n in range(300)]),
        _req("GET", b"/" + b"a" * 40_000),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n",
        _req("POST", post311, json_ct, body=b"{bad"),
        _req("POST", post311, form_ct, body=b"description=\xff"),
        _req("POST", post311, form_ct, body=b"&".join(b"f%d=v" % n for n in range(3000))),
        _req("POST", post311, b"Content-Type: multipart/form-data", body=b"hello"),
        _req("POST", post311, b"Content-Type: multipart/form-data; boundary=B", body=truncated),
        _req("POST", b"/desk/login", b"Content-Type: multipart/form-data", body=b"x"),
        _req(
            "POST", b"/desk/app", b"Content-Type: multipart/form-data; boundary=B", body=truncated
        ),
        _req("POST", b"/desk/login", form_ct + b"; charset=klingon", body=b"csrf=a"),
        _req("POST", b"/desk/reassign", form_ct, body=b"csrf=%ff"),
        _req("POST", post311, b"Transfer-Encoding: chunked", form_ct, body=b"zz\r\nab\r\n"),
    ]
    for raw in raws:
        answer = await _raw(host, int(port), raw)
        statuses.append((raw[:60], _status(answer)))
    # Hang-ups half-way through a body, on every route that reads one.
    for path in (post311, b"/desk/login", b"/desk/app", b"/desk/reassign"):
        head = _req("POST", path, form_ct).replace(b"Content-Length: 0", b"Content-Length: 900")
        await _raw(host, int(port), head + b"api_key=" + key.encode(), hang_up=True)

    # --- the webhook ------------------------------------------------------------------------
    hook = TestClient(TestServer(build_web_app(w.app, "/tg/hook")))  # type: ignore[arg-type]
    await hook.start_server()
    try:
        for body in (b"{bad", b"[1, 2]", b'{"update_id": "x"}', b"\xff\xfe", b"null"):
            r = await hook.post("/tg/hook", data=body, headers={"Content-Type": "text/plain"})
            statuses.append(("/tg/hook", r.status))
        r = await hook.post("/tg/hook", data=b"x" * 3_000_000)
        statuses.append(("/tg/hook big", r.status))
        raw = _req("POST", b"/tg/hook").replace(b"Content-Length: 0", b"Content-Length: 500")
        await _raw(hook.server.host, hook.server.port, raw + b'{"update_id": 1', hang_up=True)
        await asyncio.sleep(0.5)
    finally:
        await hook.close()

    await asyncio.sleep(0.5)  # let the hang-ups reach the server
    assert not [s for s in statuses if s[1] is not None and s[1] >= 500], statuses
    assert _traces(caplog) == []
