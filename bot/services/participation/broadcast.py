"""Announcements at the scale of a district: a linked channel gets one post, and direct
messages go only to residents who asked for them, queued batch by batch.

Channels. A committee names its community's channel (`/channel @name`; staff without a
community link the district's, scope ``*``). The link is ``checking`` until the broadcaster
(bot/runtime/broadcaster.py) has asked Telegram whether the bot is an administrator there
that may post; then ``linked`` or ``refused``, and the committee member is told. An
announcement writes one outbox row per linked channel in its own transaction (so it is posted
once, restarts included). When Telegram refuses a post (403, no rights, chat not found) the
sender calls `channel_refused`: the link becomes ``broken``, the committee is told once, and
later announcements skip it until it is linked again.

Direct messages. An announcement keeps a cursor (`dm_cursor`, the last recipient id queued).
`feed` reads the next `broadcast_batch` recipients by id after the cursor (keyset: never all
at once) and writes their outbox rows and the new cursor in one transaction: after a crash the
next batch starts where the committed one ended, so each recipient gets exactly one row. The
broadcaster keeps only a few seconds of sending queued ahead (`broadcast_backlog`).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, func, insert, select

from bot.bounds import MAX_TELEGRAM_ID, parse_int
from bot.clock import wall_now
from bot.services.shared.channels import DISTRICT, current
from bot.services.shared.domain import UnitOfWork
from bot.store.models import Announcement, Channel, OutboxMessage, User

CAMPAIGN_PREFIX = "announce:"
CHANNEL_PREFIX = "channel:"
_USERNAME = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")
# What Telegram answers when the bot may not post to a channel (any more).
REFUSALS = (
    "forbidden",
    "not enough rights",
    "chat not found",
    "need administrator rights",
    "chat_write_forbidden",
    "have no rights",
    "bot is not a member",
    "bot was kicked",
)


# -- direct messages ----------------------------------------------------------------------
def recipients_query(grid_ids: list[str], after: int, limit: int) -> Select[Any]:
    """The next `limit` residents of `grid_ids` who asked for announcements, by id after
    `after` (only the id and language are read).

    The grid is matched as an expression, which no index serves: the store walks the users
    by id from `after` and stops at `limit`. Matched on the column, SQLite chose its grid
    index, read every resident of the grids and sorted them, for each batch: 43 ms a batch of
    500 at 100,000 residents, quadratic over a broadcast; by id, 0.5 ms."""
    return (
        select(User.id, User.language)
        .where(
            User.id > after,
            func.coalesce(User.home_grid_id, "").in_(grid_ids),
            User.announcements_dm.is_(True),
            User.consent_at.is_not(None),
            User.erased_at.is_(None),
            User.unreachable.is_(False),
        )
        .order_by(User.id)
        .limit(limit)
    )


async def count_recipients(uow: UnitOfWork, grid_ids: list[str]) -> int:
    stmt = select(func.count()).where(
        User.home_grid_id.in_(grid_ids),
        User.announcements_dm.is_(True),
        User.consent_at.is_not(None),
        User.erased_at.is_(None),
        User.unreachable.is_(False),
    )
    return int((await uow.session.execute(stmt)).scalar_one())


def _payload(
    uow: UnitOfWork, a: Announcement, chat_id: int, lang: str, channel: bool = False
) -> tuple[str, dict[str, Any]]:
    text = uow.domain.renderer.render(lang, "announce_message", text=a.text, channel=channel)
    payload: dict[str, Any]
    if a.photo_file_id:
        method = "sendPhoto"
        payload = {
            "chat_id": chat_id,
            "photo": a.photo_file_id,
            "caption": text[:1024],
            "parse_mode": "HTML",
        }
    else:
        method = "sendMessage"
        payload = {"chat_id": chat_id, "text": text[:4096], "parse_mode": "HTML"}
    return method, payload


async def feed(uow: UnitOfWork, a: Announcement, limit: int) -> int:
    """Queue the next batch of `a`'s direct messages; returns how many were queued.

    Runs in the caller's transaction with the cursor: commit both or neither."""
    if a.dm_done_at is not None:
        return 0
    found = (
        await uow.session.execute(recipients_query(list(a.grid_ids or []), a.dm_cursor, limit))
    ).all()
    paid = uow.settings.broadcast_paid
    campaign = f"{CAMPAIGN_PREFIX}{a.id}"
    rendered: dict[str, tuple[str, dict[str, Any]]] = {}
    rows = []
    at = wall_now()
    for user_id, lang in found:
        if lang not in rendered:
            rendered[lang] = _payload(uow, a, 0, lang)
        method, template = rendered[lang]
        payload = {**template, "chat_id": user_id}
        if paid:
            payload["allow_paid_broadcast"] = True
        rows.append(
            {
                "created_at": uow.now,
                "chat_id": user_id,
                "method": method,
                "payload": payload,
                "campaign": campaign,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": at,
            }
        )
    if rows:
        await uow.session.execute(insert(OutboxMessage), rows)
        uow.outbox.written += len(rows)
        a.dm_cursor = int(found[-1][0])
        a.dm_queued += len(rows)
    if len(found) < limit:
        a.dm_done_at = uow.now
    return len(rows)


