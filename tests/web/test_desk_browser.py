"""The desk in a real headless Chromium: sign in through a /web link, filter the board, accept
and resolve a case from its page, see another session's board change without a reload, and
every desk page laid out for a desktop (1280 px) and a phone (390 px) in both languages (the
screenshots: desk-<page>-<lang>.png and desk-<page>-<lang>-390.png)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.chat import case_row, label
from tests.support.world import LEADER, MEMBER_1, World
from tests.web.desk_helpers import (
    LAYOUT_PROBLEMS,
    busy_desk,
    get,
    hidden,
    http_session,
    in_browser,
    page_shot,
    picture,
    post,
    report_with_photo,
    sign_in,
    web_link,
)

pytestmark = pytest.mark.db

LIGHT = "The street light outside building 1 has been broken for a week"
NORTH = "Garbage bins overflowing next to building 7, smells terrible"
LANGS = ("en", "zh")


def _by_id(driver: Any, ident: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, ident)


async def _wait_for(driver: Any, script: str, timeout: float = 8.0) -> Any:
    """Poll a JavaScript expression in the page until it is truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await in_browser(driver.execute_script, f"return {script}")
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never true in the browser: {script}")
        await asyncio.sleep(0.1)


async def test_member_works_a_case_in_the_browser_and_another_board_updates_live(
    web_world: World, browser: Any
) -> None:
    w = web_world
    base = w.app.web_url  # type: ignore[union-attr]
    await w.resident(5001, address="Xingfu Garden Building 1")
    await w.resident(5002, address="Xingfu Garden Building 7")
    case_id = await report_with_photo(
        w, 5001, LIGHT, picture(240, 160, [(40, 60, 90), (200, 170, 60), (90, 90, 90)])
    )
    await w.report(5002, NORTH)
    card = await w.card(MEMBER_1, case_id)
    browser.delete_all_cookies()

    # Sign in: the member sends /web in the chat and opens the link.
    link = await web_link(w, MEMBER_1)
    await in_browser(browser.get, link + "&lang=en")
    await in_browser(_by_id(browser, "login-continue").click)
    await _wait_for(browser, "document.getElementById('board') !== null")
    assert case_id in browser.page_source

    # Filter the board.
    from selenium.webdriver.support.ui import Select

    await in_browser(Select(_by_id(browser, "f-status")).select_by_value, "assigned")
    await in_browser(_by_id(browser, "filter-apply").click)
    await _wait_for(browser, "location.search.indexOf('status=assigned') >= 0")
    assert case_id in browser.page_source

    # A second session (the leader) watches the board over server-sent events.
    async with http_session() as leader:
        await sign_in(w, leader, LEADER)
        async with leader.get(base + "/desk/events") as stream:
            await stream.content.readuntil(b"\n\n")

            # Accept from the case page.
            await in_browser(browser.get, f"{base}/desk/cases/{case_id}")
            await _wait_for(browser, "document.querySelector('.photos img').naturalWidth > 0")
            for lang in ("zh", "en"):  # the page in Chinese, then back to English
                await in_browser(browser.get, f"{base}/desk/cases/{case_id}?lang={lang}")
                await _wait_for(browser, "document.getElementById('act-accept') !== null")
            after = await w.last_id(5001)
            await in_browser(_by_id(browser, "act-accept").click)
            await _wait_for(browser, "document.getElementById('flash') !== null")
            assert 'data-status="accepted"' in browser.page_source
            accepted = await w.wait_bot(5001, "was accepted", after=after)
            await w.wait_edited(MEMBER_1, card["message_id"], label(w, "zh", "status_accepted"))
            chunk = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5)
            while not chunk.startswith(b"event: changed"):
                chunk = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5)

    # Resolve with a note and a photo.
    photo = w.tmp_path / "fixed.png"
    photo.write_bytes(picture(240, 160, [(60, 140, 70), (230, 230, 220)]))
    await in_browser(_by_id(browser, "resolve-note").send_keys, "Replaced the bulb, works now")
    await in_browser(_by_id(browser, "resolve-photo").send_keys, str(photo))
    await in_browser(_by_id(browser, "act-resolve").click)
    await _wait_for(browser, "document.getElementById('case-status').dataset.status == 'resolved'")
    resolved = await w.wait_bot(5001, "Replaced the bulb", after=accepted["message_id"])
    assert any(
        "⭐" in b["text"] for row in resolved["reply_markup"]["inline_keyboard"] for b in row
    )
    pictures = [m for m in await w.sim.bot_messages(5001, after) if m.get("photo")]
    assert len(pictures) == 1  # the result's photo, as the chat's resolve sends it
    await w.wait_edited(MEMBER_1, card["message_id"], label(w, "zh", "status_resolved"))
    row = await case_row(w, case_id)
    assert row.status == "resolved" and row.resolution_note == "Replaced the bulb, works now"
    await _wait_for(browser, "document.querySelectorAll('.photos img').length == 2")
    await _wait_for(
        browser,
        "Array.from(document.querySelectorAll('.photos img')).every(i => i.naturalWidth > 0)",
    )


