"""The public dashboard: figures computed from cases the bot itself handled, on every page, in
both languages; paths validated; no personal data on the pages.

The story (grid xingfu-1, the manual clock; minimum count lowered to 2 to see the figures):
case 1 answered after 1 h, resolved after 2 h, rated 5; case 2 answered after 2 h, resolved after
4 h, reopened by the resident, resolved again after 5 h, rated 3; case 3 answered after 3 h and
left until its resolution deadline passed (escalated); case 4 filed in grid xingfu-2, left new.
The two ratings are of the month still running (and fewer than five): no figure shows them.
"""

from __future__ import annotations

import re
from datetime import timedelta

import aiohttp
import pytest

from bot.services.public.dashboard import Dashboard, percentile
from tests.support.chat import wake
from tests.support.world import World
from tests.web.dashboard_helpers import LAMP, play_story

pytestmark = pytest.mark.db


def _number(html: str, figure: str) -> str:
    """The big number of a card on a page."""
    match = re.search(rf'data-figure="{figure}">.*?<div class="num">(.*?)</div>', html, re.DOTALL)
    assert match, figure
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


async def _get(http: aiohttp.ClientSession, url: str, lang: str) -> tuple[int, str]:
    async with http.get(url, headers={"Accept-Language": lang}) as r:
        return r.status, await r.text()


async def test_figures_come_from_the_cases_the_bot_handled(web_world: World) -> None:
    ids = await play_story(web_world)
    assert web_world.app is not None
    dashboard = Dashboard(web_world.app.domain)
    grid = (await dashboard.grid("xingfu-1")).figures
    assert (grid.reported, grid.resolved) == (3, 2)
    assert grid.first_response.count == 3
    assert grid.first_response.median == pytest.approx(2 * 3600, abs=5)
    assert grid.first_response.p90 == pytest.approx(2.8 * 3600, abs=5)
    assert grid.resolution.median == pytest.approx(3.5 * 3600, abs=5)
    assert grid.resolution.p90 == pytest.approx(4.7 * 3600, abs=5)
    assert (grid.reopened.part, grid.reopened.whole) == (1, 2)
    # ratings of this month wait for it to be over (and for five of them): none shown yet
    assert (grid.rated.part, grid.rated.whole) == (0, 0) and grid.rating is None
    # nothing is due yet: both resolutions came before their deadlines
    assert (grid.on_time.part, grid.on_time.whole) == (2, 2)
    assert grid.open.total == 1 and grid.top_categories == [("facilities", 3)]
    # ten days later case 3's deadline has passed unresolved: it is due and late
    web_world.clock.advance(timedelta(days=10))
    await wake(web_world, 3)
    later = (await dashboard.grid("xingfu-1")).figures
    assert (later.on_time.part, later.on_time.whole) == (2, 3)
    assert later.open.total == 1 and later.open.new == 0
    assert later.top_categories == []
    assert sum(w.reported for w in later.weekly) == 3
    assert sum(w.resolved for w in later.weekly) == 2
    # a chart longer than the period counts its weeks on its own
    from dataclasses import replace
    from types import SimpleNamespace

    domain = web_world.app.domain
    longer = SimpleNamespace(
        settings=replace(domain.settings, dashboard_weeks=20),
        engine=domain.engine,
        clock=domain.clock,
        sqlite=domain.sqlite,
        routing=domain.routing,
    )
    weekly = (await Dashboard(longer).grid("xingfu-1")).figures.weekly  # type: ignore[arg-type]
    assert len(weekly) == 20 and [w.reported for w in weekly[-12:]] == [
        w.reported for w in later.weekly
    ]
    community = await dashboard.community()
    assert community.figures.reported == 4 and community.figures.open.total == 2
    assert community.grids["xingfu-2"].open.total == 1
    assert community.grids["xingfu-2"].on_time.value is None  # too few cases
    # the same numbers on the pages, in both languages
    base = web_world.app.web_url
    async with aiohttp.ClientSession() as http:
        status, en = await _get(http, f"{base}/grids/xingfu-1", "en")
        assert status == 200
        assert _number(en, "first_response") == "2h 0m"
        assert _number(en, "resolution") == "3h 30m"
        assert _number(en, "on_time") == "67%"
        assert _number(en, "reopened") == "50%"
        assert _number(en, "satisfaction") == "too few ratings yet"  # two, of this month
        assert "9 in 10 within 2h 48m" in en
        assert ids["c1"] in en and "/cases/" + ids["c3"] in en
        status, zh = await _get(http, f"{base}/grids/xingfu-1", "zh-CN")
        assert status == 200 and _number(zh, "first_response") == "2小时0分"
        assert _number(zh, "on_time") == "67%" and "九成在 2小时48分 内" in zh
        status, other = await _get(http, f"{base}/grids/xingfu-2?lang=en", "zh")
        assert status == 200 and _number(other, "first_response") == "too few cases"
        status, home = await _get(http, f"{base}/", "en")
        assert status == 200 and _number(home, "open") == "2" and _number(home, "reported") == "4"
        assert home.count('class="grid-link"') == 4
        assert "at least 2 cases" in home
        status, home_zh = await _get(http, f"{base}/", "zh")
        assert status == 200 and "未办结" in home_zh and home_zh.count('class="grid-link"') == 4
        for page in (en, zh, home, home_zh):
            _no_personal_data(page)