async def unfinished(uow: UnitOfWork) -> list[int]:
    """Announcements whose direct messages are not all queued yet, oldest first."""
    stmt = (
        select(Announcement.id).where(Announcement.dm_done_at.is_(None)).order_by(Announcement.id)
    )
    return list((await uow.session.execute(stmt)).scalars())


async def lock(uow: UnitOfWork, announcement_id: int) -> Announcement | None:
    """The announcement, locked for this transaction (another replica skips it meanwhile)."""
    stmt = select(Announcement).where(
        Announcement.id == announcement_id, Announcement.dm_done_at.is_(None)
    )
    if not uow.domain.sqlite:
        stmt = stmt.with_for_update(skip_locked=True)
    return (await uow.session.execute(stmt)).scalar_one_or_none()


async def backlog(uow: UnitOfWork) -> int:
    """Announcement messages queued and not yet sent (all announcements)."""
    stmt = select(func.count()).where(
        OutboxMessage.status.in_(("pending", "sending")),
        OutboxMessage.campaign.like(f"{CAMPAIGN_PREFIX}%"),
    )
    return int((await uow.session.execute(stmt)).scalar_one())


def rate(settings: Any) -> float:
    """Direct messages a second: the paid rate when the operator turned paid broadcast on."""
    return settings.broadcast_paid_rate if settings.broadcast_paid else settings.send_rate_global


# -- channels -----------------------------------------------------------------------------
def parse_channel(text: str) -> str | None:
    """`@name` or a channel's numeric id (-100…), as typed; None when it is neither."""
    text = (text or "").strip()
    if _USERNAME.fullmatch(text):
        return text
    value = parse_int(text, low=-MAX_TELEGRAM_ID, high=-1)
    return str(value) if value is not None else None


def scope_of(uow: UnitOfWork, user_id: int) -> str:
    """The community whose channel this staff member links; the district's without one."""
    staff = uow.routing.gridmap.staff.get(user_id)
    return staff.community_id if staff is not None and staff.community_id else DISTRICT


async def request_link(uow: UnitOfWork, by: int, lang: str, ref: str) -> Channel:
    """Start linking the channel `ref` (already parsed) to `by`'s scope; it is checked next."""
    scope = scope_of(uow, by)
    await unlink(uow, scope)
    row = Channel(
        scope=scope,
        chat_ref=ref,
        language=lang,
        status="checking",
        linked_by=by,
        linked_at=uow.now,
    )
    uow.session.add(row)
    await uow.session.flush()
    uow.after_commit.append(uow.domain.broadcast_wake.set)
    return row


async def unlink(uow: UnitOfWork, scope: str) -> bool:
    old = await current(uow, scope)
    if old is None:
        return False
    old.status = "unlinked"
    return True


async def to_check(uow: UnitOfWork) -> list[Channel]:
    stmt = select(Channel).where(Channel.status == "checking").order_by(Channel.id).limit(20)
    return list((await uow.session.execute(stmt)).scalars())


def admin_may_post(member: dict[str, Any]) -> bool:
    """A ChatMember of the bot: an administrator that may post (a channel's creator may)."""
    status = member.get("status")
    return status == "creator" or (
        status == "administrator" and bool(member.get("can_post_messages"))
    )


