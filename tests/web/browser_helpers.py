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


def press_and_wait(driver: Any, button: Any, timeout: float = 10.0) -> None:
    """Press a button that leads to another page; return once that page has replaced this one
    (the button is gone from the document), so the next step reads the new page."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def gone(_driver: Any) -> bool:
        try:
            button.is_enabled()
        except WebDriverException:  # stale, or detached while the next page loads
            return True
        return False

    button.click()
    WebDriverWait(driver, timeout).until(gone)


def page_shot(driver: Any, name: str) -> Path:
    """The whole page (beyond the window) as docs/screenshots/<name>.png."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000), "scale": 1}
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


# What a person would see wrong on a page, found by the browser at its current width: anything
# sticking out sideways (a table may scroll inside its own box), map words under 13 px (names)
# or 12 px (counts), over one another or outside their grid, chart words under 9.5 px.
LAYOUT_PROBLEMS = """
const W = document.documentElement.clientWidth;
const problems = [];
if (document.documentElement.scrollWidth > W + 1) {
  problems.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + W);
}
for (const el of document.querySelectorAll('body *')) {
  const r = el.getBoundingClientRect();
  if (!r.width || !r.height || el.closest('.table-box') || el.closest('svg')) continue;
  if (r.right > W + 1 || r.left < -1) {
    problems.push(el.tagName.toLowerCase() + '.' + el.className + ' sticks out: ' + Math.round(r.left) + '..' + Math.round(r.right));
  }
}
const svg = document.getElementById('grid-map');
if (svg) {
  const scale = svg.getScreenCTM().a;
  const shown = [...svg.querySelectorAll('.map-labels text')].filter(
    (t) => getComputedStyle(t.parentNode).display !== 'none');
  const names = [];
  for (const t of shown) {
    const px = parseFloat(t.getAttribute('font-size')) * scale;
    const least = t.classList.contains('grid-name') ? 12.9 : 11.9;
    if (px < least) problems.push('map words at ' + px.toFixed(1) + ' px: ' + t.textContent);
    if (t.classList.contains('grid-name')) {
      const box = t.getBoundingClientRect();
      const shape = svg.querySelector('a[data-grid="' + t.dataset.grid + '"] polygon').getBoundingClientRect();
      if (box.left < shape.left - 1 || box.right > shape.right + 1 || box.top < shape.top - 1 || box.bottom > shape.bottom + 1) {
        problems.push('map name outside its grid: ' + t.textContent);
      }
      for (const other of names) {
        if (box.left < other.right && other.left < box.right && box.top < other.bottom && other.top < box.bottom) {
          problems.push('map names overprint: ' + t.textContent);
        }
      }
      names.push(box);
    }
  }
}
for (const figure of document.querySelectorAll('figure.chart')) {
  const shown = [...figure.querySelectorAll('svg')].filter((c) => getComputedStyle(c).display !== 'none');
  if (shown.length !== 1) problems.push(shown.length + ' weekly charts shown at once');
}
for (const chart of document.querySelectorAll('figure.chart svg')) {
  if (getComputedStyle(chart).display === 'none') continue;
  const px = parseFloat(chart.getAttribute('font-size')) * chart.getScreenCTM().a;
  if (px < 9.5) problems.push('chart words at ' + px.toFixed(1) + ' px');
}
return problems;
"""


def wide_and_narrow(driver: Any, name: str) -> list[str]:
    """Look at the page at 1280 x 900 and at 390 x 844 (a phone): the layout problems found at
    each width, and screenshots <name>.png and <name>-390.png (the whole page)."""
    found = []
    for width, height, shot in ((1280, 900, name), (390, 844, f"{name}-390")):
        driver.set_window_size(width, height)
        inner = driver.execute_script("return window.innerWidth")
        assert abs(inner - width) <= 16, (width, inner)
        found += [f"{width}px: {p}" for p in driver.execute_script(LAYOUT_PROBLEMS)]
        page_shot(driver, shot)
    driver.set_window_size(1280, 900)
    return found