def _no_personal_data(page: str) -> None:
    for secret in (
        "Resident901",
        "Resident902",
        "王芳",
        "901",
        "10001",
        "Xingfu Garden Building 1",
    ):
        assert secret not in page, secret


async def test_case_page_shows_the_public_steps_in_both_languages(web_world: World) -> None:
    ids = await play_story(web_world)
    assert web_world.app is not None
    base = web_world.app.web_url
    async with aiohttp.ClientSession() as http:
        status, en = await _get(http, f"{base}/cases/{ids['c2']}", "en")
        assert status == 200
        assert ids["c2"] in en and "resolved" in en and "Public facilities" in en
        assert "Reopened by the resident" in en and en.count("<li><time>") >= 6
        assert "Grid 1 (Xingfu Garden south)" in en
        assert LAMP not in en and "Still dark" not in en and "New cable" not in en
        _no_personal_data(en)
        status, zh = await _get(http, f"{base}/cases/{ids['c2'].lower()}", "zh")
        assert status == 200 and "居民重新打开" in zh and "第一网格" in zh
        _no_personal_data(zh)


async def test_about_the_numbers_states_the_thresholds(web_world: World) -> None:
    assert web_world.app is not None
    base = web_world.app.web_url
    async with aiohttp.ClientSession() as http:
        status, en = await _get(http, f"{base}/about/numbers", "en")
        assert status == 200 and "at least 10 cases" in en and "14 days" in en and "90 days" in en
        status, zh = await _get(http, f"{base}/about/numbers", "zh")
        assert status == 200 and "数据说明" in zh and "至少有 10 件" in zh


@pytest.mark.parametrize(
    "path",
    [
        "/grids/no-such-grid",
        "/grids/" + "x" * 65,
        "/grids/%3Cscript%3E",
        "/cases/GV-2026-999999",
        "/cases/GV-2026-" + "9" * 40,
        "/cases/GV-26-000001",
        "/cases/hello",
        "/cases/GV-2026-000001%27%20OR%201=1",
        "/about/nothing",
        "/grids?page=0",
        "/grids?page=2",
        "/grids?page=abc",
        "/grids?page=-1",
        "/grids?page=" + "9" * 30,
    ],
)
async def test_unknown_or_malformed_paths_are_a_404_page(web_world: World, path: str) -> None:
    assert web_world.app is not None
    async with aiohttp.ClientSession() as http:
        status, body = await _get(http, web_world.app.web_url + path, "en")
    assert status == 404 and "Page not found" in body and "Traceback" not in body


async def test_pages_of_an_empty_deployment_say_no_cases_yet_once(web_world: World) -> None:
    assert web_world.app is not None
    async with aiohttp.ClientSession() as http:
        status, home = await _get(http, web_world.app.web_url + "/?lang=zh", "en")
        assert status == 200 and home.count("暂无诉求") == 1
        assert "案例过少" not in home and 'class="chart"' not in home
        assert home.count('class="grid-link"') == 4  # the map still shows where the grids are
        status, grid = await _get(http, web_world.app.web_url + "/grids/xingfu-3", "en")
        assert status == 200 and grid.count("No cases yet.") == 1
        assert "too few cases" not in grid and "0 case" not in grid