async def record_check(
    uow: UnitOfWork,
    channel_id: int,
    chat: dict[str, Any] | None,
    member: dict[str, Any] | None,
    error: str | None = None,
) -> Channel | None:
    """What Telegram said about a channel being linked; the committee member is told."""
    row = await uow.session.get(Channel, channel_id)
    if row is None or row.status != "checking":
        return None
    if chat is not None and chat.get("type") != "channel":
        error = "not a channel"
    elif chat is not None and member is not None and not admin_may_post(member):
        error = "not an administrator who may post"
    if chat is not None:
        row.chat_id = int(chat["id"])
        row.title = str(chat.get("title") or "")[:256]
        username = chat.get("username")
        link = f"https://t.me/{username}" if username else chat.get("invite_link")
        row.link = str(link)[:256] if link else None
    if error or chat is None or member is None:
        row.status, row.reason = "refused", (error or "not found")[:500]
    else:
        row.status, row.reason = "linked", None
    uow.outbox.send(
        row.linked_by, row.language, "channel_link", c=row, reason=_reason_key(row.reason)
    )
    return row


def _reason_key(error: str | None) -> str:
    text = (error or "").lower()
    if "not a channel" in text:
        return "not_channel"
    if "administrator" in text or "rights" in text or "forbidden" in text:
        return "not_admin"
    if text:
        return "not_found"
    return ""


def _covers(uow: UnitOfWork, scope: str, grid_ids: list[str]) -> bool:
    gridmap = uow.routing.gridmap
    if scope == DISTRICT:
        return set(grid_ids) >= set(gridmap.grids)
    return any(gridmap.grids[g].community_id == scope for g in grid_ids if g in gridmap.grids)


async def channels_for(uow: UnitOfWork, grid_ids: list[str]) -> list[Channel]:
    """The linked channels an announcement to `grid_ids` is posted in."""
    stmt = select(Channel).where(Channel.status == "linked").order_by(Channel.id)
    return [
        c
        for c in (await uow.session.execute(stmt)).scalars()
        if c.chat_id is not None and _covers(uow, c.scope, grid_ids)
    ]


async def post(uow: UnitOfWork, a: Announcement) -> list[Channel]:
    """Queue the announcement's one post in each linked channel it concerns: one sendMessage
    (the text is bounded well under Telegram's 4,096) or one sendPhoto with the caption."""
    posted = []
    campaign = f"{CHANNEL_PREFIX}{a.id}"
    for c in await channels_for(uow, list(a.grid_ids or [])):
        assert c.chat_id is not None
        text = uow.domain.renderer.render(c.language, "announce_message", text=a.text, channel=True)
        if a.photo_file_id:
            uow.outbox.photos(c.chat_id, [a.photo_file_id], caption=text, campaign=campaign)
        else:
            uow.outbox.send_text(c.chat_id, text[:4096], campaign=campaign)
        posted.append(c)
    return posted


def refused_post(row: OutboxMessage, error: str) -> bool:
    """Telegram refused a channel post because the bot may not post there."""
    text = error.lower()
    return (row.campaign or "").startswith(CHANNEL_PREFIX) and any(r in text for r in REFUSALS)


async def channel_refused(uow: UnitOfWork, row: OutboxMessage, error: str) -> bool:
    """A channel post was refused for good: mark the link broken and tell the committee once
    (called by the sender in the transaction that records the failure)."""
    if not refused_post(row, error):
        return False
    stmt = select(Channel).where(Channel.chat_id == row.chat_id, Channel.status == "linked")
    told = False
    for c in (await uow.session.execute(stmt)).scalars():
        c.status, c.reason, c.broken_at = "broken", error[:500], uow.now
        for person, lang in _committee(uow, c):
            uow.outbox.send(person, lang, "channel_broken", c=c)
        told = True
    return told


def _committee(uow: UnitOfWork, c: Channel) -> list[tuple[int, str]]:
    """Who hears that a channel broke: who linked it and the committee of its community."""
    people = {c.linked_by: c.language}
    for s in uow.routing.gridmap.staff.values():
        if s.active and s.role == "committee" and (c.scope in (DISTRICT, s.community_id)):
            people.setdefault(s.telegram_id, c.language)
    return sorted(people.items())


def status_line(c: Channel | None) -> dict[str, Any]:
    return {"c": c, "reason": _reason_key(c.reason) if c is not None else ""}
