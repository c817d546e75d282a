"""Fixtures for the web edge: the bot with its HTTP side on, and a real headless Chromium.

Browser tests drive Debian's `chromium` through `chromedriver` (selenium) and skip cleanly when
either is missing; `.ci/run` installs them. Screenshots go to a temporary folder, or to
$GRIDVOICE_SCREENSHOT_DIR (`GRIDVOICE_SCREENSHOT_DIR=docs/screenshots` refreshes the docs' ones)
so a person can look at them; a test run never changes the checkout.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.world import World, make_world


@pytest.fixture
async def web_world(tmp_path: Path) -> AsyncIterator[World]:
    """The emulator and the bot with the HTTP edge listening on a free port."""
    w, emu = await make_world(tmp_path, serve_http=True)
    try:
        yield w
    finally:
        await w.close()
        await w.sim.close()
        await emu.stop()


def _chromium_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium; the test is skipped where none can be had."""
    webdriver = pytest.importorskip("selenium.webdriver")
    paths = _chromium_paths()
    if paths is None:
        pytest.skip(
            "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        "--hide-scrollbars",  # a phone shows no scrollbar: the page gets its whole width
    ):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=paths[1]), options=options)
    except Exception as exc:  # a broken install: skip, do not fail the suite
        pytest.skip(f"chromium could not start: {exc}")
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
