"""Open311 GeoReport v2 at /open311/: discovery, services, definitions, requests (GET, POST).

Every endpoint answers JSON or XML by its suffix. Errors are the spec's error list with the
spec's statuses: 403 for a missing or wrong API key, 404 for what does not exist, 405 (with
`Allow`) for a method an endpoint does not take, 413 for a body over the size limit, 408 for
a body that stalled, 400 for everything else (429 when a client is over its rate). The views are thin: checks and filing
live in bot/services/public/open311.py, what is public about a case in bot/services/public/cases.py.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from aiohttp import web

from bot.services.public import api_keys
from bot.services.public import open311 as service
from bot.services.public import updates as updates_service
from bot.services.public.cases import PublicCase, find_public_case, list_public_cases
from bot.services.public.open311 import Open311Error
from bot.services.shared.domain import Domain, NoGridMap
from bot.web.formats import JSON_TYPE, XML_TYPE, answer
from bot.web.forms import BadBody, client_gone, log_bad_body, read_form
from bot.web.keys import GRIDVOICE, PAGES_KEY
from bot.web.pages import request_language
from bot.web.ratelimit import TokenBuckets, retry_after

log = logging.getLogger(__name__)

PREFIX = "/open311"
ENDPOINT = "/open311/v2"
FMT = "{fmt:(json|xml)}"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
UPDATES_SPECIFICATION = (
    "https://github.com/mysociety/FixMyStreet/wiki/Open311-FMS---Proposed-differences-to-Open311"
)
KEY_BUCKETS = web.AppKey("open311_key_buckets", TokenBuckets)


def setup(app: web.Application, domain: Domain) -> None:
    settings = domain.settings
    app[KEY_BUCKETS] = TokenBuckets(
        settings.open311_posts_per_key_per_minute / 60.0,
        settings.open311_burst_per_key,
        max_keys=10_000,
    )
    r = app.router
    r.add_get(f"{PREFIX}/discovery.{FMT}", discovery, name="open311_discovery")
    r.add_get(f"{ENDPOINT}/services.{FMT}", service_list, name="open311_services")
    r.add_get(f"{ENDPOINT}/services/{{code}}.{FMT}", service_definition)
    r.add_get(f"{ENDPOINT}/requests.{FMT}", request_list, name="open311_requests")
    r.add_post(f"{ENDPOINT}/requests.{FMT}", request_create)
    r.add_get(f"{ENDPOINT}/requests/{{request_id}}.{FMT}", request_one)
    r.add_get(f"{ENDPOINT}/tokens/{{token}}.{FMT}", token)
    r.add_get(f"{ENDPOINT}/servicerequestupdates.{FMT}", update_list, name="open311_updates")
    r.add_post(f"{ENDPOINT}/servicerequestupdates.{FMT}", update_create)


def _domain(request: web.Request) -> Domain:
    return request.app[GRIDVOICE].domain


def _lang(request: web.Request) -> str:
    return request_language(request, _domain(request).settings.default_language)


def _text(request: web.Request, key: str, **data: Any) -> str:
    return request.app[PAGES_KEY].text(_lang(request), key, book="open311", **data)


def _fmt(request: web.Request) -> str:
    return request.match_info.get("fmt") or ("xml" if request.path.endswith(".xml") else "json")


def error_response(
    request: web.Request,
    status: int,
    key: str,
    *,
    headers: dict[str, str] | None = None,
    **data: Any,
) -> web.Response:
    """The spec's error list, in the endpoint's format and the client's language."""
    try:
        description = _text(request, f"open311_error_{key}", **data)
    except KeyError:
        description = key
    body = [{"code": status, "description": description}]
    response = answer(_fmt(request), "errors", body, status=status)
    response.headers.update(headers or {})
    return response


def too_many(request: web.Request, wait: float) -> web.Response:
    return error_response(request, 429, "rate_limited", headers={"Retry-After": retry_after(wait)})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def open311_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure under /open311 as the spec's error list; no trace ever reaches a client."""
    if not request.path.startswith(PREFIX):
        return await handler(request)
    try:
        return await handler(request)
    except Open311Error as exc:
        return error_response(request, exc.status, exc.key, **exc.data)
    except NoGridMap:
        return error_response(request, 400, "not_ready")
    except BadBody as bad:
        log_bad_body(request, bad)
        key = {"encoding": "bad_encoding", "timeout": "timeout"}.get(bad.key, "unreadable_body")
        response = error_response(request, bad.status, key)
        if bad.status == 408:
            response.force_close()
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            return error_response(request, 404, "no_such_endpoint")
        if exc.status == 405:
            allowed = exc.headers.get("Allow", "")
            return error_response(
                request,
                405,
                "method_not_allowed",
                headers={"Allow": allowed},
                method=request.method[:16],
                allowed=allowed.replace(",", ", "),
            )
        if exc.status == 413:
            limit = request.client_max_size
            return error_response(request, 413, "too_large", limit=f"{limit:,}")
        return error_response(request, 400, "general")
    except Exception as exc:
        if isinstance(exc, ConnectionError) and client_gone(request):
            log.debug("open311 client left", extra={"path": request.path[:200]})
            return error_response(request, 400, "general")
        log.exception("open311 request failed", extra={"path": request.path[:200]})
        return error_response(request, 400, "general")


