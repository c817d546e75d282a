"""The desk's reply templates and internal notes, through a browser's plain forms (no script):
a template fills the text box, the member edits it and sends it; a note with a colleague picked
is shown on the page (staff only) and tells that colleague; picking someone who may not see
the case is refused and changes nothing."""

from __future__ import annotations

import html
from typing import Any

import pytest

from tests.support.chat import case_row
from tests.support.world import LEADER, MEMBER_1, MEMBER_2, World
from tests.web.browser_helpers import press_and_wait
from tests.web.desk_helpers import (
    get,
    hidden,
    http_session,
    in_browser,
    post,
    sign_in,
    snapshot,
    web_link,
)

pytestmark = pytest.mark.db

LIGHT = "The street light outside building 1 has been broken for a week"
NOTE = "The caretaker has the key to the lamp box. MARKER-DESKNOTE-8P"


async def test_a_template_fills_the_box_and_the_edited_text_reaches_the_resident(
    web_world: World,
) -> None:
    w = web_world
    await w.resident(7301, address="Xingfu Garden Building 1")
    case_id, _ = await w.report(7301, LIGHT)
    await w.card(MEMBER_1, case_id)
    base = w.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        await sign_in(w, http, MEMBER_1)
        status, page = await get(http, f"{base}/desk/cases/{case_id}")
        assert status == 200 and 'id="resolve-tpl"' in page and 'id="resolve-fill"' in page
        assert 'form="fill-resolve"' in page
        # "Fill in" without a script: the page again, the resolve box holding the template
        start = page.index('id="resolve-tpl"')
        first = page.index('value="', page.index('value=""', start) + 8) + len('value="')
        index = page[first : page.index('"', first)]
        status, filled = await get(http, f"{base}/desk/cases/{case_id}?fill=resolve&tpl={index}")
        assert status == 200
        box = filled[filled.index('id="resolve-note"') :]
        text = html.unescape(box[box.index(">") + 1 : box.index("</textarea>")])
        assert case_id in text and "{" not in text
        status, _, _ = await post(
            http,
            f"{base}/desk/cases/{case_id}/resolve",
            {
                "csrf": hidden(filled, "csrf"),
                "version": hidden(filled, "version"),
                "note": text + " (east gate)",
            },
        )
        assert status == 200
    await w.wait_bot(7301, "(east gate)")
    assert (await case_row(w, case_id)).status == "resolved"


async def test_a_note_with_a_colleague_picked_and_one_refused(web_world: World) -> None:
    w = web_world
    await w.resident(7302, address="Xingfu Garden Building 1")
    case_id, _ = await w.report(7302, LIGHT)
    await w.card(MEMBER_1, case_id)
    base = w.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        await sign_in(w, http, MEMBER_1)
        status, page = await get(http, f"{base}/desk/cases/{case_id}")
        assert f'<option value="{LEADER}">' in page  # the leader sees the case
        assert f'<option value="{MEMBER_2}">' not in page  # another grid's member does not
        form = {"csrf": hidden(page, "csrf"), "version": hidden(page, "version")}
        before = await snapshot(w)
        status, refused, _ = await post(
            http,
            f"{base}/desk/cases/{case_id}/note",
            {**form, "note_text": NOTE, "mention": str(MEMBER_2)},
        )
        assert status == 403 and "cannot see this case" in refused
        assert await snapshot(w) == before
        after = await w.last_id(LEADER)
        status, page, _ = await post(
            http,
            f"{base}/desk/cases/{case_id}/note",
            {**form, "note_text": NOTE, "mention": str(LEADER)},
        )
        assert (
            status == 200 and "MARKER-DESKNOTE-8P" in page and "ev-internal_note internal" in page
        )
    await w.wait_bot(LEADER, "MARKER-DESKNOTE-8P", after=after)
    await w.settle()
    resident_saw = [m.get("text") or "" for m in await w.sim.messages(7302)]
    assert not [t for t in resident_saw if "MARKER-DESKNOTE" in t]


async def test_picking_a_template_in_the_browser_fills_the_box(
    web_world: World, browser: Any
) -> None:
    """With the desk's script, choosing a template fills the text box at once; the member
    edits it there and the edited text is what the resident reads."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    w = web_world
    base = w.app.web_url  # type: ignore[union-attr]
    await w.resident(7303, address="Xingfu Garden Building 1")
    case_id, _ = await w.report(7303, LIGHT)
    await w.card(MEMBER_1, case_id)
    browser.delete_all_cookies()
    link = await web_link(w, MEMBER_1)
    await in_browser(browser.get, link + "&lang=en")
    # signed in only once the page the button leads to has loaded
    await in_browser(press_and_wait, browser, browser.find_element(By.ID, "login-continue"))
    await in_browser(browser.get, f"{base}/desk/cases/{case_id}")
    select = Select(browser.find_element(By.ID, "ask-tpl"))
    await in_browser(select.select_by_visible_text, "Ask for a photo")
    box = browser.find_element(By.ID, "ask-question")
    filled = box.get_property("value")
    assert filled.startswith(f"About {case_id}:") and "photo" in filled
    await in_browser(box.send_keys, " Thanks!")
    after = await w.last_id(7303)
    await in_browser(browser.find_element(By.ID, "act-ask").click)
    await w.wait_bot(7303, f"{filled} Thanks!", after=after)
