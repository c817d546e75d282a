"""Open311 GeoReport v2, the domain side: the service list, parameter checks, new requests.

Views (web/open311.py) turn requests into calls here and answers into JSON or XML. Every
parameter is checked here with an `Open311Error` naming what is wrong (its text lives in
`templates/<lang>/web.yaml` under `open311_error_<key>`). A POSTed request becomes a case
through the bot's own `create_case`: located, routed, deadlined, escalated like any other.
What the client says about its submitter (name, email, phone, device) is kept for staff in
`open311_contacts` and is never part of any public answer.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.bounds import clean_text, parse_float, parse_int
from bot.services.cases import intake
from bot.services.cases.lifecycle import create_case
from bot.services.public import api_keys
from bot.services.public.cases import CLOSED_STATUSES, CaseQuery, statuses_for
from bot.store.models import ApiKey, Case, Open311Contact
from routing.classifier import Classification
from routing.matrix import rule_for

if TYPE_CHECKING:
    from bot.services.shared.domain import Domain, Routing, UnitOfWork

SPEC_WINDOW = timedelta(days=90)  # "a span of 90 days or first 1000 requests"
SPEC_ROWS = 1000
MAX_PAGE = 100_000
MAX_DESCRIPTION = 4000  # the spec's limit
MAX_IDS = 1000
MAX_VALUE = 8000  # any single parameter but the list of ids
MAX_ID_LIST = MAX_IDS * 21  # 1,000 ids of up to 20 characters, and their commas
ADDRESS_SCORE = 70.0  # how sure the address lookup must be to place a request
HUMAN_ID = re.compile(r"GV-[0-9]{4}-[0-9]{1,12}", re.IGNORECASE)
EMAIL = re.compile(r"[^@\s]{1,128}@[^@\s]{1,128}")
PHONE = re.compile(r"[0-9+()\-. ]{3,64}")


class Open311Error(Exception):
    """A request the spec says to refuse: HTTP status, and the text key of the description."""

    def __init__(self, status: int, key: str, **data: object) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.data = data


@dataclass(frozen=True)
class Service:
    code: str
    group: str  # who owns it in most grids: grid, or a party kind (property, police, ...)


_SERVICES: dict[int, tuple[Routing, list[Service]]] = {}


def services(routing: Routing) -> list[Service]:
    """Our taxonomy, each category with the owner kind most grids give it (computed once per
    grid map in force)."""
    cached = _SERVICES.get(id(routing))
    if cached is not None and cached[0] is routing:
        return cached[1]
    _SERVICES.clear()
    out = _services(routing)
    _SERVICES[id(routing)] = (routing, out)
    return out


def _services(routing: Routing) -> list[Service]:
    gm = routing.gridmap
    out = []
    for code in gm.categories:
        kinds: Counter[str] = Counter()
        for grid_id in gm.grids:
            rule, _ = rule_for(gm, grid_id, code)
            if rule and rule.startswith("party:") and rule[6:] in gm.parties:
                kinds[gm.parties[rule[6:]].kind] += 1
            else:
                kinds["grid"] += 1
        group = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if kinds else "grid"
        out.append(Service(code=code, group=group))
    return out


def service(routing: Routing, code: str) -> Service | None:
    return next((s for s in services(routing) if s.code == code), None)


def check_jurisdiction(domain: Domain, params: Mapping[str, str]) -> None:
    asked = params.get("jurisdiction_id")
    ours = domain.settings.open311_jurisdiction
    if asked and ours and asked != ours:
        raise Open311Error(404, "jurisdiction", jurisdiction=asked[:64])


def _value(params: Mapping[str, str], name: str, limit: int = MAX_VALUE) -> str | None:
    """A parameter as it may be stored: at most `limit` characters (the error names that
    limit), without control or bidirectional-control characters (`bounds.clean_text`)."""
    value = params.get(name)
    if value is None:
        return None
    if len(value) > limit:
        raise Open311Error(400, "too_long", name=name, limit=limit)
    value = clean_text(value).strip()
    return value or None


def parse_datetime(value: str, name: str, *, end: bool = False) -> datetime:
    """A w3 datetime (2010-01-01T00:00:00Z, with an offset, or a date); UTC when none is given."""
    v = value.strip()
    if len(v) > 40:
        raise Open311Error(400, "bad_date", name=name)
    # An unencoded "+08:00" arrives as " 08:00" in a query string.
    v = re.sub(r" (\d\d:?\d\d)$", r"+\1", v)
    if v[-1:] in ("Z", "z"):
        v = v[:-1] + "+00:00"
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            day = datetime.fromisoformat(v).date()
            parsed = datetime.combine(day, time.max if end else time.min, tzinfo=UTC)
        elif "T" in v or " " in v:
            parsed = datetime.fromisoformat(v)
        else:
            raise ValueError(v)
    except ValueError:
        raise Open311Error(400, "bad_date", name=name) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not 1970 <= parsed.year <= 9998:
        raise Open311Error(400, "bad_date", name=name)
    return parsed.astimezone(UTC)


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _value(params, name)
    if raw is None:
        return default
    value = parse_int(raw, low=low, high=high)
    if value is None:
        raise Open311Error(400, "bad_number", name=name, low=low, high=high)
    return value


def _window(
    params: Mapping[str, str], low: str, high: str, now: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """A pair of bounds of at most 90 days; with `now`, the default is the last 90 days."""
    start = _value(params, low)
    end = _value(params, high)
    a = parse_datetime(start, low) if start else None
    b = parse_datetime(end, high, end=True) if end else None
    if a and b:
        if b < a:
            raise Open311Error(400, "date_order", low=low, high=high)
        if b - a > SPEC_WINDOW + timedelta(days=1):
            raise Open311Error(400, "date_span", low=low, high=high, days=SPEC_WINDOW.days)
    elif a:
        b = a + SPEC_WINDOW
    elif b:
        a = b - SPEC_WINDOW
    elif now is not None:
        a, b = now - SPEC_WINDOW, now
    return a, b


def requests_query(routing: Routing, params: Mapping[str, str], now: datetime) -> CaseQuery:
    """GET requests: ids, service codes, status, dates, paging — checked, as a `CaseQuery`."""
    page = _int(params, "page", 1, 1, MAX_PAGE)
    size = _int(params, "page_size", SPEC_ROWS, 1, SPEC_ROWS)
    raw_ids = _value(params, "service_request_id", MAX_ID_LIST)
    if raw_ids:
        ids = [i.strip() for i in raw_ids.split(",") if i.strip()]
        if len(ids) > MAX_IDS:
            raise Open311Error(400, "too_many", name="service_request_id", limit=MAX_IDS)
        bad = next((i for i in ids if not HUMAN_ID.fullmatch(i)), None)
        if bad is not None:
            raise Open311Error(400, "bad_request_id", value=bad[:40])
        # "If this parameter is provided, other parameters may be ignored."
        return CaseQuery(human_ids=tuple(i.upper() for i in ids), limit=len(ids))
    codes: tuple[str, ...] = ()
    raw_codes = _value(params, "service_code")
    if raw_codes:
        codes = tuple(c.strip() for c in raw_codes.split(",") if c.strip())
        unknown = next((c for c in codes if c not in routing.gridmap.categories), None)
        if unknown is not None:
            raise Open311Error(400, "unknown_service_filter", code=unknown[:40])
    statuses: tuple[str, ...] = ()
    raw_status = _value(params, "status")
    if raw_status:
        wanted = [s.strip().lower() for s in raw_status.split(",") if s.strip()]
        if any(s not in ("open", "closed") for s in wanted):
            raise Open311Error(400, "bad_status", value=raw_status[:40])
        statuses = tuple(sorted({x for s in wanted for x in statuses_for(s)}))
    updated_after, updated_before = _window(params, "updated_after", "updated_before", None)
    default_now = None if (updated_after or updated_before) else now
    start, end = _window(params, "start_date", "end_date", default_now)
    return CaseQuery(
        service_codes=codes,
        statuses=statuses,
        requested_from=start,
        requested_to=end,
        updated_after=updated_after,
        updated_before=updated_before,
        limit=size,
        offset=(page - 1) * size,
    )


@dataclass(frozen=True)
class NewRequest:
    """A POSTed request, checked. Contact fields are for staff only."""

    service_code: str
    description: str | None
    lat: float | None
    long: float | None
    address_string: str | None
    address_id: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    device_id: str | None
    account_id: str | None
    media_url: str | None
    # The sender's own reference (a link's id of the case, `attribute[remote_ref]`) and a
    # hotline's order id (`attribute[hotline_order_id]`): the same one twice is one case.
    remote_ref: str | None = None
    hotline_order: str | None = None


REF = re.compile(r"[A-Za-z0-9._:\-/]{1,64}")


def _ref(params: Mapping[str, str], name: str) -> str | None:
    value = _value(params, name, 64)
    if value is not None and not REF.fullmatch(value):
        raise Open311Error(400, "bad_reference", name=name)
    return value


def _limited(params: Mapping[str, str], name: str, limit: int) -> str | None:
    return _value(params, name, limit)


def _coordinate(raw: str, name: str, bound: float) -> float:
    value = parse_float(raw, low=-bound, high=bound)
    if value is None:
        raise Open311Error(400, "bad_coordinate", name=name)
    return value


def new_request(routing: Routing, params: Mapping[str, str]) -> NewRequest:
    """POST requests: the service, a location, the description and the submitter, checked."""
    code = _value(params, "service_code")
    if code is None:
        raise Open311Error(400, "missing_service")
    if code not in routing.gridmap.categories:
        raise Open311Error(404, "unknown_service", code=code[:40])
    lat_raw, long_raw = _value(params, "lat"), _value(params, "long")
    if (lat_raw is None) != (long_raw is None):
        raise Open311Error(400, "lat_long_pair")
    lat = _coordinate(lat_raw, "lat", 90.0) if lat_raw is not None else None
    long = _coordinate(long_raw, "long", 180.0) if long_raw is not None else None
    address_string = _limited(params, "address_string", 256)
    address_id = _limited(params, "address_id", 64)
    if lat is None and address_string is None and address_id is None:
        raise Open311Error(400, "missing_location")
    description = _value(params, "description", MAX_DESCRIPTION)
    email = _limited(params, "email", 256)
    if email is not None and not EMAIL.fullmatch(email):
        raise Open311Error(400, "bad_email")
    phone = _limited(params, "phone", 64)
    if phone is not None and not PHONE.fullmatch(phone):
        raise Open311Error(400, "bad_phone")
    media_url = _limited(params, "media_url", 1024)
    if media_url is not None and not re.match(r"https?://[^\s]+$", media_url):
        raise Open311Error(400, "bad_media_url")
    return NewRequest(
        service_code=code,
        description=description,
        lat=lat,
        long=long,
        address_string=address_string,
        address_id=address_id,
        email=email,
        first_name=_limited(params, "first_name", 128),
        last_name=_limited(params, "last_name", 128),
        phone=phone,
        device_id=_limited(params, "device_id", 128),
        account_id=_limited(params, "account_id", 128),
        media_url=media_url,
        remote_ref=_ref(params, "attribute[remote_ref]"),
        hotline_order=_ref(params, "attribute[hotline_order_id]"),
    )


def locate(routing: Routing, req: NewRequest) -> tuple[str, str | None, tuple[float, float] | None]:
    """-> (grid id, building id, point): a point by the grid map, an address by its buildings."""
    gm = routing.gridmap
    if req.lat is not None and req.long is not None:
        grid = routing.locator.locate(req.lat, req.long)
        if grid is None:
            raise Open311Error(400, "outside_area")
        return grid.id, None, (req.lat, req.long)
    if req.address_id is not None:
        building = gm.buildings.get(req.address_id)
        if building is None:
            raise Open311Error(400, "unknown_address_id", value=req.address_id[:64])
        return building.grid_id, building.id, None
    matches = routing.addresses.match(req.address_string or "", limit=1)
    if not matches or matches[0].score < ADDRESS_SCORE:
        raise Open311Error(400, "unknown_address")
    return matches[0].grid.id, matches[0].building.id, None


async def submit(domain: Domain, key: ApiKey, req: NewRequest, service_name: str) -> str:
    """File a POSTed request as a case like any other; returns its human id.

    With a link key or a hotline order id the case is received from that link
    (cases/intake.py): hand-off deadlines, and no person's identity kept. The sender's
    reference or order id makes the POST idempotent: the same one again answers the first id.
    """
    kind = intake.kind_of(key, req.hotline_order)
    ref = req.hotline_order if kind == intake.HOTLINE else req.remote_ref
    if kind == intake.HOTLINE and ref is None:
        raise Open311Error(400, "missing_field", name="attribute[hotline_order_id]")
    if kind is not None and ref is not None:
        async with domain.unit() as uow:
            first = await intake.already(uow, key.id, ref)
        if first is not None:
            return first
    grid_id, building_id, point = locate(domain.routing, req)
    text = req.description or service_name
    classification = Classification(
        category=req.service_code, confidence=1.0, matched=(), scores={}
    )
    try:
        async with domain.unit() as uow:
            case = await create_case(
                uow,
                None,
                text=text,
                grid_id=grid_id,
                building_id=building_id,
                place_text=None,
                location=point,
                photos=[],
                source_update_id=None,
                classification=classification,
                source=kind or "open311",
                received=(lambda c: intake.receive(uow, c, key, kind, ref)) if kind else None,
            )
            if kind != "link":  # a link carries no person's identity: none is kept
                uow.session.add(
                    Open311Contact(
                        case_id=case.id,
                        api_key_id=key.id,
                        email=req.email,
                        first_name=req.first_name,
                        last_name=req.last_name,
                        phone=req.phone,
                        device_id=req.device_id,
                        account_id=req.account_id,
                        address_string=req.address_string,
                        media_url=req.media_url,
                    )
                )
            await api_keys.touch_key(uow.session, key.id, uow.now)
            uow.after_commit.append(domain.schedule_changed.set)
            human_id = case.human_id or ""
    except IntegrityError:
        # The same reference posted twice at once: the other request filed it.
        if kind is None or ref is None:
            raise
        async with domain.unit() as uow:
            first = await intake.already(uow, key.id, ref)
        if first is None:
            raise
        return first
    return human_id


CONTACT_KEEP = timedelta(days=30)


async def forget_submitters(uow: UnitOfWork) -> int:
    """Drop what clients told us about submitters once their case has been closed a month.

    Staff need a way back to the person while the case is handled; after that it is only risk.
    """
    done = select(Case.id).where(
        Case.source.in_(["open311", "hotline"]),
        Case.status.in_(list(CLOSED_STATUSES)),
        Case.closed_at.is_not(None),
        Case.closed_at < uow.now - CONTACT_KEEP,
    )
    result = await uow.session.execute(
        delete(Open311Contact).where(Open311Contact.case_id.in_(done))
    )
    return result.rowcount or 0
