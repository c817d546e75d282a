"""The public duty list ("who does what") in a real headless Chromium, after a ruling changed
it: in English and Chinese, at 1280 x 900 and 390 x 844, nothing off-screen sideways, the
history shows the change; saved as duties-<lang>.png and duties-<lang>-390.png in
$GRIDVOICE_SCREENSHOT_DIR."""

from __future__ import annotations

import pytest

from bot.services.cases import actions, duty, lifecycle
from bot.store.models import Case
from tests.support.world import MEMBER_1, STREET, World
from tests.web.browser_helpers import in_browser, wide_and_narrow

pytestmark = pytest.mark.db


async def test_the_duty_list_and_its_history_read_well_in_both_languages(
    web_world: World, browser
) -> None:
    from selenium.webdriver.common.by import By

    w = web_world
    await w.resident(4701)
    case_id, _ = await w.report(
        4701, "The street light outside building 1 has been broken for a week"
    )
    assert w.app is not None
    async with w.app.domain.unit() as uow:
        case = await lifecycle.find_case(uow, case_id)
        assert case is not None
        assert (case.category, case.owner_id) == ("facilities", MEMBER_1)
        await actions.perform(uow, MEMBER_1, case, actions.BY_NAME["return"], "PM-1", "Lifts")
    async with w.app.domain.unit() as uow:
        case = await uow.session.get(Case, case.id)
        assert case is not None
        await duty.rule(uow, STREET, case, "amended", "Lifts go to the property company")
    base = w.app.web_url
    problems: list[str] = []
    for lang, version in (("en", "Version 1"), ("zh", "第1版")):
        await in_browser(browser.get, f"{base}/communities/xingfu/duties?lang={lang}")
        history = await in_browser(browser.find_element, By.ID, "duty-history")
        assert version in history.text and case_id in history.text
        found = await in_browser(wide_and_narrow, browser, f"duties-{lang}")
        problems += [f"duties-{lang} {p}" for p in found]
    assert problems == []
