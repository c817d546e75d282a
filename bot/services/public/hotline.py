"""12345-style hotline orders (派单) and the reply on close (回单).

A hotline sends orders over Open311 (POST requests with `attribute[hotline_order_id]`, with its
hotline key) or as a CSV file (`gridvoice hotline import FILE`). Both file each order through
the same checks and the same `create_case` as any request, received from the hotline's link
(bot/services/cases/intake.py), and both are idempotent on the hotline's order id: an order
already filed is a duplicate, never a second case.

When such a case ends (resolved, declined, withdrawn) its reply is ready: the order id, our
case id, the outcome, the closing time and the public closing note — never a staff member's
name or anything a resident said (`replies`, `gridvoice hotline replies --since`, and the
case's steps in `servicerequestupdates`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select

from bot.services.cases import intake
from bot.services.cases.status import Status
from bot.services.public import open311
from bot.services.public.projection import PUBLIC_STATUS
from bot.services.shared.csvfile import BOM, cell
from bot.store.db import reading
from bot.store.models import ApiKey, Case, CaseIntake

if TYPE_CHECKING:
    from bot.services.shared.domain import Domain

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
COLUMNS = ("order_id", "service_code", "description", "lat", "long", "address_string", "address_id")
REQUIRED = ("order_id", "service_code")
REPLY_COLUMNS = ("order_id", "service_request_id", "outcome", "closed_at", "public_note")
ENDED = (Status.RESOLVED, Status.CLOSED, Status.REJECTED, Status.CANCELLED)


class ImportRefused(Exception):
    """The whole file is refused (too large, not UTF-8 CSV, no header): `key` names why."""

    def __init__(self, key: str, **data: object) -> None:
        super().__init__(key)
        self.key = key
        self.data = data


@dataclass(frozen=True)
class RowOutcome:
    line: int
    order_id: str
    outcome: str  # accepted | duplicate | refused
    case: str | None = None  # our case id (accepted, duplicate)
    reason: str | None = None  # an Open311 error key (refused)
    data: dict[str, Any] = field(default_factory=dict)


def read_orders(raw: bytes) -> list[tuple[int, dict[str, str]]]:
    """The file's rows as (line, columns), checked as a whole: size, encoding, header, count."""
    if len(raw) > MAX_BYTES:
        raise ImportRefused("too_large", limit=MAX_BYTES)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused("not_utf8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportRefused("missing_columns", columns=", ".join(missing))
    reader.fieldnames = header
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for row in reader:
            if len(rows) >= MAX_ROWS:
                raise ImportRefused("too_many_rows", limit=MAX_ROWS)
            values = {k: (v or "").strip() for k, v in row.items() if k in COLUMNS}
            if any(values.values()):
                rows.append((reader.line_num, values))
    except csv.Error as exc:
        raise ImportRefused("bad_csv", detail=str(exc)[:120]) from None
    return rows


async def hotline_key(domain: Domain, link: str | None) -> ApiKey:
    """The hotline's active key (by its link name; the only one when not named)."""
    async with domain.sessions() as session:
        stmt = select(ApiKey).where(
            ApiKey.link_level == intake.HOTLINE, ApiKey.revoked_at.is_(None)
        )
        if link:
            stmt = stmt.where(ApiKey.link_name == link)
        keys = list((await session.execute(stmt.order_by(ApiKey.id))).scalars().all())
    if not keys:
        raise ImportRefused("no_hotline_key", link=link or "")
    if len(keys) > 1 and not link:
        raise ImportRefused("several_hotlines", names=", ".join(k.link_name or "" for k in keys))
    return keys[0]


async def import_orders(
    domain: Domain,
    key: ApiKey,
    rows: Iterable[tuple[int, dict[str, str]]],
    progress: Callable[[int], None] | None = None,
) -> list[RowOutcome]:
    """File each row as an order: accepted, duplicate (its order id was filed before) or
    refused (with the Open311 error that names what is wrong). One row's refusal stops
    nothing; every accepted row is committed on its own."""
    outcomes: list[RowOutcome] = []
    lang = domain.settings.default_language
    for done, (line, row) in enumerate(rows, start=1):
        order = row.get("order_id", "")
        params = {k: v for k, v in row.items() if v and k != "order_id"}
        params["attribute[hotline_order_id]"] = order
        try:
            if not order:
                raise open311.Open311Error(400, "missing_field", name="order_id")
            request = open311.new_request(domain.routing, params)
            async with domain.unit() as uow:
                first = await intake.already(uow, key.id, order)
            if first is not None:
                outcomes.append(RowOutcome(line, order, "duplicate", case=first))
            else:
                code = request.service_code
                renderer = domain.renderer
                name = (
                    renderer.label(lang, f"cat_{code}")
                    if renderer.has_label(lang, f"cat_{code}")
                    else code
                )
                human_id = await open311.submit(domain, key, request, name)
                outcomes.append(RowOutcome(line, order, "accepted", case=human_id))
        except open311.Open311Error as exc:
            outcomes.append(RowOutcome(line, order[:64], "refused", reason=exc.key, data=exc.data))
        if progress is not None:
            progress(done)
    return outcomes


@dataclass(frozen=True)
class Reply:
    order_id: str
    service_request_id: str
    outcome: str  # the public status: resolved | rejected | cancelled
    closed_at: datetime
    public_note: str | None


def _closed_at() -> Any:
    return func.coalesce(Case.resolved_at, Case.closed_at)


async def replies(
    domain: Domain, since: datetime | None, link: str | None = None, *, batch: int = 1000
) -> AsyncIterator[Reply]:
    """The replies of hotline orders whose case has ended, oldest first (since a time)."""
    closed = _closed_at()
    stmt = (
        select(
            CaseIntake.remote_ref,
            Case.human_id,
            Case.status,
            closed.label("closed"),
            Case.public_note,
        )
        .join(Case, Case.id == CaseIntake.case_id)
        .where(
            CaseIntake.kind == intake.HOTLINE,
            CaseIntake.remote_ref.is_not(None),
            Case.status.in_([str(s) for s in ENDED]),
            or_(Case.resolved_at.is_not(None), Case.closed_at.is_not(None)),
        )
        .order_by(closed, Case.id)
    )
    if since is not None:
        stmt = stmt.where(closed >= since)
    if link:
        stmt = stmt.where(CaseIntake.link_name == link)
    async with reading(domain.engine) as conn:
        result = await conn.stream(stmt.execution_options(yield_per=batch))
        async for row in result:
            yield Reply(
                order_id=row.remote_ref,
                service_request_id=row.human_id or "",
                outcome=PUBLIC_STATUS.get(row.status, row.status),
                closed_at=row.closed,
                public_note=row.public_note,
            )


def reply_csv_header() -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(REPLY_COLUMNS)
    return BOM + out.getvalue()


def reply_csv_line(reply: Reply, tz: Any) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(
        [
            cell(reply.order_id),
            cell(reply.service_request_id),
            cell(reply.outcome),
            reply.closed_at.astimezone(tz).isoformat(timespec="seconds"),
            cell(reply.public_note or ""),
        ]
    )
    return out.getvalue()
