"""gridvoice as a peer others talk to: `servicerequestupdates` (GET, POST) as mySociety's
extension describes it, in JSON and XML with the spec's errors; cases received from a link
key (交办, 上报) with the receive-side hand-off deadlines; hotline orders (派单) idempotent on
their order id."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from aiohttp.test_utils import TestClient
from page_helpers import pages
from sqlalchemy import func, select
from unit_helpers import MEMBER_1, events_of, file_case, new_resident

from bot.clock import ManualClock
from bot.services import scheduler
from bot.services.cases import lifecycle
from bot.services.public import api_keys
from bot.services.shared.domain import Domain
from bot.store.models import Case, CaseIntake, Open311Contact, RemoteUpdate

V2 = "/open311/v2"
UPDATES = f"{V2}/servicerequestupdates"
POINT = {"lat": "39.91052", "long": "116.40081"}  # inside grid xingfu-1
SECRET_NOTE = "Internal: the caretaker Wang on 13900001111 has the key"
RESOLUTION = "Fixed the lamp, Mrs Li, as you asked"
PUBLIC = "The lamp at the east gate was replaced"


@pytest.fixture
def domain_settings() -> dict[str, Any]:
    """Room for the many refused posts below (the per-key rate is tested elsewhere)."""
    return {"open311_burst_per_key": 1000, "open311_posts_per_key_per_minute": 6000}


async def _key(domain: Domain, name: str = "client", **link: str) -> str:
    async with domain.unit() as uow:
        issued = await api_keys.create_key(uow.session, name, uow.now, **link)
    return issued.key


async def _get(client: TestClient, path: str, **params: str) -> tuple[int, Any]:
    async with client.get(path, params=params or None) as r:
        body = await r.text()
        return r.status, ET.fromstring(body) if path.endswith(".xml") else json.loads(body)


async def _post(client: TestClient, path: str, form: dict[str, str]) -> tuple[int, Any]:
    async with client.post(path, data=form) as r:
        body = await r.text()
        return r.status, ET.fromstring(body) if path.endswith(".xml") else json.loads(body)


async def _handled_case(domain: Domain, clock: ManualClock) -> str:
    """A resident's case taken up, resolved with a note to the resident, an internal note, and
    a public note: four public steps and three texts that must never leave."""
    async with domain.unit() as uow:
        case = await file_case(uow, await new_resident(uow), as_category="facilities")
        case_id, human_id = case.id, case.human_id
    for step in ("accept", "note", "resolve", "publish"):
        clock.advance(timedelta(minutes=5))
        async with domain.unit() as uow:
            case = await uow.session.get(Case, case_id)
            assert case is not None
            if step == "accept":
                await lifecycle.accept(uow, MEMBER_1, case)
            elif step == "note":
                await lifecycle.write_note(uow, MEMBER_1, case, SECRET_NOTE)
            elif step == "resolve":
                await lifecycle.resolve(uow, MEMBER_1, case, RESOLUTION)
            else:
                await lifecycle.publish_note(uow, MEMBER_1, case, PUBLIC)
    assert human_id
    return human_id


async def test_updates_list_public_steps_only_in_json_and_xml(
    domain: Domain, clock: ManualClock
) -> None:
    human_id = await _handled_case(domain, clock)
    client = await pages(domain)
    try:
        status, body = await _get(client, UPDATES + ".json")
        assert status == 200
        mine = [u for u in body if u["service_request_id"] == human_id]
        assert [u["external_status_code"] for u in mine] == [
            "assigned",
            "in_progress",
            "resolved",
            "resolved",
        ]
        assert [u["status"] for u in mine] == ["open", "in_progress", "fixed", "fixed"]
        assert set(mine[0]) == {
            "update_id",
            "service_request_id",
            "status",
            "updated_datetime",
            "description",
            "media_url",
            "external_status_code",
        }
        assert mine[-1]["description"] == PUBLIC
        assert mine[1]["description"] == "Taken up"  # a stock text, never a staff note
        ids = [u["update_id"] for u in mine]
        assert len(set(ids)) == 4 and [int(i) for i in ids] == sorted(int(i) for i in ids)
        text = json.dumps(body, ensure_ascii=False)
        for private in (SECRET_NOTE, RESOLUTION, "13900001111", "Mrs Li"):
            assert private not in text
        # The same answer again (ids stable), and in XML with the extension's element names.
        assert (await _get(client, UPDATES + ".json"))[1] == body
        status, xml = await _get(client, UPDATES + ".xml")
        assert status == 200 and xml.tag == "service_request_updates"
        items = [
            u for u in xml.findall("request_update") if u.findtext("service_request_id") == human_id
        ]
        assert [u.findtext("update_id") for u in items] == ids
        assert items[-1].findtext("description") == PUBLIC
        # Narrowed to one case, paged, and in Chinese.
        status, one = await _get(
            client, UPDATES + ".json", service_request_id=human_id, page_size="2"
        )
        assert [u["update_id"] for u in one] == ids[:2]
        status, page2 = await _get(
            client, UPDATES + ".json", service_request_id=human_id, page_size="2", page="2"
        )
        assert [u["update_id"] for u in page2] == ids[2:]
        async with client.get(UPDATES + ".json", headers={"Accept-Language": "zh"}) as r:
            zh = [u for u in await r.json() if u["service_request_id"] == human_id]
        assert zh[1]["description"] != "Taken up" and zh[-1]["description"] == PUBLIC
        # A window before the case: nothing.
        before = (clock.now() - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        status, none = await _get(client, UPDATES + ".json", start_date=before, end_date=before)
        assert status == 200 and none == []
    finally:
        await client.close()


async def test_updates_refuse_bad_parameters_in_the_spec_error_format(domain: Domain) -> None:
    client = await pages(domain)
    try:
        for params, code in (
            ({"start_date": "yesterday"}, 400),
            ({"start_date": "2026-11-20T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}, 400),
            ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}, 400),
            ({"page_size": "1001"}, 400),
            ({"page_size": "-1"}, 400),
            ({"service_request_id": "DROP TABLE"}, 400),
        ):
            status, body = await _get(client, UPDATES + ".json", **params)
            assert status == code, params
            assert body[0]["code"] == code and body[0]["description"], params
            status, xml = await _get(client, UPDATES + ".xml", **params)
            assert status == code and xml.tag == "errors"
            assert xml.findtext("error/code") == str(code)
    finally:
        await client.close()


async def test_a_client_pushes_an_update_once_and_only_about_its_own_cases(
    domain: Domain,
) -> None:
    key = await _key(domain, "district-centre", link="district", level="district")
    other = await _key(domain, "someone-else")
    client = await pages(domain)
    try:
        form = {"api_key": key, "service_code": "facilities", **POINT}
        form["attribute[remote_ref]"] = "D-2026-77"
        status, created = await _post(client, f"{V2}/requests.json", form)
        assert status == 200, created
        human_id = created[0]["service_request_id"]
        push = {
            "api_key": key,
            "service_request_id": human_id,
            "update_id": "d-100",
            "status": "IN_PROGRESS",
            "updated_datetime": "2026-11-24T10:05:00+08:00",
            "description": "The district's inspector is on the way",
            "email": "inspector@example.org",
            "first_name": "Zhang",
        }
        status, first = await _post(client, UPDATES + ".json", push)
        assert status == 200, first
        status, again = await _post(client, UPDATES + ".json", push)
        assert status == 200 and again == first  # the same update twice: recorded once
        status, xml = await _post(client, UPDATES + ".xml", push)
        assert xml.tag == "service_request_updates"
        assert xml.findtext("request_update/update_id") == first[0]["update_id"]
        # By its own reference too, as a new update.
        by_ref = {
            **push,
            "service_request_id": "D-2026-77",
            "update_id": "d-101",
            "status": "fixed",
        }
        status, third = await _post(client, UPDATES + ".json", by_ref)
        assert status == 200 and third != first
        for bad, code in (
            ({"api_key": ""}, 403),
            ({"api_key": "gv_wrong"}, 403),
            ({"api_key": other}, 404),  # not a case that key sent
            ({"service_request_id": "GV-2026-999999"}, 404),
            ({"service_request_id": "nope"}, 404),
            ({"update_id": ""}, 400),
            ({"update_id": "x" * 65}, 400),
            ({"status": "teleported"}, 400),
            ({"updated_datetime": "soon"}, 400),
            ({"media_url": "javascript:alert(1)"}, 400),
            ({"description": "x" * 4001}, 400),
        ):
            status, body = await _post(client, UPDATES + ".json", {**push, "update_id": "z", **bad})
            assert status == code, bad
            assert body[0]["code"] == code
        async with domain.unit() as uow:
            rows = (await uow.session.execute(select(RemoteUpdate))).scalars().all()
            assert sorted(r.update_id for r in rows) == ["d-100", "d-101"]
            assert {r.status for r in rows} == {"in_progress", "fixed"}
            case = (
                await uow.session.execute(select(Case).where(Case.human_id == human_id))
            ).scalar_one()
            kinds = [e.kind for e in await events_of(uow, case)]
            assert kinds.count("remote_update") == 2
            stored = json.dumps([e.data for e in await events_of(uow, case)], ensure_ascii=False)
            assert "inspector@example.org" not in stored and "Zhang" not in stored
        # The other side's step is on the staff timeline, never in the public updates.
        status, body = await _get(client, UPDATES + ".json", service_request_id=human_id)
        assert "inspector" not in json.dumps(body)
    finally:
        await client.close()


async def test_a_link_case_is_received_once_with_no_identity_and_its_deadlines(
    domain: Domain, clock: ManualClock
) -> None:
    key = await _key(domain, "street-office", link="street-1", level="street")
    client = await pages(domain)
    try:
        form = {
            "api_key": key,
            "service_code": "facilities",
            **POINT,
            "description": "Handed down: broken lamp at the east gate",
            "email": "resident@example.org",
            "phone": "13900001111",
            "attribute[remote_ref]": "S-42",
        }
        status, created = await _post(client, f"{V2}/requests.json", form)
        assert status == 200, created
        human_id = created[0]["service_request_id"]
        status, again = await _post(client, f"{V2}/requests.json", form)
        assert again[0]["service_request_id"] == human_id  # the same hand-off twice: one case
        status, body = await _post(
            client, f"{V2}/requests.json", {**form, "attribute[remote_ref]": "bad ref!"}
        )
        assert status == 400 and body[0]["code"] == 400
    finally:
        await client.close()
    async with domain.unit() as uow:
        case = (
            await uow.session.execute(select(Case).where(Case.human_id == human_id))
        ).scalar_one()
        assert case.source == "link" and case.resident_id is None and case.owner_chat_id
        assert await uow.session.get(Open311Contact, case.id) is None  # no identity kept
        row = await uow.session.get(CaseIntake, case.id)
        assert row is not None and (row.link_name, row.level, row.remote_ref) == (
            "street-1",
            "street",
            "S-42",
        )
        assert row.sign_by == row.received_at + timedelta(hours=1)
        assert row.contact_by == row.received_at + timedelta(hours=24)
        count = (await uow.session.execute(select(func.count()).select_from(Case))).scalar()
        assert count == 1
        case_id, escalations = case.id, case.escalation_count
    clock.advance(timedelta(minutes=59))
    await scheduler.run_due(domain)
    async with domain.unit() as uow:
        row = await uow.session.get(CaseIntake, case_id)
        assert row is not None and row.sign_missed_at is None
    clock.advance(timedelta(minutes=2))
    assert await scheduler.run_due(domain) >= 1
    await scheduler.run_due(domain)
    async with domain.unit() as uow:
        row = await uow.session.get(CaseIntake, case_id)
        assert row is not None and row.sign_missed_at is not None
        case = await uow.session.get(Case, case_id)
        assert case is not None
        kinds = [e.kind for e in await events_of(uow, case)]
        assert kinds.count("handoff_missed_sign") == 1  # counted once
        assert case.escalation_count == escalations + 1  # escalated on our side
        assert "escalated" in kinds


async def test_a_link_case_signed_and_contacted_in_time_is_not_escalated(
    domain: Domain, clock: ManualClock
) -> None:
    key = await _key(domain, "district", link="district", level="district")
    client = await pages(domain)
    try:
        form = {"api_key": key, "service_code": "facilities", **POINT}
        status, created = await _post(client, f"{V2}/requests.json", form)
        assert status == 200, created
        human_id = created[0]["service_request_id"]
    finally:
        await client.close()
    clock.advance(timedelta(minutes=30))
    async with domain.unit() as uow:
        case = (
            await uow.session.execute(select(Case).where(Case.human_id == human_id))
        ).scalar_one()
        await lifecycle.accept(uow, MEMBER_1, case)
        case_id = case.id
    clock.advance(timedelta(hours=3))
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case_id)
        assert case is not None
        await lifecycle.resolve(uow, MEMBER_1, case, "Replaced")
    clock.advance(timedelta(days=2))
    await scheduler.run_due(domain)
    async with domain.unit() as uow:
        row = await uow.session.get(CaseIntake, case_id)
        assert row is not None
        assert row.signed_at == row.received_at + timedelta(minutes=30)
        assert row.contacted_at == row.received_at + timedelta(hours=3, minutes=30)
        assert row.sign_missed_at is None and row.contact_missed_at is None


async def test_hotline_orders_are_idempotent_on_their_order_id(domain: Domain) -> None:
    hotline = await _key(domain, "12345", link="hotline-12345", level="hotline")
    client = await pages(domain)
    try:
        form = {"api_key": hotline, "service_code": "facilities", **POINT}
        status, body = await _post(client, f"{V2}/requests.json", form)
        assert status == 400 and "hotline_order_id" in body[0]["description"]
        form["attribute[hotline_order_id]"] = "12345-20261124-0001"
        status, first = await _post(client, f"{V2}/requests.json", form)
        assert status == 200, first
        status, again = await _post(client, f"{V2}/requests.xml", form)
        assert again.findtext("request/service_request_id") == first[0]["service_request_id"]
    finally:
        await client.close()
    async with domain.unit() as uow:
        rows = (await uow.session.execute(select(CaseIntake))).scalars().all()
        assert [(r.kind, r.remote_ref) for r in rows] == [("hotline", "12345-20261124-0001")]


async def test_discovery_advertises_the_updates_extension(domain: Domain) -> None:
    client = await pages(domain)
    try:
        status, body = await _get(client, "/open311/discovery.json")
        assert status == 200
        specs = [e["specification"] for e in body["endpoints"]]
        assert specs[0] == "http://wiki.open311.org/GeoReport_v2"
        assert any("FixMyStreet" in s for s in specs[1:])
    finally:
        await client.close()


ORDERS = (
    "order_id,service_code,description,lat,long,address_string\n"
    "H-1,facilities,Lamp out at the east gate,39.91052,116.40081,\n"
    "H-2,nonsense,Unknown service,39.91052,116.40081,\n"
    ",facilities,No order id,39.91052,116.40081,\n"
    "H-3,facilities,Far away,39.99000,116.90000,\n"
    "H-4,facilities,Half a point,39.91052,,\n"
    "H-1,facilities,The same order again,39.91052,116.40081,\n"
    "H-5,facilities,No place at all,,,\n"
    "H-6,sanitation,Rubbish by building 2,39.91052,116.40081,\n"
)


async def test_a_hotline_csv_is_imported_row_by_row_with_a_report(
    domain: Domain, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import hotline as hotline_cli

    await _key(domain, "12345", link="hotline-12345", level="hotline")
    assert await hotline_cli._import(domain, ORDERS.encode("utf-8-sig"), None) == 1
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert lines[-1] == "8 rows: 2 accepted, 1 duplicate, 5 refused"
    report = "\n".join(lines[:-1])
    assert "line 3 order H-2: refused: service_code nonsense was not found" in report
    assert "line 4 order -: refused: order_id was not provided." in report
    assert "line 5 order H-3: refused: The location is outside every grid" in report
    assert "line 6 order H-4: refused: lat and long must be sent together." in report
    assert "line 7 order H-1: duplicate of GV-" in report
    assert "line 8 order H-5: refused: A location is required" in report
    assert "8/8 rows" in out.err  # progress
    # Importing the same file again files nothing new: every accepted order is a duplicate.
    assert await hotline_cli._import(domain, ORDERS.encode(), None) == 1
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        "8 rows: 0 accepted, 3 duplicate, 5 refused"
    )
    async with domain.unit() as uow:
        cases = (await uow.session.execute(select(Case))).scalars().all()
        assert sorted(c.source for c in cases) == ["hotline", "hotline"]


async def test_a_broken_hotline_file_is_refused_whole(
    domain: Domain, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import hotline as hotline_cli

    for raw, words in (
        (b"order_id,description\nH-1,x\n", "lacks the column(s) service_code"),
        ("order_id,service_code\nH-1,facilities\n".encode("utf-16"), "not UTF-8"),
        (b"order_id,service_code\nH-1,facilities\n", "no active hotline key"),
    ):
        assert await hotline_cli._import(domain, raw, None) == 2
        assert words in capsys.readouterr().out
    await _key(domain, "a", link="hotline-a", level="hotline")
    await _key(domain, "b", link="hotline-b", level="hotline")
    assert await hotline_cli._import(domain, b"order_id,service_code\n", None) == 2
    assert "several hotline keys" in capsys.readouterr().out
    rows = "order_id,service_code,lat,long\n" + "H,facilities,1,1\n" * 10_001
    assert await hotline_cli._import(domain, rows.encode(), "hotline-a") == 2
    assert "more than 10000 rows" in capsys.readouterr().out


async def test_a_closed_hotline_order_has_its_reply(
    domain: Domain, clock: ManualClock, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    import argparse

    from bot.cli import hotline as hotline_cli
    from bot.services.public import hotline

    await _key(domain, "12345", link="hotline-12345", level="hotline")
    rows = hotline.read_orders(ORDERS.encode())
    key = await hotline.hotline_key(domain, None)
    done = await hotline.import_orders(domain, key, rows)
    first = next(o for o in done if o.order_id == "H-1" and o.outcome == "accepted")
    assert [r async for r in hotline.replies(domain, None)] == []  # nothing ended yet
    clock.advance(timedelta(hours=2))
    async with domain.unit() as uow:
        case = (
            await uow.session.execute(select(Case).where(Case.human_id == first.case))
        ).scalar_one()
        await lifecycle.resolve(uow, MEMBER_1, case, RESOLUTION)
        await lifecycle.publish_note(uow, MEMBER_1, case, PUBLIC)
        resolved_at = uow.now
    (reply,) = [r async for r in hotline.replies(domain, None)]
    assert (reply.order_id, reply.service_request_id, reply.outcome) == (
        "H-1",
        first.case,
        "resolved",
    )
    assert reply.closed_at == resolved_at and reply.public_note == PUBLIC
    assert [r async for r in hotline.replies(domain, resolved_at + timedelta(seconds=1))] == []
    out = tmp_path / "replies.csv"
    args = argparse.Namespace(link=None, out=out)
    assert await hotline_cli._replies(domain, None, args) == 0
    text = out.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "order_id,service_request_id,outcome,closed_at,public_note"
    assert f"H-1,{first.case},resolved,2026-11-24T12:00:00+08:00,{PUBLIC}" in text
    assert RESOLUTION not in text and "Mrs Li" not in text
    assert "1 replies" in capsys.readouterr().err
    # The hotline that polls reads the same reply as the case's steps.
    client = await pages(domain)
    try:
        status, body = await _get(client, UPDATES + ".json", service_request_id=first.case)
        assert [u["status"] for u in body][-2:] == ["fixed", "fixed"]
        assert body[-1]["description"] == PUBLIC
    finally:
        await client.close()


async def test_the_dashboard_shows_hand_offs_received_from_the_minimum(
    domain: Domain, clock: ManualClock
) -> None:
    """Per sending level: received, sign-for and first-contact medians and on-time shares,
    misses and returns; times only from `dashboard_min_cases` hand-offs of a level."""
    from page_helpers import get

    minimum = domain.settings.dashboard_min_cases
    district = await _key(domain, "district", link="district", level="district")
    street = await _key(domain, "street", link="street", level="street")
    client = await pages(domain)
    try:
        for n in range(minimum):
            form = {"api_key": district, "service_code": "facilities", **POINT}
            status, created = await _post(
                client, f"{V2}/requests.json", {**form, "attribute[remote_ref]": f"D-{n}"}
            )
            assert status == 200, created
        await _post(
            client,
            f"{V2}/requests.json",
            {"api_key": street, "service_code": "facilities", **POINT},
        )
        clock.advance(timedelta(minutes=30))
        async with domain.unit() as uow:
            rows = (
                (
                    await uow.session.execute(
                        select(CaseIntake).where(CaseIntake.level == "district")
                    )
                )
                .scalars()
                .all()
            )
            for n, row in enumerate(rows):
                case = await uow.session.get(Case, row.case_id)
                assert case is not None
                if n == 0:
                    await lifecycle.reject(uow, MEMBER_1, case, "Not in our area")
                elif n % 2:
                    await lifecycle.accept(uow, MEMBER_1, case)
        clock.advance(timedelta(hours=2))
        await scheduler.run_due(domain)  # the others missed their sign-for deadline
        status, html = await get(client, "/communities/xingfu")
        assert status == 200
        table = html.split('data-figure="handoffs"', 1)[1].split("</table>", 1)[0]
        district_row = table.split('data-level="district"', 1)[1].split("</tr>", 1)[0]
        signed = 1 + sum(1 for n in range(1, minimum) if n % 2)  # the return signs for it too
        assert f"<td>{minimum}</td>" in district_row
        assert f"30 min · {round(100 * signed / minimum)}% on time" in district_row
        assert f"<td>{minimum - signed}</td>" in district_row  # missed
        assert "<td>1</td>" in district_row  # returned
        street_row = table.split('data-level="street"', 1)[1].split("</tr>", 1)[0]
        assert "too-few" in street_row  # one hand-off: no time, no share
        status, zh = await get(client, "/communities/xingfu", "zh")
        assert "接收的交办件" in zh and "区" in zh
        for lang, term in (("en", "Hand-offs received"), ("zh", "接收的交办件")):
            status, page = await get(client, "/about/numbers", lang)
            assert status == 200 and 'id="handoffs"' in page and term in page
    finally:
        await client.close()


async def test_the_map_sets_the_hand_off_times(domain: Domain) -> None:
    import yaml

    from bot.services.shared.gridmap_store import load_document
    from tests.support.maps import demo_document

    document = {**demo_document(), "handoff": {"sign_within": "30m", "contact_within": "12h"}}
    await load_document(domain, yaml.safe_dump(document, allow_unicode=True), "with-handoff")
    key = await _key(domain, "city", link="city", level="city")
    client = await pages(domain)
    try:
        form = {"api_key": key, "service_code": "facilities", **POINT}
        status, created = await _post(client, f"{V2}/requests.json", form)
        assert status == 200, created
    finally:
        await client.close()
    async with domain.unit() as uow:
        (row,) = (await uow.session.execute(select(CaseIntake))).scalars().all()
        assert row.level == "city"
        assert row.sign_by - row.received_at == timedelta(minutes=30)
        assert row.contact_by - row.received_at == timedelta(hours=12)


async def test_the_desk_shows_where_a_hand_off_came_from_and_the_other_sides_steps(
    domain: Domain, clock: ManualClock
) -> None:
    from bot.services.people import desk_auth

    key = await _key(domain, "district", link="district-7", level="district")
    client = await pages(domain)
    try:
        form = {"api_key": key, "service_code": "facilities", **POINT}
        form["attribute[remote_ref]"] = "D-9"
        status, created = await _post(client, f"{V2}/requests.json", form)
        human_id = created[0]["service_request_id"]
        push = {
            "api_key": key,
            "service_request_id": "D-9",
            "update_id": "u-1",
            "status": "action_scheduled",
            "description": "Inspector booked for Thursday",
        }
        assert (await _post(client, UPDATES + ".json", push))[0] == 200
        clock.advance(timedelta(hours=2))
        await scheduler.run_due(domain)
        async with domain.unit() as uow:
            token, _ = await desk_auth.open_session(uow, MEMBER_1, "link")
        client.session.cookie_jar.update_cookies({"gv_desk": token})
        for lang, words in (("en", "sign for by"), ("zh", "签收期限")):
            async with client.get(
                f"/desk/cases/{human_id}", headers={"Accept-Language": lang}
            ) as r:
                html = await r.text()
            assert r.status == 200, html
            handoff = html.split('id="handoff"', 1)[1].split("</dd>", 1)[0]
            assert "district-7" in handoff and "D-9" in handoff and words in handoff
            assert 'class="bad"' in handoff  # the sign-for deadline was missed
            assert "Inspector booked for Thursday" in html and "action_scheduled" in html
    finally:
        await client.close()


async def test_contact_made_is_an_action_offered_only_on_a_hand_off_waiting_for_it(
    domain: Domain, clock: ManualClock
) -> None:
    from bot.services.cases import actions
    from bot.services.cases.actions import Where
    from bot.services.cases.lifecycle import CaseActionError

    contacted = actions.BY_NAME["handoff_contacted"]
    key = await _key(domain, "department", link="urban-mgmt", level="department")
    client = await pages(domain)
    try:
        form = {"api_key": key, "service_code": "facilities", **POINT}
        human_id = (await _post(client, f"{V2}/requests.json", form))[1][0]["service_request_id"]
    finally:
        await client.close()
    async with domain.unit() as uow:
        own = await file_case(uow, await new_resident(uow), as_category="facilities")
        await lifecycle.accept(uow, MEMBER_1, own)
        case = (
            await uow.session.execute(select(Case).where(Case.human_id == human_id))
        ).scalar_one()
        assert contacted in await actions.offered(Where(uow, case, user_id=MEMBER_1))
        await lifecycle.accept(uow, MEMBER_1, case)
        assert contacted in await actions.offered(Where(uow, case, user_id=MEMBER_1))
        assert contacted not in await actions.offered(Where(uow, own, user_id=MEMBER_1))
        case_id = case.id
    clock.advance(timedelta(hours=5))
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case_id)
        assert case is not None
        await actions.perform(uow, MEMBER_1, case, contacted)
        row = await uow.session.get(CaseIntake, case_id)
        assert row is not None and row.contacted_at == uow.now
        assert contacted not in await actions.offered(Where(uow, case, user_id=MEMBER_1))
        with pytest.raises(CaseActionError):
            await actions.perform(uow, MEMBER_1, case, contacted)  # once
        kinds = [e.kind for e in await events_of(uow, case)]
        assert kinds.count("handoff_contacted") == 1
    clock.advance(timedelta(days=2))
    await scheduler.run_due(domain)
    async with domain.unit() as uow:
        row = await uow.session.get(CaseIntake, case_id)
        assert row is not None and row.contact_missed_at is None


async def test_the_desk_assessment_lists_hand_offs_per_link(
    domain: Domain, clock: ManualClock
) -> None:
    from unit_helpers import LEADER

    from bot.services.people import desk_auth

    key = await _key(domain, "district", link="district-7", level="district")
    client = await pages(domain)
    try:
        form = {"api_key": key, "service_code": "facilities", **POINT}
        for n in range(3):
            await _post(client, f"{V2}/requests.json", {**form, "attribute[remote_ref]": f"R{n}"})
        clock.advance(timedelta(minutes=30))
        async with domain.unit() as uow:
            rows = (await uow.session.execute(select(CaseIntake))).scalars().all()
            first = await uow.session.get(Case, rows[0].case_id)
            second = await uow.session.get(Case, rows[1].case_id)
            assert first is not None and second is not None
            await lifecycle.accept(uow, MEMBER_1, first)
            await lifecycle.reject(uow, MEMBER_1, second, "Not ours")
            month = uow.now.strftime("%Y-%m")
        clock.advance(timedelta(hours=1))
        await scheduler.run_due(domain)
        async with domain.unit() as uow:
            token, _ = await desk_auth.open_session(uow, LEADER, "link")
        client.session.cookie_jar.update_cookies({"gv_desk": token})
        for lang, words in (("en", "Signed for on time"), ("zh", "按时签收")):
            async with client.get(
                f"/desk/reports?month={month}", headers={"Accept-Language": lang}
            ) as r:
                html = await r.text()
            assert r.status == 200, html
            table = html.split('id="report-handoffs"', 1)[1].split("</table>", 1)[0]
            assert words in table
            row = table.split('data-link="district-7"', 1)[1].split("</tr>", 1)[0]
            cells = [c.split("</td>")[0] for c in row.split('">')[2:]]
            # received 3, signed for on time 2 (the accept and the return), contact 0,
            # missed 1 (the third), returned 1, median half an hour to sign for
            assert cells[-6:] == ["3", "2", "0", "1", "1", "0.5"], cells
    finally:
        await client.close()
