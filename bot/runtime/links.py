"""The link worker: posts queued hand-offs to other systems and polls what became of them.

It runs as its own task beside the sender and the scheduler (never on the update loop): one
pass sends what is due (`handoffs.claim`), resolves tokens, looks up unknown outcomes, polls
each link's updates (`servicerequestupdates` where the link offers them, else
`requests.json?service_request_id=…` in chunks) and checks the hand-off deadlines; then it
sleeps until a hand-off is queued or the poll interval is over.

Everything read from a remote is bounded: the answer's bytes (`MAX_BYTES`), the number of
items (`MAX_ITEMS`), each string (`MAX_FIELD`). Every failure has a kind (`connect`,
`timeout`, `http_5xx`, `http_4xx`, `html`, `malformed`, `errors`, `too_large`, …), counted in
`/metrics` as `gridvoice_link_errors_total{kind=…}` and logged as one line, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from bot.runtime.metrics import Metrics
from bot.services.cases import handoffs
from bot.services.cases.handoffs import Due, RemoteUpdate
from bot.services.shared.domain import Domain
from routing.links import Link

log = logging.getLogger(__name__)

MAX_BYTES = 2 * 1024 * 1024
MAX_ITEMS = 1000
MAX_FIELD = 1000
MAX_ID = 64
CHUNK = 50  # request ids per GET requests.json
PARALLEL = 8  # calls in flight at once
BATCH = 50  # hand-offs claimed at a time
POLL_OVERLAP = timedelta(minutes=5)


class RemoteError(Exception):
    """A call that did not give a usable answer. `posted`: the request may have reached the
    remote (its outcome is unknown); `refused`: the remote said no in its error format."""

    def __init__(self, kind: str, detail: str, *, posted: bool = True, refused: bool = False):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail[:200]
        self.posted = posted
        self.refused = refused


def _text(value: Any, limit: int = MAX_FIELD) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:limit] if text else None


def parse_time(value: Any) -> datetime | None:
    text = _text(value, 40)
    if not text:
        return None
    text = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not 1970 <= parsed.year <= 9998:
        return None
    return parsed.astimezone(UTC)


def _xml_items(root: ET.Element) -> list[dict[str, Any]]:
    """GeoReport XML (a root with one element per item, each with simple children) as dicts."""
    items = []
    for child in list(root)[: MAX_ITEMS + 1]:
        items.append({sub.tag: (sub.text or "") for sub in list(child)[:64]})
    if root.tag == "errors":
        return [
            {"code": i.get("code"), "description": i.get("description"), "_error": True}
            for i in items
        ]
    return items


def decode(status: int, content_type: str, body: bytes) -> list[dict[str, Any]]:
    """An answer as a list of items, or a RemoteError naming what was wrong with it."""
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    lowered = text[:200].lower()
    if (
        "html" in content_type
        or lowered.startswith("<!doctype html")
        or lowered.startswith("<html")
    ):
        raise RemoteError("html", f"HTTP {status}, an HTML page")
    items: list[dict[str, Any]]
    if text.startswith("<"):
        if "<!doctype" in lowered or "<!entity" in text[:4000].lower():
            raise RemoteError("malformed", "XML with a document type")
        try:
            items = _xml_items(ET.fromstring(text))
        except ET.ParseError:
            raise RemoteError("malformed", f"HTTP {status}, XML that does not parse") from None
    else:
        try:
            data = json.loads(text) if text else None
        except (ValueError, RecursionError):
            raise RemoteError("malformed", f"HTTP {status}, JSON that does not parse") from None
        if isinstance(data, dict):
            for key in ("service_requests", "service_request_updates", "errors"):
                if isinstance(data.get(key), list):
                    data = data[key]
                    break
            else:
                data = [data]
        if not isinstance(data, list):
            raise RemoteError("malformed", f"HTTP {status}, not a list")
        items = [d for d in data[: MAX_ITEMS + 1] if isinstance(d, dict)]
        if len(items) != min(len(data), MAX_ITEMS + 1):
            raise RemoteError("malformed", f"HTTP {status}, a list of non-objects")
        for item in items:
            if "code" in item and "description" in item and "service_request_id" not in item:
                item["_error"] = True
    if len(items) > MAX_ITEMS:
        raise RemoteError("too_large", f"more than {MAX_ITEMS} items")
    errors = [i for i in items if i.get("_error")]
    if status >= 500:
        raise RemoteError("http_5xx", f"HTTP {status}")
    if status >= 400 or errors:
        words = (
            "; ".join(
                f"{_text(e.get('code'), 10)} {_text(e.get('description'), 120)}" for e in errors[:3]
            )
            or f"HTTP {status}"
        )
        kind = "errors" if status < 400 else "http_4xx"
        raise RemoteError(kind, words, refused=True)
    return items


_REMOTE_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


def remote_id_of(item: dict[str, Any]) -> str | None:
    value = _text(item.get("service_request_id"), MAX_ID + 1)
    return value if value and _REMOTE_ID.fullmatch(value) else None


class LinkClient:
    """One link's GeoReport v2 calls over a shared aiohttp session."""

    def __init__(self, http: aiohttp.ClientSession, link: Link, timeout: float) -> None:
        self.http = http
        self.link = link
        self.timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self.requests = 0

    def _params(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        params = dict(extra or {})
        if self.link.jurisdiction_id:
            params.setdefault("jurisdiction_id", self.link.jurisdiction_id)
        return params

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        url = f"{self.link.url}/{path}"
        self.requests += 1
        sent = False
        try:
            async with self.http.request(
                method,
                url,
                params=self._params(params) if method == "GET" else None,
                data=form,
                timeout=self.timeout,
                allow_redirects=False,
            ) as resp:
                sent = True
                chunks, size = [], 0
                async for chunk in resp.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise RemoteError("too_large", f"more than {MAX_BYTES} bytes")
                    chunks.append(chunk)
                body = b"".join(chunks)
                return decode(resp.status, resp.headers.get("Content-Type", ""), body)
        except RemoteError:
            raise
        except aiohttp.ClientConnectorError as exc:
            raise RemoteError("connect", type(exc).__name__, posted=False) from None
        except TimeoutError:
            raise RemoteError(
                "timeout", f"no answer in {self.timeout.total:g} s", posted=True
            ) from None
        except (aiohttp.ClientError, ValueError, UnicodeError) as exc:
            raise RemoteError(
                "protocol", type(exc).__name__, posted=sent or method == "POST"
            ) from None

    async def post_request(self, form: dict[str, str]) -> tuple[str | None, str | None]:
        body = dict(form)
        body["api_key"] = self.link.api_key
        if self.link.jurisdiction_id:
            body.setdefault("jurisdiction_id", self.link.jurisdiction_id)
        items = await self.call("POST", "requests.json", form=body)
        if not items:
            raise RemoteError("malformed", "an empty answer to a new request")
        first = items[0]
        rid = remote_id_of(first)
        token = _text(first.get("token"), MAX_ID)
        if rid is None and not token:
            raise RemoteError("malformed", "neither a request id nor a token")
        return rid, token

    async def token(self, token: str) -> str | None:
        items = await self.call("GET", f"tokens/{token}.json")
        return next((rid for rid in map(remote_id_of, items) if rid), None)

    async def find(self, ref: str, since: datetime, until: datetime) -> tuple[str | None, bool]:
        """Look our reference up at the remote: (its request id, or None; whether the answer
        lets us say it is surely absent — every listed request shows its description)."""
        items = await self.call(
            "GET",
            "requests.json",
            params={
                "start_date": since.isoformat(timespec="seconds"),
                "end_date": until.isoformat(timespec="seconds"),
            },
        )
        describes = True
        for item in items:
            description = _text(item.get("description"), 4000)
            if description is None:
                describes = False
                continue
            if handoffs.marker(ref) in description:
                return remote_id_of(item), False
        return None, describes and len(items) < MAX_ITEMS

    async def requests_by_id(self, ids: list[str]) -> list[RemoteUpdate]:
        items = await self.call(
            "GET", "requests.json", params={"service_request_id": ",".join(ids)}
        )
        return self._as_updates(items)

    async def changed_since(self, since: datetime) -> list[RemoteUpdate]:
        items = await self.call(
            "GET", "requests.json", params={"updated_after": since.isoformat(timespec="seconds")}
        )
        return self._as_updates(items)

    def _as_updates(self, items: list[dict[str, Any]]) -> list[RemoteUpdate]:
        out = []
        for item in items:
            rid = remote_id_of(item)
            if rid is None:
                continue
            status = _text(item.get("status"), 32)
            external = _text(item.get("external_status_code"), 64)
            at = parse_time(item.get("updated_datetime"))
            key = f"r|{rid}|{status}|{external}|{at.isoformat() if at else ''}"
            out.append(
                RemoteUpdate(key, rid, status, external, at, _text(item.get("status_notes")))
            )
        return out

    async def updates(self, start: datetime, end: datetime) -> list[RemoteUpdate]:
        items = await self.call(
            "GET",
            "servicerequestupdates.json",
            params={
                "start_date": start.isoformat(timespec="seconds"),
                "end_date": end.isoformat(timespec="seconds"),
            },
        )
        out = []
        for item in items:
            rid = remote_id_of(item)
            uid = _text(item.get("update_id"), 100)
            if rid is None or not uid:
                continue
            out.append(
                RemoteUpdate(
                    f"u|{uid}",
                    rid,
                    _text(item.get("status"), 32),
                    _text(item.get("external_status_code"), 64),
                    parse_time(item.get("updated_datetime")),
                    _text(item.get("description")),
                )
            )
        return out


@dataclass
class PassResult:
    sent: int = 0
    looked_up: int = 0
    updates: int = 0
    requests: int = 0
    errors: int = 0


class LinkWorker:
    """Runs the links: sending, polling, deadlines. Nothing lives only in its memory."""

    def __init__(self, domain: Domain, metrics: Metrics | None = None) -> None:
        self.domain = domain
        self.metrics = metrics or Metrics()
        self._stop = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._last_poll: dict[str, float] = {}
        self._up: set[str] = set()  # links whose last call succeeded (no write per call)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def stop(self) -> None:
        self._stop.set()
        self.domain.links_wake.set()

    def _client(self, link: Link) -> LinkClient:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=20), raise_for_status=False
            )
        return LinkClient(self._http, link, self.domain.settings.link_timeout)

    def _failed(self, link_id: str, err: RemoteError, what: str) -> None:
        self.metrics.inc(f'gridvoice_link_errors_total{{kind="{err.kind}"}}')
        log.warning("link %s: %s failed: %s", link_id, what, err)

    async def _healthy(self, link_id: str) -> None:
        if link_id not in self._up:
            await handoffs.link_health(self.domain, link_id, True)
            self._up.add(link_id)

    async def _unhealthy(self, link_id: str, kind: str) -> None:
        self._up.discard(link_id)
        await handoffs.link_health(self.domain, link_id, False, kind)

    async def run(self) -> None:
        await handoffs.release_stale(self.domain)
        try:
            while not self._stop.is_set():
                try:
                    await self.run_once()
                except Exception as exc:  # noqa: BLE001 - the worker must outlive any pass
                    log.warning("link worker: a pass failed: %s: %s", type(exc).__name__, exc)
                self.domain.links_wake.clear()
                try:
                    await asyncio.wait_for(
                        self.domain.links_wake.wait(),
                        timeout=min(5.0, self.domain.settings.link_poll_interval),
                    )
                except TimeoutError:
                    pass
        finally:
            await self.aclose()

    async def run_once(self, *, poll: bool | None = None) -> PassResult:
        result = PassResult()
        if not self.domain.has_routing:
            await self.domain.reload_routing()
            if not self.domain.has_routing:
                return result
        links = self.domain.routing.gridmap.links.links
        if not links:
            return result
        await self.send_due(result)
        loop = asyncio.get_running_loop()
        for link in links.values():
            due = (
                loop.time() - self._last_poll.get(link.id, -1e9)
                >= self.domain.settings.link_poll_interval
            )
            if poll or (poll is None and due):
                self._last_poll[link.id] = loop.time()
                await self.poll(link, result)
        await handoffs.missed_deadlines(self.domain)
        figures = await handoffs.queue_figures(self.domain)
        self.metrics.set("gridvoice_handoff_queue_depth", figures["depth"])
        self.metrics.set("gridvoice_handoff_oldest_pending_seconds", figures["oldest_seconds"])
        return result

    async def send_due(self, result: PassResult) -> None:
        """Everything due, `PARALLEL` calls at a time; a link that looks down stops for this
        pass (its rows wait, nothing is lost)."""
        links = self.domain.routing.gridmap.links.links
        down: set[str] = set()
        gate = asyncio.Semaphore(PARALLEL)

        async def one(due: Due) -> None:
            link = links.get(due.link_id)
            if link is None or due.link_id in down:
                await handoffs.record_failure(
                    self.domain,
                    due.id,
                    "link_down" if link else "no_link",
                    "waiting for the link",
                    posted=False,
                )
                return
            async with gate:
                if due.link_id in down:
                    await handoffs.record_failure(
                        self.domain, due.id, "link_down", "waiting for the link", posted=False
                    )
                elif not await self._one(self._client(link), due, result):
                    down.add(due.link_id)

        while True:
            batch = await handoffs.claim(self.domain, limit=BATCH)
            if not batch:
                return
            await asyncio.gather(*(one(due) for due in batch))
            if len(batch) < BATCH or down:
                return

    async def _one(self, client: LinkClient, due: Due, result: PassResult) -> bool:
        """One due hand-off. False when the link looks down (the rest of the batch waits)."""
        link = client.link
        try:
            if due.status == "token" and due.token:
                rid = await client.token(due.token)
                if rid is not None:
                    await handoffs.record_sent(self.domain, due.id, remote_id=rid)
                else:
                    await handoffs.record_failure(
                        self.domain, due.id, "token_pending", "", posted=True
                    )
            elif due.status in ("sending", "unknown"):
                now = self.domain.clock.now()
                since = (due.attempted_at or now) - timedelta(minutes=5)
                found, absent = await client.find(due.human_id, since, now + timedelta(minutes=1))
                result.looked_up += 1
                status = await handoffs.lookup_result(
                    self.domain, due.id, found=found, absent=absent, after=now
                )
                if status == "pending":  # surely never arrived: post it now
                    return await self._post(client, due, result)
            else:
                return await self._post(client, due, result)
        except RemoteError as err:
            self._failed(link.id, err, f"hand-off {due.id}")
            result.errors += 1
            await handoffs.record_failure(
                self.domain, due.id, err.kind, err.detail, posted=True, refused=False
            )
            await self._unhealthy(link.id, err.kind)
            return err.kind not in ("connect", "timeout")
        await self._healthy(link.id)
        return True

    async def _post(self, client: LinkClient, due: Due, result: PassResult) -> bool:
        attempt = await handoffs.begin_attempt(self.domain, due.id)
        if attempt is None:
            return True
        try:
            rid, token = await client.post_request(due.payload)
        except RemoteError as err:
            self._failed(client.link.id, err, f"posting hand-off {due.id}")
            result.errors += 1
            await handoffs.record_failure(
                self.domain, due.id, err.kind, err.detail, posted=err.posted, refused=err.refused
            )
            await self._unhealthy(client.link.id, err.kind)
            return err.kind not in ("connect", "timeout")
        await handoffs.record_sent(self.domain, due.id, remote_id=rid, token=token)
        await self._healthy(client.link.id)
        result.sent += 1
        self.metrics.inc("gridvoice_handoffs_sent_total")
        return True

    async def poll(self, link: Link, result: PassResult, *, catch_up: bool = False) -> None:
        client = self._client(link)
        try:
            if link.updates:
                await self._poll_updates(client, result, catch_up)
            elif link.updated_after and not catch_up and await self._poll_changed(client, result):
                pass
            else:
                ids = await handoffs.polled_ids(self.domain, link.id)
                for i in range(0, len(ids), CHUNK):
                    found = await client.requests_by_id(ids[i : i + CHUNK])
                    counts = await handoffs.apply_updates(self.domain, link, found)
                    result.updates += sum(counts.values())
                    self._count(counts)
        except RemoteError as err:
            self._failed(link.id, err, "polling")
            result.errors += 1
            await self._unhealthy(link.id, err.kind)
            return
        finally:
            result.requests += client.requests
        await self._healthy(link.id)

    async def _poll_changed(self, client: LinkClient, result: PassResult) -> bool:
        """`requests.json?updated_after=` since the last poll (less an overlap): one call for
        the whole link. False when the periodic catch-up by id is due instead."""
        settings = self.domain.settings
        now = self.domain.clock.now()
        polled_to, caught_up = await handoffs.cursor(self.domain, client.link.id)
        if polled_to is None or caught_up is None or now - caught_up >= settings.link_catchup_every:
            await handoffs.set_cursor(self.domain, client.link.id, now, now)
            return False  # read every open request by id this time
        found = await client.changed_since(polled_to - POLL_OVERLAP)
        ours = set(await handoffs.polled_ids(self.domain, client.link.id))
        counts = await handoffs.apply_updates(
            self.domain, client.link, [u for u in found if u.remote_id in ours]
        )
        result.updates += sum(counts.values())
        self._count(counts)
        await handoffs.set_cursor(self.domain, client.link.id, now)
        return True

    async def _poll_updates(self, client: LinkClient, result: PassResult, catch_up: bool) -> None:
        settings = self.domain.settings
        now = self.domain.clock.now()
        polled_to, caught_up = await handoffs.cursor(self.domain, client.link.id)
        if catch_up or caught_up is None or now - caught_up >= settings.link_catchup_every:
            start, catching = now - settings.link_catchup_window, True
        else:
            start, catching = (
                (polled_to or now - settings.link_catchup_window) - POLL_OVERLAP,
                False,
            )
        for updates in await self._windows(client, start, now):
            counts = await handoffs.apply_updates(self.domain, client.link, updates)
            result.updates += sum(counts.values())
            self._count(counts)
        await handoffs.set_cursor(self.domain, client.link.id, now, now if catching else None)

    async def _windows(
        self, client: LinkClient, start: datetime, end: datetime, depth: int = 0
    ) -> list[list[RemoteUpdate]]:
        """The updates of a window; one too big for a single answer is read in quarters (at
        most four levels deep: a remote that lists more than that in minutes is refused)."""
        try:
            return [await client.updates(start, end)]
        except RemoteError as err:
            if err.kind != "too_large" or depth >= 4 or end - start < timedelta(seconds=4):
                raise
        step = (end - start) / 4
        out: list[list[RemoteUpdate]] = []
        for i in range(4):
            out += await self._windows(client, start + step * i, start + step * (i + 1), depth + 1)
        return out

    def _count(self, counts: dict[str, int]) -> None:
        for outcome, n in counts.items():
            if outcome in ("unknown_case", "unknown_status", "backwards"):
                self.metrics.inc(f'gridvoice_link_errors_total{{kind="{outcome}"}}', n)
                log.warning("link update: %d × %s", n, outcome)
