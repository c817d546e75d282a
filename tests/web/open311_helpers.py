"""Playing an outside Open311 client: plain HTTP, the spec's JSON Schemas, an API key."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import aiohttp
import pytest

from bot.services.public import api_keys

ROOT = Path(__file__).resolve().parents[2]
# ../shared next to the repository (or next to the folder of worktrees it sits in).
SHARED = next(
    (
        p / "shared"
        for p in (ROOT.parent, ROOT.parent.parent)
        if (p / "shared" / "open311").exists()
    ),
    ROOT.parent / "shared",
)
SCHEMAS = SHARED / "open311" / "schemas"
V2 = "/open311/v2"


async def issue_key(world: Any, name: str = "city-311") -> str:
    async with world.app.domain.unit() as uow:
        issued = await api_keys.create_key(uow.session, name, uow.now)
    return issued.key


def validator(schema_name: str) -> Any:
    """A validator for one of the spec's schemas; the test is skipped where they are absent."""
    if not (SCHEMAS / schema_name).exists():
        pytest.skip(f"the Open311 schemas are not at {SCHEMAS}")
    jsonschema = pytest.importorskip("jsonschema")
    import json

    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    resources = [
        (p.name, Resource.from_contents(json.loads(p.read_text()), default_specification=DRAFT7))
        for p in SCHEMAS.glob("*.json")
        if p.name != "swagger.json"
    ]
    registry = Registry().with_resources(resources)
    schema = json.loads((SCHEMAS / schema_name).read_text())
    return jsonschema.Draft7Validator(
        schema, registry=registry, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


async def get(http: aiohttp.ClientSession, url: str, **params: str) -> tuple[int, Any, str]:
    async with http.get(url, params=params or None) as r:
        body = await r.text()
        return r.status, _decode(url, body), r.headers.get("Content-Type", "")


async def post(http: aiohttp.ClientSession, url: str, form: dict[str, str]) -> tuple[int, Any]:
    async with http.post(url, data=form) as r:
        body = await r.text()
        return r.status, _decode(url, body)


def _decode(url: str, body: str) -> Any:
    if url.endswith(".xml"):
        return ET.fromstring(body.encode("utf-8"))
    import json

    return json.loads(body)


async def resolve(world: Any, staff: int, card: dict[str, Any], note: str) -> None:
    """Press Resolve on a card, write the note, skip the photo."""
    last = await world.last_id(staff)
    await world.act(staff, card, "res")
    prompt = await world.wait_bot(staff, after=last)
    await world.say(staff, note)
    photo_prompt = await world.wait_bot(staff, after=prompt["message_id"], buttons=True)
    await world.press(staff, photo_prompt, "")
