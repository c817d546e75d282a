"""A small Open311 GeoReport v2 server for tests: a department's or a superior's system.

Written from the GeoReport v2 text (services, POST requests with an id or a token, tokens,
GET requests by id or date window, one request) and the `servicerequestupdates` extension
(update_id, service_request_id, status, updated_datetime, description, media_url,
external_status_code), answering JSON or XML by the path's extension and errors as the spec's
list of {code, description}.

A test drives it in process:

    peer = Open311Peer(api_key="k")
    await peer.start()                  # peer.url is the endpoint
    peer.fault("post", "500")           # the next POSTs answer 500 (see FAULTS)
    peer.set_status("P-1", "open", "acknowledged", "signed for")   # an update
    await peer.refuse()                 # connections refused until peer.resume()
    await peer.stop()
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

FAULTS = (
    "500",  # HTTP 500, a JSON error list
    "timeout",  # no answer until the client gives up
    "malformed_json",  # 200, a JSON body cut short
    "malformed_xml",  # 200, an XML body cut short
    "html",  # 502 with an HTML page (a proxy in front of the system)
    "errors",  # 200 with a GeoReport errors list
    "bad_request",  # 400 with a GeoReport errors list
    "create_then_500",  # POST: the request IS created, then the answer is a 500
    "create_then_hang",  # POST: the request IS created, then no answer (timeout)
    "token",  # POST: answer a token instead of an id (tokens/<t> resolves it)
    "huge",  # 200 with a body larger than any client should read
)


@dataclass
class PeerRequest:
    id: str
    service_code: str
    description: str
    lat: str | None
    long: str | None
    status: str = "open"
    external: str | None = "submitted"
    requested: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    form: dict[str, str] = field(default_factory=dict)


@dataclass
class PeerUpdate:
    update_id: str
    request_id: str
    status: str
    external: str | None
    at: datetime
    description: str | None


class Open311Peer:
    def __init__(
        self,
        *,
        api_key: str = "peer-key",
        services: tuple[str, ...] = ("sanitation", "facilities", "safety", "other"),
        delay: float = 0.0,
        show_descriptions: bool = True,
        prefix: str = "P",
        now: Any = None,
    ) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self.api_key = api_key
        self.services = services
        self.delay = delay
        self.show_descriptions = show_descriptions
        self.prefix = prefix
        self.requests: dict[str, PeerRequest] = {}
        self.updates: list[PeerUpdate] = []
        self.tokens: dict[str, str | None] = {}
        self.faults: dict[str, list[str]] = {}
        self.hits: dict[str, int] = {}
        self.posts: list[dict[str, str]] = []
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0
        self.hang = asyncio.Event()

    # -- control --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/open311/v2"

    def fault(self, route: str, kind: str, times: int = 1000) -> None:
        """Answer `route` (post, requests, updates, tokens, any) with a fault, `times` times."""
        assert kind in FAULTS, kind
        self.faults[route] = [kind] * times

    def clear(self) -> None:
        self.faults.clear()

    def set_status(
        self,
        request_id: str,
        status: str,
        external: str | None = None,
        description: str | None = None,
        *,
        at: datetime | None = None,
        update_id: str | None = None,
        touch: bool = True,
    ) -> PeerUpdate:
        """The remote's staff change a request: it shows in requests.json and as an update."""
        when = at or self._now()
        req = self.requests.get(request_id)
        if req is not None and touch:
            req.status, req.external, req.updated = status, external, when
        update = PeerUpdate(
            update_id or f"U{next(self._update_ids)}",
            request_id,
            status,
            external,
            when,
            description,
        )
        self.updates.append(update)
        return update

    def issue_token_id(self, token: str) -> None:
        """A batch system finished filing: the token now names its request."""
        req = self._create(self._token_forms.pop(token))
        self.tokens[token] = req.id

    # -- serving --------------------------------------------------------------------------
    async def start(self, port: int = 0) -> None:
        app = web.Application()
        r = app.router
        r.add_get("/open311/v2/services.{fmt}", self._services)
        r.add_post("/open311/v2/requests.{fmt}", self._post)
        r.add_get("/open311/v2/requests.{fmt}", self._list)
        r.add_get("/open311/v2/requests/{id}.{fmt}", self._one)
        r.add_get("/open311/v2/tokens/{token}.{fmt}", self._token)
        r.add_get("/open311/v2/servicerequestupdates.{fmt}", self._updates)
        self._token_forms: dict[str, dict[str, str]] = {}
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await self._listen(port)

    async def _listen(self, port: int) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", port, reuse_address=True)
        await self._site.start()
        self.port = self._runner.addresses[-1][1]

    async def refuse(self) -> None:
        """Stop listening: the client's connections are refused (the link is cut)."""
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def resume(self) -> None:
        await self._listen(self.port)

    async def stop(self) -> None:
        self.hang.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- helpers --------------------------------------------------------------------------
    def _take_fault(self, route: str) -> str | None:
        for key in (route, "any"):
            queue = self.faults.get(key)
            if queue:
                return queue.pop(0)
        return None

    async def _faulty(self, kind: str, fmt: str) -> web.Response:
        if kind in ("timeout", "create_then_hang"):
            await self.hang.wait()
        if kind in ("500", "create_then_500"):
            return self._errors(fmt, 500, "internal error")
        if kind == "malformed_json":
            return web.Response(text='[{"service_request_id": "P-', content_type="application/json")
        if kind == "malformed_xml":
            return web.Response(
                text="<service_requests><request><service_request_id>", content_type="text/xml"
            )
        if kind == "html":
            return web.Response(
                status=502,
                text="<!DOCTYPE html><html><body>Bad gateway</body></html>",
                content_type="text/html",
            )
        if kind == "errors":
            return self._errors(fmt, 200, "service temporarily closed")
        if kind == "bad_request":
            return self._errors(fmt, 400, "service_code not found")
        if kind == "huge":
            return web.Response(
                text="[" + ",".join(["{}"] * 3_000_000) + "]", content_type="application/json"
            )
        raise AssertionError(kind)

    def _errors(self, fmt: str, status: int, description: str) -> web.Response:
        return self._answer(
            fmt, "errors", [{"code": status, "description": description}], status=status
        )

    def _answer(
        self, fmt: str, root: str, items: list[dict[str, Any]], status: int = 200
    ) -> web.Response:
        if fmt == "xml":
            tag = {
                "service_requests": "request",
                "errors": "error",
                "services": "service",
                "service_request_updates": "request_update",
            }[root]
            parts = [f'<?xml version="1.0" encoding="utf-8"?><{root}>']
            for item in items:
                parts.append(f"<{tag}>")
                for k, v in item.items():
                    parts.append(f"<{k}>{escape('' if v is None else str(v))}</{k}>")
                parts.append(f"</{tag}>")
            parts.append(f"</{root}>")
            return web.Response(status=status, text="".join(parts), content_type="text/xml")
        return web.Response(status=status, text=json.dumps(items), content_type="application/json")

    def _body(self, req: PeerRequest) -> dict[str, Any]:
        return {
            "service_request_id": req.id,
            "status": req.status,
            "external_status_code": req.external,
            "service_code": req.service_code,
            "description": req.description if self.show_descriptions else None,
            "requested_datetime": req.requested.isoformat(timespec="seconds"),
            "updated_datetime": req.updated.isoformat(timespec="seconds"),
            "lat": req.lat,
            "long": req.long,
        }

    def _create(self, form: dict[str, str]) -> PeerRequest:
        req = PeerRequest(
            id=f"{self.prefix}-{next(self._ids)}",
            service_code=form.get("service_code", ""),
            description=form.get("description", ""),
            lat=form.get("lat"),
            long=form.get("long"),
            form=form,
            requested=self._now(),
            updated=self._now(),
        )
        self.requests[req.id] = req
        return req

    async def _enter(self, route: str, request: web.Request) -> tuple[str, str | None]:
        self.hits[route] = self.hits.get(route, 0) + 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return request.match_info["fmt"], self._take_fault(route)

    # -- routes ---------------------------------------------------------------------------
    async def _services(self, request: web.Request) -> web.Response:
        fmt, fault = await self._enter("services", request)
        if fault:
            return await self._faulty(fault, fmt)
        items = [{"service_code": c, "service_name": c, "type": "realtime"} for c in self.services]
        return self._answer(fmt, "services", items)

    async def _post(self, request: web.Request) -> web.Response:
        fmt, fault = await self._enter("post", request)
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        if fault and not fault.startswith("create_then") and fault != "token":
            return await self._faulty(fault, fmt)
        if form.get("api_key") != self.api_key:
            return self._errors(fmt, 403, "invalid api_key")
        if form.get("service_code") not in self.services:
            return self._errors(fmt, 400, "service_code not found")
        self.posts.append(form)
        if fault == "token":
            token = f"T{len(self._token_forms) + len(self.tokens) + 1}"
            self._token_forms[token] = form
            self.tokens[token] = None
            return self._answer(fmt, "service_requests", [{"token": token}])
        req = self._create(form)
        self.set_status(req.id, "open", "submitted", None, at=req.requested)
        if fault:
            return await self._faulty(fault, fmt)
        return self._answer(fmt, "service_requests", [{"service_request_id": req.id}])

    async def _list(self, request: web.Request) -> web.Response:
        fmt, fault = await self._enter("requests", request)
        if fault:
            return await self._faulty(fault, fmt)
        q = request.query
        if q.get("service_request_id"):
            ids = q["service_request_id"].split(",")
            items = [self._body(self.requests[i]) for i in ids if i in self.requests]
        elif q.get("updated_after"):
            after = _parse(q["updated_after"]) or self._now()
            items = [self._body(r) for r in self.requests.values() if r.updated > after]
        else:
            start = _parse(q.get("start_date")) or self._now() - timedelta(days=90)
            end = _parse(q.get("end_date")) or self._now()
            items = [self._body(r) for r in self.requests.values() if start <= r.requested <= end]
        return self._answer(fmt, "service_requests", items)

    async def _one(self, request: web.Request) -> web.Response:
        fmt, fault = await self._enter("one", request)
        if fault:
            return await self._faulty(fault, fmt)
        req = self.requests.get(request.match_info["id"])
        if req is None:
            return self._errors(fmt, 404, "request not found")
        return self._answer(fmt, "service_requests", [self._body(req)])

    async def _token(self, request: web.Request) -> web.Response:
        fmt, fault = await self._enter("tokens", request)
        if fault:
            return await self._faulty(fault, fmt)
        token = request.match_info["token"]
        if token not in self.tokens:
            return self._errors(fmt, 404, "token not found")
        rid = self.tokens[token]
        item: dict[str, Any] = {"token": token}
        if rid:
            item["service_request_id"] = rid
        return self._answer(fmt, "service_requests", [item])

    async def _updates(self, request: web.Request) -> web.Response:
        fmt, fault = await self._enter("updates", request)
        if fault:
            return await self._faulty(fault, fmt)
        start = _parse(request.query.get("start_date")) or self._now() - timedelta(days=1)
        end = _parse(request.query.get("end_date")) or self._now()
        items = [
            {
                "update_id": u.update_id,
                "service_request_id": u.request_id,
                "status": u.status,
                "updated_datetime": u.at.isoformat(timespec="seconds"),
                "description": u.description,
                "media_url": None,
                "external_status_code": u.external,
            }
            for u in self.updates
            if start <= u.at < end or u.at == end
        ]

        return self._answer(fmt, "service_request_updates", items)


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.replace("Z", "+00:00").replace(" ", "+")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def with_superior(domain: Any, url: str = "http://127.0.0.1:9/open311/v2") -> None:
    """Make the map in force name a superior centre at `url` (without loading a map)."""
    import dataclasses

    from routing.links import DEFAULT_EXTERNAL, DEFAULT_STATUSES, Link, Links

    routing = domain.routing
    link = Link(
        id="district",
        kind="gridvoice",
        url=url,
        api_key="k",
        jurisdiction_id=None,
        level="superior",
        service_codes={},
        statuses=DEFAULT_STATUSES,
        external_statuses=DEFAULT_EXTERNAL,
    )
    links = Links(links={"district": link}, superior="district")
    domain._routing = dataclasses.replace(
        routing, gridmap=dataclasses.replace(routing.gridmap, links=links)
    )
