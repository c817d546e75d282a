"""Residents' proposals and "You said, we did" on the public web, in both languages: the list,
a proposal's page, a hidden one by its reason only, answers counted on time, late and
unanswered, no author or supporter named anywhere; in a real headless Chromium at 1280 and
390 px (screenshots proposals-<lang>*.png, proposal-<lang>*.png and yousaid-<lang>*.png)."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest

from bot.services.cases import lifecycle
from bot.services.participation import proposals as ps
from bot.services.people.residents import pseudonym_for
from bot.store.models import Case, User
from tests.support.world import COMMITTEE, MEMBER_1, World
from tests.web.browser_helpers import in_browser, wide_and_narrow

pytestmark = pytest.mark.db

AUTHOR = 46001
NEIGHBOURS = list(range(46002, 46012))


async def _seed(w: World) -> dict[str, int]:
    """Four proposals: accepted as a consultation on time, declined late, a work item, one
    hidden; plus one still collecting supports."""
    assert w.app is not None
    domain = w.app.domain
    async with domain.unit() as uow:
        for i in [AUTHOR, *NEIGHBOURS]:
            uow.session.add(
                User(
                    id=i,
                    language="en",
                    first_name=f"Secretname{i}",
                    pseudonym=pseudonym_for(i),
                    created_at=uow.now,
                    consent_at=uow.now,
                    home_grid_id="xingfu-1",
                    verified=True,
                    state_data={},
                    muted_announcements=False,
                    unreachable=False,
                )
            )
    ids: dict[str, int] = {}
    titles = {
        "consult": "Motion-sensor lights in building 3",
        "late": "A bench by the north gate",
        "work": "Repaint the faded crossing by the school",
        "hidden": "Something the committee hid",
        "open": "A shaded bicycle shed",
    }
    for key, title in titles.items():
        async with domain.unit() as uow:
            # three a week each: the last two come from neighbours
            who = {"hidden": NEIGHBOURS[-2], "open": NEIGHBOURS[-1]}.get(key, AUTHOR)
            author = await uow.session.get(User, who)
            p = await ps.create(
                uow,
                author,
                title=title,
                text=f"{title}: neighbours have asked for this for a long time.",
                place="Building 3",
            )
            ids[key] = p.id
            if key in ("consult", "late", "work"):
                for n in NEIGHBOURS[:5]:
                    await ps.support(uow, await uow.session.get(User, n), p)
                await ps.add_point(
                    uow, await uow.session.get(User, NEIGHBOURS[0]), p, "for", "Safer at night"
                )
        w.clock.advance(timedelta(minutes=5))
    async with domain.unit() as uow:
        await ps.run_action(uow, COMMITTEE, await ps.get(uow, ids["consult"]), "c")
        await ps.run_action(uow, COMMITTEE, await ps.get(uow, ids["work"]), "w", MEMBER_1, 14)
        await ps.run_action(
            uow, COMMITTEE, await ps.get(uow, ids["hidden"]), "h", "It named a neighbour in full."
        )
    async with domain.unit() as uow:  # the member takes the work item on, and a report is fixed
        work = await uow.session.get(Case, (await ps.get(uow, ids["work"])).work_case_id)
        await lifecycle.accept(uow, MEMBER_1, work)
        resident = await uow.session.get(User, NEIGHBOURS[1])
        for text in (
            "The street light outside building 3 has been broken for a week",
            "The street light outside building 3 is broken again",
        ):
            case = await lifecycle.create_case(
                uow,
                resident,
                text=text,
                grid_id="xingfu-1",
                building_id="xf-3",
                place_text=None,
                location=None,
                photos=[],
                source_update_id=None,
            )
            await lifecycle.accept(uow, case.owner_id, case)
            await lifecycle.resolve(uow, case.owner_id, case, "New bulb fitted")
    w.clock.advance(timedelta(days=8))
    await ps.run_due(domain)
    async with domain.unit() as uow:
        await ps.run_action(
            uow,
            COMMITTEE,
            await ps.get(uow, ids["late"]),
            "d",
            "The pavement there is too narrow for a bench.",
        )
    return ids


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_proposal_pages_in_both_languages_name_nobody(web_world: World) -> None:
    w = web_world
    ids = await _seed(w)
    assert w.app is not None
    base = w.app.web_url
    for lang, words in (
        ("en", ("Answered on time", "declined", "too narrow", "Hidden by the committee")),
        ("zh", ("按时答复", "未采纳", "too narrow", "已被委员会隐藏")),
    ):
        status, listing = await _get(f"{base}/communities/xingfu/proposals?lang={lang}")
        assert status == 200 and "A shaded bicycle shed" in listing
        assert words[3] in listing and "Something the committee hid" not in listing
        status, said = await _get(f"{base}/communities/xingfu/yousaid?lang={lang}")
        assert status == 200 and words[1] in said and words[2] in said
        assert 'data-count="on_time">2<' in said  # the consultation and the work item
        assert 'data-count="late">1<' in said and 'data-count="hidden">1<' in said
        status, page = await _get(f"{base}/proposals/{ids['consult']}?lang={lang}")
        assert status == 200 and "Motion-sensor lights" in page and "Safer at night" in page
        for text in (listing, said, page):
            assert "Secretname" not in text and "R-" not in text and str(AUTHOR) not in text
    status, hidden = await _get(f"{base}/proposals/{ids['hidden']}")
    assert (
        status == 200 and "named a neighbour" in hidden and "Something the committee" not in hidden
    )
    for bad in (
        "/proposals/abc",
        "/proposals/0",
        "/proposals/99999999999",
        "/communities/nope/proposals",
        f"/proposals/{ids['consult']}/before.jpg",
    ):
        assert (await _get(base + bad))[0] == 404, bad


async def test_proposal_pages_read_well_in_a_browser(web_world: World, browser) -> None:
    from selenium.webdriver.common.by import By

    w = web_world
    ids = await _seed(w)
    assert w.app is not None
    base = w.app.web_url
    problems: list[str] = []
    for lang in ("en", "zh"):
        for name, path, element in (
            ("proposals", "/communities/xingfu/proposals", "proposals"),
            ("proposal", f"/proposals/{ids['consult']}", "answer"),
            ("yousaid", "/communities/xingfu/yousaid", "answered"),
        ):
            await in_browser(browser.get, f"{base}{path}?lang={lang}")
            await in_browser(browser.find_element, By.ID, element)
            found = await in_browser(wide_and_narrow, browser, f"{name}-{lang}")
            problems += [f"{name}-{lang} {p}" for p in found]
    assert problems == []
