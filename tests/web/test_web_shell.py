"""The web edge's shell: languages, error pages without traces, static files, the front page."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.render import LANGUAGES
from bot.web.errors import error_middleware
from bot.web.keys import PAGES_KEY
from bot.web.pages import PageRenderer, accept_language, web_text_keys
from tests.web.browser_helpers import in_browser, screenshot


def test_every_web_text_exists_in_every_language() -> None:
    keys = {lang: web_text_keys(lang) for lang in LANGUAGES}
    for lang in LANGUAGES:
        assert keys["en"] - keys[lang] == set(), f"web texts missing in {lang}"
        assert keys[lang] - keys["en"] == set(), f"web texts only in {lang}"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh;q=0.8", "en"),
        ("fr-FR,zh;q=0.5", "zh"),
        ("", "en"),
        ("zh;q=abc,en;q=0.1", "en"),
        ("x" * 5000, "en"),
    ],
)
def test_accept_language_picks_the_readers_language(header: str, expected: str) -> None:
    assert accept_language(header) == expected


async def _client(app: web.Application) -> TestClient:
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_an_unexpected_error_never_shows_a_trace() -> None:
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals /home/app/db.py line 3")

    app = web.Application(middlewares=[error_middleware])
    app[PAGES_KEY] = PageRenderer(Settings())
    app.router.add_get("/broken", broken)
    app.router.add_get("/broken.json", broken)
    client = await _client(app)
    try:
        page = await client.get("/broken", headers={"Accept-Language": "zh-CN"})
        body = await page.text()
        assert page.status == 500
        assert "出了点问题" in body and "secret internals" not in body and "Traceback" not in body
        api = await client.get("/broken.json")
        assert api.status == 500
        assert await api.json() == {"error": "internal error"}
    finally:
        await client.close()


@pytest.mark.db
async def test_front_page_in_both_languages_and_choice_remembered(web_world) -> None:
    base = web_world.app.web_url
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(base + "/", headers={"Accept-Language": "zh-CN,zh"}) as r:
            assert r.status == 200 and "网格之声" in await r.text()
        async with http.get(base + "/?lang=en", headers={"Accept-Language": "zh-CN"}) as r:
            assert "Our community" in await r.text()
        # the explicit choice is remembered over Accept-Language
        async with http.get(base + "/", headers={"Accept-Language": "zh-CN"}) as r:
            assert "Our community" in await r.text()
        async with http.get(base + "/no/such/page", headers={"Accept-Language": "en"}) as r:
            assert r.status == 404 and "Page not found" in await r.text()
        async with http.get(base + "/static/gridvoice.css") as r:
            assert r.status == 200 and "text/css" in r.headers["Content-Type"]


@pytest.mark.db
async def test_front_page_in_a_real_browser(web_world, browser) -> None:
    base = web_world.app.web_url
    await in_browser(browser.get, base + "/?lang=zh")
    assert "网格之声" in browser.title
    screenshot(browser, "home-empty-zh")
    await in_browser(browser.get, base + "/?lang=en")
    assert "gridvoice" in browser.title
    screenshot(browser, "home-empty-en")


def test_english_page_texts_say_one_or_many_not_s_in_brackets() -> None:
    """ "1 case", "18 cases", "once": every web text with a count reads as English for 1 and 2."""
    import re

    from bot.render import TEMPLATES_DIR
    from bot.web.pages import _load_texts

    pages = PageRenderer(Settings())
    raw = _load_texts(TEMPLATES_DIR / "en" / "web.yaml")
    counted = sorted(k for k, v in raw.items() if re.search(r"\{\{ ?n ?\}\}|\bn ==", v))
    assert {"over_cases", "too_few_hint", "case_reopened_n", "case_duplicates_n"} <= set(counted)
    for key in counted:
        for n in (1, 2, 18):
            said = pages.text("en", key, n=n, minimum=10, page=1, pages=2, low=1, days=7)
            assert "(s)" not in said, (key, said)
    assert pages.text("en", "over_cases", n=1) == "1 case"
    assert pages.text("en", "over_cases", n=18) == "18 cases"
    assert pages.text("en", "case_reopened_n", n=1) == "once by the resident"
    assert pages.text("en", "case_reopened_n", n=3) == "3 times by the resident"


async def test_a_missing_page_says_it_does_not_exist_and_a_fault_says_try_again() -> None:
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("boom")

    app = web.Application(middlewares=[error_middleware])
    app[PAGES_KEY] = PageRenderer(Settings())
    app.router.add_get("/broken", broken)
    client = await _client(app)
    try:
        for lang, missing, fault in (
            ("en", "There is no page at this address", "try again in a moment"),
            ("zh", "此地址没有页面", "请稍后再试"),
        ):
            page = await client.get("/no/such/page", headers={"Accept-Language": lang})
            body = await page.text()
            assert page.status == 404 and missing in body and fault not in body
            assert 'href="/"' in body and 'href="/grids"' in body and 'href="/data/"' in body
            page = await client.get("/broken", headers={"Accept-Language": lang})
            body = await page.text()
            assert page.status == 500 and fault in body and missing not in body
    finally:
        await client.close()
