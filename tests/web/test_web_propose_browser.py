"""A resident takes part on the web in a real headless Chromium: /web in the chat gives the
one-time link, the sign-in page spends it, the community's proposals page leads to the form, a
refusal comes back on the form with the words kept, the proposal is published with a photo
and a place picked among the community's buildings, and its page shows them and takes a
support and a point; a neighbour's proposal takes a support and a follow (and its stop) — in
English and Chinese, at 1280 x 900 and 390 x 844, nothing off-screen sideways, nobody named.
Saved as signin-<lang>.png, propose-<lang>.png, propose-error-<lang>.png,
proposal-signed-in-<lang>.png, proposal-follow-<lang>.png and proposal-signed-out-<lang>.png
(and their -390 twins) in $GRIDVOICE_SCREENSHOT_DIR."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.services.participation import proposals as ps
from bot.services.people.residents import pseudonym_for
from bot.store.models import User
from tests.support.world import World
from tests.web.browser_helpers import in_browser, press_and_wait, wide_and_narrow
from tests.web.desk_helpers import picture

pytestmark = pytest.mark.db

PEOPLE = {"en": 48001, "zh": 48002}
NEIGHBOUR = 48003  # whose proposal the two support and follow
WORDS = {
    "en": {
        "title": "A shaded bicycle shed by building 2",
        "text": "Bicycles by building 2 stand in the sun and rain all year; a simple roof would keep them dry.",
        "point": "Fewer rusty chains",
        "refused": "please describe the proposal in at least 20",
        "supported": "You support this proposal",
        "place": "Xingfu Garden Building 2",
        "following": "You follow this proposal",
        "unfollowed": "You will no longer be told the steps",
        "author": "You proposed this",
        "supporters_only": "Only supporters follow",
    },
    "zh": {
        "title": "在2号楼旁建一个自行车棚",
        "text": "2号楼旁的自行车常年日晒雨淋，搭一个简单的车棚就能让大家的车保持干燥，也更整齐。",
        "point": "车链不再生锈",
        "refused": "请至少用 20 个字说明建议",
        "supported": "您已支持这条建议",
        "place": "幸福小区2号楼",
        "following": "您正在关注这条建议",
        "unfollowed": "这条建议的进展将不再告诉您",
        "author": "这是您提出的建议",
        "supporters_only": "只有支持者可以关注",
    },
}
LINK = re.compile(r"https?://\S+/signin\?token=[A-Za-z0-9_\-.]+")


async def _residents(w: World) -> int:
    """The two residents of the browser and a neighbour's proposal; returns its id."""
    assert w.app is not None
    async with w.app.domain.unit() as uow:
        for lang, uid in [*PEOPLE.items(), ("en", NEIGHBOUR)]:
            uow.session.add(
                User(
                    id=uid,
                    language=lang,
                    first_name=f"Secretname{uid}",
                    pseudonym=pseudonym_for(uid),
                    created_at=uow.now,
                    consent_at=uow.now,
                    home_grid_id="xingfu-1",
                    verified=True,
                    state_data={},
                    muted_announcements=False,
                    unreachable=False,
                )
            )
    for lang, uid in PEOPLE.items():
        await w.sim.create_user(uid, f"Secretname{uid}", language_code=lang)
    async with w.app.domain.unit() as uow:
        p = await ps.create(
            uow,
            await uow.session.get(User, NEIGHBOUR),
            title="Benches along the path to the market",
            text="Older neighbours walking to the market have nowhere to rest on the way.",
            place="Xingfu Market",
        )
        return p.id


async def _web_link(w: World, uid: int) -> str:
    after = await w.last_id(uid)
    await w.say(uid, "/web")
    message = await w.wait_bot(uid, "/signin?token=", after=after)
    match = LINK.search(message["text"])
    assert match, message
    return match.group(0)


def _fill(driver: Any, fields: dict[str, str], submit: str) -> None:
    """Fill a form and send it; returns once the page it leads to has replaced this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 10)
    button = wait.until(expected_conditions.presence_of_element_located((By.ID, submit)))
    for name, value in fields.items():
        element = driver.find_element(By.ID, name)
        if element.get_attribute("type") != "file":  # a file input is only given a path
            element.clear()
        element.send_keys(value)
    press_and_wait(driver, button)


def _text(driver: Any, element_id: str) -> str:
    """The words of an element, once the page that has it is loaded."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    found = expected_conditions.presence_of_element_located((By.ID, element_id))
    return WebDriverWait(driver, 10).until(found).text


