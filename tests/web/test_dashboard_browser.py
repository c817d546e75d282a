"""The dashboard in a real headless Chromium: the map is drawn with one clickable shape per grid,
a click opens the grid's page, in both languages; screenshots of every page go to
$GRIDVOICE_SCREENSHOT_DIR (dashboard, grid, case, numbers; en and zh)."""

from __future__ import annotations

import pytest

from tests.support.world import World
from tests.web.browser_helpers import in_browser, screenshot
from tests.web.dashboard_helpers import play_story

pytestmark = pytest.mark.db


async def test_map_drawn_and_a_click_opens_the_grid_page_in_both_languages(
    web_world: World, browser
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

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
        screenshot(browser, f"dashboard-{lang}")
        target = next(a for a in links if a.get_attribute("data-grid") == "xingfu-2")
        polygon = target.find_element(By.TAG_NAME, "polygon")
        await in_browser(polygon.click)
        await in_browser(
            WebDriverWait(browser, 10).until, lambda d: "/grids/xingfu-2" in d.current_url
        )
        assert grid_title in browser.title
        heading = await in_browser(browser.find_element, By.TAG_NAME, "h1")
        assert heading.text == grid_title
    await in_browser(browser.get, f"{base}/grids/xingfu-1?lang=en")
    screenshot(browser, "grid-en")
    await in_browser(browser.get, f"{base}/grids/xingfu-1?lang=zh")
    screenshot(browser, "grid-zh")
    for lang in ("en", "zh"):
        await in_browser(browser.get, f"{base}/cases/{ids['c2']}?lang={lang}")
        assert ids["c2"] in browser.title
        screenshot(browser, f"case-{lang}")
        await in_browser(browser.get, f"{base}/about/numbers?lang={lang}")
        screenshot(browser, f"numbers-{lang}")
