"""Pages and the chat tell the same time: both read the map's timezone, not a fixed one."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.config import Settings
from bot.render import Renderer
from bot.services.shared.gridmap_store import load_document
from bot.web.pages import Formats, PageRenderer
from tests.support.world import DEMO_MAP, MEMBER_1, World
from tests.web.desk_helpers import get, http_session

pytestmark = pytest.mark.db

ACCEPT_BY = re.compile(r"⏱\D*(\d{4}-\d\d-\d\d \d\d:\d\d)")  # the card's deadline line


def test_a_page_formats_times_in_the_chat_renderers_timezone() -> None:
    chat = Renderer(timezone="America/New_York")
    pages = PageRenderer(Settings(), renderer=chat)
    moment = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert Formats(pages, "en").time(moment) == chat.local(moment) == "2026-07-01 08:00"
    chat.tz = Renderer(timezone="Europe/London").tz  # what loading another map does
    assert Formats(pages, "en").time(moment) == "2026-07-01 13:00"


async def test_the_public_case_page_shows_the_deadline_the_member_was_given(
    web_world: World,
) -> None:
    """A map in New York time: the member's card and the case's page name the same minute."""
    w = web_world
    document = DEMO_MAP.read_text(encoding="utf-8").replace(
        "timezone: Asia/Shanghai", "timezone: America/New_York"
    )
    await load_document(w.app.domain, document, "new-york.yaml")  # type: ignore[union-attr]
    await w.resident(6101, address="Xingfu Garden Building 1")
    case_id, _ = await w.report(6101, "The street light outside building 1 is broken")
    card = await w.card(MEMBER_1, case_id)
    match = ACCEPT_BY.search(card["text"])
    assert match, card["text"]
    async with http_session() as http:
        status, page = await get(http, f"{w.app.web_url}/cases/{case_id}?lang=en")  # type: ignore[union-attr]
    assert status == 200
    assert match.group(1) in page
