"""Open data as a journalist finds and opens it: the /data/ page in both languages naming every
file (each month's too), its licence and its fields from the one list datapackage.json is built
from; grid-months.csv with a row for every grid and month; CSV cells a spreadsheet cannot run."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import yaml
from page_helpers import demo_document, get, pages
from unit_helpers import file_case, new_resident

from bot.services.public import open_data
from bot.services.shared.csvfile import BOM, cell, csv_bytes, csv_line
from bot.services.shared.gridmap_store import load_document


async def test_the_data_page_links_every_file_and_month_with_its_fields(domain, clock) -> None:
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        await file_case(uow, resident, as_category="facilities")
    clock.advance(timedelta(days=20))  # the next month: two monthly files
    months = await open_data.months_published(domain)
    assert months == ["2026-11", "2026-12"]
    client = await pages(domain)
    try:
        async with client.get("/data?lang=en", allow_redirects=False) as r:
            assert r.status == 308 and r.headers["Location"] == "/data/?lang=en"
        status, en = await get(client, "/data", "en")
        assert status == 200 and "<h1>Open data</h1>" in en
        for resource in open_data.RESOURCES:
            assert f'href="/data/{resource.path}"' in en, resource.path
        for month in months:
            assert f'href="/data/cases-{month}.csv"' in en
        for name, _, text in open_data.CASE_FIELDS + open_data.MONTH_FIELDS:
            assert f"<code>{name}</code>" in en and text.replace("'", "&#39;") in en
        assert 'href="/data/datapackage.json"' in en and "creativecommons.org" in en
        assert "apostrophe" in en and "utf-8-sig" in en
        status, zh = await get(client, "/data/", "zh-CN")
        assert status == 200 and "<h1>开放数据</h1>" in zh
        for name, text in open_data.CASE_FIELDS_ZH.items():
            assert f"<code>{name}</code>" in zh and text in zh
        # every page's footer leads there, not to the raw package
        status, home = await get(client, "/", "en")
        assert 'href="/data/"' in home and 'href="/data/datapackage.json"' not in home
    finally:
        await client.close()


def test_every_published_field_has_a_chinese_description() -> None:
    for resource in open_data.RESOURCES:
        for name, _, _ in resource.fields:
            assert resource.fields_zh.get(name), (resource.name, name)


async def test_grid_months_has_every_grid_in_every_month_with_zeros(domain, clock) -> None:
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        await file_case(uow, resident, as_category="facilities")
    clock.advance(timedelta(days=20))
    client = await pages(domain)
    try:
        async with client.get("/data/grid-months.csv") as r:
            body = (await r.read()).decode("utf-8")
    finally:
        await client.close()
    rows = list(csv.DictReader(io.StringIO(body.removeprefix(BOM))))
    grids = list(domain.routing.gridmap.grids)
    assert [(row["grid_id"], row["month"]) for row in rows] == [
        (g, m) for g in grids for m in ("2026-11", "2026-12")
    ]
    counted = {(row["grid_id"], row["month"]): row for row in rows}
    assert counted[("xingfu-1", "2026-11")]["reported"] == "1"
    empty = counted[("xingfu-3", "2026-12")]
    assert empty["reported"] == empty["open"] == "0"
    # ratings of a month are published only once it is over, so this one's are empty
    assert empty["rated"] == empty["average_rating"] == ""


def test_a_cell_a_spreadsheet_would_run_is_text() -> None:
    assert (
        cell('=HYPERLINK("http://evil.example","click")')
        == '\'=HYPERLINK("http://evil.example","click")'
    )
    for start in ("+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "  =1", "\x1b=1"):
        assert cell(start).startswith("'"), start
    assert cell("a\x1bb\x7fc\x9bd\x00") == "abcd"  # ESC, DEL, CSI, NUL: gone
    assert cell("a\x0bb\x85c") == "a b c"  # vertical tab, next line: breaks, so spaces
    assert cell("line one\r\nline two\ttab") == "line one line two tab"
    assert cell(-73.95) == -73.95 and cell(0) == 0 and cell(None) == ""  # numbers stay numbers
    assert cell("路灯不亮") == "路灯不亮" and cell("a-b = c") == "a-b = c"
    assert csv_line(["=1", 'say "hi"']) == '\'=1,"say ""hi"""\r\n'
    assert csv_bytes([["名称"], ["第一网格"]]).startswith(b"\xef\xbb\xbf")


async def test_downloads_start_with_a_bom_and_neutralise_formulas(domain) -> None:
    doc = demo_document()
    doc["communities"][0]["grids"][0]["name"]["en"] = '=HYPERLINK("http://evil.example","x")\x1b'
    await load_document(domain, yaml.safe_dump(doc, allow_unicode=True), "formula")
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        await file_case(uow, resident, as_category="facilities")
    client = await pages(domain)
    try:
        for path in ("/data/cases.csv", "/data/grid-months.csv", "/data/cases-2026-11.csv"):
            async with client.get(path) as r:
                body = (await r.read()).decode("utf-8")
            assert body.startswith(BOM), path
            rows = list(csv.DictReader(io.StringIO(body.removeprefix(BOM))))
            assert rows[0]["grid_name"] == '\'=HYPERLINK("http://evil.example","x")', path
            assert "\x1b" not in body
    finally:
        await client.close()
