"""The public pages in a real headless Chromium: the map is drawn with one clickable shape per
grid and a click opens the grid's page, in both languages; then every public page, in English
and Chinese, at 1280 x 900 and at 390 x 844 (a phone), checked for what a person would see
wrong (anything off-screen sideways, map words too small, overprinted or outside their grid,
chart words too small) and saved as <page>-<lang>.png and <page>-<lang>-390.png in
$GRIDVOICE_SCREENSHOT_DIR: home (a map with two communities), community, grids, grid,
grid-empty, case, numbers, data, 404."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.services.shared.gridmap_store import load_document
from tests.support.maps import two_communities
from tests.support.world import World
from tests.web.browser_helpers import in_browser, wide_and_narrow
from tests.web.dashboard_helpers import play_story

pytestmark = pytest.mark.db


async def test_every_public_page_reads_well_on_a_wide_screen_and_a_phone(
    web_world: World, browser
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    web_world.settings_overrides["dashboard_cache"] = timedelta(0)  # pages follow the new map
    ids = await play_story(web_world)
    assert web_world.app is not None
    base = web_world.app.web_url
    for lang, grid_title in (
        ("en", "Grid 2 (Xingfu Garden north)"),
        ("zh", "第二网格（幸福小区北）"),
    ):
        await in_browser(browser.get, f"{base}/?lang={lang}")
        shapes = await in_browser(browser.find_elements, By.CSS_SELECTOR, "#grid-map polygon")
        assert len(shapes) == 4
        links = await in_browser(browser.find_elements, By.CSS_SELECTOR, "#grid-map a.grid-link")
        assert sorted(a.get_attribute("data-grid") for a in links) == [
            "xingfu-1",
            "xingfu-2",
            "xingfu-3",
            "xingfu-4",
        ]
        # a grid with open cases is coloured differently from one without
        fills = {
            a.get_attribute("data-grid"): a.find_element(By.TAG_NAME, "polygon").get_attribute(
                "fill"
            )
            for a in links
        }
        assert fills["xingfu-1"] != fills["xingfu-3"]
        # the SVG really is laid out (not an empty box)
        box = await in_browser(
            browser.execute_script,
            "return document.getElementById('grid-map').getBoundingClientRect().height",
        )
        assert box > 100
        target = next(a for a in links if a.get_attribute("data-grid") == "xingfu-2")
        polygon = target.find_element(By.TAG_NAME, "polygon")
        await in_browser(polygon.click)
        await in_browser(
            WebDriverWait(browser, 10).until, lambda d: "/grids/xingfu-2" in d.current_url
        )
        assert grid_title in browser.title
        heading = await in_browser(browser.find_element, By.TAG_NAME, "h1")
        assert heading.text == grid_title

    # the same cases on a map of two communities: every page, both languages, both widths
    await load_document(web_world.app.domain, two_communities(), "two-communities")
    pages = {
        "home": "/",
        "community": "/communities/xingfu",
        "grids": "/grids",
        "grid": "/grids/xingfu-1",
        "grid-empty": "/grids/xingfu-3",
        "case": f"/cases/{ids['c2']}",
        "numbers": "/about/numbers",
        "data": "/data/",
        "404": "/no/such/page",
    }
    problems: list[str] = []
    for lang in ("en", "zh"):
        for name, path in pages.items():
            sep = "&" if "?" in path else "?"
            await in_browser(browser.get, f"{base}{path}{sep}lang={lang}")
            found = await in_browser(wide_and_narrow, browser, f"{name}-{lang}")
            problems += [f"{name}-{lang} {p}" for p in found]
        # on a phone the key columns of the grid table are on screen without scrolling
        await in_browser(browser.get, f"{base}/grids?lang={lang}")
        await in_browser(browser.set_window_size, 390, 844)
        right = await in_browser(
            browser.execute_script,
            "const th = document.querySelectorAll('table.grids thead th');"
            "return [th[0].textContent, th[2].textContent, th[2].getBoundingClientRect().right,"
            " document.documentElement.clientWidth];",
        )
        await in_browser(browser.set_window_size, 1280, 900)
        assert right[1] in ("On time", "按期") and right[2] <= right[3], right
    assert problems == []