async def test_grid_list_pages_every_grid_in_both_languages(web_world: World) -> None:
    assert web_world.app is not None
    async with aiohttp.ClientSession() as http:
        for lang, title in (("en", "Grid by grid"), ("zh", "各网格情况")):
            status, page = await _get(http, web_world.app.web_url + "/grids?page=1", lang)
            assert status == 200 and title in page
            assert page.count("<tr data-grid=") == 4 and 'rel="next"' not in page


def test_percentile_interpolates_like_postgresql() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([1, 2, 3], 0.5) == 2
    assert percentile([1, 2, 3], 0.9) == pytest.approx(2.8)
    assert percentile([4, 1], 0.5) == pytest.approx(2.5)


def test_every_public_status_event_and_rung_has_a_text_in_every_language() -> None:
    from bot.render import LANGUAGES
    from bot.services.public.cases import PUBLIC_EVENTS, PUBLIC_STATUS
    from bot.web.pages import web_text_keys

    for lang in LANGUAGES:
        keys = web_text_keys(lang)
        for status in set(PUBLIC_STATUS.values()):
            assert f"status_{status}" in keys, (lang, status)
        for kind in set(PUBLIC_EVENTS.values()):
            assert f"event_{kind}" in keys, (lang, kind)
        for rung in ("member", "leader", "centre", "street", "party"):
            assert f"rung_{rung}" in keys, (lang, rung)


async def test_figures_asked_for_at_once_are_computed_once(monkeypatch) -> None:
    import asyncio
    import time
    from contextlib import asynccontextmanager
    from types import SimpleNamespace

    from bot.config import Settings

    @asynccontextmanager
    async def no_connection(engine: object):  # type: ignore[no-untyped-def]
        yield None

    domain = SimpleNamespace(settings=Settings(dashboard_cache=timedelta(seconds=30)), engine=None)
    dashboard = Dashboard(domain)  # type: ignore[arg-type]
    monkeypatch.setattr("bot.services.public.dashboard.reading", no_connection)
    calls = 0

    async def compute(session: object) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return 42

    results = await asyncio.gather(*(dashboard._cached(("k",), compute) for _ in range(20)))
    assert results == [42] * 20 and calls == 1
    assert await dashboard._cached(("k",), compute) == 42 and calls == 1  # still fresh
    # past its reuse time: the old value at once, one refresh behind it
    dashboard._cache[("k",)] = (time.monotonic() - 1, 41)
    assert await dashboard._cached(("k",), compute) == 41
    await asyncio.sleep(0.1)
    assert calls == 2 and await dashboard._cached(("k",), compute) == 42
    # long forgotten: computed while the reader waits
    dashboard._cache[("k",)] = (time.monotonic() - 3600, 40)
    assert await dashboard._cached(("k",), compute) == 42 and calls == 3


def test_public_address_and_minimum_come_from_the_environment(monkeypatch) -> None:
    from bot.config import Settings
    from bot.services.cases.lifecycle import public_page

    monkeypatch.setenv("GRIDVOICE_PUBLIC_URL", "https://grid.example.org/")
    monkeypatch.setenv("GRIDVOICE_DASHBOARD_MIN_CASES", "25")
    settings = Settings.from_env()
    assert settings.public_url == "https://grid.example.org"
    assert settings.dashboard_min_cases == 25 and settings.publish_descriptions is False
    assert public_page(settings.public_url, "GV-2026-000007") == (
        "https://grid.example.org/cases/GV-2026-000007"
    )
    assert public_page(None, "GV-2026-000007") is None
    # the minimum count of ratings is a setting, never below five
    from bot.services.public.figures import Rules

    monkeypatch.setenv("GRIDVOICE_RATING_MIN_COUNT", "8")
    assert Rules.of(Settings.from_env()).rating_minimum == 8
    monkeypatch.setenv("GRIDVOICE_RATING_MIN_COUNT", "2")
    assert Rules.of(Settings.from_env()).rating_minimum == 5
    assert Rules.of(Settings(rating_min_count=1)).rating_minimum == 5
