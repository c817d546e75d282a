"""Signing in to the desk: /web links, the Mini App's initData, sessions, CSRF, deactivation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.services.people.desk_auth import DeskAuthError, check_init_data, sign_init_data
from tests.support.world import ADMIN, MEMBER_1, MEMBER_2, World
from tests.web.desk_helpers import (
    get,
    hidden,
    http_session,
    open_link,
    post,
    sign_in,
    snapshot,
    web_link,
)

pytestmark = pytest.mark.db


async def test_staff_signs_in_with_a_one_time_web_link(web_world: World) -> None:
    async with http_session() as http:
        board = await sign_in(web_world, http, MEMBER_1)
        assert "王芳" in board and 'name="csrf"' in board
        cookie = next(c for c in http.cookie_jar if c.key == "gv_desk")
        assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/desk"
        assert not cookie["secure"]  # the test edge is plain http; https deployments set it
    state = await snapshot(web_world)
    assert state["open_sessions"] == 1 and state["links_used"] == 1


async def test_a_used_or_expired_link_is_refused_and_changes_nothing(web_world: World) -> None:
    link = await web_link(web_world, MEMBER_1)
    async with http_session() as http:
        assert (await open_link(http, link)).url.path == "/desk/"
    before = await snapshot(web_world)
    async with http_session() as other:
        again = await open_link(other, link)
        assert again.status == 403 and "already been used" in await again.text()
        assert not any(c.key == "gv_desk" for c in other.cookie_jar)
    assert await snapshot(web_world) == before

    late = await web_link(web_world, MEMBER_2)
    web_world.clock.advance(timedelta(minutes=11))
    before = await snapshot(web_world)
    async with http_session() as http:
        expired = await open_link(http, late)
        assert expired.status == 403 and "expired" in await expired.text()
        forged = await open_link(http, late.replace("token=", "token=x"))
        assert forged.status == 403 and "not valid" in await forged.text()
    assert await snapshot(web_world) == before


async def test_a_resident_asking_for_the_desk_is_refused_clearly(web_world: World) -> None:
    resident = 3001
    await web_world.sim.create_user(resident, "Resident", language_code="en")
    after = await web_world.last_id(resident)
    await web_world.say(resident, "/web")
    answer = await web_world.wait_bot(resident, "only for grid staff", after=after)
    assert "/desk/login" not in answer["text"]
    assert (await snapshot(web_world))["links_used"] == 0


async def test_a_form_without_its_csrf_token_is_refused(web_world: World) -> None:
    async with http_session() as http:
        await sign_in(web_world, http, MEMBER_1)
        base = web_world.app.web_url  # type: ignore[union-attr]
        before = await snapshot(web_world)
        status, body, _ = await post(http, base + "/desk/logout", {})
        assert status == 403 and "expired" in body
        status, _, _ = await post(
            http,
            base + "/desk/reassign",
            {"case": "GV-2026-000001", "target": "10002", "reason": "x"},
        )
        assert status == 403
        status, _, _ = await post(http, base + "/desk/reassign", {"csrf": "forged", "reason": "x"})
        assert status == 403
        assert await snapshot(web_world) == before
        # and with it, signing out works
        status, html = await get(http, base + "/desk/")
        status, _, path = await post(http, base + "/desk/logout", {"csrf": hidden(html, "csrf")})
        assert path == "/desk/login"
        status, _ = await get(http, base + "/desk/")
        assert status == 401
    assert (await snapshot(web_world))["open_sessions"] == 0


async def test_a_deactivated_members_old_session_ends_at_once(web_world: World) -> None:
    base = web_world.app.web_url  # type: ignore[union-attr]
    async with http_session() as http:
        await sign_in(web_world, http, MEMBER_2)
        assert (await get(http, base + "/desk/"))[0] == 200
        after = await web_world.last_id(ADMIN)
        await web_world.say(ADMIN, f"/deactivate {MEMBER_2}")
        await web_world.wait_bot(ADMIN, after=after)
        before = await snapshot(web_world)
        status, body = await get(http, base + "/desk/")
        assert status == 401 and "/web" in body
        assert (await get(http, base + "/desk/events"))[0] == 401
        assert await snapshot(web_world) == {**before, "open_sessions": 0}


def _init_data(user_id: int, auth_date: int, token: str = "123456:TEST") -> str:
    fields = {
        "query_id": "AAH-desk",
        "user": json.dumps({"id": user_id, "first_name": "Fang"}, separators=(",", ":")),
        "auth_date": str(auth_date),
    }
    return sign_init_data(fields, token)


def test_init_data_is_checked_with_telegrams_hmac_scheme() -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    good = _init_data(MEMBER_1, int(now.timestamp()) - 5)
    assert check_init_data(good, "123456:TEST", now, timedelta(hours=1))["id"] == MEMBER_1
    for bad, key in [
        (_init_data(MEMBER_1, int(now.timestamp()), token="123456:OTHER"), "init_data_invalid"),
        (good.replace("Fang", "Evil"), "init_data_invalid"),
        (good.replace(f"%22id%22%3A{MEMBER_1}", "%22id%22%3A10050"), "init_data_invalid"),
        (_init_data(MEMBER_1, int(now.timestamp()) - 7200), "init_data_stale"),
        ("", "init_data_invalid"),
        ("hash=00&auth_date=1", "init_data_invalid"),
    ]:
        with pytest.raises(DeskAuthError) as refused:
            check_init_data(bad, "123456:TEST", now, timedelta(hours=1))
        assert refused.value.key == key


async def test_mini_app_signs_in_with_fresh_init_data_and_refuses_forged_or_stale(
    web_world: World,
) -> None:
    base = web_world.app.web_url  # type: ignore[union-attr]
    now = int(web_world.clock.now().timestamp())
    async with http_session() as http:
        status, page = await get(http, base + "/desk/app")
        assert status == 200 and "desk-webapp.js" in page
        csrf = hidden(page, "csrf")
        before = await snapshot(web_world)
        for init_data in (
            _init_data(MEMBER_1, now, token="999:FORGED"),
            _init_data(MEMBER_1, now - 2 * 3600),
        ):
            status, body, _ = await post(
                http, base + "/desk/app", {"csrf": csrf, "init_data": init_data}
            )
            assert status == 403 and "Telegram" in body
        assert await snapshot(web_world) == before
        status, _, path = await post(
            http, base + "/desk/app", {"csrf": csrf, "init_data": _init_data(MEMBER_1, now)}
        )
        assert status == 200 and path == "/desk/"
    assert (await snapshot(web_world))["open_sessions"] == 1


async def test_the_sign_in_page_says_whose_account_the_link_opens(web_world: World) -> None:
    """A forwarded link would open someone else's desk: the page names the account (in the
    page's language), says what to do if that is not you, warns when this browser is signed
    in as someone else, and a spent link says so at once."""
    w = web_world
    link = await web_link(w, MEMBER_1)
    async with http_session() as http:
        status, page = await get(http, link, params={"lang": "en"})
        assert status == 200
        shown = page.split('id="login-as"', 1)[1].split("</p>", 1)[0]
        assert "王芳" in shown and "grid member" in shown
        assert "Not you?" in page and "Continue as 王芳" in page
        assert 'id="login-other"' not in page
        status, page = await get(http, link, params={"lang": "zh"})
        assert "王芳" in page and "网格员" in page and "不是您本人" in page
        await sign_in(w, http, ADMIN)
        status, page = await get(http, link, params={"lang": "en"})
        assert "signed in as Admin now" in page.split('id="login-other"', 1)[1]
        assert (await open_link(http, link)).url.path == "/desk/"
        status, page = await get(http, link, params={"lang": "en"})
        assert status == 403 and "already been used" in page and "login-continue" not in page
