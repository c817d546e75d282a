"""The public pages as a resident reads them: one page per community (never two communities
added up under "our community"), an empty grid that says "no cases yet" once, a period with
nothing in it said in one line. Pages asked through aiohttp's test client on the fast domain."""

from __future__ import annotations

import re
from datetime import timedelta

from page_helpers import get, load_two_communities, pages
from unit_helpers import file_case, new_resident


def _number(html: str, figure: str) -> str:
    match = re.search(rf'data-figure="{figure}">.*?<div class="num">(.*?)</div>', html, re.DOTALL)
    assert match, figure
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def _row(html: str, attribute: str, key: str) -> list[str]:
    """The cells of a table row, as text."""
    match = re.search(rf'<tr {attribute}="{key}">(.*?)</tr>', html, re.DOTALL)
    assert match, key
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td.*?</td>", match.group(1))]


async def _cases(domain, *buildings: str) -> None:
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        for building in buildings:
            await file_case(uow, resident, building=building, as_category="facilities")


async def test_each_community_has_its_own_page_and_the_front_page_lists_them(domain) -> None:
    await load_two_communities(domain)
    await _cases(domain, "xf-1", "hp-2", "ak-1")  # one in Xingfu, two in Heping
    client = await pages(domain)
    try:
        status, home = await get(client, "/", "en")
        assert status == 200 and "Our community" not in home
        assert 'href="/communities/xingfu"' in home and 'href="/communities/heping"' in home
        assert _row(home, "data-community", "xingfu")[:2] == ["Xingfu Community 2 grids", "1"]
        assert _row(home, "data-community", "heping")[:2] == ["Heping Community 2 grids", "2"]
        assert 'data-figure="open"' not in home  # no figure adds the two communities up
        assert home.count('class="grid-link"') == 4  # the map shows every grid
        status, heping = await get(client, "/communities/heping", "en")
        assert status == 200 and "<h1>Heping Community: reports in the open</h1>" in heping
        assert _number(heping, "open") == "2" and _number(heping, "reported") == "2"
        assert heping.count("<tr data-grid=") == 2 and 'data-grid="xingfu-1"' not in heping
        assert heping.count('class="grid-link"') == 2
        status, xingfu = await get(client, "/communities/xingfu", "zh")
        assert status == 200 and "<h1>幸福社区的诉求，公开可查</h1>" in xingfu
        assert _number(xingfu, "open") == "1"
        status, grid = await get(client, "/grids/xingfu-3", "en")
        assert 'href="/communities/heping">Heping Community</a>' in grid
        status, listed = await get(client, "/grids?community=heping", "en")
        assert status == 200 and listed.count("<tr data-grid=") == 2
        status, everything = await get(client, "/grids", "en")
        assert everything.count('<tr class="group">') == 2  # each community's grids under it
        for bad in ("/communities/nowhere", "/communities/%3Cb%3E", "/grids?community=nowhere"):
            status, page = await get(client, bad, "en")
            assert status == 404 and "There is no page at this address" in page, bad
    finally:
        await client.close()


async def test_a_single_community_is_the_front_page(domain) -> None:
    await _cases(domain, "xf-1")
    client = await pages(domain)
    try:
        status, home = await get(client, "/", "en")
        assert status == 200 and "Our community" in home and "Xingfu Community" in home
        assert _number(home, "open") == "1"
        status, page = await get(client, "/communities/xingfu", "en")
        assert status == 200 and _number(page, "open") == "1"
    finally:
        await client.close()


async def test_an_empty_grid_says_no_cases_yet_once(domain) -> None:
    await _cases(domain, "xf-1")
    client = await pages(domain)
    try:
        for lang, said, too_few in (
            ("en", "No cases yet.", "too few cases"),
            ("zh", "暂无诉求。", "案例过少"),
        ):
            status, page = await get(client, "/grids/xingfu-3", lang)
            assert status == 200 and page.count(said) == 1
            assert too_few not in page and 'class="chart"' not in page
            assert "data-figure=" not in page and "case(s)" not in page
            status, busy = await get(client, "/grids/xingfu-1", lang)
            assert 'class="chart"' in busy and _number(busy, "open") == "1"
    finally:
        await client.close()


async def test_a_quiet_period_is_said_in_one_line(domain, clock) -> None:
    await _cases(domain, "xf-1")
    clock.advance(timedelta(days=100))  # still open, but reported before the period
    client = await pages(domain)
    try:
        status, page = await get(client, "/grids/xingfu-1", "en")
        assert status == 200 and _number(page, "open") == "1"
        assert "Nothing reported in the last 90 days." in page
        assert "Nothing reported or resolved in the last 12 weeks." in page
        assert 'data-figure="on_time"' not in page and 'class="chart"' not in page
    finally:
        await client.close()
