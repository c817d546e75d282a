"""What browser tests share: where screenshots go, taking them, and calling selenium.

A module of its own (not conftest.py) so test modules can import it by name: several test
directories have a module called `conftest`.
"""

from __future__ import annotations

import asyncio
import base64
import os
import tempfile
from pathlib import Path
from typing import Any

# A test run leaves the checkout as it found it: screenshots go to a temporary folder unless
# GRIDVOICE_SCREENSHOT_DIR names one (`GRIDVOICE_SCREENSHOT_DIR=docs/screenshots` refreshes
# the ones the docs show).
SCREENSHOT_DIR = Path(
    os.environ.get("GRIDVOICE_SCREENSHOT_DIR")
    or Path(tempfile.gettempdir()) / "gridvoice-screenshots"
)


def screenshot(driver: Any, name: str) -> Path:
    """Save what the browser shows as docs/screenshots/<name>.png (full page height)."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    # the window's outer size includes the browser's own frame: leave room for it
    driver.set_window_size(1280, max(900, min(int(height) + 160, 6000)))
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)
    return path


async def in_browser(fn: Any, *args: Any) -> Any:
    """Run a (blocking) selenium call off the event loop, so the bot under test keeps serving."""
    return await asyncio.to_thread(fn, *args)


def page_shot(driver: Any, name: str) -> Path:
    """The whole page (beyond the window) as docs/screenshots/<name>.png."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 4000), "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path = SCREENSHOT_DIR / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def narrow_shot(driver: Any, name: str, width: int = 390) -> Path:
    """The whole page as a phone shows it (390 px wide), then the window as it was."""
    before = driver.get_window_size()
    driver.set_window_size(width, before["height"])
    try:
        return page_shot(driver, name)
    finally:
        driver.set_window_size(before["width"], before["height"])
