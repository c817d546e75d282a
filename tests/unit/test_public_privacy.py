"""What staff write for the resident is never public, and no public output moves when one
resident rates: read through the web edge itself (an aiohttp test client over the real app) —
case pages, Open311 in JSON and XML, every `/data/` file and the dashboard pages.

The staff's public note is the one text that is published, and the prompts say which is which.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient
from page_helpers import pages
from unit_helpers import (
    LEADER,
    MEMBER_1,
    MEMBER_2,
    START,
    file_case,
    last_outbox_id,
    new_resident,
    texts_to,
)

from bot.services import scheduler
from bot.services.cases import actions, lifecycle, queries, views
from bot.services.cases.lifecycle import CaseActionError
from bot.services.shared.domain import Domain

ROOT = Path(__file__).resolve().parents[2]
# What staff wrote to the resident: personal, never to be published.
RESOLVE_NOTE = "Spoke to Mrs Wang in flat 5-302, she was happy. MARKER-RESOLVE-7Q"
DECLINE_REASON = "Mr Li in 3-101 keeps reporting his neighbour. MARKER-DECLINE-9Z"
PUBLIC_NOTE = "Replaced the lamp at the east gate and checked the wiring."
# What staff wrote for each other: staff only, never the resident's, never public.
INTERNAL_NOTE = "Mr Zhou at 7-404 threatened the crew; send two. MARKER-INTERNAL-3W"
MONTH = START.strftime("%Y-%m")


@pytest.fixture
def domain_settings() -> dict[str, Any]:
    # No reuse of computed figures: every read shows the database as it is. A rated case is
    # closed two days after its resolution (an unrated one after one), inside the month.
    return {
        "dashboard_cache": timedelta(0),
        "public_url": "http://gridvoice.test",
        "reopen_window": timedelta(days=2),
        "auto_close_after": timedelta(days=1),
        "web_burst_per_ip": 10_000,
    }


@pytest.fixture
async def client(domain: Domain) -> AsyncIterator[TestClient]:
    http = await pages(domain)
    try:
        yield http
    finally:
        await http.close()


async def _text(http: TestClient, path: str, lang: str = "en") -> str:
    response = await http.get(path, headers={"Accept-Language": lang})
    assert response.status == 200, (path, response.status)
    return await response.text()


def _public_paths(case_ids: list[str]) -> list[str]:
    """Every public output: pages, Open311 lists and single requests, every /data/ file."""
    paths = ["/", "/grids", "/grids/xingfu-1", "/grids/xingfu-2", "/about/numbers"]
    for case_id in case_ids:
        paths += [
            f"/cases/{case_id}",
            f"/open311/v2/requests/{case_id}.json",
            f"/open311/v2/requests/{case_id}.xml",
        ]
    paths += [
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
        f"/open311/v2/requests.json?updated_after={MONTH}-01T00:00:00Z",
        "/data/cases.csv",
        f"/data/cases-{MONTH}.csv",
        "/data/cases.geojson",
        "/data/grids.geojson",
        "/data/grid-months.csv",
        "/data/datapackage.json",
    ]
    return paths


async def _everything(http: TestClient, case_ids: list[str]) -> dict[str, str]:
    return {
        f"{lang} {path}": await _text(http, path, lang)
        for lang in ("en", "zh")
        for path in _public_paths(case_ids)
    }


async def test_notes_to_the_resident_are_never_published_the_public_note_is(
    domain: Domain, client: TestClient
) -> None:
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        resolved = await file_case(uow, resident, as_category="facilities")
        declined = await file_case(uow, resident, "Noise again", as_category="environment")
        noted = await file_case(uow, resident, as_category="facilities")
        await lifecycle.accept(uow, MEMBER_1, resolved)
        await lifecycle.resolve(uow, MEMBER_1, resolved, RESOLVE_NOTE)
        await lifecycle.reject(uow, MEMBER_1, declined, DECLINE_REASON)
        await lifecycle.resolve(uow, MEMBER_1, noted, RESOLVE_NOTE)
        for case in (resolved, declined, noted):
            note = f"@li_qiang {INTERNAL_NOTE} {case.human_id}"
            await actions.perform(uow, MEMBER_1, case, actions.BY_NAME["note"], note, None)
        ids = [resolved.human_id, declined.human_id, noted.human_id]

    def private_words_in(outputs: dict[str, str]) -> list[str]:
        words = ("MARKER-RESOLVE", "MARKER-DECLINE", "Mrs Wang", "5-302", "3-101")
        words += ("MARKER-INTERNAL", "Mr Zhou", "7-404", "li_qiang", "李强")
        return [where for where, body in outputs.items() if any(w in body for w in words)]

    assert private_words_in(await _everything(client, ids)) == []
    async with domain.unit() as uow:
        case = await lifecycle.find_case(uow, ids[2])
        assert case is not None
        await actions.perform(uow, MEMBER_1, case, actions.BY_NAME["public_note"], PUBLIC_NOTE)
    outputs = await _everything(client, ids)
    assert private_words_in(outputs) == []
    async with domain.unit() as uow:  # a note written after the public note: still private
        await actions.perform(uow, LEADER, case, actions.BY_NAME["note"], INTERNAL_NOTE, None)
    outputs = await _everything(client, ids)
    assert private_words_in(outputs) == []
    # the public note is published: on its case page, in Open311 (list and by id), in the data
    for path in (
        f"/cases/{ids[2]}",
        f"/open311/v2/requests/{ids[2]}.json",
        f"/open311/v2/requests/{ids[2]}.xml",
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
        "/data/cases.csv",
        "/data/cases.geojson",
    ):
        assert PUBLIC_NOTE in outputs[f"en {path}"], path
    one = await (await client.get(f"/open311/v2/requests/{ids[0]}.json")).json()
    assert one[0]["status"] == "closed" and one[0]["status_notes"] is None
    # without a public note the case page says what happened in a plain sentence
    assert "reported this case as resolved" in outputs[f"en /cases/{ids[0]}"]
    assert "责任单位对此诉求不予受理" in outputs[f"zh /cases/{ids[1]}"]


async def test_a_public_note_is_written_only_on_purpose(domain: Domain) -> None:
    """Only on a resolved, closed or declined case; never a phone number; it replaces the last."""
    action = actions.BY_NAME["public_note"]
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        case = await file_case(uow, resident, as_category="facilities")
        with pytest.raises(CaseActionError) as refused:
            await actions.perform(uow, MEMBER_1, case, action, PUBLIC_NOTE)
        assert refused.value.key == "case_wrong_state"
        await lifecycle.resolve(uow, MEMBER_1, case, RESOLVE_NOTE)
        for text in ("Call 139 1234 5678 for details", "Call 13912345678"):
            with pytest.raises(CaseActionError) as refused:
                await actions.perform(uow, MEMBER_1, case, action, text)
            assert refused.value.key == "public_note_number"
        await actions.perform(uow, MEMBER_1, case, action, "First words")
        await actions.perform(uow, MEMBER_1, case, action, PUBLIC_NOTE)
        assert case.public_note == PUBLIC_NOTE and case.resolution_note == RESOLVE_NOTE


async def test_a_rating_and_the_closing_after_it_change_no_public_output(
    domain: Domain, client: TestClient, clock: Any
) -> None:
    async with domain.unit() as uow:
        residents = [await new_resident(uow) for _ in range(6)]
        cases = [await file_case(uow, r, as_category="facilities") for r in residents]
        for case in cases:
            await lifecycle.accept(uow, MEMBER_1, case)
            await lifecycle.resolve(uow, MEMBER_1, case, "Fixed")
        ids = [c.human_id for c in cases]
    clock.advance(timedelta(hours=5))
    async with domain.unit() as uow:  # five neighbours rated already
        for resident, case_id, stars in zip(residents, ids, (5, 4, 4, 3, 2), strict=False):
            case = await lifecycle.find_case(uow, case_id)
            assert case is not None
            await lifecycle.rate(uow, resident, case, stars)
    clock.advance(timedelta(hours=1))
    before = await _everything(client, ids)
    async with domain.unit() as uow:  # the sixth rates
        case = await lifecycle.find_case(uow, ids[5])
        assert case is not None
        await lifecycle.rate(uow, residents[5], case, 1)
    after = await _everything(client, ids)
    changed = [where for where in before if before[where] != after[where]]
    assert changed == [], changed
    # days later the scheduler closes the rated cases (later than it would unrated ones):
    # publicly they stay resolved, with no step and no new updated time
    clock.advance(timedelta(days=2))
    before = await _everything(client, ids)
    assert await scheduler.run_due(domain) >= 6
    async with domain.unit() as uow:
        assert {(await lifecycle.find_case(uow, i)).status for i in ids} == {"closed"}  # type: ignore[union-attr]
    after = await _everything(client, ids)
    changed = [where for where in before if before[where] != after[where]]
    assert changed == [], changed
    page = after[f"en /cases/{ids[5]}"]
    assert "Closed" not in page and "resolved" in page


async def _rated_month(domain: Domain, member: int, building: str, stars: list[int]) -> None:
    async with domain.unit() as uow:
        for n in stars:
            resident = await new_resident(uow, building=building)
            case = await file_case(uow, resident, as_category="facilities")
            await lifecycle.resolve(uow, member, case, "Fixed")
            await lifecycle.rate(uow, resident, case, n)


async def test_ratings_are_published_per_whole_month_over_at_least_five(
    domain: Domain, client: TestClient, clock: Any
) -> None:
    # November: five ratings in grid 1 (average 3.6), four in grid 2 (never published)
    await _rated_month(domain, MEMBER_1, "xf-1", [5, 4, 4, 3, 2])
    await _rated_month(domain, MEMBER_2, "xf-7", [1, 1, 1, 1])
    months = await _text(client, "/data/grid-months.csv")
    assert ",5,3.6" not in months and ",4,1.0" not in months
    assert "too few ratings" in await _text(client, "/")
    # the month is over, but its cases are not closed yet (a rating or a reopening may come)
    clock.advance(timedelta(days=7))
    assert ",5,3.6" not in await _text(client, "/data/grid-months.csv")
    # every case resolved in November is closed: its grid 1 ratings are published
    await scheduler.run_due(domain)
    months = await _text(client, "/data/grid-months.csv")
    lines = {
        line.split(",")[0]: line.split(",")[-2:]
        for line in months.splitlines()
        if f",{MONTH}," in line
    }
    assert lines["xingfu-1"] == ["5", "3.6"] and lines["xingfu-2"] == ["", ""]
    front = await _text(client, "/")
    grid_1 = await _text(client, "/grids/xingfu-1")
    grid_2 = await _text(client, "/grids/xingfu-2")
    # the community's figure is grid 1's: grid 2's four ratings cannot be told by subtraction
    assert "3.6" in front and "3.6" in grid_1 and "too few ratings" in grid_2
    numbers = await _text(client, "/about/numbers")
    assert "at least 5 residents rated" in numbers
    assert "至少有 5 位居民评价" in await _text(client, "/about/numbers", "zh")


async def test_a_case_page_shows_only_deadlines_that_still_apply(
    domain: Domain, client: TestClient, clock: Any
) -> None:
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        never_accepted = await file_case(uow, resident, as_category="facilities")
        await lifecycle.resolve(uow, MEMBER_1, never_accepted, "Fixed")
        reopened = await file_case(uow, resident, as_category="facilities")
        await lifecycle.accept(uow, MEMBER_1, reopened)
        await lifecycle.resolve(uow, MEMBER_1, reopened, "Fixed")
        ids = [never_accepted.human_id, reopened.human_id]
    clock.advance(timedelta(days=2))
    async with domain.unit() as uow:
        case = await lifecycle.find_case(uow, ids[1])
        assert case is not None
        await lifecycle.reopen(uow, resident, case, "Still dark")
        await lifecycle.accept(uow, MEMBER_1, case)
    resolved_page = await _text(client, f"/cases/{ids[0]}")
    assert "To be taken up by" not in resolved_page and "To be resolved by" not in resolved_page
    reopened_page = await _text(client, f"/cases/{ids[1]}")
    assert "To be taken up by" not in reopened_page and "To be resolved by" in reopened_page
    assert "Resolved</dt>" not in reopened_page  # resolved once, open again


def _yaml(lang: str, name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "templates" / lang / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("lang", "private", "published"),
    [("en", "not published", "published"), ("zh", "不会公开", "公开发布")],
)
def test_every_prompt_says_whether_its_text_is_published(
    domain: Domain, lang: str, private: str, published: str
) -> None:
    web_texts = _yaml(lang, "web.yaml")
    case = SimpleNamespace(human_id="GV-2026-000001")
    for name in ("resolve", "reject", "public_note"):
        action = actions.BY_NAME[name]
        assert action.prompt_text is not None
        chat = domain.renderer.render(lang, action.prompt_text, case=case)
        desk = web_texts[action.text_label]
        if name == "public_note":
            assert published in chat and private not in chat, chat
            assert published.upper() in desk or published in desk, desk
        else:
            assert private in chat, chat
            assert private.replace("not", "never") in desk or private in desk, desk
    confirm = domain.renderer.render(lang, "staff_confirm_reject", case=case, reason="x")
    assert ("not published" if lang == "en" else "不会公开") in confirm


async def test_a_follower_learns_the_steps_never_the_words_for_the_resident(
    domain: Domain,
) -> None:
    """A neighbour following a case is told it was resolved or declined, without the note or
    the reason staff wrote for the reporter; their timeline holds the public steps only."""
    async with domain.unit() as uow:
        reporter, neighbour = await new_resident(uow), await new_resident(uow)
        resolved = await file_case(uow, reporter, as_category="facilities")
        declined = await file_case(uow, reporter, "Noise again", as_category="environment")
        for case in (resolved, declined):
            await lifecycle.follow(uow, neighbour, case)
        mark = await last_outbox_id(uow)
        await lifecycle.resolve(uow, MEMBER_1, resolved, RESOLVE_NOTE)
        await lifecycle.reject(uow, MEMBER_1, declined, DECLINE_REASON)
        told = "\n".join(await texts_to(uow, neighbour.id, after=mark))
        assert resolved.human_id in told and declined.human_id in told
        assert "MARKER" not in told
        reporter_told = "\n".join(await texts_to(uow, reporter.id, after=mark))
        assert "MARKER-RESOLVE" in reporter_told and "MARKER-DECLINE" in reporter_told
        await lifecycle.rate(uow, reporter, resolved, 2)
        steps = await queries.timeline(uow, resolved, only_public=True)
        assert [e.kind for e in steps] == ["created", "resolved"]
        page = domain.renderer.render(
            "en",
            "timeline",
            case=resolved,
            events=steps,
            viewer="follower",
            now=uow.now,
            **views.ownership_data(uow, resolved, "en"),
        )
        assert "MARKER" not in page and "rated" not in page


async def test_a_resident_who_is_forgotten_moves_no_public_point(
    domain: Domain, client: TestClient
) -> None:
    """/forget erases the precise pin but keeps it as coarse as it was already published, so
    the map, the case page, Open311 and the open data read the same before and after."""
    from bot.services.people import residents

    async with domain.unit() as uow:
        resident = await new_resident(uow)
        grid = uow.routing.gridmap.buildings["xf-1"].grid_id
        case = await lifecycle.create_case(
            uow,
            resident,
            text="The street lamp outside my building is broken",
            grid_id=grid,
            building_id=None,
            place_text="by the east gate",
            location=(39.912345, 116.401234),
            photos=[],
            source_update_id=None,
        )
        case_id = case.human_id
    before = await _everything(client, [case_id])
    async with domain.unit() as uow:
        await residents.forget(uow, await uow.session.get(type(resident), resident.id))
        case = await lifecycle.find_case(uow, case_id)
        assert case is not None and case.resident_id is None and case.place_text is None
        assert (case.latitude, case.longitude) == (39.912, 116.401)  # the precise pin is gone
    after = await _everything(client, [case_id])
    changed = [where for where in before if before[where] != after[where]]
    assert changed == [], changed