async def test_a_second_browser_board_changes_without_a_reload(
    web_world: World, browser: Any
) -> None:
    w = web_world
    base = w.app.web_url  # type: ignore[union-attr]
    await w.resident(5101, address="Xingfu Garden Building 1")
    case_id, _ = await w.report(5101, LIGHT)
    await w.card(MEMBER_1, case_id)
    browser.delete_all_cookies()
    link = await web_link(w, LEADER)
    await in_browser(browser.get, link + "&lang=zh")
    await in_browser(_by_id(browser, "login-continue").click)
    await _wait_for(browser, "document.getElementById('board') !== null")
    await _wait_for(browser, "document.documentElement.getAttribute('data-live') == 'on'")
    await in_browser(browser.execute_script, "window.__notReloaded = true")
    cell = f"document.querySelector('tr[data-case=\"{case_id}\"] td.status').dataset.status"
    assert await in_browser(browser.execute_script, f"return {cell}") == "assigned"

    # The member accepts in another session; the leader's open board follows.
    async with http_session() as member:
        await sign_in(w, member, MEMBER_1)
        _, page = await get(member, f"{base}/desk/cases/{case_id}")
        form = {"csrf": hidden(page, "csrf"), "version": hidden(page, "version")}
        status, _, _ = await post(member, f"{base}/desk/cases/{case_id}/accept", form)
        assert status == 200
    await _wait_for(browser, f"{cell} == 'accepted'")
    assert await in_browser(browser.execute_script, "return window.__notReloaded === true")


async def test_the_mini_app_signs_in_from_telegrams_launch_data(
    web_world: World, browser: Any
) -> None:
    """Telegram opens the Mini App with signed launch data in the URL fragment."""
    import json
    from urllib.parse import quote

    from bot.services.people.desk_auth import sign_init_data

    w = web_world
    base = w.app.web_url  # type: ignore[union-attr]
    browser.delete_all_cookies()
    fields = {
        "query_id": "AAHdesk",
        "user": json.dumps({"id": MEMBER_1, "first_name": "Fang"}, separators=(",", ":")),
        "auth_date": str(int(w.clock.now().timestamp())),
    }
    init_data = sign_init_data(fields, w.settings.token)
    fragment = f"tgWebAppData={quote(init_data, safe='')}&tgWebAppVersion=8.0"
    await in_browser(browser.get, f"{base}/desk/app?lang=en#{fragment}")
    await _wait_for(browser, "document.getElementById('board') !== null")
    assert "王芳" in browser.page_source
    # a forged fragment signs nobody in
    browser.delete_all_cookies()
    forged = init_data.replace(str(MEMBER_1), str(LEADER))
    await in_browser(browser.get, f"{base}/desk/app?lang=en#tgWebAppData={quote(forged, safe='')}")
    await _wait_for(browser, "document.getElementById('refusal') !== null")
    assert "could not be verified" in browser.page_source


SCREENS = ((1280, 900, ""), (390, 844, "-390"))  # a desktop, and a phone (the Mini App)


