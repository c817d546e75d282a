"""Open data: stable download URLs and `gridvoice export`, described by a Frictionless data
package that the `frictionless` library validates; a case filed in the bot is in it with the
same status as in the API."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import aiohttp
import pytest

from bot.cli.export import export_files
from bot.services.public.open_data import month_bounds, parse_month
from tests.support.world import MEMBER_1
from tests.web.open311_helpers import V2, get, issue_key, post

pytestmark = pytest.mark.db


async def _fill(w) -> tuple[str, str]:
    await w.resident(601, address="Xingfu Garden Building 1")
    case_id, filed = await w.report(601, "The street lamp outside is broken, it is dark at night")
    card = await w.card(MEMBER_1, case_id)
    await w.act(MEMBER_1, card, "acc")
    await w.wait_bot(601, case_id, after=filed["message_id"])
    key = await issue_key(w)
    async with aiohttp.ClientSession() as http:
        status, created = await post(
            http,
            w.app.web_url + f"{V2}/requests.json",
            {"api_key": key, "service_code": "traffic", "lat": "39.9145", "long": "116.4071",
             "description": "Cars parked on the fire lane, again, every night"},
        )  # fmt: skip
        assert status == 200
    await w.settle()
    return case_id, created[0]["service_request_id"]


async def test_downloads_are_valid_open_data_with_the_same_status_as_the_api(
    web_world, tmp_path: Path
) -> None:
    frictionless = pytest.importorskip("frictionless")
    w = web_world
    bot_case, api_case = await _fill(w)
    base = w.app.web_url
    month = w.clock.now().astimezone(w.app.domain.routing.gridmap.tz).strftime("%Y-%m")
    names = {
        "datapackage.json": "/data/datapackage.json",
        "cases.csv": "/data/cases.csv",
        f"cases-{month}.csv": f"/data/cases-{month}.csv",
        "grid-months.csv": "/data/grid-months.csv",
        "proposals.csv": "/data/proposals.csv",
        "grids.geojson": "/data/grids.geojson",
        "cases.geojson": "/data/cases.geojson",
    }
    async with aiohttp.ClientSession() as http:
        for name, url in names.items():
            async with http.get(base + url) as r:
                assert r.status == 200, url
                (tmp_path / name).write_bytes(await r.read())
        status, api, _ = await get(http, base + f"{V2}/requests/{bot_case}.json")
        # ... and on the dashboard's case page, with the same status
        async with http.get(base + f"/cases/{bot_case}?lang=en") as r:
            page = await r.text()
            assert r.status == 200 and 'class="status s-in_progress"' in page
            assert "in progress" in page
        async with http.get(base + "/data/cases-2026-13.csv") as r:
            assert r.status == 404

    report = frictionless.validate(str(tmp_path / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])

    rows = list(csv.DictReader(io.StringIO((tmp_path / "cases.csv").read_text("utf-8-sig"))))
    by_id = {r["service_request_id"]: r for r in rows}
    assert set(by_id) == {bot_case, api_case}
    assert by_id[bot_case]["status"] == api[0]["status"] == "open"
    assert by_id[bot_case]["status_description"] == "in_progress"
    assert by_id[bot_case]["grid_id"] == "xingfu-1" and by_id[bot_case]["source"] == "bot"
    assert by_id[api_case]["source"] == "open311" and by_id[api_case]["grid_id"] == "xingfu-4"
    assert by_id[bot_case]["description"] == ""  # residents' words are never published
    month_rows = (tmp_path / f"cases-{month}.csv").read_text("utf-8-sig").splitlines()
    assert len(month_rows) == 3

    grids = json.loads((tmp_path / "grids.geojson").read_text("utf-8"))
    assert len(grids["features"]) == 4
    ring = grids["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and ring[0][0] > 100  # [longitude, latitude]
    points = json.loads((tmp_path / "cases.geojson").read_text("utf-8"))
    coords = [f["geometry"]["coordinates"] for f in points["features"]]
    assert all(round(c, 3) == c for pair in coords for c in pair)

    months = list(
        csv.DictReader(io.StringIO((tmp_path / "grid-months.csv").read_text("utf-8-sig")))
    )
    assert {(m["grid_id"], m["month"], m["reported"], m["responded"]) for m in months} == {
        ("xingfu-1", month, "1", "1"),
        ("xingfu-2", month, "0", "0"),
        ("xingfu-3", month, "0", "0"),
        ("xingfu-4", month, "1", "0"),
    }
    package = json.loads((tmp_path / "datapackage.json").read_text("utf-8"))
    assert package["licenses"][0]["name"] == "CC-BY-4.0"


async def test_gridvoice_export_writes_the_same_files(web_world, tmp_path: Path) -> None:
    frictionless = pytest.importorskip("frictionless")
    w = web_world
    await _fill(w)
    written = await export_files(w.app.domain, tmp_path / "out", None)
    assert {p.name for p, _ in written} == {
        "cases.csv", "cases.geojson", "grid-months.csv", "grids.geojson", "datapackage.json",
        "proposals.csv",
    }  # fmt: skip
    assert dict((p.name, n) for p, n in written)["cases.csv"] == 2
    report = frictionless.validate(str(tmp_path / "out" / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    month = w.clock.now().strftime("%Y-%m")
    written = await export_files(w.app.domain, tmp_path / "month", month)
    assert dict((p.name, n) for p, n in written)[f"cases-{month}.csv"] == 2
    written = await export_files(w.app.domain, tmp_path / "empty", "2020-01")
    assert dict((p.name, n) for p, n in written)["cases-2020-01.csv"] == 0


def test_months_are_checked_and_bounded_in_the_deployments_zone() -> None:
    from zoneinfo import ZoneInfo

    assert parse_month("2026-11") == "2026-11"
    for bad in ("2026-13", "26-11", "2026-1", "2026-11-01", "x", "1999-12"):
        assert parse_month(bad) is None
    start, end = month_bounds("2026-12", ZoneInfo("Asia/Shanghai"))
    assert start.isoformat() == "2026-12-01T00:00:00+08:00"
    assert end.year == 2026 and end.month == 12 and end.day == 31
