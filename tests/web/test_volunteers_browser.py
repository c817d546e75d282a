"""The public volunteer page of a community in a real headless Chromium: an organisation that
joined by the committee's invitation, open tasks with their seats, the hours given and thanks
only to the volunteer who asked for it — in English and Chinese, at 1280 x 900 and 390 x 844,
nothing off-screen sideways, no resident's identity; saved as volunteers-<lang>.png and
volunteers-<lang>-390.png in $GRIDVOICE_SCREENSHOT_DIR."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services.participation import volunteers as vol
from bot.services.people.residents import Person, ensure_user, give_consent, set_home
from bot.store.models import VolunteerClaim
from tests.support.world import COMMITTEE, MEMBER_1, World
from tests.web.browser_helpers import in_browser, wide_and_narrow

pytestmark = pytest.mark.db


async def _people(w: World) -> None:
    assert w.app is not None
    async with w.app.domain.unit() as uow:
        volunteers = []
        for uid, name, thanks in ((7101, "Lina", True), (7102, "Hidden Person", False)):
            user = await ensure_user(uow, Person(uid, name, "en"), "en")
            give_consent(uow, user, Person(uid, name, "en"))
            set_home(uow, user, "xf-1")
            await vol.opt_in(
                uow, user, skills="shopping", times="evenings", area="Xingfu", thank_publicly=thanks
            )
            volunteers.append(user)
        code = await vol.invite_organisation(uow, COMMITTEE, "xingfu", "Sunshine Elderly Care")
        org = await vol.accept_invitation(uow, 7103, code)
        assert org is not None
        await vol.set_profile(
            uow, org, "Weekly visits to elderly neighbours who live alone", "Xingfu Garden"
        )
        done = await vol.post_task(
            uow,
            MEMBER_1,
            title="Courtyard clean-up, Saturday 9:00",
            capacity=6,
            hours=2,
            grid_id="xingfu-1",
        )
        await vol.post_task(
            uow,
            7103,
            title="Visit an elderly neighbour for an afternoon",
            capacity=3,
            hours=1.5,
            place="Xingfu Garden",
        )
        await vol.post_task(
            uow,
            MEMBER_1,
            title="Help carry shopping for a neighbour",
            capacity=1,
            hours=1,
            grid_id="xingfu-2",
        )
        for user in volunteers:
            assert await vol.claim(uow, user.id, done.id) == "claimed"
        for claim in (await uow.session.execute(select(VolunteerClaim))).scalars():
            await vol.confirm(uow, MEMBER_1, claim.id)


async def test_the_volunteer_page_reads_well_in_both_languages(web_world: World, browser) -> None:
    from selenium.webdriver.common.by import By

    w = web_world
    await _people(w)
    assert w.app is not None
    base = w.app.web_url
    problems: list[str] = []
    for lang, hours in (("en", "2 h"), ("zh", "2 小时")):
        await in_browser(browser.get, f"{base}/communities/xingfu/volunteers?lang={lang}")
        thanks = await in_browser(browser.find_element, By.ID, "thanks")
        assert "Lina" in thanks.text and hours in thanks.text
        body = (await in_browser(browser.find_element, By.TAG_NAME, "body")).text
        assert "Hidden Person" not in body  # no thanks without consent
        assert "Sunshine Elderly Care" in body and "Courtyard clean-up" in body
        found = await in_browser(wide_and_narrow, browser, f"volunteers-{lang}")
        problems += [f"volunteers-{lang} {p}" for p in found]
    assert problems == []
