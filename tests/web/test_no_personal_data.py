"""Safe by construction: residents whose names, phones and addresses are unique markers report
through the bot and through Open311; every public page, API answer (JSON and XML) and export
is then searched for them, and for staff names and Telegram ids. Nothing may be found."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlparse

import aiohttp
import pytest

from bot.services.public import api_keys
from tests.support.world import MEMBER_1, MEMBER_3, STAFF
from tests.web.open311_helpers import V2, issue_key, resolve

pytestmark = pytest.mark.db

RESIDENTS = [777000101, 777000102, 777000103]
# Exact places a resident pinned (home and report): published only rounded to a block.
PINS = {777000102: (39.91234, 116.40567), 777000103: (39.91187, 116.40713)}


def name_of(uid: int) -> str:
    return f"Qzxname{uid % 1000}"


def phone_of(uid: int) -> str:
    return f"1390077{uid % 10000:04d}"


def address_of(uid: int) -> str:
    return f"Qzxaddr{uid % 1000} Room 15{uid % 100:02d}"


API_SUBMITTER = {
    "first_name": "Qzxfirst",
    "last_name": "Qzxlast",
    "email": "qzxmail@example.org",
    "phone": "+86 139 0077 9999",
    "device_id": "qzxdevice-42",
    "account_id": "qzxaccount-42",
    "address_string": "Qzxstreet 9, Room 1609",
    "description": "Qzxdesc: I am Qzxfirst at Room 1609, call +86 139 0077 9999",
}


def markers() -> list[str]:
    found = []
    for uid in RESIDENTS:
        found += [name_of(uid), phone_of(uid), address_of(uid).split()[0], str(uid)]
    found += [v.split()[0].rstrip(":,") for v in API_SUBMITTER.values()]
    found += ["13900779999", "139 0077 9999", "Room 1609"]
    for lat, lon in PINS.values():
        found += [f"{lat:.5f}", f"{lon:.5f}", f"{lat:.4f}", f"{lon:.4f}"]
    found += [name for name in STAFF.values() if name != "Admin"]
    return found


STAFF_IDS = [re.compile(rf"(?<![\d.]){uid}(?![\d])") for uid in STAFF]


async def _onboard(w, uid: int) -> None:
    await w.sim.create_user(uid, name_of(uid), language_code="en", last_name="Qzxfamily")
    after = await w.last_id(uid)
    await w.say(uid, "/start")
    welcome = await w.wait_bot(uid, after=after, buttons=True)
    await w.press(uid, welcome, "✅")
    asked = await w.wait_bot(uid, after=welcome["message_id"])
    if uid in PINS:
        await w.sim.send_location(uid, *PINS[uid])
        await w.wait_bot(uid, after=asked["message_id"])
    else:
        await w.say(uid, "Xingfu Garden Building 3")
        choose = await w.wait_bot(uid, after=asked["message_id"], buttons=True)
        await w.press(uid, choose, "Xingfu Garden Building 3")
        await w.wait_bot(uid, after=choose["message_id"])


async def _report_with_markers(w, uid: int) -> str:
    text = (
        f"The street lamp is broken again. I am {name_of(uid)}, I live at {address_of(uid)}, "
        f"call me on {phone_of(uid)}"
    )
    after = await w.last_id(uid)
    await w.say(uid, text)
    draft = await w.wait_bot(uid, after=after, buttons=True)
    if uid in PINS:  # the report is pinned at the exact spot
        await w.sim.send_location(uid, *PINS[uid])
        draft = await w.wait_bot(uid, after=draft["message_id"], buttons=True)
    await w.press(uid, draft, "✅")
    filed = await w.wait_bot(uid, "GV-", after=draft["message_id"])
    match = re.search(r"GV-\d{4}-\d{6,}", filed["text"])
    assert match, filed
    return match.group(0)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


async def _public_texts(base: str, case_ids: list[str]) -> dict[str, str]:
    """Every public URL we can reach: the pages (following their links), the API, the data."""
    start = ["/", "/about/numbers", "/grids/xingfu-1", "/open311/discovery.json"]
    start += [f"/cases/{c}" for c in case_ids] + [f"/cases/{c}?lang=zh" for c in case_ids]
    start += ["/?lang=zh", "/open311/discovery.xml"]
    for fmt in ("json", "xml"):
        start += [
            f"{V2}/services.{fmt}",
            f"{V2}/services/property.{fmt}",
            f"{V2}/requests.{fmt}",
            f"{V2}/requests.{fmt}?status=open",
            f"{V2}/requests.{fmt}?status=closed&lang=zh",
            f"{V2}/requests.{fmt}?service_request_id={','.join(case_ids)}",
            f"{V2}/requests.{fmt}?updated_after=2026-11-01T00:00:00Z",
            f"{V2}/servicerequestupdates.{fmt}",
            f"{V2}/servicerequestupdates.{fmt}?service_request_id={','.join(case_ids)}",
            f"{V2}/servicerequestupdates.{fmt}?start_date=2026-11-01T00:00:00Z&lang=zh",
        ]
        start += [f"{V2}/requests/{c}.{fmt}" for c in case_ids]
    start += [
        "/data/datapackage.json",
        "/data/cases.csv",
        "/data/cases-2026-11.csv",
        "/data/cases.geojson",
        "/data/grids.geojson",
        "/data/grid-months.csv",
    ]
    host = urlparse(base).netloc
    seen: dict[str, str] = {}
    queue = list(start)
    async with aiohttp.ClientSession() as http:
        while queue and len(seen) < 400:
            path = queue.pop(0)
            if path in seen:
                continue
            async with http.get(base + path) as r:
                body = await r.text()
                seen[path] = body
                assert r.status in (200, 404), (path, r.status)
                if "text/html" not in r.headers.get("Content-Type", ""):
                    continue
            parser = _Links()
            parser.feed(body)
            for link in parser.links:
                url = urlparse(urljoin(base + path, link))
                if url.netloc == host and not url.path.startswith("/static/"):
                    queue.append(url.path + (f"?{url.query}" if url.query else ""))
    return seen


async def test_no_public_output_holds_personal_data(web_world) -> None:
    w = web_world
    w.settings_overrides = {"web_burst_per_ip": 10_000}
    await w.restart_bot()
    case_ids = []
    for uid in RESIDENTS:
        await _onboard(w, uid)
        case_ids.append(await _report_with_markers(w, uid))
    key = await issue_key(w)
    async with aiohttp.ClientSession() as http:
        for service_code in ("facilities", "safety"):
            form = {"api_key": key, "service_code": service_code, **API_SUBMITTER}
            form |= {"lat": "39.91234", "long": "116.40567"}
            async with http.post(w.app.web_url + f"{V2}/requests.json", data=form) as r:
                body = await r.text()
                assert r.status == 200, body
                case_ids.append((await r.json())[0]["service_request_id"])
        # A case handed down over a link, and the other side's update with a person in it:
        # what crosses a link is kept for staff, never published.
        async with w.app.domain.unit() as uow:
            link = await api_keys.create_key(
                uow.session, "district", uow.now, link="district", level="district"
            )
        form = {"api_key": link.key, "service_code": "facilities", **API_SUBMITTER}
        form |= {"lat": "39.91234", "long": "116.40567", "attribute[remote_ref]": "D-1"}
        async with http.post(w.app.web_url + f"{V2}/requests.json", data=form) as r:
            assert r.status == 200, await r.text()
            case_ids.append((await r.json())[0]["service_request_id"])
        push = {
            "api_key": link.key,
            "service_request_id": case_ids[-1],
            "update_id": "u-1",
            "status": "in_progress",
            "description": API_SUBMITTER["description"],
            "email": API_SUBMITTER["email"],
            "first_name": API_SUBMITTER["first_name"],
        }
        async with http.post(w.app.web_url + f"{V2}/servicerequestupdates.json", data=push) as r:
            assert r.status == 200, await r.text()
    # staff handle some: the notes they write are public, their names never are
    card = await w.card(MEMBER_1, case_ids[0])
    await resolve(w, MEMBER_1, card, "Lift repaired by the maintenance company")
    card = await w.card(MEMBER_3, case_ids[2])
    await w.act(MEMBER_3, card, "acc")
    await w.settle()

    texts = await _public_texts(w.app.web_url, case_ids)
    assert len(texts) >= 40
    for page in ("/", "/grids/xingfu-1", "/about/numbers", f"/cases/{case_ids[0]}"):
        assert page in texts and "<html" in texts[page], page  # the dashboard's pages were read
    for case_id in case_ids:  # the cases are there...
        assert any(case_id in body for body in texts.values()), case_id
    for marker in markers():  # ...their people are not
        hits = [path for path, body in texts.items() if marker.lower() in body.lower()]
        assert not hits, f"{marker!r} published at {hits[:5]}"
    for pattern in STAFF_IDS:
        hits = [path for path, body in texts.items() if pattern.search(body)]
        assert not hits, f"staff id {pattern.pattern} published at {hits[:5]}"