# --- discovery and services --------------------------------------------------------------


def _base_url(request: web.Request) -> str:
    configured = _domain(request).settings.public_url
    return configured or f"{request.scheme}://{request.host}"


async def discovery(request: web.Request) -> web.Response:
    changeset = _changeset(request)
    body = {
        "changeset": changeset,
        "contact": _text(request, "open311_contact"),
        "key_service": _text(request, "open311_key_service"),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": _base_url(request) + ENDPOINT,
                "changeset": changeset,
                "type": "production",
                "formats": [XML_TYPE, JSON_TYPE],
            },
            {
                # mySociety's extension: GET and POST servicerequestupdates at the same base.
                "specification": UPDATES_SPECIFICATION,
                "url": _base_url(request) + ENDPOINT,
                "changeset": changeset,
                "type": "production",
                "formats": [XML_TYPE, JSON_TYPE],
            },
        ],
    }
    return answer(_fmt(request), "discovery", body)


def _changeset(request: web.Request) -> str | None:
    """When the service list last changed: when the grid map in force was loaded (ISO 8601,
    UTC, so the text sorts as the time does)."""
    loaded = _domain(request).routing.loaded_at
    return loaded.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if loaded else None


def _service_name(request: web.Request, code: str, lang: str) -> str:
    renderer = _domain(request).renderer
    return renderer.label(lang, f"cat_{code}") if renderer.has_label(lang, f"cat_{code}") else code


def _service_body(request: web.Request, svc: service.Service) -> dict[str, Any]:
    lang = _lang(request)
    try:
        description: str | None = request.app[PAGES_KEY].text(
            lang, f"service_desc_{svc.code}", book="open311"
        )
    except KeyError:
        description = None
    return {
        "service_code": svc.code,
        "service_name": _service_name(request, svc.code, lang),
        "description": description,
        "metadata": False,
        "type": "realtime",
        "keywords": None,
        "group": svc.group,
    }


async def service_list(request: web.Request) -> web.Response:
    service.check_jurisdiction(_domain(request), request.query)
    body = [_service_body(request, s) for s in service.services(_domain(request).routing)]
    return answer(_fmt(request), "services", body)


async def service_definition(request: web.Request) -> web.Response:
    service.check_jurisdiction(_domain(request), request.query)
    code = request.match_info["code"]
    if service.service(_domain(request).routing, code) is None:
        raise Open311Error(404, "unknown_service", code=code[:40])
    # No service asks for extra attributes: the description and the location are enough.
    return answer(_fmt(request), "service_definition", {"service_code": code, "attributes": []})


# --- requests --------------------------------------------------------------------------------


def _w3(value: datetime | None, tz: tzinfo) -> str | None:
    return value.astimezone(tz).isoformat(timespec="seconds") if value is not None else None


def request_bodies(request: web.Request, cases: list[PublicCase]) -> list[dict[str, Any]]:
    lang, tz = _lang(request), _domain(request).routing.gridmap.tz
    bodies = [request_body(case, lang, tz) for case in cases]
    for case, body in zip(cases, bodies, strict=True):
        if case.hold_reason and case.is_open and not body["status_notes"]:
            # On hold: its reason category and end (never the owner's note to the leader).
            body["status_notes"] = _text(
                request,
                "status_on_hold",
                reason=_text(request, f"hold_reason_{case.hold_reason}"),
                until=_w3(case.held_until, tz),
            )
        elif case.under_review and case.is_open and not body["status_notes"]:
            body["status_notes"] = _text(request, "status_under_review")
    return bodies


def request_body(case: PublicCase, lang: str, tz: tzinfo) -> dict[str, Any]:
    """A case as an Open311 request: only PublicCase's allow-listed fields."""
    return {
        "service_request_id": case.human_id,
        "status": case.open311_status,
        "status_notes": case.status_notes,
        "service_name": case.service_name.get(lang),
        "service_code": case.service_code,
        "description": case.description,
        "agency_responsible": case.responsible_name.get(lang),
        "service_notice": None,
        "requested_datetime": _w3(case.requested_at, tz),
        "updated_datetime": _w3(case.updated_at, tz),
        "expected_datetime": _w3(case.expected_at, tz),
        "address": case.place(lang),
        "address_id": None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.long,
        "media_url": None,
        # the public status in our own words (in_progress, escalated, ...): a linked deployment
        # maps it to its hand-off's steps (docs/federation.md)
        "external_status_code": case.status,
    }