def _screen(driver: Any, width: int, height: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


async def _look(driver: Any, url: str, shot: str) -> list[str]:
    """Open a page on both screens: what is wrong with its layout, and its screenshots."""
    problems = []
    for width, height, suffix in SCREENS:
        await in_browser(_screen, driver, width, height)
        await in_browser(driver.get, url)
        await _wait_for(
            driver,
            "document.readyState == 'complete' && "
            "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)",
        )
        found = await in_browser(driver.execute_script, LAYOUT_PROBLEMS)
        problems += [f"{shot}{suffix}: {p}" for p in found]
        await in_browser(page_shot, driver, shot + suffix)
    await in_browser(driver.execute_cdp_cmd, "Emulation.clearDeviceMetricsOverride", {})
    return problems


async def _sign_in_as(driver: Any, world: World, staff_id: int) -> None:
    driver.delete_all_cookies()
    await in_browser(driver.get, await web_link(world, staff_id))
    await in_browser(_by_id(driver, "login-continue").click)
    await _wait_for(driver, "document.getElementById('board') !== null")


async def test_every_desk_page_fits_a_desktop_and_a_phone_in_both_languages(
    web_world: World, browser: Any
) -> None:
    """At 1280 and at 390 px, in English and Chinese: every column of every table is on the
    screen (or labelled on its stacked row), nothing lies under the board's side column, no
    page is wider than the screen, short Chinese names stay on one line, timeline dots leave
    the times readable. Takes the screenshots of every desk page."""
    w = web_world
    base = w.app.web_url  # type: ignore[union-attr]
    cases = await busy_desk(w)
    problems: list[str] = []
    browser.delete_all_cookies()
    link = await web_link(w, LEADER)
    for lang in LANGS:
        problems += await _look(browser, f"{link}&lang={lang}", f"desk-login-{lang}")
    await _sign_in_as(browser, w, LEADER)
    for lang in LANGS:
        problems += await _look(browser, f"{base}/desk/?lang={lang}", f"desk-board-{lang}")
        problems += await _look(browser, f"{base}/desk/reports?lang={lang}", f"desk-reports-{lang}")
    await _sign_in_as(browser, w, MEMBER_1)
    for lang in LANGS:
        for page, url in (
            ("board-member", "/desk/"),
            ("case", f"/desk/cases/{cases['light']}"),
            ("case-resolved", f"/desk/cases/{cases['done']}"),
            ("case-open311", f"/desk/cases/{cases['open311']}"),
            ("refused", "/desk/reports"),
        ):
            problems += await _look(browser, f"{base}{url}?lang={lang}", f"desk-{page}-{lang}")
    browser.delete_all_cookies()
    for lang in LANGS:
        problems += await _look(browser, f"{base}/desk/?lang={lang}", f"desk-signed-out-{lang}")
    assert not problems, "\n".join(problems)


async def test_an_assisted_case_shows_its_call_back_and_the_organisations_answer(
    web_world: World, browser: Any
) -> None:
    """A case filed for a resident who hears back by phone, accepted (a call back waits) and
    taken up and done by an organisation: the desk's case page shows both, on a desktop and a
    phone, in both languages."""
    from sqlalchemy import select

    from bot.services.cases import lifecycle, offers
    from bot.services.cases import staff_intake as intake
    from bot.services.participation import volunteers
    from bot.store.models import CaseOffer
    from tests.support.world import COMMITTEE

    w = web_world
    base = w.app.web_url  # type: ignore[union-attr]
    async with w.app.domain.unit() as uow:  # type: ignore[union-attr]
        case = await intake.file_assisted(
            uow,
            MEMBER_1,
            text="The lamp by building 1 is broken",
            place=intake.place_of(uow, words="Xingfu Garden building 1"),
            channel="phone",
            hear_back="phone",
            phone="138 0013 8000",
            consent=True,
        )
        await lifecycle.accept(uow, MEMBER_1, case)
        code = await volunteers.invite_organisation(uow, COMMITTEE, "xingfu", "Sunshine Care")
        assert await volunteers.accept_invitation(uow, 7498, code) is not None
        await lifecycle.offer_to_organisations(uow, MEMBER_1, case)
        offer = (await uow.session.execute(select(CaseOffer))).scalar_one()
        assert await offers.answer(uow, 7498, offer.id, take=True) == "taken"
        note = "We visited and fixed the stair lamp"
        assert await offers.report_done(uow, 7498, offer.id, note) == "done"
        human_id = case.human_id
    problems: list[str] = []
    await _sign_in_as(browser, w, MEMBER_1)
    for lang in LANGS:
        url = f"{base}/desk/cases/{human_id}?lang={lang}"
        problems += await _look(browser, url, f"desk-case-assisted-{lang}")
        assert "Sunshine Care" in _by_id(browser, "org-status").text
        assert note in _by_id(browser, "org-status").text
        assert "138 0013 8000" in _by_id(browser, "call-back").text
        assert 'id="act-called_back"' in browser.page_source
    assert not problems, "\n".join(problems)
