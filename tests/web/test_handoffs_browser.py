"""Hand-offs received on the public pages in a real headless Chromium: the community's page
with its "Hand-offs received" table and /about/numbers, in English and Chinese, at 1280 x 900
and at 390 x 844 (a phone), checked for anything off-screen and saved as handoffs-<lang>.png,
handoffs-<lang>-390.png, handoffs-numbers-<lang>.png in $GRIDVOICE_SCREENSHOT_DIR."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest

from bot.services import scheduler
from bot.services.cases import lifecycle
from bot.services.public import api_keys
from bot.store.models import CaseIntake
from tests.support.world import MEMBER_1, World
from tests.web.browser_helpers import in_browser, wide_and_narrow
from tests.web.open311_helpers import V2

pytestmark = pytest.mark.db

POINT = {"lat": "39.91052", "long": "116.40081"}


async def test_hand_offs_read_well_on_a_wide_screen_and_a_phone(web_world: World, browser) -> None:
    from selenium.webdriver.common.by import By
    from sqlalchemy import select

    w = web_world
    w.settings_overrides.update({"dashboard_min_cases": 2, "web_burst_per_ip": 10_000})
    await w.restart_bot()
    assert w.app is not None
    domain, base = w.app.domain, w.app.web_url
    keys = {}
    async with domain.unit() as uow:
        for link, level in (("xingfu-street", "street"), ("district-7", "district")):
            issued = await api_keys.create_key(uow.session, link, uow.now, link=link, level=level)
            keys[level] = issued.key
    async with aiohttp.ClientSession() as http:
        for level, count in (("street", 3), ("district", 1)):
            for n in range(count):
                form = {"api_key": keys[level], "service_code": "facilities", **POINT}
                form["attribute[remote_ref]"] = f"{level}-{n}"
                async with http.post(f"{base}{V2}/requests.json", data=form) as r:
                    assert r.status == 200, await r.text()
    w.clock.advance(timedelta(minutes=20))
    async with domain.unit() as uow:
        rows = (await uow.session.execute(select(CaseIntake))).scalars().all()
        for row in rows[:2]:
            await lifecycle.accept(uow, MEMBER_1, await lifecycle.get_case(uow, row.case_id))
    w.clock.advance(timedelta(hours=1))
    await scheduler.run_due(domain)
    problems: list[str] = []
    for lang, title in (("en", "Hand-offs received"), ("zh", "接收的交办件")):
        await in_browser(browser.get, f"{base}/communities/xingfu?lang={lang}")
        table = await in_browser(browser.find_element, By.CSS_SELECTOR, "table.handoffs")
        text = table.text
        assert "3" in text and ("street office" in text or "街道" in text), text
        heading = await in_browser(browser.find_element, By.ID, "handoffs-received")
        assert heading.text.startswith(title)
        problems += [
            f"community-{lang} {p}"
            for p in await in_browser(wide_and_narrow, browser, f"handoffs-{lang}")
        ]
        await in_browser(browser.get, f"{base}/about/numbers?lang={lang}#handoffs")
        problems += [
            f"numbers-{lang} {p}"
            for p in await in_browser(wide_and_narrow, browser, f"handoffs-numbers-{lang}")
        ]
    assert problems == []