async def request_list(request: web.Request) -> web.Response:
    domain = _domain(request)
    service.check_jurisdiction(domain, request.query)
    query = service.requests_query(domain.routing, request.query, domain.clock.now())
    cases = await list_public_cases(domain, query)
    return answer(_fmt(request), "service_requests", request_bodies(request, cases))


async def request_one(request: web.Request) -> web.Response:
    domain = _domain(request)
    service.check_jurisdiction(domain, request.query)
    request_id = request.match_info["request_id"]
    case = (
        await find_public_case(domain, request_id)
        if service.HUMAN_ID.fullmatch(request_id)
        else None
    )
    if case is None:
        raise Open311Error(404, "unknown_request", value=request_id[:40])
    return answer(_fmt(request), "service_requests", request_bodies(request, [case]))


async def token(request: web.Request) -> web.Response:
    # Requests are filed at once and answered with their id: no token is ever handed out.
    raise Open311Error(404, "unknown_token")


async def _keyed_post(request: web.Request, domain: Domain) -> tuple[dict[str, str], Any, float]:
    """A POST's form fields, the API key that signs it, and how long that key must wait (its
    rate limit); a bad body, a missing or unknown key and a foreign jurisdiction are refused in
    the protocol's error format."""
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Open311Error(400, "bad_body")
    form = await read_form(request)
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    key_text = params.get("api_key") or request.query.get("api_key")
    if not key_text:
        raise Open311Error(403, "missing_key")
    async with domain.sessions() as session:
        key = await api_keys.check_key(session, key_text)
    if key is None:
        raise Open311Error(403, "bad_key")
    wait = request.app[KEY_BUCKETS].take(str(key.id))
    if wait <= 0:
        service.check_jurisdiction(domain, params)
    return params, key, wait


async def request_create(request: web.Request) -> web.Response:
    domain = _domain(request)
    params, key, wait = await _keyed_post(request, domain)
    if wait > 0:
        return too_many(request, wait)
    new = service.new_request(domain.routing, params)
    name = _service_name(request, new.service_code, domain.settings.default_language)
    human_id = await service.submit(domain, key, new, name)
    case = await find_public_case(domain, human_id)
    notice = None
    if case is not None:
        expected = case.expected_at or case.requested_at
        notice = _text(
            request,
            "open311_notice",
            agency=case.responsible_name.get(_lang(request)),
            expected=expected.astimezone(domain.routing.gridmap.tz).strftime("%Y-%m-%d %H:%M"),
        )
    body = [{"service_request_id": human_id, "service_notice": notice, "account_id": None}]
    return answer(_fmt(request), "service_requests", body)


# --- servicerequestupdates (mySociety's extension) --------------------------------------------


def _update_description(request: web.Request, update: updates_service.Update) -> str | None:
    """The public note's words, or the stock text of the step's kind in the client's language."""
    if update.note:
        return update.note
    lang = _lang(request)
    pages = request.app[PAGES_KEY]
    kinds = [update.public_kind] + (["on_hold"] if update.public_kind.startswith("on_hold") else [])
    for key in (f"event_{kind}" for kind in kinds):
        try:
            return pages.text(lang, key, book="web")
        except KeyError:
            continue
    return None


async def update_list(request: web.Request) -> web.Response:
    domain = _domain(request)
    service.check_jurisdiction(domain, request.query)
    query = updates_service.updates_query(request.query, domain.clock.now())
    found = await updates_service.list_updates(domain, query)
    tz = domain.routing.gridmap.tz
    body = [
        {
            "update_id": u.update_id,
            "service_request_id": u.service_request_id,
            "status": u.status,
            "updated_datetime": _w3(u.updated_at, tz),
            "description": _update_description(request, u),
            "media_url": None,
            "external_status_code": u.external_status_code,
        }
        for u in found
    ]
    return answer(_fmt(request), "service_request_updates", body)


async def update_create(request: web.Request) -> web.Response:
    domain = _domain(request)
    params, key, wait = await _keyed_post(request, domain)
    if wait > 0:
        return too_many(request, wait)
    pushed = updates_service.pushed_update(params, domain.clock.now())
    ours = await updates_service.push_update(domain, key, pushed)
    return answer(_fmt(request), "service_request_updates", [{"update_id": ours}])
