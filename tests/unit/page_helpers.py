"""The public pages on the fast layer: the web edge mounted on the test's `Domain` and asked
through aiohttp's test client (no emulator, no bot), and a map with a second community.

    client = await pages(domain)      # then: status, html = await get(client, "/", "en")
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from unit_helpers import DEMO_MAP

from bot.services.shared.domain import Domain
from bot.services.shared.gridmap_store import load_document
from bot.web import setup_web
from bot.web.keys import GRIDVOICE


async def pages(domain: Domain) -> TestClient:
    """A test client on the public pages, open data and Open311 of `domain`."""
    app = web.Application()
    gv = SimpleNamespace(domain=domain, files=None)
    app[GRIDVOICE] = gv  # type: ignore[assignment]
    setup_web(app, gv)  # type: ignore[arg-type]
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def get(client: TestClient, path: str, lang: str = "en") -> tuple[int, str]:
    async with client.get(path, headers={"Accept-Language": lang}) as r:
        return r.status, await r.text()


def demo_document() -> dict[str, Any]:
    return yaml.safe_load(DEMO_MAP.read_text(encoding="utf-8"))


async def load_two_communities(domain: Domain) -> None:
    """The demo map with grids 3 and 4 moved into a second community, Heping."""
    doc = demo_document()
    xingfu = doc["communities"][0]
    heping = {
        "id": "heping",
        "name": {"en": "Heping Community", "zh": "和平社区"},
        "office": {"en": "Heping Rd 20", "zh": "和平路20号"},
        "hours": {"en": "Mon-Fri 9:00-17:00", "zh": "周一至周五 9:00-17:00"},
        "grids": xingfu["grids"][2:],
    }
    xingfu["grids"] = xingfu["grids"][:2]
    doc["communities"].append(heping)
    await load_document(domain, yaml.safe_dump(doc, allow_unicode=True), "two-communities")
