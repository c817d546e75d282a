"""Open311 `servicerequestupdates` (mySociety's extension of GeoReport v2): the public steps of
our cases for a client that polls them, and the steps a client pushes about a case it sent us.

GET lists public updates: each is one public audit event of a case (`status.PUBLIC_EVENT_KINDS`;
never a rating, a staff note, a message to or from the resident). `update_id` is the event's
row id, so it is the same across restarts and replicas; the order is (time, id). The only free
text is the public note staff publish on purpose; every other step is described by a stock text
of its kind. No person's name, account, phone or address is ever part of an update.

POST takes an update from a client with an API key about a case it sent us (by our id or by its
own reference): its `update_id` is unique per key (the same update twice is recorded once and
answered the same), its status is one of the extension's statuses, its text is kept for staff
on the case's timeline (`remote_update`, staff only).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from bot.bounds import clean_text
from bot.services.cases.status import PUBLIC_EVENT_KINDS, Status
from bot.services.public.open311 import (
    HUMAN_ID,
    MAX_DESCRIPTION,
    MAX_ID_LIST,
    MAX_IDS,
    SPEC_ROWS,
    Open311Error,
    _int,
    _value,
    _window,
    parse_datetime,
)
from bot.services.public.projection import PUBLIC_STATUS, public_kind
from bot.store.db import reading
from bot.store.models import ApiKey, Case, CaseEvent, CaseIntake, Open311Contact, RemoteUpdate

if TYPE_CHECKING:
    from bot.services.shared.domain import Domain

# Our lifecycle -> the extension's status of an update (lower case, as the extension's examples).
UPDATE_STATUS: dict[str, str] = {
    Status.TRIAGE: "open",
    Status.ASSIGNED: "open",
    Status.TRANSFERRED: "open",
    Status.ESCALATED: "open",
    Status.REOPENED: "open",
    Status.ACCEPTED: "in_progress",
    Status.NEEDS_INFO: "investigating",
    Status.RESOLVED: "fixed",
    Status.CLOSED: "fixed",
    Status.REJECTED: "no_further_action",
    Status.CANCELLED: "closed",
}
assert set(UPDATE_STATUS) == set(Status), "every status of the lifecycle has an update status"
# What a client may push: the extension's statuses (any case).
PUSHED_STATUSES: frozenset[str] = frozenset(
    {
        "open",
        "closed",
        "fixed",
        "in_progress",
        "action_scheduled",
        "investigating",
        "duplicate",
        "not_councils_responsibility",
        "no_further_action",
        "internal_referral",
    }
)
MAX_UPDATE_ID = 64
_UPDATE_ID = re.compile(r"[A-Za-z0-9._:\-/]{1,64}")
_REF = re.compile(r"[A-Za-z0-9._:\-/]{1,64}")


@dataclass(frozen=True)
class Update:
    """One public step of a case, as the extension lists it (before the view words it)."""

    update_id: str
    service_request_id: str
    status: str
    updated_at: datetime
    public_kind: str  # the step's public kind (projection.PUBLIC_EVENTS), for its stock text
    external_status_code: str  # our public status after the step
    note: str | None  # the public note's words (only a `public_note` step has any)


@dataclass(frozen=True)
class UpdatesQuery:
    start: datetime | None
    end: datetime | None
    human_ids: tuple[str, ...]
    limit: int
    offset: int


def updates_query(params: Mapping[str, str], now: datetime) -> UpdatesQuery:
    """GET parameters, checked: a window of at most 90 days (the last 90 by default), ids,
    and a page of at most 1,000 updates."""
    start, end = _window(params, "start_date", "end_date", now)
    page = _int(params, "page", 1, 1, 100_000)
    size = _int(params, "page_size", SPEC_ROWS, 1, SPEC_ROWS)
    ids: tuple[str, ...] = ()
    raw = _value(params, "service_request_id", MAX_ID_LIST)
    if raw:
        listed = [i.strip() for i in raw.split(",") if i.strip()]
        if len(listed) > MAX_IDS:
            raise Open311Error(400, "too_many", name="service_request_id", limit=MAX_IDS)
        bad = next((i for i in listed if not HUMAN_ID.fullmatch(i)), None)
        if bad is not None:
            raise Open311Error(400, "bad_request_id", value=bad[:40])
        ids = tuple(i.upper() for i in listed)
    return UpdatesQuery(start=start, end=end, human_ids=ids, limit=size, offset=(page - 1) * size)


async def list_updates(domain: Domain, query: UpdatesQuery) -> list[Update]:
    """Public steps in the window, oldest first by (time, id)."""
    stmt = (
        select(
            CaseEvent.id,
            CaseEvent.at,
            CaseEvent.kind,
            CaseEvent.to_status,
            CaseEvent.data,
            CaseEvent.note,
            Case.human_id,
        )
        .join(Case, Case.id == CaseEvent.case_id)
        .where(Case.human_id.is_not(None), CaseEvent.kind.in_(sorted(PUBLIC_EVENT_KINDS)))
    )
    if query.start is not None:
        stmt = stmt.where(CaseEvent.at >= query.start)
    if query.end is not None:
        stmt = stmt.where(CaseEvent.at <= query.end)
    if query.human_ids:
        stmt = stmt.where(Case.human_id.in_(list(query.human_ids)))
    stmt = stmt.order_by(CaseEvent.at, CaseEvent.id).limit(query.limit).offset(query.offset)
    async with reading(domain.engine) as conn:
        rows = (await conn.execute(stmt)).all()
    return [
        Update(
            update_id=str(r.id),
            service_request_id=r.human_id,
            status=UPDATE_STATUS.get(r.to_status or "", "open"),
            updated_at=r.at,
            public_kind=public_kind(r.kind, r.data),
            external_status_code=PUBLIC_STATUS.get(r.to_status or "", ""),
            # Only the note staff published on purpose; every other note is not public.
            note=(r.note or None) if r.kind == "public_note" else None,
        )
        for r in rows
    ]


# --- POST: a client pushes an update -----------------------------------------------------------


@dataclass(frozen=True)
class PushedUpdate:
    service_request_id: str
    update_id: str
    status: str
    updated_at: datetime
    description: str | None
    media_url: str | None


def pushed_update(params: Mapping[str, str], now: datetime) -> PushedUpdate:
    """POST parameters, checked. What a client says about a person (email, names, account)
    is not read at all."""
    request_id = _value(params, "service_request_id", MAX_UPDATE_ID)
    if request_id is None:
        raise Open311Error(400, "missing_field", name="service_request_id")
    if not _REF.fullmatch(request_id):
        raise Open311Error(400, "bad_request_id", value=request_id[:40])
    update_id = _value(params, "update_id", MAX_UPDATE_ID)
    if update_id is None:
        raise Open311Error(400, "missing_field", name="update_id")
    if not _UPDATE_ID.fullmatch(update_id):
        raise Open311Error(400, "bad_update_id", value=update_id[:40])
    status = (_value(params, "status", 40) or "").lower()
    if not status:
        raise Open311Error(400, "missing_field", name="status")
    if status not in PUSHED_STATUSES:
        raise Open311Error(400, "bad_update_status", value=status[:40])
    when = _value(params, "updated_datetime", 40)
    updated_at = parse_datetime(when, "updated_datetime") if when else now
    description = _value(params, "description", MAX_DESCRIPTION)
    media_url = _value(params, "media_url", 1024)
    if media_url is not None and not re.match(r"https?://[^\s]+$", media_url):
        raise Open311Error(400, "bad_media_url")
    return PushedUpdate(
        service_request_id=request_id,
        update_id=update_id,
        status=status,
        updated_at=updated_at,
        description=clean_text(description) if description else None,
        media_url=media_url,
    )


async def _case_of(session: Any, key: ApiKey, request_id: str) -> Case | None:
    """The case a key may update: one it sent us, by our id or by its own reference."""
    related = or_(
        Case.id.in_(select(CaseIntake.case_id).where(CaseIntake.api_key_id == key.id)),
        Case.id.in_(select(Open311Contact.case_id).where(Open311Contact.api_key_id == key.id)),
    )
    if HUMAN_ID.fullmatch(request_id):
        cond = and_(Case.human_id == request_id.upper(), related)
    else:
        cond = Case.id.in_(
            select(CaseIntake.case_id).where(
                CaseIntake.api_key_id == key.id, CaseIntake.remote_ref == request_id
            )
        )
    return (await session.execute(select(Case).where(cond))).scalar_one_or_none()


async def push_update(domain: Domain, key: ApiKey, update: PushedUpdate) -> str:
    """Record a client's update once; returns our id of it (the same for a repeat)."""
    from bot.services.cases import lifecycle

    for _ in range(2):
        try:
            async with domain.unit() as uow:
                seen = (
                    await uow.session.execute(
                        select(RemoteUpdate).where(
                            RemoteUpdate.api_key_id == key.id,
                            RemoteUpdate.update_id == update.update_id,
                        )
                    )
                ).scalar_one_or_none()
                if seen is not None:
                    return str(seen.id)
                case = await _case_of(uow.session, key, update.service_request_id)
                if case is None:
                    raise Open311Error(404, "unknown_request", value=update.service_request_id[:40])
                row = RemoteUpdate(
                    api_key_id=key.id,
                    update_id=update.update_id,
                    case_id=case.id,
                    status=update.status,
                    description=update.description,
                    media_url=update.media_url,
                    updated_at=update.updated_at,
                    received_at=uow.now,
                )
                uow.session.add(row)
                await uow.session.flush()
                await lifecycle.record(
                    uow,
                    case,
                    lifecycle.Actor(None, "link"),
                    "remote_update",
                    note=update.description,
                    remote_status=update.status,
                    link=(key.link_name or key.name)[:64],
                    remote_at=update.updated_at.isoformat(),
                )
                case.updated_at = uow.now
                return str(row.id)
        except IntegrityError:
            continue  # the same update arrived twice at once: the other one is recorded
    raise Open311Error(400, "general")
