"""Open data downloads at stable URLs under /data/, streamed as they are read, and the page that
describes them.

/data/ (the index page, in the reader's language; /data redirects to it), /data/cases.csv, /data/cases-YYYY-MM.csv, /data/cases.geojson, /data/grids.geojson,
/data/grid-months.csv and /data/datapackage.json (which describes them all). The rows come
from bot/services/public/open_data.py; here they are only written out, a chunk at a time.
`HEAD` answers a file's headers without reading a row or building the file.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from aiohttp import web

from bot.services.public import open_data
from bot.services.public.ratings import minimum_of
from bot.services.shared.domain import Domain
from bot.web.keys import GRIDVOICE, PAGES_KEY

CHUNK = 64 * 1024
CSV = "text/csv"
GEOJSON = "application/geo+json"


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/data/", index, name="data_index")
    r.add_get("/data", to_index)
    r.add_get("/data/datapackage.json", datapackage, name="data_package")
    r.add_get("/data/cases.csv", cases_csv, name="data_cases")
    r.add_get(r"/data/cases-{month:\d{4}-\d{2}}.csv", cases_month_csv, name="data_cases_month")
    r.add_get("/data/cases.geojson", cases_geojson, name="data_cases_geojson")
    r.add_get("/data/grids.geojson", grids_geojson, name="data_grids")
    r.add_get("/data/grid-months.csv", grid_months_csv, name="data_grid_months")
    r.add_get("/data/proposals.csv", proposals_csv, name="data_proposals")


def _domain(request: web.Request) -> Domain:
    domain = request.app[GRIDVOICE].domain
    if not domain.has_routing:  # a deployment before `gridvoice grids load`: nothing to publish
        raise web.HTTPServiceUnavailable(
            text="no grid map loaded yet", headers={"Retry-After": "60"}
        )
    return domain


async def _stream(
    request: web.Request, chunks: AsyncIterator[str], content_type: str, filename: str
) -> web.StreamResponse:
    """Write the chunks out as they come, ~64 KB at a time; memory stays at one chunk."""
    response = web.StreamResponse(
        headers={
            "Content-Type": f"{content_type}; charset=utf-8",
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "public, max-age=300",
        }
    )
    if request.method == "HEAD":  # the headers only: the export is not run
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
        await response.prepare(request)
        await response.write_eof()
        return response
    buffer: list[str] = []
    size = 0
    started = False
    async for chunk in chunks:
        if not started:  # headers go out only once the first row was read without error
            await response.prepare(request)
            started = True
        buffer.append(chunk)
        size += len(chunk)
        if size >= CHUNK:
            await response.write("".join(buffer).encode("utf-8"))
            buffer, size = [], 0
    if not started:
        await response.prepare(request)
    if buffer:
        await response.write("".join(buffer).encode("utf-8"))
    await response.write_eof()
    return response


def _head(request: web.Request, content_type: str) -> web.Response | None:
    """For HEAD, the headers GET would send, without building the body; None for GET."""
    if request.method != "HEAD":
        return None
    _domain(request)
    return web.Response(content_type=content_type, charset="utf-8")


async def cases_csv(request: web.Request) -> web.StreamResponse:
    return await _stream(request, open_data.cases_csv(_domain(request)), CSV, "cases.csv")


async def cases_month_csv(request: web.Request) -> web.StreamResponse:
    month = open_data.parse_month(request.match_info["month"])
    if month is None:
        raise web.HTTPNotFound()
    chunks = open_data.cases_csv(_domain(request), month=month)
    return await _stream(request, chunks, CSV, f"cases-{month}.csv")


async def cases_geojson(request: web.Request) -> web.StreamResponse:
    chunks = open_data.cases_geojson(_domain(request))
    return await _stream(request, chunks, GEOJSON, "cases.geojson")


async def grids_geojson(request: web.Request) -> web.Response:
    if (head := _head(request, GEOJSON)) is not None:
        return head
    body = json.dumps(open_data.grids_geojson(_domain(request)), ensure_ascii=False)
    return web.Response(text=body, content_type=GEOJSON, charset="utf-8")


async def grid_months_csv(request: web.Request) -> web.StreamResponse:
    chunks = open_data.grid_months_csv(_domain(request))
    return await _stream(request, chunks, CSV, "grid-months.csv")


async def datapackage(request: web.Request) -> web.Response:
    if (head := _head(request, "application/json")) is not None:
        return head
    body = json.dumps(open_data.datapackage(_domain(request)), ensure_ascii=False, indent=1)
    return web.Response(text=body, content_type="application/json", charset="utf-8")


async def to_index(request: web.Request) -> web.Response:
    query = f"?{request.query_string}" if request.query_string else ""
    raise web.HTTPPermanentRedirect(f"/data/{query}")


async def index(request: web.Request) -> web.Response:
    """What is published, under which licence, each file with its fields, every month's file."""
    domain = request.app[GRIDVOICE].domain
    licence = domain.settings.open_data_licence
    title, url = open_data.LICENCES.get(licence, (licence, ""))
    ready = domain.has_routing
    months = await open_data.months_published(domain) if ready else []
    return request.app[PAGES_KEY].render(
        request,
        "data",
        ready=ready,
        resources=open_data.RESOURCES,
        months=list(reversed(months)),
        licence=licence,
        licence_title=title,
        licence_url=url,
        timezone=domain.routing.gridmap.timezone if ready else "",
        min_rated=minimum_of(domain.settings),
    )


async def proposals_csv(request: web.Request) -> web.StreamResponse:
    chunks = open_data.proposals_csv(_domain(request))
    return await _stream(request, chunks, CSV, "proposals.csv")
