"""Open311 at the HTTP level: real 405 and 413 in the spec's error list, the documented
1,000-id query fits, limits named right, strict UTF-8 and no control characters in what is
stored, and a discovery changeset that is the grid map's date."""

from __future__ import annotations

import re
from datetime import UTC

import aiohttp
import pytest
from sqlalchemy import select

from bot.store.models import Case, GridMapVersion
from tests.support.world import World
from tests.web.open311_helpers import V2, issue_key

pytestmark = pytest.mark.db

POINT = {"lat": "39.91052", "long": "116.40081"}


async def test_a_method_an_endpoint_does_not_take_is_405_with_allow(web_world: World) -> None:
    base = web_world.app.web_url  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as http:
        for method, path in (
            ("PUT", f"{V2}/requests.json"),
            ("DELETE", f"{V2}/requests/GV-2026-000001.xml"),
            ("POST", f"{V2}/services.json"),
        ):
            async with http.request(method, base + path) as r:
                assert r.status == 405, (method, path)
                allowed = set(r.headers["Allow"].split(","))
                assert "GET" in allowed and method not in allowed
                if path.endswith(".json"):
                    body = await r.json()
                    assert body[0]["code"] == 405 and method in body[0]["description"]
                else:
                    assert "<code>405</code>" in await r.text()


async def test_a_body_over_the_limit_is_413_in_the_error_list(web_world: World) -> None:
    base = web_world.app.web_url  # type: ignore[union-attr]
    key = await issue_key(web_world)
    form = {"api_key": key, "service_code": "facilities", **POINT, "x": "y" * 3_000_000}
    async with aiohttp.ClientSession() as http:
        async with http.post(base + f"{V2}/requests.json", data=form) as r:
            assert r.status == 413
            body = await r.json()
            assert body[0]["code"] == 413 and "2,097,152" in body[0]["description"]


async def test_the_documented_thousand_id_query_fits_in_a_url(web_world: World) -> None:
    w = web_world
    base = w.app.web_url  # type: ignore[union-attr]
    await w.resident(7401, address="Xingfu Garden Building 1")
    case_id, _ = await w.report(7401, "The street light outside building 1 is broken")
    ids = [case_id] + [f"GV-2026-{n:012d}" for n in range(2, 1001)]
    async with aiohttp.ClientSession() as http:
        url = f"{base}{V2}/requests.json?service_request_id={','.join(ids)}"
        assert len(url) > 8190  # aiohttp's own limit on a request line
        async with http.get(url) as r:
            assert r.status == 200, await r.text()
            assert [c["service_request_id"] for c in await r.json()] == [case_id]
        async with http.get(url + ",GV-2026-1") as r:  # the 1,001st
            assert r.status == 400
            assert "1000" in (await r.json())[0]["description"]


async def test_the_description_limit_is_the_one_named(web_world: World) -> None:
    base = web_world.app.web_url  # type: ignore[union-attr]
    key = await issue_key(web_world)
    async with aiohttp.ClientSession() as http:
        for length in (4001, 9000):
            form = {"api_key": key, "service_code": "facilities", **POINT}
            async with http.post(
                base + f"{V2}/requests.json", data={**form, "description": "x" * length}
            ) as r:
                assert r.status == 400
                text = (await r.json())[0]["description"]
                assert "4000" in text and "8000" not in text, text


async def test_a_request_must_be_utf8_and_loses_its_control_characters(web_world: World) -> None:
    w = web_world
    base = w.app.web_url  # type: ignore[union-attr]
    key = await issue_key(w)
    url = base + f"{V2}/requests.json"
    fields = f"api_key={key}&service_code=facilities&lat={POINT['lat']}&long={POINT['long']}"
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    async with aiohttp.ClientSession() as http:
        for body, headers in (
            (fields + "&description=Lamp%FF%FE broken", form_type),
            ((fields + "&description=Lamp ").encode() + b"\xff\xfe broken", form_type),
            (
                fields + "&description=Lamp",
                {"Content-Type": "application/x-www-form-urlencoded; charset=utf-16"},
            ),
        ):
            async with http.post(url, data=body, headers=headers) as r:
                assert r.status == 400
                answer = await r.json()
                assert answer[0]["code"] == 400 and "UTF-8" in answer[0]["description"]
        parts = [("api_key", key), ("service_code", "facilities"), *POINT.items()]
        multipart = b"".join(
            b'--B\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
            % (name.encode(), value if isinstance(value, bytes) else value.encode())
            for name, value in [*parts, ("description", b"Lamp \xff broken")]
        )
        multipart += b"--B--\r\n"
        boundary = {"Content-Type": "multipart/form-data; boundary=B"}
        async with http.post(url, data=multipart, headers=boundary) as r:
            assert r.status == 400 and "UTF-8" in (await r.json())[0]["description"]

        spoof = "Lamp \u202e0001-GV\u202c broken\x07 at the \u2066gate\u2069\r\nsince Monday"
        form = {"api_key": key, "service_code": "facilities", **POINT, "description": spoof}
        form["first_name"] = "Mei\u202e"
        async with http.post(url, data=form) as r:
            assert r.status == 200
            human_id = (await r.json())[0]["service_request_id"]
    async with w.app.domain.sessions() as session:  # type: ignore[union-attr]
        text = (
            await session.execute(select(Case.text).where(Case.human_id == human_id))
        ).scalar_one()
    assert text == "Lamp 0001-GV broken at the gate\nsince Monday"


async def test_the_changeset_is_the_date_of_the_grid_map_in_force(web_world: World) -> None:
    w = web_world
    base = w.app.web_url  # type: ignore[union-attr]
    async with w.app.domain.sessions() as session:  # type: ignore[union-attr]
        loaded = (
            await session.execute(
                select(GridMapVersion.loaded_at).order_by(GridMapVersion.id.desc()).limit(1)
            )
        ).scalar_one()
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/open311/discovery.json") as r:
            discovery = await r.json()
        async with http.get(base + "/open311/discovery.xml") as r:
            xml = await r.text()
    changeset = discovery["changeset"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", changeset), changeset
    assert changeset == loaded.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert discovery["endpoints"][0]["changeset"] == changeset
    assert f"<changeset>{changeset}</changeset>" in xml
