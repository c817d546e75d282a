"""The public pages on the fast layer: the web edge mounted on the test's `Domain` and asked
through aiohttp's test client (no emulator, no bot), and a map with a second community.

    client = await pages(domain)      # then: status, html = await get(client, "/", "en")
"""

from __future__ import annotations

from types import SimpleNamespace

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.services.shared.domain import Domain
from bot.services.shared.gridmap_store import load_document
from bot.web import setup_web
from bot.web.forms import BODY_MAX
from bot.web.keys import GRIDVOICE
from tests.support.maps import demo_document, two_communities

__all__ = ["demo_document", "get", "load_two_communities", "pages"]


async def pages(domain: Domain) -> TestClient:
    """A test client on the public pages, open data and Open311 of `domain`."""
    app = web.Application(client_max_size=BODY_MAX)  # as the running bot's
    gv = SimpleNamespace(domain=domain, files=None)
    app[GRIDVOICE] = gv  # type: ignore[assignment]
    setup_web(app, gv)  # type: ignore[arg-type]
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def get(client: TestClient, path: str, lang: str = "en") -> tuple[int, str]:
    async with client.get(path, headers={"Accept-Language": lang}) as r:
        return r.status, await r.text()


async def load_two_communities(domain: Domain) -> None:
    """The demo map with grids 3 and 4 moved into a second community, Heping."""
    await load_document(domain, two_communities(), "two-communities")
