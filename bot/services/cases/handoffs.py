"""Hand-offs: a case handed to a link (a department's Open311 system, the superior, a lower
deployment), and what the other side's answers do to it.

The queue is the `handoffs` table (migration `0015_links`), written in the transaction that
decides the hand-off: a case routed to a party whose `link:` names an external system, a case
escalated past the top of the local ladder when the map names a `superior:`, a leader's report
up (上报, the action table's `report_up`) and a superior's hand-down (交办, `hand_down`). The
link worker (`bot/runtime/links.py`) posts and polls; everything it learns is written here.

Never two remote requests for one case: a row is `pending` until an attempt id is committed
(`begin_attempt`, status `sending`); the remote id or token is written with the send
(`record_sent`). A row still `sending` after its lease (a crash mid-post, a timeout, a 5xx
after the request reached the remote) is an unknown outcome: the worker looks the case up at
the remote by our reference (`marker`) before it may post again (`lookup_result`); where the
remote cannot tell, the row waits as `unknown` and the leaders are told.

What crosses a link: the mapped service code, a place rounded like the public pages, the
public description if one was approved, the local timeline's steps and our reference — never
the resident's name, phone, e-mail, chat id, words or exact address.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from bot.bounds import clean_text
from bot.services.cases import lifecycle
from bot.services.cases.status import OPEN
from bot.services.shared.domain import Domain, UnitOfWork
from bot.services.shared.languages import chat_language
from bot.store.models import Case, CaseEvent, Handoff, HandoffUpdate, LinkState
from routing.links import STEPS, Link

log = logging.getLogger(__name__)

LINK = lifecycle.Actor(None, "link")
ACTIVE = ("pending", "sending", "token", "sent", "unknown")
WAITING = ("pending", "sending", "token", "unknown")  # not yet known at the remote
FINISHED_STEPS = ("resolved", "returned")
LEASE = timedelta(seconds=120)
LOOKUP_GRACE = timedelta(minutes=2)  # how long a remote may take to list a new request
MAX_BACKOFF = timedelta(hours=1)
MAX_DESCRIPTION = 2000
MAX_REMOTE_TEXT = 1000  # a remote's note kept for staff, at most this long
REASONS = ("route", "escalate", "report_up", "hand_down")
EARLIEST = datetime.min.replace(tzinfo=UTC)  # an update without a time sorts first


def marker(human_id: str | None) -> str:
    """Our reference as the remote keeps it in the description: how a lost answer is found."""
    return f"[ref:{human_id}]"


def backoff(attempts: int) -> timedelta:
    return min(MAX_BACKOFF, timedelta(seconds=min(3600, 5 * 2 ** min(attempts, 12))))


def links_of(uow: UnitOfWork) -> Any:
    return uow.routing.gridmap.links


def party_link(uow: UnitOfWork, party_id: str | None) -> Link | None:
    party = uow.routing.gridmap.parties.get(party_id or "")
    return links_of(uow).get(party.link) if party is not None else None


async def active(uow: UnitOfWork, case: Case) -> Handoff | None:
    return (
        await uow.session.execute(
            select(Handoff)
            .where(Handoff.case_id == case.id, Handoff.status.in_(ACTIVE))
            .order_by(Handoff.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


def _timeline_summary(events: list[CaseEvent], tz: Any) -> str:
    steps = []
    for e in events[-12:]:
        if e.kind in (
            "created",
            "accepted",
            "escalated",
            "escalation_top",
            "transferred",
            "reassigned",
            "triaged",
            "reopened",
        ):
            steps.append(f"{e.at.astimezone(tz):%Y-%m-%d %H:%M} {e.kind}")
    return "; ".join(steps)


async def payload(uow: UnitOfWork, case: Case, link: Link) -> dict[str, str]:
    """The form a link is sent: nothing that names or locates the resident exactly."""
    gm = uow.routing.gridmap
    decimals = uow.settings.public_location_decimals
    point: tuple[float, float] | None = None
    if case.latitude is not None and case.longitude is not None:
        point = (case.latitude, case.longitude)
    elif case.building_id and case.building_id in gm.buildings:
        point = gm.buildings[case.building_id].location
    elif case.grid_id in gm.grids and gm.grids[case.grid_id].polygon:
        poly = gm.grids[case.grid_id].polygon
        point = (
            (min(p[0] for p in poly) + max(p[0] for p in poly)) / 2,
            (min(p[1] for p in poly) + max(p[1] for p in poly)) / 2,
        )
    events = list(
        (
            await uow.session.execute(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
            )
        )
        .scalars()
        .all()
    )
    category = case.category or "other"
    parts = [category]
    if case.public_description:
        parts.append(case.public_description)
    summary = _timeline_summary(events, gm.tz)
    if summary:
        parts.append(summary)
    parts.append(marker(case.human_id))
    description = clean_text(" | ".join(parts))[-MAX_DESCRIPTION:]
    body: dict[str, str] = {
        "service_code": link.service_code(category),
        "description": description,
        "attribute[gv_ref]": case.human_id or "",
        # a gridvoice receiver files a link key's POST once per `remote_ref`: a resend after a
        # lost answer gets the first request's id back instead of a second case
        "attribute[remote_ref]": case.human_id or "",
    }
    if link.jurisdiction_id:
        body["jurisdiction_id"] = link.jurisdiction_id
    if point is not None:
        body["lat"] = f"{round(point[0], decimals)}"
        body["long"] = f"{round(point[1], decimals)}"
    return body


async def queue(
    uow: UnitOfWork,
    case: Case,
    link_id: str,
    reason: str,
    actor: lifecycle.Actor = lifecycle.SYSTEM,
    note: str | None = None,
) -> Handoff | None:
    """Queue the case for a link in the caller's transaction; once per case while one is open."""
    link = links_of(uow).get(link_id)
    if link is None or reason not in REASONS:
        return None
    existing = await active(uow, case)
    if existing is not None:
        return existing
    row = Handoff(
        case_id=case.id,
        link_id=link.id,
        reason=reason,
        status="pending",
        attempts=0,
        next_attempt_at=uow.now,
        created_at=uow.now,
        step="submitted",
        payload=await payload(uow, case, link),
    )
    uow.session.add(row)
    await uow.session.flush()
    # The case waits elsewhere: the local ladder neither reminds nor escalates it meanwhile.
    case.reminded = "top:link"
    await lifecycle.record(
        uow, case, actor, "handed_off", note=note, link=link.id, reason=reason, handoff=row.id
    )
    residents = await lifecycle.audience(uow, case)
    lifecycle.notify_resident(uow, case, residents, "handed_off", link_name=link.name)
    uow.after_commit.append(uow.domain.links_wake.set)
    return row


