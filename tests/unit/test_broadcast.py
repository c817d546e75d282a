"""Announcements at scale (bot/services/participation/broadcast.py): direct messages only to
residents who asked, read batch by batch behind a cursor that survives a crash, paid broadcast
only when the operator turns it on; a channel linked, posted to once, reported once when broken."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql
from unit_helpers import COMMITTEE, new_resident

from bot.services.participation import announcements, broadcast
from bot.services.shared import channels
from bot.services.shared.domain import Domain, UnitOfWork
from bot.store.models import Announcement, Channel, OutboxMessage

ADMIN_MEMBER = {"status": "administrator", "can_post_messages": True}
CHANNEL_CHAT = {"id": -1001234, "type": "channel", "title": "Xingfu news", "username": "xingfu"}


async def _rows(uow: UnitOfWork, campaign: str) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.campaign == campaign)
    return list((await uow.session.execute(stmt.order_by(OutboxMessage.id))).scalars())


async def _opted_in(uow: UnitOfWork, n: int) -> list[int]:
    ids = []
    for _ in range(n):
        user = await new_resident(uow)
        announcements.set_muted(user, False)
        ids.append(user.id)
    await uow.session.flush()
    return ids


async def test_direct_messages_only_to_residents_who_asked(uow: UnitOfWork) -> None:
    asked = await _opted_in(uow, 2)
    silent = await new_resident(uow)  # never asked
    muted = await new_resident(uow)
    announcements.set_muted(muted, True)
    a = await announcements.send(uow, COMMITTEE, "Water off Friday", None, ["xingfu-1"])
    assert a.recipients == 2
    assert await broadcast.feed(uow, a, 100) == 2
    chats = [r.chat_id for r in await _rows(uow, f"announce:{a.id}")]
    assert chats == asked and silent.id not in chats and muted.id not in chats


def test_recipients_are_read_by_keyset_a_batch_at_a_time() -> None:
    sql = str(
        broadcast.recipients_query(["xingfu-1"], 4242, 500).compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
    )
    assert "users.id > 4242" in sql
    assert "ORDER BY users.id" in sql and "LIMIT 500" in sql
    # only the id and the language are read, never whole rows
    assert sql.split("FROM")[0].strip() == "SELECT users.id, users.language"


async def test_feed_queues_one_batch_and_moves_the_cursor(uow: UnitOfWork) -> None:
    ids = await _opted_in(uow, 5)
    a = await announcements.send(uow, COMMITTEE, "Lift repairs", None, ["xingfu-1"])
    assert await broadcast.feed(uow, a, 2) == 2
    assert a.dm_cursor == ids[1] and a.dm_queued == 2 and a.dm_done_at is None
    assert await broadcast.feed(uow, a, 2) == 2
    assert await broadcast.feed(uow, a, 2) == 1
    assert a.dm_done_at is not None
    assert await broadcast.feed(uow, a, 2) == 0
    assert [r.chat_id for r in await _rows(uow, f"announce:{a.id}")] == ids


async def test_a_crash_between_batches_resumes_each_recipient_exactly_once(domain: Domain) -> None:
    async with domain.unit() as uow:
        ids = await _opted_in(uow, 7)
        a = await announcements.send(uow, COMMITTEE, "Gas check Monday", None, ["xingfu-1"])
        announcement_id = a.id
    async with domain.unit() as uow:  # batch 1 committed
        locked = await broadcast.lock(uow, announcement_id)
        assert locked is not None
        await broadcast.feed(uow, locked, 3)
    with pytest.raises(RuntimeError):  # batch 2 dies before its commit: rows and cursor go
        async with domain.unit() as uow:
            locked = await broadcast.lock(uow, announcement_id)
            assert locked is not None
            await broadcast.feed(uow, locked, 3)
            raise RuntimeError("killed")
    for _ in range(5):  # after the restart: until done
        async with domain.unit() as uow:
            locked = await broadcast.lock(uow, announcement_id)
            if locked is None:
                break
            await broadcast.feed(uow, locked, 3)
    async with domain.unit() as uow:
        chats = [r.chat_id for r in await _rows(uow, f"announce:{announcement_id}")]
        assert sorted(chats) == ids  # each once
        assert await broadcast.unfinished(uow) == []
        done = await uow.session.get(Announcement, announcement_id)
        assert done is not None and done.dm_queued == 7


async def test_no_paid_broadcast_unless_the_operator_enables_it(uow: UnitOfWork) -> None:
    await _opted_in(uow, 1)
    a = await announcements.send(uow, COMMITTEE, "Free", None, ["xingfu-1"])
    await broadcast.feed(uow, a, 10)
    (row,) = await _rows(uow, f"announce:{a.id}")
    assert "allow_paid_broadcast" not in row.payload


@pytest.mark.parametrize("domain_settings", [{"broadcast_paid": True}])
async def test_paid_broadcast_param_sent_when_enabled(uow: UnitOfWork) -> None:
    await _opted_in(uow, 1)
    a = await announcements.send(uow, COMMITTEE, "Paid", None, ["xingfu-1"])
    await broadcast.feed(uow, a, 10)
    (row,) = await _rows(uow, f"announce:{a.id}")
    assert row.payload["allow_paid_broadcast"] is True
    assert broadcast.rate(uow.settings) == uow.settings.broadcast_paid_rate


@pytest.mark.parametrize(
    "given, expected",
    [
        ("@xingfu_news", "@xingfu_news"),
        ("-1001234567890", "-1001234567890"),
        ("xingfu", None),
        ("@x", None),
        ("12345", None),
        ("-１２３", None),
        ("@bad-name", None),
        ("-" + "9" * 30, None),
    ],
)
def test_channel_names_are_parsed_and_bounded(given: str, expected: str | None) -> None:
    assert broadcast.parse_channel(given) == expected


async def _link(
    uow: UnitOfWork, member: dict[str, Any] | None, error: str | None = None
) -> Channel:
    row = await broadcast.request_link(uow, COMMITTEE, "en", "@xingfu")
    checked = await broadcast.record_check(uow, row.id, CHANNEL_CHAT, member, error)
    assert checked is not None
    return checked


async def test_a_channel_whose_admin_is_the_bot_is_linked_and_shown(uow: UnitOfWork) -> None:
    c = await _link(uow, ADMIN_MEMBER)
    assert c.status == "linked" and c.chat_id == -1001234 and c.scope == "xingfu"
    assert c.link == "https://t.me/xingfu"
    assert await channels.link_for(uow, "xingfu-1") == "https://t.me/xingfu"
    told = await _rows_to(uow, COMMITTEE)
    assert any("linked" in r.payload.get("text", "") for r in told)


async def _rows_to(uow: UnitOfWork, chat_id: int) -> list[OutboxMessage]:
    await uow.session.flush()
    stmt = select(OutboxMessage).where(OutboxMessage.chat_id == chat_id)
    return list((await uow.session.execute(stmt)).scalars())


@pytest.mark.parametrize(
    "member, error",
    [
        ({"status": "administrator", "can_post_messages": False}, None),
        ({"status": "member"}, None),
        (None, "Forbidden: bot is not a member of the channel chat"),
    ],
)
async def test_a_channel_the_bot_may_not_post_to_is_not_linked(
    uow: UnitOfWork, member: dict[str, Any] | None, error: str | None
) -> None:
    c = await _link(uow, member, error)
    assert c.status == "refused"
    assert await channels.link_for(uow, "xingfu-1") is None
    assert any("not linked" in r.payload.get("text", "") for r in await _rows_to(uow, COMMITTEE))
    a = await announcements.send(uow, COMMITTEE, "Nothing to the channel", None, ["xingfu-1"])
    assert await _rows(uow, f"channel:{a.id}") == []


async def test_an_announcement_is_posted_once_to_the_linked_channel(uow: UnitOfWork) -> None:
    await _link(uow, ADMIN_MEMBER)
    a = await announcements.send(uow, COMMITTEE, "Clean-up Saturday", None, ["xingfu-1"])
    (post,) = await _rows(uow, f"channel:{a.id}")
    assert post.chat_id == -1001234 and "Clean-up Saturday" in post.payload["text"]
    assert "/mute" not in post.payload["text"]


async def test_a_broken_channel_is_reported_once_and_skipped(uow: UnitOfWork) -> None:
    c = await _link(uow, ADMIN_MEMBER)
    a = await announcements.send(uow, COMMITTEE, "First", None, ["xingfu-1"])
    (post,) = await _rows(uow, f"channel:{a.id}")
    before = len(await _rows_to(uow, COMMITTEE))
    refusal = "Forbidden: bot is not a member of the channel chat"
    assert await broadcast.channel_refused(uow, post, refusal)
    assert c.status == "broken"
    assert not await broadcast.channel_refused(uow, post, refusal)  # told once
    told = await _rows_to(uow, COMMITTEE)
    assert len(told) == before + 1 and "no longer post" in told[-1].payload["text"]
    later = await announcements.send(uow, COMMITTEE, "Second", None, ["xingfu-1"])
    assert await _rows(uow, f"channel:{later.id}") == []
    assert await channels.link_for(uow, "xingfu-1") is None


async def test_other_failures_of_a_channel_post_do_not_break_the_link(uow: UnitOfWork) -> None:
    c = await _link(uow, ADMIN_MEMBER)
    a = await announcements.send(uow, COMMITTEE, "Third", None, ["xingfu-1"])
    (post,) = await _rows(uow, f"channel:{a.id}")
    assert not await broadcast.channel_refused(uow, post, "Bad Request: message is too long")
    assert c.status == "linked"


async def test_backlog_counts_only_unsent_announcement_messages(uow: UnitOfWork) -> None:
    await _opted_in(uow, 3)
    a = await announcements.send(uow, COMMITTEE, "Backlog", None, ["xingfu-1"])
    await broadcast.feed(uow, a, 10)
    rows = await _rows(uow, f"announce:{a.id}")
    rows[0].status = "sent"
    await uow.session.flush()
    assert await broadcast.backlog(uow) == 2
    total = (await uow.session.execute(select(func.count()).select_from(OutboxMessage))).scalar()
    assert total is not None and total >= 3
