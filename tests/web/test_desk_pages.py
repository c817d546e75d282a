"""Every desk page renders in both languages, reports add up and export as CSV, triage works
from the board, party names follow the page's language, and the Mini App button is set for
staff chats. (Screenshots of every page: tests/web/test_desk_browser.py.)"""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.support.chat import case_row
from tests.support.world import (
    LEADER,
    MEMBER_1,
    MEMBER_2,
    PROPERTY_CHAT,
    PROPERTY_STAFF,
    World,
)
from tests.web.desk_helpers import (
    closed_consultation,
    get,
    hidden,
    http_session,
    post,
    sign_in,
)

pytestmark = pytest.mark.db

LIGHT = "The street light outside building 1 has been broken for a week"
VAGUE = "hello?? can someone come by"
LIFT = "The lift in our building is broken, property management ignores us"


async def _a_month_of_work(w: World) -> tuple[str, str]:
    """One case resolved from the desk and rated, one waiting in triage, one closed consultation."""
    await w.resident(6001, address="Xingfu Garden Building 1")
    done, _ = await w.report(6001, LIGHT)
    await w.card(MEMBER_1, done)
    vague, _ = await w.report(6001, VAGUE)
    base = w.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        await sign_in(w, http, MEMBER_1)
        _, page = await get(http, f"{base}/desk/cases/{done}")
        form = {"csrf": hidden(page, "csrf"), "version": hidden(page, "version")}
        _, page, _ = await post(http, f"{base}/desk/cases/{done}/accept", form)
        form = {**form, "version": hidden(page, "version"), "note": "Fixed"}
        await post(http, f"{base}/desk/cases/{done}/resolve", form)
    resolved = await w.wait_bot(6001, "Fixed", buttons=True)
    await w.press(6001, resolved, "⭐⭐⭐⭐⭐")
    await w.settle()
    await closed_consultation(w)
    return done, vague


async def test_every_desk_page_in_both_languages(web_world: World) -> None:
    w = web_world
    done, vague = await _a_month_of_work(w)
    base = w.app.web_url  # type: ignore[union-attr]
    texts = {
        "en": {"board": "Open cases", "case": "Timeline and messages", "reports": "Per member"},
        "zh": {"board": "办理中的诉求", "case": "办理记录与沟通", "reports": "按网格员"},
    }
    async with http_session() as http:
        await sign_in(w, http, LEADER)
        for lang, expected in texts.items():
            for page, url in (
                ("board", "/desk/"),
                ("case", f"/desk/cases/{done}"),
                ("reports", "/desk/reports"),
            ):
                status, html = await get(http, base + url, params={"lang": lang})
                assert status == 200 and expected[page] in html, (lang, page)
        status, html = await get(http, base + "/desk/reports", params={"lang": "en"})
        assert "王芳" in html and "5.0" in html and "50.0%" in html and "By the east gate" in html
        async with http.get(base + "/desk/reports.csv") as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO((await r.read()).decode("utf-8-sig"))))
        member = next(row for row in rows if row["kind"] == "member")
        assert (
            member["name"] == "王芳" and member["cases"] == "1" and member["avg_rating"] == "5.000"
        )


async def test_a_leader_triages_from_the_board(web_world: World) -> None:
    w = web_world
    await w.resident(6101, address="Xingfu Garden Building 1")
    vague, _ = await w.report(6101, VAGUE)
    base = w.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        board = await sign_in(w, http, LEADER)
        assert 'name="case" value="' + vague in board
        form = {
            "csrf": hidden(board, "csrf"),
            "case": vague,
            "version": str((await case_row(w, vague)).version),
            "category": "facilities",
        }
        status, page, _ = await post(http, base + "/desk/triage", form)
        assert status == 200 and "Category set" in page
        # a second press of the same (now stale) form is refused
        status, _, _ = await post(http, base + "/desk/triage", form)
        assert status == 403
    row = await case_row(w, vague)
    assert row.status == "assigned" and row.category == "facilities"
    await w.card(MEMBER_1, vague)


async def test_members_may_not_read_the_assessment(web_world: World) -> None:
    base = web_world.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        await sign_in(web_world, http, MEMBER_2)
        status, html = await get(http, base + "/desk/reports")
        assert status == 403 and "grid leaders" in html
        assert (await get(http, base + "/desk/reports.csv"))[0] == 403


async def test_staff_get_the_desk_as_a_mini_app_menu_button(web_world: World) -> None:
    """With an https public address, /web also sets the chat's menu button to the Mini App."""
    w = web_world
    await w.stop_bot()
    w.settings_overrides["public_url"] = "https://desk.example.org"
    await w.start_bot()
    after = await w.last_id(MEMBER_1)
    await w.say(MEMBER_1, "/web")
    answer = await w.wait_bot(MEMBER_1, "https://desk.example.org/desk/login?token=", after=after)
    assert answer
    await w.settle()
    calls = [c for c in await w.sim.calls() if c["method"] == "setChatMenuButton"]
    assert calls and not any(c.get("spec_violation") for c in calls)
    button = w.emu.state.menu_buttons[str(MEMBER_1)]
    assert button["type"] == "web_app"
    assert button["web_app"]["url"] == "https://desk.example.org/desk/app"
    # residents get no button (and no link)
    await w.sim.create_user(6201, "Resident", language_code="en")
    await w.say(6201, "/web")
    await w.wait_bot(6201, "only for grid staff")
    assert "6201" not in w.emu.state.menu_buttons


async def test_a_partys_name_follows_the_page_language(web_world: World) -> None:
    """A party's account is named after its party: on English pages in English, on Chinese
    pages in Chinese — in the header, the board, the case page and the assessment."""
    w = web_world
    base = w.app.web_url  # type: ignore[union-attr]
    await w.resident(6301, address="Xingfu Garden Building 1")
    lift, _ = await w.report(6301, LIFT)
    await w.card(PROPERTY_CHAT, lift)
    async with http_session() as http:
        await sign_in(w, http, PROPERTY_STAFF)
        _, page = await get(http, f"{base}/desk/cases/{lift}")
        form = {"csrf": hidden(page, "csrf"), "version": hidden(page, "version")}
        status, page, _ = await post(http, f"{base}/desk/cases/{lift}/accept", form)
        assert status == 200
        for lang, name, other in (
            ("en", "Xingfu Property Management", "幸福物业"),
            ("zh", "幸福物业", "Xingfu Property Management"),
        ):
            for url in ("/desk/", f"/desk/cases/{lift}"):
                status, html = await get(http, base + url, params={"lang": lang})
                html = _page_words(html)
                assert status == 200 and name in html and other not in html, (lang, url)
    async with http_session() as http:
        await sign_in(w, http, LEADER)
        for lang, name, other in (
            ("en", "Xingfu Property Management", "幸福物业"),
            ("zh", "幸福物业", "Xingfu Property Management"),
        ):
            _, html = await get(http, f"{base}/desk/cases/{lift}", params={"lang": lang})
            html = _page_words(html)
            assert name in html and other not in html, lang


def _page_words(html: str) -> str:
    """The page without the reply templates' texts, which are in the resident's language (the
    resident reads them), whatever the page's."""
    return re.sub(r'data-text="[^"]*"', "", html)
