"""Open311 GeoReport v2 as an outside client sees it: discovery, services, definitions,
posting with a key, reading back by id and in a filtered list, in JSON and XML; the spec's
errors; the JSON answers checked against the spec's JSON Schemas."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest

from bot.services.public import api_keys
from bot.services.public.cases import find_public_case
from tests.support.world import MEMBER_1
from tests.web.open311_helpers import V2, get, issue_key, post, resolve, validator

pytestmark = pytest.mark.db

POINT_IN_GRID_1 = {"lat": "39.91052", "long": "116.40081"}


async def test_an_outside_client_lists_reads_posts_and_reads_back(web_world) -> None:
    base = web_world.app.web_url
    key = await issue_key(web_world)
    async with aiohttp.ClientSession() as http:
        status, discovery, ctype = await get(http, base + "/open311/discovery.json")
        assert status == 200 and "application/json" in ctype
        endpoint = discovery["endpoints"][0]
        assert endpoint["url"].endswith("/open311/v2")
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert set(endpoint["formats"]) == {"text/xml", "application/json"}
        status, xml, ctype = await get(http, base + "/open311/discovery.xml")
        assert status == 200 and "text/xml" in ctype
        assert xml.tag == "discovery" and xml.find("endpoints/endpoint/url") is not None
        assert [f.text for f in xml.findall("endpoints/endpoint/formats/format")]

        status, services, _ = await get(http, base + f"{V2}/services.json")
        assert status == 200
        validator("services.json").validate(services)
        by_code = {s["service_code"]: s for s in services}
        assert "facilities" in by_code and by_code["property"]["group"] == "property"
        assert by_code["traffic"]["group"] == "police" and by_code["sanitation"]["group"] == "grid"
        status, xml, _ = await get(http, base + f"{V2}/services.xml")
        assert xml.tag == "services"
        assert {s.findtext("service_code") for s in xml.findall("service")} == set(by_code)
        for element in ("service_name", "metadata", "type", "group", "description", "keywords"):
            assert xml.find(f"service/{element}") is not None

        status, definition, _ = await get(http, base + f"{V2}/services/facilities.json")
        assert status == 200
        validator("service-definition.json").validate(definition)
        status, xml, _ = await get(http, base + f"{V2}/services/facilities.xml")
        assert xml.tag == "service_definition" and xml.findtext("service_code") == "facilities"

        form = {
            "api_key": key,
            "service_code": "facilities",
            **POINT_IN_GRID_1,
            "description": "The street lamp at the east gate is broken",
            "email": "someone@example.org",
            "first_name": "Outside",
            "last_name": "Client",
        }
        status, created = await post(http, base + f"{V2}/requests.json", form)
        assert status == 200, created
        request_id = created[0]["service_request_id"]
        assert request_id.startswith("GV-") and "token" not in created[0]
        assert created[0]["service_notice"]
        status, xml = await post(http, base + f"{V2}/requests.xml", {**form, "lat": "39.9106"})
        assert status == 200 and xml.tag == "service_requests"
        second_id = xml.findtext("request/service_request_id")
        assert second_id and second_id != request_id

        status, one, _ = await get(http, base + f"{V2}/requests/{request_id}.json")
        assert status == 200
        validator("requests.json").validate(one)
        assert one[0]["service_request_id"] == request_id
        assert one[0]["status"] == "open" and one[0]["service_code"] == "facilities"
        assert one[0]["agency_responsible"].startswith("Grid 1")
        assert one[0]["description"] is None  # free text is not published by default
        assert one[0]["lat"] == 39.911 and one[0]["long"] == 116.401  # a block, not a door
        status, xml, _ = await get(http, base + f"{V2}/requests/{request_id}.xml")
        request = xml.find("request")
        assert request is not None and request.findtext("service_request_id") == request_id
        for element in (
            "status", "status_notes", "service_name", "service_code", "description",
            "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
            "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url",
        ):  # fmt: skip
            assert request.find(element) is not None, element

        status, listed, _ = await get(
            http, base + f"{V2}/requests.json", service_code="facilities", status="open"
        )
        assert status == 200
        validator("requests.json").validate(listed)
        assert {r["service_request_id"] for r in listed} == {request_id, second_id}
        status, listed, _ = await get(
            http, base + f"{V2}/requests.json", service_request_id=f"{request_id},GV-2026-999999"
        )
        assert [r["service_request_id"] for r in listed] == [request_id]
        status, xml, _ = await get(http, base + f"{V2}/requests.xml", status="closed")
        assert status == 200 and xml.tag == "service_requests" and xml.findall("request") == []
        status, page, _ = await get(http, base + f"{V2}/requests.json", page="2", page_size="1")
        assert [r["service_request_id"] for r in page] == [request_id]  # newest first


async def test_a_posted_request_is_a_case_routed_to_the_grid_and_closed_back(web_world) -> None:
    w = web_world
    base = w.app.web_url
    key = await issue_key(w)
    async with aiohttp.ClientSession() as http:
        status, created = await post(
            http,
            base + f"{V2}/requests.json",
            {"api_key": key, "service_code": "sanitation", "address_string": "Xingfu 2",
             "description": "Rubbish piled by the bins"},
        )  # fmt: skip
        assert status == 200, created
        request_id = created[0]["service_request_id"]
        # the grid member gets a card like for any report, and resolves it with a note
        card = await w.card(MEMBER_1, request_id)
        await resolve(w, MEMBER_1, card, "Cleared the bins, told the caller at 5-302")
        edited = await w.wait_edited(MEMBER_1, card["message_id"], "已办结")
        await w.settle()
        status, one, _ = await get(http, base + f"{V2}/requests/{request_id}.json")
        assert one[0]["status"] == "closed"
        assert one[0]["status_notes"] is None  # the note to the resident is not published
        # the public note, written on purpose from the card, is what the client reads back
        last = await w.last_id(MEMBER_1)
        await w.act(MEMBER_1, edited, "pub")
        await w.wait_bot(MEMBER_1, after=last)
        await w.say(MEMBER_1, "Cleared the bins and asked the cleaners to come daily")
        await w.wait_bot(MEMBER_1, "Cleared the bins and asked", after=last)
        await w.settle()
        status, one, _ = await get(http, base + f"{V2}/requests/{request_id}.json")
        assert one[0]["status_notes"] == "Cleared the bins and asked the cleaners to come daily"
        assert (one[0]["lat"], one[0]["long"]) == (
            39.91,
            116.402,
        )  # the building's place, coarsened


async def test_errors_are_answered_as_the_spec_says(web_world) -> None:
    base = web_world.app.web_url
    key = await issue_key(web_world)
    async with web_world.app.domain.unit() as uow:
        revoked = await api_keys.create_key(uow.session, "old client", uow.now)
        await api_keys.revoke_key(uow.session, revoked.id, uow.now)
    url = base + f"{V2}/requests.json"
    good = {"service_code": "facilities", **POINT_IN_GRID_1}
    async with aiohttp.ClientSession() as http:
        cases = [
            ({**good}, 403),
            ({**good, "api_key": "wrong"}, 403),
            ({**good, "api_key": revoked.key}, 403),
            ({**good, "api_key": key, "service_code": "potholes"}, 404),
            ({"api_key": key, "service_code": "facilities"}, 400),
            ({"api_key": key, "service_code": "facilities", "lat": "39.91"}, 400),
            ({**good, "api_key": key, "lat": "91"}, 400),
            ({**good, "api_key": key, "lat": "nan"}, 400),
            ({**good, "api_key": key, "lat": "10", "long": "10"}, 400),
            ({**good, "api_key": key, "description": "x" * 4001}, 400),
            ({**good, "api_key": key, "email": "not-an-email"}, 400),
            ({"api_key": key, "service_code": "facilities", "address_id": "nowhere"}, 400),
            ({**good, "api_key": key, "jurisdiction_id": "x"}, 200),  # one jurisdiction: any
        ]
        for form, expected in cases:
            status, body = await post(http, url, form)
            assert status == expected, (form, body)
            if expected != 200:
                validator_errors(body, expected)
        status, xml = await post(http, base + f"{V2}/requests.xml", {**good})
        assert status == 403 and xml.tag == "errors"
        assert xml.findtext("error/code") == "403" and xml.findtext("error/description")

        for params in (
            {"start_date": "yesterday"},
            {"start_date": "2026-13-45T00:00:00Z"},
            {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
            {"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
            {"updated_after": "soon"},
            {"page": "0"},
            {"page": "-1"},
            {"page": "99999999999"},
            {"page_size": "1001"},
            {"status": "pending"},
            {"service_code": "potholes"},
            {"service_request_id": "1; DROP TABLE cases"},
        ):
            status, body, _ = await get(http, url, **params)
            assert status == 400, (params, body)
            validator_errors(body, 400)
        status, body, _ = await get(http, url, start_date="2026-11-01T00:00:00+08:00")
        assert status == 200
        status, body, _ = await get(http, base + f"{V2}/requests/GV-2026-999999.json")
        assert status == 404 and body[0]["code"] == 404
        status, body, _ = await get(http, base + f"{V2}/services/potholes.json")
        assert status == 404
        status, xml, _ = await get(http, base + f"{V2}/tokens/abc.xml")
        assert status == 404 and xml.tag == "errors"
        status, body, _ = await get(http, base + f"{V2}/nothing-here.json")
        assert status == 404 and body[0]["code"] == 404
        async with http.get(url, headers={"Accept-Language": "zh-CN"}, params={"page": "0"}) as r:
            assert "整数" in (await r.json())[0]["description"]


def validator_errors(body: list[dict], status: int) -> None:
    assert isinstance(body, list) and body, body
    assert body[0]["code"] == status and body[0]["description"]
    assert "Traceback" not in body[0]["description"]


async def test_the_default_window_is_the_last_90_days(web_world) -> None:
    w = web_world
    base = w.app.web_url
    key = await issue_key(w)
    async with aiohttp.ClientSession() as http:
        form = {"api_key": key, "service_code": "facilities", **POINT_IN_GRID_1}
        status, old = await post(http, base + f"{V2}/requests.json", form)
        w.clock.advance(timedelta(days=91))
        status, new = await post(http, base + f"{V2}/requests.json", form)
        status, listed, _ = await get(http, base + f"{V2}/requests.json")
        assert [r["service_request_id"] for r in listed] == [new[0]["service_request_id"]]
        old_id = old[0]["service_request_id"]
        status, listed, _ = await get(
            http, base + f"{V2}/requests.json", start_date="2026-11-01", end_date="2026-12-01"
        )
        assert [r["service_request_id"] for r in listed] == [old_id]
        status, listed, _ = await get(http, base + f"{V2}/requests.json", service_request_id=old_id)
        assert [r["service_request_id"] for r in listed] == [old_id]


async def test_a_posted_request_missed_by_its_member_escalates_to_the_leader(web_world) -> None:
    import asyncio

    from tests.support.world import LEADER

    w = web_world
    key = await issue_key(w)
    async with aiohttp.ClientSession() as http:
        status, created = await post(
            http,
            w.app.web_url + f"{V2}/requests.json",
            {"api_key": key, "service_code": "facilities", **POINT_IN_GRID_1},
        )
        request_id = created[0]["service_request_id"]
        await w.card(MEMBER_1, request_id)
        status, one, _ = await get(http, w.app.web_url + f"{V2}/requests/{request_id}.json")
        w.clock.advance(timedelta(days=3))  # well past the accept deadline
        w.app.domain.schedule_changed.set()
        await asyncio.sleep(0.3)
        await w.card(LEADER, request_id)
        await w.settle()
        status, later, _ = await get(http, w.app.web_url + f"{V2}/requests/{request_id}.json")
    assert later[0]["status"] == "open"
    assert later[0]["updated_datetime"] > one[0]["updated_datetime"]
    case = await find_public_case(w.app.domain, request_id)
    assert case is not None and case.status == "escalated" and case.responsible_role == "leader"
    assert [e.kind for e in case.timeline] == ["created", "escalated"]


async def test_a_submitters_details_are_forgotten_a_month_after_the_case_closed(web_world) -> None:
    from sqlalchemy import select

    from bot.services.cases import lifecycle as case_service
    from bot.services.scheduler import prune
    from bot.store.models import Open311Contact

    w = web_world
    key = await issue_key(w)
    async with aiohttp.ClientSession() as http:
        form = {"api_key": key, "service_code": "facilities", "email": "a@example.org"}
        _, done = await post(http, w.app.web_url + f"{V2}/requests.json", form | POINT_IN_GRID_1)
        _, still = await post(http, w.app.web_url + f"{V2}/requests.json", form | POINT_IN_GRID_1)
    domain = w.app.domain
    async with domain.unit() as uow:
        case = await case_service.find_case(uow, done[0]["service_request_id"])
        await case_service.reject(uow, MEMBER_1, case, "Reported twice")

    async def contacts() -> int:
        async with domain.sessions() as session:
            return len((await session.execute(select(Open311Contact))).all())

    await prune(domain)
    assert await contacts() == 2  # staff may still need them
    w.clock.advance(timedelta(days=31))
    await prune(domain)
    assert await contacts() == 1  # the open one keeps its way back to the person