# --- the sending side's steps, each in its own short transaction ------------------------------


@dataclass(frozen=True)
class Due:
    id: int
    case_id: int
    human_id: str
    link_id: str
    status: str
    attempt_id: str | None
    attempted_at: datetime | None
    token: str | None
    payload: dict[str, str]
    attempts: int


async def claim(domain: Domain, limit: int = 50) -> list[Due]:
    """Rows due now (posting, a token to resolve, an unknown outcome to look up), leased."""
    async with domain.unit() as uow:
        now = uow.now
        rows = (
            await uow.session.execute(
                select(Handoff, Case.human_id)
                .join(Case, Case.id == Handoff.case_id)
                .where(
                    Handoff.status.in_(WAITING),
                    Handoff.next_attempt_at <= now,
                    or_(Handoff.locked_until.is_(None), Handoff.locked_until <= now),
                )
                .order_by(Handoff.next_attempt_at, Handoff.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        out = []
        for h, human_id in rows:
            h.locked_until = now + LEASE
            out.append(
                Due(
                    h.id,
                    h.case_id,
                    human_id or "",
                    h.link_id,
                    h.status,
                    h.attempt_id,
                    h.attempted_at,
                    h.token,
                    dict(h.payload or {}),
                    h.attempts,
                )
            )
        return out


async def begin_attempt(domain: Domain, handoff_id: int) -> str | None:
    """Commit an attempt id before posting. None: the row is not `pending` any more (a
    previous attempt's outcome is unknown, or it was sent): nothing may be posted."""
    async with domain.unit() as uow:
        h = await uow.session.get(Handoff, handoff_id, with_for_update=True)
        if h is None or h.status != "pending":
            return None
        h.attempt_id = uuid.uuid4().hex
        h.attempted_at = uow.now
        h.attempts += 1
        h.status = "sending"
        return h.attempt_id


async def record_sent(
    domain: Domain, handoff_id: int, *, remote_id: str | None = None, token: str | None = None
) -> str:
    """The remote took the request: its id (or token) written with the send. Returns the
    row's status after: `sent`, `token`, or `unknown` when the id is another case's."""
    async with domain.unit() as uow:
        h = await uow.session.get(Handoff, handoff_id, with_for_update=True)
        if h is None or h.status not in WAITING:
            return h.status if h is not None else "gone"
        case = await uow.session.get(Case, h.case_id)
        assert case is not None
        h.locked_until = None
        h.error_kind = h.error = None
        if remote_id is None:
            h.status, h.token = "token", token
            h.next_attempt_at = uow.now + timedelta(seconds=5)
            return h.status
        clash = (
            await uow.session.execute(
                select(Handoff.id).where(
                    Handoff.link_id == h.link_id,
                    Handoff.remote_id == remote_id,
                    Handoff.id != h.id,
                )
            )
        ).first()
        if clash is not None:
            h.status = "unknown"
            h.error_kind = "remote_id_collision"
            h.error = f"remote id {remote_id[:40]} belongs to another hand-off"
            h.next_attempt_at = uow.now + MAX_BACKOFF
            await _alert_once(uow, h, case, "collision", remote_id=remote_id)
            return h.status
        h.status = "sent"
        h.remote_id = remote_id
        h.sent_at = h.sent_at or uow.now
        await lifecycle.record(
            uow, case, LINK, "handoff_sent", link=h.link_id, remote_id=remote_id, handoff=h.id
        )
        return h.status


async def record_failure(
    domain: Domain, handoff_id: int, kind: str, detail: str, *, posted: bool, refused: bool = False
) -> None:
    """A failed call. `posted`: the request may have reached the remote (a timeout, a 5xx,
    an unreadable answer), so its outcome is unknown and the row keeps `sending` to be looked
    up. `refused`: the remote answered with its errors: nothing was created, and a person
    must act (the case stays with us, the leaders are told)."""
    async with domain.unit() as uow:
        h = await uow.session.get(Handoff, handoff_id, with_for_update=True)
        if h is None or h.status not in WAITING:
            return
        h.error_kind, h.error = kind[:32], clean_text(detail)[:300]
        h.locked_until = None
        h.next_attempt_at = uow.now + backoff(h.attempts)
        case = await uow.session.get(Case, h.case_id)
        assert case is not None
        if refused:
            h.status = "refused"
            h.finished_at = uow.now
            case.reminded = None if case.reminded == "top:link" else case.reminded
            await lifecycle.record(
                uow, case, LINK, "handoff_refused", note=h.error, link=h.link_id, handoff=h.id
            )
            await _alert_once(uow, h, case, "refused", detail=h.error)
        elif h.status == "sending" and not posted:
            h.status = "pending"  # the request never left: posting again is safe
        elif h.status == "token" or h.status == "unknown":
            pass
        # `sending` and posted: stays `sending`, looked up before anything is posted again


async def lookup_result(
    domain: Domain, handoff_id: int, *, found: str | None, absent: bool, after: datetime | None
) -> str:
    """What looking the case up at the remote found: its remote id (the earlier post did
    arrive), or surely absent (the remote lists descriptions and ours is not there, long enough
    after the attempt): posting again is safe. Anything else: `unknown`, leaders told once."""
    if found is not None:
        return await record_sent(domain, handoff_id, remote_id=found)
    async with domain.unit() as uow:
        h = await uow.session.get(Handoff, handoff_id, with_for_update=True)
        if h is None or h.status not in ("sending", "unknown"):
            return h.status if h is not None else "gone"
        h.locked_until = None
        attempted = h.attempted_at or h.created_at
        if absent and after is not None and after >= attempted + LOOKUP_GRACE:
            h.status = "pending"
            h.next_attempt_at = uow.now
            return h.status
        h.status = "unknown"
        h.error_kind = h.error_kind or "outcome_unknown"
        h.next_attempt_at = uow.now + backoff(h.attempts)
        case = await uow.session.get(Case, h.case_id)
        assert case is not None
        if uow.now - attempted >= timedelta(minutes=10):
            await _alert_once(uow, h, case, "unknown")
        return h.status


async def replay(domain: Domain, handoff_id: int, *, resend: bool) -> str:
    """A person's decision on a stuck hand-off (`gridvoice links replay`): look it up again
    now, or (`resend`, after checking at the remote) post it again."""
    async with domain.unit() as uow:
        h = await uow.session.get(Handoff, handoff_id, with_for_update=True)
        if h is None:
            return "gone"
        if h.status in ("sent", "done"):
            return h.status
        if resend and h.status in ("unknown", "refused", "sending"):
            h.status = "pending"
            h.finished_at = None
        h.next_attempt_at = uow.now
        h.locked_until = None
        h.alerted = None
        uow.after_commit.append(domain.links_wake.set)
        return h.status


# --- hearing back ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteUpdate:
    """One thing a remote said about a request, read and bounded by the client."""

    key: str  # its update id, or request|status|time where it gives none
    remote_id: str
    status: str | None
    external: str | None
    at: datetime | None
    description: str | None = None


async def polled_ids(domain: Domain, link_id: str, limit: int = 100_000) -> list[str]:
    """The remote ids of this link's hand-offs still open at the remote."""
    async with domain.sessions() as session:
        return list(
            (
                await session.execute(
                    select(Handoff.remote_id)
                    .where(Handoff.link_id == link_id, Handoff.status == "sent")
                    .order_by(Handoff.id)
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )


async def apply_updates(domain: Domain, link: Link, updates: list[RemoteUpdate]) -> dict[str, int]:
    """Write what a remote said, each update once, in the remote's time order.

    A new step goes on the case's timeline once and the resident hears of an acceptance and a
    resolution once each; the same update again changes nothing; an older update arriving late
    is kept and changes nothing; a later update naming an earlier step (backwards), a status we
    cannot map, or an update for a request we never sent: a timeline entry for staff and an
    alert where a person must act, never a message to the resident."""
    counts: dict[str, int] = {}
    if not updates:
        return counts
    ordered = sorted(updates, key=lambda u: (u.at or EARLIEST, u.key))
    async with domain.unit() as uow:
        keys = {u.key for u in ordered}
        seen = set(
            (
                await uow.session.execute(
                    select(HandoffUpdate.key).where(
                        HandoffUpdate.link_id == link.id, HandoffUpdate.key.in_(keys)
                    )
                )
            )
            .scalars()
            .all()
        )
        for u in ordered:
            if u.key in seen:
                counts["repeated"] = counts.get("repeated", 0) + 1
                continue
            seen.add(u.key)
            outcome = await _apply_one(uow, link, u)
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


async def _apply_one(uow: UnitOfWork, link: Link, u: RemoteUpdate) -> str:
    h = (
        await uow.session.execute(
            select(Handoff)
            .where(
                Handoff.link_id == link.id,
                Handoff.remote_id == u.remote_id,
                Handoff.status.in_(("sent", "done")),
            )
            .order_by(Handoff.id)
            .limit(1)
            .with_for_update()
        )
    ).scalar_one_or_none()
    step = link.step_of(u.status, u.external)
    row = HandoffUpdate(
        link_id=link.id,
        key=u.key[:160],
        handoff_id=h.id if h is not None else None,
        remote_id=u.remote_id[:64],
        status=(u.status or "")[:32] or None,
        external=(u.external or "")[:64] or None,
        step=step,
        at=u.at,
        received_at=uow.now,
        description=clean_text(u.description)[:MAX_REMOTE_TEXT] if u.description else None,
        outcome="applied",
    )
    uow.session.add(row)
    if h is None:
        row.outcome = "unknown_case"
        return row.outcome
    case = await uow.session.get(Case, h.case_id, with_for_update=True)
    assert case is not None
    h.remote_status = row.status
    h.remote_external = row.external
    if u.at is not None and (h.remote_updated_at is None or u.at > h.remote_updated_at):
        h.remote_updated_at = u.at
    if step is None:
        row.outcome = "unknown_status"
        await lifecycle.record(
            uow,
            case,
            LINK,
            "remote_unknown_status",
            link=link.id,
            status=row.status,
            external=row.external,
        )
        await _alert_once(uow, h, case, "unknown_status", status=row.external or row.status)
        return row.outcome
    older = u.at is not None and h.step_at is not None and u.at < h.step_at
    rank, current = STEPS[step], STEPS.get(h.step, 0)
    if older:
        row.outcome = "older"  # reordered: an earlier state arriving late
        return row.outcome
    if rank < current or (rank == current and step != h.step and h.step in FINISHED_STEPS):
        row.outcome = "backwards"
        await lifecycle.record(
            uow,
            case,
            LINK,
            "remote_backwards",
            link=link.id,
            step=step,
            was=h.step,
            status=row.status,
            external=row.external,
        )
        await _alert_once(uow, h, case, f"backwards:{step}", step=step, was=h.step)
        return row.outcome
    if rank == current and step == h.step:
        if u.at is not None:
            h.step_at = max(h.step_at or u.at, u.at)
        # "acknowledged" is also any update at all after the request was filed — except from a
        # gridvoice peer, whose every step (its "received" too) carries a stock description
        if h.acked_at is None and u.description and link.kind != "gridvoice":
            h.acked_at = uow.now
        row.outcome = "same"
        return row.outcome
    await _advance(uow, h, case, link, step, u, row.description)
    return row.outcome


async def _refresh(uow: UnitOfWork, case: Case) -> None:
    if case.owner_chat_id is not None:
        await lifecycle.refresh_card(uow, case, case.owner_chat_id)


async def _advance(
    uow: UnitOfWork,
    h: Handoff,
    case: Case,
    link: Link,
    step: str,
    u: RemoteUpdate,
    note: str | None,
) -> None:
    h.step = step
    h.step_at = u.at or uow.now
    if STEPS[step] >= STEPS["acknowledged"] and h.acked_at is None:
        h.acked_at = uow.now
    if STEPS[step] >= STEPS["accepted"] and h.contacted_at is None:
        h.contacted_at = uow.now
    await _refresh(uow, case)  # the card shows their id and status
    await lifecycle.record(
        uow,
        case,
        LINK,
        f"remote_{step}",
        note=note,
        link=link.id,
        remote_id=h.remote_id,
        status=h.remote_status,
        external=h.remote_external,
    )
    residents = await lifecycle.audience(uow, case)
    if step == "accepted" and case.status in OPEN:
        lifecycle.notify_resident(uow, case, residents, "remote_accepted", link_name=link.name)
    elif step == "resolved":
        h.status = "done"
        h.finished_at = uow.now
        if case.status in OPEN:
            await lifecycle.end_pause(uow, case, LINK)
            old = lifecycle.move(uow, case, "resolved")
            case.resolved_at = uow.now
            case.reminded = None
            await lifecycle.record(uow, case, LINK, "resolved", from_status=old, link=link.id)
            lifecycle.notify_resident(
                uow,
                case,
                residents,
                "resolved",
                note=None,
                keyboard_for=lambda p: (
                    lifecycle.rating_keyboard(case) if p.id == case.resident_id else None
                ),
                reopen_days=uow.settings.reopen_window.days,
            )
    elif step == "returned":
        h.status = "done"
        h.finished_at = uow.now
        if case.reminded == "top:link":
            case.reminded = None  # back with us: the local clocks run again
        await _alert_once(uow, h, case, "returned")


# --- deadlines and alerts ----------------------------------------------------------------------


async def _leaders(uow: UnitOfWork, case: Case) -> list[int]:
    gm = uow.routing.gridmap
    people = gm.leaders_of(case.grid_id)
    if not people and case.grid_id in gm.grids:
        people = gm.centre_of(gm.grids[case.grid_id].community_id)
    chats = {p.telegram_id for p in people}
    if case.owner_chat_id is not None:
        chats.add(case.owner_chat_id)
    return sorted(chats)


async def _alert_once(uow: UnitOfWork, h: Handoff, case: Case, kind: str, **data: Any) -> None:
    """Tell the case's leaders (and its owner) what needs a person, once per kind of problem."""
    if h.alerted == kind[:32]:
        return
    h.alerted = kind[:32]
    base = kind.split(":", 1)[0]
    link = links_of(uow).get(h.link_id)
    for chat in await _leaders(uow, case):
        lang = await chat_language(uow, chat)
        uow.outbox.send(
            chat,
            lang,
            "link_alert",
            case_id=case.id,
            case=case,
            kind=base,
            link_name=link.name if link else h.link_id,
            h=h,
            **data,
        )


async def missed_deadlines(domain: Domain) -> int:
    """Sent hand-offs not acknowledged within the link's `ack_within`, or without first
    contact within `contact_within`: counted once each, on the timeline, leaders told."""
    if not domain.has_routing:
        return 0
    links = domain.routing.gridmap.links
    done = 0
    async with domain.unit() as uow:
        rows = (
            (
                await uow.session.execute(
                    select(Handoff)
                    .where(
                        Handoff.status == "sent",
                        or_(
                            and_(Handoff.acked_at.is_(None), Handoff.ack_missed_at.is_(None)),
                            and_(
                                Handoff.contacted_at.is_(None), Handoff.contact_missed_at.is_(None)
                            ),
                        ),
                    )
                    .limit(500)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        for h in rows:
            link = links.get(h.link_id)
            start = h.sent_at or h.created_at
            if link is None:
                continue
            case = await uow.session.get(Case, h.case_id)
            assert case is not None
            for which, due, at_attr, miss_attr in (
                ("ack", link.ack_within, "acked_at", "ack_missed_at"),
                ("contact", link.contact_within, "contacted_at", "contact_missed_at"),
            ):
                if (
                    getattr(h, at_attr) is None
                    and getattr(h, miss_attr) is None
                    and uow.now >= start + due
                ):
                    setattr(h, miss_attr, uow.now)
                    await lifecycle.record(
                        uow, case, LINK, f"handoff_{which}_missed", link=h.link_id, handoff=h.id
                    )
                    await _alert_once(uow, h, case, f"{which}_missed")
                    done += 1
    return done


async def link_health(domain: Domain, link_id: str, ok: bool, kind: str | None = None) -> bool:
    """Note a call's outcome. A link down longer than `link_down_alert` is told to the
    leaders of the cases waiting on it, once per outage. True when they were told now."""
    async with domain.unit() as uow:
        # calls to one link finish together: the row is made once, then each waits its turn
        await uow.session.execute(
            domain.insert(LinkState)
            .values(link_id=link_id)
            .on_conflict_do_nothing(index_elements=["link_id"])
        )
        state = await uow.session.get(
            LinkState, link_id, with_for_update=True, populate_existing=True
        )
        assert state is not None
        if ok:
            state.last_ok_at = uow.now
            state.down_since = None
            state.told_down_at = None
            state.last_error = None
            return False
        state.last_error = (kind or "error")[:32]
        if state.down_since is None:
            state.down_since = uow.now
            return False
        if (
            state.told_down_at is not None
            or uow.now - state.down_since < uow.settings.link_down_alert
        ):
            return False
        state.told_down_at = uow.now
        cases = (
            (
                await uow.session.execute(
                    select(Case)
                    .join(Handoff, Handoff.case_id == Case.id)
                    .where(Handoff.link_id == link_id, Handoff.status.in_(ACTIVE))
                    .limit(200)
                )
            )
            .scalars()
            .all()
        )
        chats: set[int] = set()
        for case in cases:
            chats.update(await _leaders(uow, case))
        if not chats:
            gm = uow.routing.gridmap
            chats = {s.telegram_id for c in gm.communities for s in gm.centre_of(c)}
        link = links_of(uow).get(link_id)
        for chat in sorted(chats):
            lang = await chat_language(uow, chat)
            uow.outbox.send(
                chat,
                lang,
                "link_alert",
                kind="link_down",
                case=None,
                link_name=link.name if link else link_id,
                waiting=len(cases),
                since=state.down_since,
            )
        return True


async def cursor(domain: Domain, link_id: str) -> tuple[datetime | None, datetime | None]:
    async with domain.sessions() as session:
        state = await session.get(LinkState, link_id)
        return (state.polled_to, state.caught_up_at) if state else (None, None)


async def set_cursor(
    domain: Domain, link_id: str, polled_to: datetime | None, caught_up: datetime | None = None
) -> None:
    async with domain.unit() as uow:
        state = await uow.session.get(LinkState, link_id, with_for_update=True)
        if state is None:
            state = LinkState(link_id=link_id)
            uow.session.add(state)
        if polled_to is not None:
            state.polled_to = polled_to
        if caught_up is not None:
            state.caught_up_at = caught_up


# --- what staff, the public and the figures read -----------------------------------------------


async def queue_figures(domain: Domain) -> dict[str, Any]:
    """Queue depth and the oldest hand-off not yet known at the remote (the /metrics gauges)."""
    async with domain.sessions() as session:
        depth, oldest = (
            await session.execute(
                select(func.count(), func.min(Handoff.created_at)).where(
                    Handoff.status.in_(WAITING)
                )
            )
        ).one()
    age = (domain.clock.now() - oldest).total_seconds() if oldest is not None else 0.0
    return {"depth": int(depth or 0), "oldest_seconds": max(0.0, age)}


async def for_case(session: Any, case_id: int) -> Handoff | None:
    return (
        await session.execute(
            select(Handoff).where(Handoff.case_id == case_id).order_by(Handoff.id.desc()).limit(1)
        )
    ).scalar_one_or_none()


async def release_stale(domain: Domain) -> int:
    """At start-up: leases of a previous process are over (rows wait for the worker again)."""
    async with domain.unit() as uow:
        result = await uow.session.execute(
            update(Handoff).where(Handoff.locked_until.is_not(None)).values(locked_until=None)
        )
        return result.rowcount or 0


async def waiting_ids(domain: Domain, link_id: str) -> list[int]:
    async with domain.sessions() as session:
        return list(
            (
                await session.execute(
                    select(Handoff.id)
                    .where(Handoff.link_id == link_id, Handoff.status.in_(WAITING))
                    .order_by(Handoff.id)
                )
            )
            .scalars()
            .all()
        )


async def status(domain: Domain) -> list[dict[str, Any]]:
    """Each link of the map in force: its hand-offs by state, and since when it is down."""
    if not domain.has_routing:
        return []
    out = []
    async with domain.sessions() as session:
        counts: dict[str, dict[str, int]] = {}
        for link_id, state, n in (
            await session.execute(
                select(Handoff.link_id, Handoff.status, func.count()).group_by(
                    Handoff.link_id, Handoff.status
                )
            )
        ).all():
            counts.setdefault(link_id, {})[state] = int(n)
        for link in domain.routing.gridmap.links.links.values():
            state = await session.get(LinkState, link.id)
            out.append(
                {
                    "id": link.id,
                    "level": link.level,
                    "url": link.url,
                    "counts": counts.get(link.id, {}),
                    "down_since": state.down_since if state else None,
                }
            )
    return out