def _url(driver: Any) -> str:
    return driver.current_url


def _photo_shown(driver: Any) -> bool:
    """The proposal's photo is on the page and the browser could draw it."""
    return bool(
        driver.execute_script(
            "const i = document.querySelector('figure.photo img');"
            "return i !== null && i.complete && i.naturalWidth > 0;"
        )
    )


def _value(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).get_attribute("value") or ""


async def test_a_resident_proposes_and_supports_in_a_browser(web_world: World, browser) -> None:
    w = web_world
    neighbours = await _residents(w)
    assert w.app is not None
    base = w.app.web_url
    problems: list[str] = []
    photo = w.tmp_path / "shed.png"  # a photo stand-in: sky over a green roof over grey
    photo.write_bytes(picture(96, 64, [(120, 170, 220), (70, 150, 90), (150, 150, 150)]))

    async def look(name: str) -> None:
        found = await in_browser(wide_and_narrow, browser, f"{name}-{lang}")
        problems.extend(f"{name}-{lang} {p}" for p in found)
        assert "Secretname" not in await in_browser(lambda: browser.page_source)

    for lang, uid in PEOPLE.items():
        words = WORDS[lang]
        await in_browser(browser.delete_all_cookies)
        # signed out, the form says how to sign in
        await in_browser(browser.get, f"{base}/communities/xingfu/propose?lang={lang}")
        assert "/web" in await in_browser(_text, browser, "signin-how")
        link = await _web_link(w, uid)
        await in_browser(browser.get, link)
        await look("signin")
        await in_browser(_fill, browser, {}, "signin-continue")
        await in_browser(_text, browser, "proposals-intro")
        assert "/communities/xingfu/proposals" in await in_browser(_url, browser)
        await in_browser(_fill, browser, {}, "propose-link")
        await in_browser(_text, browser, "propose-form")
        await in_browser(
            _fill,
            browser,
            {"title": words["title"], "text": "Too short", "place": "2"},
            "propose-submit",
        )
        assert words["refused"] in await in_browser(_text, browser, "form-error")
        assert await in_browser(_value, browser, "title") == words["title"]
        await look("propose-error")
        await in_browser(browser.get, f"{base}/communities/xingfu/propose")
        await in_browser(_text, browser, "propose-form")
        await look("propose")
        fields = {"title": words["title"], "text": words["text"], "place": words["place"]}
        await in_browser(_fill, browser, {**fields, "photo": str(photo)}, "propose-submit")
        await in_browser(_text, browser, "take-part")
        assert re.search(r"/proposals/\d+$", await in_browser(_url, browser))
        assert words["place"] in await in_browser(_text, browser, "facts")
        assert await in_browser(_photo_shown, browser)
        await in_browser(_fill, browser, {}, "support")
        assert words["supported"] in await in_browser(_text, browser, "supported")
        assert words["author"] in await in_browser(_text, browser, "following")
        await in_browser(_fill, browser, {"point-for-text": words["point"]}, "point-for-submit")
        assert words["point"] in await in_browser(_text, browser, "points")
        await look("proposal-signed-in")
        own = await in_browser(_url, browser)
        # a neighbour's proposal: only a supporter follows, and may stop
        await in_browser(browser.get, f"{base}/proposals/{neighbours}")
        assert words["supporters_only"] in await in_browser(_text, browser, "follow-how")
        await in_browser(_fill, browser, {}, "support")
        for button in ("follow-button", "unfollow"):
            await in_browser(_fill, browser, {}, button)
        assert words["unfollowed"] in await in_browser(_text, browser, "said")
        await in_browser(_fill, browser, {}, "follow-button")
        assert words["following"] in await in_browser(_text, browser, "following")
        await look("proposal-follow")
        await in_browser(browser.get, own)
        # signed out, the same page says how to sign in, and offers no form
        page = (await in_browser(_url, browser)).split("?")[0]
        await in_browser(browser.delete_all_cookies)
        await in_browser(browser.get, f"{page}?lang={lang}")
        assert "/web" in await in_browser(_text, browser, "signin-how")
        assert "<form" not in await in_browser(lambda: browser.page_source)
        await look("proposal-signed-out")
    assert problems == []
