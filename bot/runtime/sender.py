"""The outbox sender: delivers queued Bot API calls exactly as the transaction wrote them.

Paces within Telegram's limits, obeys 429 ``retry_after``, retries 5xx and network errors
with backoff, marks people who blocked the bot as unreachable, keeps each chat's messages
in order, and shares the work with other replicas (``FOR UPDATE SKIP LOCKED`` on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import DBAPIError
from telegram import Bot, InputFile
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.clock import wall_now
from bot.runtime.botapi import BotApi, message_id_of
from bot.runtime.courier import Courier, Delivered
from bot.runtime.loop import run_passes
from bot.runtime.metrics import Metrics
from bot.runtime.pacing import Pacer
from bot.services.cases.reachability import mark_unreachable
from bot.services.participation import broadcast
from bot.services.shared.domain import Domain, UnitOfWork
from bot.services.shared.messaging import Ref, remember_retired
from bot.store.db import Execute, hot_rows, sending_needs, statements_on
from bot.store.models import CaseEvent, MessageRef, OutboxMessage, User

log = logging.getLogger(__name__)

# A claim (and a row marked 'sending') is held for `outbox_lease` before another sender may
# take it. A restart after SIGKILL resumes the rows the dead process held once that passes on
# PostgreSQL, and at once on SQLite (one process: see `take_back_leases`).
BATCH = 200
# A retry's wake-up comes this long after its row falls due, so the pass finds it due.
RETRY_MARGIN = 0.05
# How long a broadcast's rows may wait behind an answer held for its busy chat (seconds).
HOLD_BROADCAST = 1.0


def _retry_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Sender:
    """One sender loop per process; several processes may run one each."""

    def __init__(self, domain: Domain, bot: Bot, metrics: Metrics | None = None) -> None:
        self.domain = domain
        self.bot = bot
        self.metrics = metrics or Metrics()
        s = domain.settings
        self.pacer = Pacer(
            s.send_rate_global,
            s.send_rate_private,
            s.send_burst_private,
            s.send_rate_group,
            s.broadcast_paid_rate,
        )
        # Calls in flight: a conversation's lanes and a broadcast's each have `send_concurrency`
        # places, so an answer never queues behind a thousand ballots waiting for a place.
        self.semaphore = asyncio.Semaphore(s.send_concurrency)
        self.broadcast_semaphore = asyncio.Semaphore(s.send_concurrency)
        # JSON calls go through the lean client; uploads (multipart) through PTB's `Bot`.
        self.api = BotApi(bot.base_url, s.send_concurrency)
        # Every JSON call goes through the courier, a conversation's as a broadcast's: a crash
        # of this process neither loses nor repeats them (bot/runtime/courier.py). Its
        # connections are both kinds' places, so an answer never waits there behind ballots.
        self.courier = (
            Courier(bot.base_url, 2 * s.send_concurrency, s.courier_directory(), s.database_url)
            if s.courier
            else None
        )
        # Claim about a second's worth of sending, so what is written during a broadcast waits
        # about a second, not the whole batch.
        self.batch = max(s.send_concurrency, min(BATCH, int(s.send_rate_global)))
        if s.broadcast_paid:  # paid broadcast: faster, but a pass stays short for those waiting
            self.batch = max(self.batch, min(BATCH, int(s.broadcast_paid_rate)))
        self._stop = asyncio.Event()
        # Bot API calls on their way now; `_landed` is set while there are none (a mark waits
        # for the calls still on their way, not for a fixed time: see `_flush_marks`)
        self._in_flight = 0
        self._landed = asyncio.Event()
        self._landed.set()
        # This process's transactions write a conversation's messages claimed by this sender
        # and hand them over after their commit (Domain.take_handed): no claim of its own.
        domain.takes_born = True
        self._looked: int | None = None  # the wake-ups seen when the last claim looked
        #: broadcast rows kept back behind an answer waiting for its chat: since when
        self._waited: dict[int, float] = {}
        self._gone: set[int] = set()  # chats that blocked the bot while their lane ran
        # Lanes still sending (a full batch's pass ends once all its rows are on their way,
        # so the next claim overlaps the last calls), and the chats they hold: a claim skips
        # those chats' rows, so a chat's messages never overtake each other.
        self._lanes: set[asyncio.Task[None]] = set()
        self._busy: dict[int, int] = defaultdict(int)
        # Group commit of 'sent' marks: lanes queue their mark and wait; one transaction writes
        # every mark queued meanwhile (see _mark_sent).
        self._marks: list[tuple[OutboxMessage, int | None, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        # Refs whose message was sent but whose mark is not committed yet (chat_id, message_id).
        self._pending_refs: dict[str, tuple[int, int]] = {}

    def stop(self) -> None:
        self._stop.set()
        self.domain.outbox_written.set()

    async def run(self) -> None:
        try:
            await run_passes(
                self._stop, self.domain.outbox_written, self.pass_once, "outbox sender"
            )
            if self._lanes:  # stopping: calls in flight finish and are marked
                await asyncio.wait(set(self._lanes))
            # handed over but not started: back to the queue (another replica, the next start)
            await self._release([row.id for row in self.domain.take_handed()[0]])
        finally:
            lanes = set(self._lanes)
            for lane in lanes:  # cancelled (a crash): the lanes die with the loop
                lane.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
            await self.api.close()
            if self.courier is not None:
                await self.courier.close()

    async def pass_once(self) -> bool:
        """One pass; True when more may be waiting (the next starts at once).

        A full batch's pass ends as soon as every row of it is on its way: the next claim runs
        while the last calls are in flight, so a broadcast flows without a pause between
        batches. A smaller batch's pass waits for all lanes, then looks again at once if its
        claim skipped the chats they held; when it held rows for a chat a lane still sends to,
        it waits only for the first lane to end, so those rows do not wait for the rest."""
        busy = {chat for chat in self._busy if chat != 0}  # answers keep no order: never held
        handed, handed_refs, gone = self.domain.take_handed()
        # Rows written since the last claim that were not handed over (another process's, a
        # broadcast's, a retry come due), or nothing handed (the first pass, the safety pass):
        # look in the store.
        if not handed or self._looked != self.domain.outbox_written.sets:
            rows, unreachable, refs = await self._claim(self.batch, busy)
            # A transaction that committed while the claim ran (PostgreSQL: between the claim's
            # round trips) may have written rows the claim found and handed over its own: a
            # publish's ballots, and the committee's answer. They go in this pass together,
            # the answer first; in the next, the answer would follow the ballots.
            late, late_refs, late_gone = self.domain.take_handed()
            if late:
                handed = [*handed, *late]
                handed_refs = {**handed_refs, **late_refs}
                gone = gone | late_gone
        else:
            rows, unreachable, refs = [], set(), {}
        held: list[OutboxMessage] = []
        if handed:
            # a chat a lane still sends to waits for the next pass, in its order
            held = [row for row in handed if row.chat_id in busy]
            if held:
                self.domain.handed[:0] = held
                self.domain.handed_refs.update(handed_refs)
                self.domain.handed_unreachable |= gone
            refs = {**refs, **{k: v for k, v in handed_refs.items() if k not in refs}}
            rows = sorted(
                [*rows, *(row for row in handed if row.chat_id not in busy)], key=lambda r: r.id
            )
            unreachable = unreachable | gone
        if held:
            # An answer waits for its chat's lane: this pass's broadcast rows (the ballots its
            # own step queued, say) wait with it, so they do not go out before it. They are this
            # process's, claimed: kept in memory and started by a next pass, with the answer.
            # A row waits HOLD_BROADCAST at most: a stream of answers never stalls a broadcast.
            now = time.monotonic()
            later = [
                row
                for row in rows
                if row.campaign is not None
                and now - self._waited.setdefault(row.id, now) < HOLD_BROADCAST
            ]
            if later:
                kept = {row.id for row in later}
                rows = [row for row in rows if row.id not in kept]
                self.domain.handed.extend(later)
                self.domain.handed_refs.update(refs)
                self.domain.handed_unreachable |= unreachable
        if self._waited:
            for row in rows:
                self._waited.pop(row.id, None)
        if rows:
            waiting = _Countdown(len(rows))
            # One lane per chat keeps the chat's order; callback answers (chat 0) have no
            # order between them, so each is its own lane.
            by_chat: dict[int | tuple[str, int], list[OutboxMessage]] = defaultdict(list)
            for row in rows:
                by_chat[row.chat_id if row.chat_id != 0 else ("answer", row.id)].append(row)
            # a person waiting for an answer goes before a broadcast (announcements, ballots)
            lanes = sorted(by_chat.values(), key=lambda items: min(_rank(r) for r in items))
            for items in lanes:
                lane = asyncio.create_task(self._lane(items, unreachable, refs, waiting))
                self._lanes.add(lane)
                lane.add_done_callback(self._lane_done)
            if len(rows) >= self.batch:
                await waiting.event.wait()  # every lane ticks all its rows, even when it fails
                return True
        if self._lanes:
            # Rows held for a busy chat go once its lane ends, not behind every lane of this
            # pass: a committee's answer is not sent after the ballots its own step queued.
            await asyncio.wait(
                set(self._lanes),
                return_when=asyncio.FIRST_COMPLETED if held else asyncio.ALL_COMPLETED,
            )
        if not busy and self._looked is not None and not self.domain.handed:
            self.domain.outbox_written.settle(self._looked)
        return bool(busy) or bool(self.domain.handed)

    def _lane_done(self, lane: asyncio.Task[None]) -> None:
        self._lanes.discard(lane)
        if not lane.cancelled() and lane.exception() is not None:
            # its rows stay 'sending' until their lease runs out, then go again
            log.error("outbox sender lane failed", exc_info=lane.exception())

    async def claim(self, limit: int) -> list[OutboxMessage]:
        """Take up to `limit` due rows (see `_claim`)."""
        return (await self._claim(limit, set()))[0]

    async def _claim(
        self, limit: int, busy: set[int]
    ) -> tuple[list[OutboxMessage], set[int], dict[str, tuple[int, int]]]:
        """Take up to `limit` due rows in one transaction: one statement finds them, one marks
        them 'sending' under a lease; the same transaction reads what sending them needs (the
        messages they reply to or edit, who blocked the bot). Rows of the `busy` chats (a lane
        of this process still sends to them) wait for the next claim."""
        async with self.domain.unit(quiet=("outbox",)) as uow:
            # What the wake-ups so far announced was committed before this looks, and was
            # queued before `now` (read after them): this pass finds it (see `pass_once`).
            self._looked = self.domain.outbox_written.sets
            now = wall_now()
            due = (
                select(OutboxMessage.id)
                .where(
                    or_(
                        and_(
                            OutboxMessage.status.in_(("pending", "sending")),
                            or_(
                                OutboxMessage.locked_until.is_(None),
                                OutboxMessage.locked_until < now,
                            ),
                        ),
                        # 'sending' whose lease ran out: the process died during the call. Telegram may
                        # or may not have the message; send it again (never lose; may repeat once).
                        and_(OutboxMessage.status == "sending", OutboxMessage.locked_until < now),
                    ),
                    OutboxMessage.next_attempt_at <= now,
                    *([OutboxMessage.chat_id.not_in(busy)] if busy else []),
                )
                # A person waiting for an answer goes before a broadcast (announcements, ballots).
                .order_by(OutboxMessage.campaign.is_not(None), OutboxMessage.id)
                .limit(limit)
            )
            if not self.domain.sqlite:
                due = due.with_for_update(skip_locked=True)
            found = (await uow.session.execute(due.add_columns(OutboxMessage.status))).all()
            ids = [row_id for row_id, _ in found]
            if not ids:
                return [], set(), {}
            uncertain = [row_id for row_id, status in found if status == "sending"]
            if uncertain:
                log.warning(
                    "resending outbox rows whose send was interrupted",
                    extra={"outbox_ids": uncertain},
                )
                self.metrics.inc("gridvoice_outbox_uncertain_total", len(uncertain))
            # Claimed rows are 'sending' (in the claim's transaction: no extra write per message).
            # After a crash, only rows still 'sending' are uncertain.
            rows = (
                (
                    await uow.session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id.in_(ids))
                        .values(
                            locked_until=now + self.domain.settings.outbox_lease, status="sending"
                        )
                        .returning(OutboxMessage)
                        .execution_options(synchronize_session=False)
                    )
                )
                .scalars()
                .all()
            )
            unreachable, known = await uow.session.run_sync(
                lambda session: sending_needs(session.connection(), rows, self._pending_refs)
            )
            return sorted(rows, key=lambda r: r.id), unreachable, known

    async def take_back_leases(self) -> int:
        """SQLite has one process: rows it claimed before a crash are its own, so they are
        taken back at start-up instead of waiting out the lease. A row still 'sending' stays
        uncertain (the call may have reached Telegram) and is sent again by the next claim.
        PostgreSQL replicas keep their leases: another process may be sending them now; this
        one looks again when a lease taken before it started (by the process it replaces) runs
        out.

        First, what the courier of a process that died had delivered is marked sent, and this
        process's courier is started."""
        if self.courier is not None:
            await self.courier.recover(self._recovered)
            await self.courier.start()  # its start-up overlaps the bot's, not the first answer
        if not self.domain.sqlite:
            lease = self.domain.settings.outbox_lease.total_seconds()
            self.domain.outbox_written.at(time.monotonic() + lease + RETRY_MARGIN)
            return 0
        async with self.domain.unit(quiet=("outbox",)) as uow:
            taken = await uow.session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.status.in_(("pending", "sending")),
                    OutboxMessage.locked_until.is_not(None),
                )
                .values(locked_until=None)
                .execution_options(synchronize_session=False)
            )
        return int(taken.rowcount or 0)

    async def _lane(
        self,
        rows: list[OutboxMessage],
        unreachable: set[int],
        refs: dict[str, tuple[int, int]],
        waiting: _Countdown,
    ) -> None:
        chat = rows[0].chat_id
        self._busy[chat] += 1
        left = len(rows)  # rows of this lane not yet on their way
        try:
            broadcast = all(r.campaign is not None for r in rows)
            async with self.broadcast_semaphore if broadcast else self.semaphore:
                for i, row in enumerate(rows):
                    left -= 1
                    waiting.tick()
                    if row.chat_id in self._gone:  # blocked the bot meanwhile: rows already marked
                        continue
                    if row.chat_id in unreachable:  # known to have blocked the bot
                        if not await self._blocked(
                            row, "Forbidden: the person has blocked the bot", known=True
                        ):  # back since the claim: their rows go in order from the next pass
                            await self._release([r.id for r in rows[i:]])
                            return
                        continue
                    if self._stop.is_set():  # shutting down: finish calls in flight, start none
                        await self._release([r.id for r in rows[i:]])
                        return
                    ok = await self._deliver(row, refs)
                    if not ok:
                        await self._release([r.id for r in rows[i + 1 :]])
                        return
        finally:
            waiting.tick(left)
            self._busy[chat] -= 1
            if not self._busy[chat]:
                del self._busy[chat]
                self._gone.discard(chat)

    async def _release(self, ids: list[int]) -> None:
        if not ids:
            return
        async with self.domain.unit(quiet=("outbox",)) as uow:
            await uow.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(locked_until=None, status="pending")
            )

    async def _resolve(
        self, row: OutboxMessage, claimed: dict[str, tuple[int, int]]
    ) -> tuple[str, dict[str, Any], bool]:
        """The call to make for `row`: its method, its parameters, and whether it uploads a
        file (multipart, through PTB) rather than being a JSON call."""
        method, payload = row.method, dict(row.payload)
        refs = [r for r in (row.edit_ref, payload.get("reply_to_ref")) if r]
        known: dict[str, tuple[int, int]] = {}
        for r in refs:
            # sent moments ago (mark not committed yet), else as read when the row was claimed
            found = self._pending_refs.get(r) or claimed.get(r)
            if found is not None:
                known[r] = found
        missing = [r for r in refs if r not in known]
        if missing:  # remembered after the claim (by another replica): read it now
            async with self.domain.reading() as session:
                for ref in (
                    await session.execute(select(MessageRef).where(MessageRef.ref.in_(missing)))
                ).scalars():
                    known[ref.ref] = (ref.chat_id, ref.message_id)
        upload = payload.pop("upload", None)
        if upload:  # a file queued as bytes (Outbox.upload): send it as multipart
            payload[upload["field"]] = InputFile(
                base64.b64decode(upload["b64"]), filename=upload["filename"]
            )
        reply = payload.pop("reply_to_ref", None)
        if reply and reply in known and known[reply][0] == row.chat_id:
            payload["reply_parameters"] = {
                "message_id": known[reply][1],
                "allow_sending_without_reply": True,
            }
        if row.edit_ref:
            target = known.get(row.edit_ref)
            if target is None:
                method = "sendMessage"  # never delivered: send it now instead of editing
                if not payload.get("reply_markup", {}).get("inline_keyboard"):
                    payload.pop("reply_markup", None)
            else:
                payload["message_id"] = target[1]
        return method, payload, bool(upload)

    async def _deliver(self, row: OutboxMessage, refs: dict[str, tuple[int, int]]) -> bool:
        """Deliver one row. Returns False when the rest of the chat's batch must wait."""
        method, payload, upload = await self._resolve(row, refs)
        paid = bool(payload.get("allow_paid_broadcast"))
        couriered = (
            self.courier
            if not upload and self.courier is not None and self.courier.usable
            else None
        )
        if row.chat_id != 0:
            await self.pacer.acquire(row.chat_id, paid)
        started = time.monotonic()
        self._in_flight += 1
        self._landed.clear()
        try:
            try:
                if upload:
                    result = await self.bot.do_api_request(
                        method, api_kwargs=_ptb_payload(method, payload)
                    )
                elif couriered:
                    result = await couriered.call(row.id, row.chat_id, method, payload)
                else:
                    result = await self.api.call(method, payload)
            finally:
                self._in_flight -= 1
                if not self._in_flight:
                    self._landed.set()
                if row.chat_id != 0:
                    self.pacer.sent(paid)
        except RetryAfter as exc:
            wait = _retry_seconds(exc)
            self.pacer.block(row.chat_id, wait, broadcast=row.campaign is not None, paid=paid)
            self.metrics.inc("gridvoice_outbox_retry_after_total")
            await self._retry(row, wait, f"429 retry after {wait:g}s", count=False)
            return False
        except Forbidden as exc:
            await self._blocked(row, str(exc))
            return True
        except ChatMigrated as exc:
            await self._fail(row, f"chat migrated to {exc.new_chat_id}")
            return True
        except BadRequest as exc:
            text = str(exc).lower()
            if "not modified" in text:
                await self._done(row, None)
                return True
            if "message to edit not found" in text and row.edit_ref:
                refs.pop(row.edit_ref, None)
                await self._forget_ref(row)
                await self._retry(row, 0, str(exc))
                return False
            await self._fail(row, str(exc))
            return True
        except (TimedOut, NetworkError) as exc:
            backoff = min(300.0, 2 ** min(row.attempts, 8))
            self.metrics.inc("gridvoice_outbox_network_errors_total")
            await self._retry(row, backoff, f"{type(exc).__name__}: {exc}")
            return False
        self.metrics.observe("gridvoice_send_latency_seconds", time.monotonic() - started)
        self.metrics.inc("gridvoice_messages_sent_total")
        message_id = message_id_of(result)
        await self._done(row, message_id)
        if couriered:
            couriered.settled(row.id)
        if row.ref and message_id is not None:  # the chat's later rows may reply to it or edit it
            refs[row.ref] = (row.chat_id, message_id)
        return True

    async def _done(self, row: OutboxMessage, message_id: int | None) -> None:
        await self._mark_sent(row, message_id)

    async def _mark_sent(self, row: OutboxMessage, message_id: int | None) -> None:
        """Mark a delivered row 'sent' (and remember its message under its ref); returns once committed.

        Group commit: the lane waits for its mark, so a chat never has more than one delivered
        but unmarked row (the crash window stays "calls in flight"), while all lanes' marks that
        queue up during one commit are written together in the next transaction.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._marks.append((row, message_id, future))
        if row.ref and message_id is not None:
            self._pending_refs[row.ref] = (row.chat_id, message_id)
            # delivered, not recorded yet: a reply to it arriving meanwhile still finds it
            self.domain.unrecorded[(row.chat_id, message_id)] = row.ref
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_marks())
        await future

    async def _flush_marks(self) -> None:
        while self._marks:
            if len(self._marks) < MARK_GATHER_UP_TO and self._in_flight:
                # the other calls of the same pass end within milliseconds: one commit for all
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._landed.wait(), MARK_GATHER)
            batch, self._marks = self._marks, []
            try:
                try:
                    await self._write_marks(batch)
                except DBAPIError as exc:
                    if not exc.connection_invalidated:
                        raise
                    # the connection broke (a database restart): the marks are idempotent, and
                    # not writing them would send these messages again
                    await self._write_marks(batch)
            except Exception as exc:
                for row, message_id, future in batch:
                    self.domain.unrecorded.pop((row.chat_id, message_id or 0), None)
                    if not future.done():
                        future.set_exception(exc)
                continue
            for row, message_id, future in batch:
                if (
                    row.ref
                    and message_id is not None
                    and self._pending_refs.get(row.ref) == (row.chat_id, message_id)
                ):
                    del self._pending_refs[row.ref]
                if row.ref and message_id is not None:
                    self.domain.unrecorded.pop((row.chat_id, message_id), None)
                if not future.done():
                    future.set_result(None)

    async def _write_marks(
        self, batch: list[tuple[OutboxMessage, int | None, asyncio.Future[None]]]
    ) -> None:
        marks = [(row, message_id) for row, message_id, _ in batch]
        loop_writes = self.domain.loop_writes
        if loop_writes is not None and await loop_writes.run(
            functools.partial(
                _marks_on, self.domain.engine.dialect, marks, self.domain.clock.now()
            ),
            one_statement=not _named(marks),  # the marks alone: one statement for all the rows
        ):
            return  # on the driver's connection of the event loop's own, without SQLAlchemy
        async with self.domain.unit(quiet=("outbox",), hot=True) as uow:
            await self._record_marks(uow, marks)

    async def _recovered(self, found: list[Delivered]) -> None:
        """Mark "sent" the rows a dead process's courier journalled as delivered (those still
        pending or sending: a row marked meanwhile, or of another database, is left)."""
        for i in range(0, len(found), 500):
            chunk = found[i : i + 500]
            async with self.domain.unit(quiet=("outbox",)) as uow:
                due = select(OutboxMessage).where(
                    OutboxMessage.id.in_([row_id for row_id, _, _ in chunk]),
                    OutboxMessage.status.in_(("pending", "sending")),
                )
                if not self.domain.sqlite:
                    due = due.with_for_update()
                rows = {row.id: row for row in (await uow.session.execute(due)).scalars()}
                await self._record_marks(
                    uow,
                    [
                        (rows[row_id], message_id)
                        for row_id, chat_id, message_id in chunk
                        if row_id in rows and rows[row_id].chat_id == chat_id
                    ],
                )

    async def _record_marks(
        self, uow: UnitOfWork, batch: list[tuple[OutboxMessage, int | None]]
    ) -> None:
        if not batch:
            return
        # Core statements (no ORM rows, no flush): in a hot transaction they go to the
        # driver directly (`hot_rows`); the marks are one statement run for every row
        await _record(
            batch,
            uow.now,
            functools.partial(hot_rows, uow.session),
            functools.partial(_retire_older_copy, uow),
        )

    async def _forget_ref(self, row: OutboxMessage) -> None:
        if row.edit_ref:
            self._pending_refs.pop(row.edit_ref, None)
        async with self.domain.unit(quiet=("outbox",)) as uow:
            ref = await uow.session.get(MessageRef, row.edit_ref)
            if ref is not None:
                await uow.session.delete(ref)

    async def _retry(
        self, row: OutboxMessage, seconds: float, error: str, count: bool = True
    ) -> None:
        attempts = row.attempts + (1 if count else 0)
        if attempts >= self.domain.settings.max_send_attempts:
            await self._fail(row, error)
            return
        async with self.domain.unit(quiet=("outbox",)) as uow:
            at = wall_now() + timedelta(seconds=seconds)
            await uow.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(
                    attempts=attempts,
                    next_attempt_at=at,
                    locked_until=None,
                    error=error,
                    status="pending",
                )
            )
            # Keep the chat's order: nothing later in this chat goes out before this one.
            await uow.session.execute(
                update(OutboxMessage)
                .where(
                    and_(
                        OutboxMessage.chat_id == row.chat_id,
                        OutboxMessage.status.in_(("pending", "sending")),
                        OutboxMessage.id > row.id,
                        OutboxMessage.next_attempt_at < at,
                    )
                )
                .values(next_attempt_at=at)
            )
        # look again once it is due (after `at`, computed before this line: never too early)
        self.domain.outbox_written.at(time.monotonic() + seconds + RETRY_MARGIN)

    async def _fail(self, row: OutboxMessage, error: str) -> None:
        log.warning(
            "outbox message failed",
            extra={"outbox_id": row.id, "case_id": row.case_id, "error": error},
        )
        self.metrics.inc("gridvoice_outbox_failed_total")
        async with self.domain.unit(quiet=("outbox",)) as uow:
            await uow.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(
                    status="failed", error=error[:500], locked_until=None, attempts=row.attempts + 1
                )
            )
            if row.chat_id < 0:  # a channel the bot may no longer post to: the committee is told
                await broadcast.channel_refused(uow, row, error)

    async def _blocked(self, row: OutboxMessage, error: str, *, known: bool = False) -> bool:
        """The person blocked the bot: stop retrying, mark them unreachable, show it on cases.

        `known`: no call was made, the claim read them as unreachable. If they came back
        since (`reachability.reachable_again` committed, and found none of these rows
        refused), nothing is marked and False is returned: the rows are sent. The person's
        row is locked first, so their return either sees these rows refused (and sends them
        again) or is seen here."""
        async with self.domain.unit(quiet=("outbox",)) as uow:
            if known and row.chat_id > 0:
                person = (
                    await uow.session.execute(
                        select(User.unreachable).where(User.id == row.chat_id).with_for_update()
                    )
                ).scalar_one_or_none()
                if not person:
                    return False
            self.metrics.inc("gridvoice_outbox_blocked_total")
            self._gone.add(row.chat_id)
            pending = (
                (
                    await uow.session.execute(
                        select(OutboxMessage).where(
                            OutboxMessage.chat_id == row.chat_id,
                            OutboxMessage.status.in_(("pending", "sending")),
                            OutboxMessage.id >= row.id,
                        )
                    )
                )
                .scalars()
                .all()
            )
            case_ids = {r.case_id for r in pending if r.case_id} | (
                {row.case_id} if row.case_id else set()
            )
            for r in pending:
                r.status, r.error, r.locked_until = "blocked", error[:500], None
            await uow.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(status="blocked", error=error[:500])
            )
            if row.chat_id > 0:
                unanswered = {
                    r.case_id
                    for r in [*pending, row]
                    if r.case_id and (r.ref or "").startswith("q:")
                }
                await mark_unreachable(uow, row.chat_id, case_ids, unanswered)
            else:
                await broadcast.channel_refused(uow, row, error)
            for case_id in case_ids:
                uow.session.add(
                    CaseEvent(
                        case_id=case_id,
                        at=uow.now,
                        actor_id=None,
                        actor_role="system",
                        kind="unreachable",
                        data={"chat_id": row.chat_id},
                    )
                )
        return True


_OUTBOX = OutboxMessage.__table__
#: A mark waits at most this long for the calls still on their way (the other chats of the
#: same pass), unless this many marks wait already: one commit for them all. A mark with no
#: other call on its way is written at once, so the window in which a crash repeats a
#: delivered message stays as short as the commit.
MARK_GATHER = 0.005
MARK_GATHER_UP_TO = 8
_REFS = MessageRef.__table__
#: the remembered messages of these names, a new one, and one now naming another message
#: (built once: their cache keys stay on them)
_REFS_NAMED = select(_REFS.c.ref, _REFS.c.chat_id, _REFS.c.message_id).where(
    _REFS.c.ref.in_(bindparam("names", expanding=True))
)
_REF_NEW = insert(_REFS).values(
    ref=bindparam("name"), chat_id=bindparam("chat"), message_id=bindparam("message")
)
_REF_MOVED = (
    update(_REFS)
    .where(_REFS.c.ref == bindparam("name"))
    .values(chat_id=bindparam("chat"), message_id=bindparam("message"))
)
_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(
        status="sent",
        message_id=bindparam("sent_id"),
        sent_at=bindparam("sent_at"),
        locked_until=None,
        error=None,
    )
)


def _mark_params(batch: list[tuple[OutboxMessage, int | None]], now: Any) -> list[dict[str, Any]]:
    """`_MARK_SENT`'s parameters for each delivered row."""
    return [{"row_id": row.id, "sent_id": message_id, "sent_at": now} for row, message_id in batch]


def _named(batch: list[tuple[OutboxMessage, int | None]]) -> dict[str, tuple[int, int]]:
    """The delivered messages to remember by name: name -> (chat, message id)."""
    return {
        row.ref: (row.chat_id, message_id)
        for row, message_id in batch
        if row.ref and message_id is not None
    }


async def _record(
    batch: list[tuple[OutboxMessage, int | None]],
    now: Any,
    run: Callable[[Any, Any], Awaitable[list[Any]]],
    retire: Callable[[Ref], Awaitable[None]] | None,
) -> int | None:
    """What recording delivered rows writes, either way: the rows marked sent, and the names
    of the messages to remember read, then written new or moved. `run(statement, params)`
    runs a Core statement (`hot_rows` in a session's transaction; `statements_on` on a driver
    connection's own); `retire` takes a card's older copy's buttons off, which queues an edit:
    without it (a driver connection's own transaction) such a batch is declined, None, and the
    session's way writes it. How many statements ran."""
    await run(_MARK_SENT, _mark_params(batch, now))
    refs = _named(batch)
    if not refs:
        return 1
    existing = {found[0]: Ref(*found) for found in await run(_REFS_NAMED, {"names": list(refs)})}
    ran = 2
    for name, (chat_id, message_id) in refs.items():
        ref = existing.get(name)
        change = _ref_change(ref, name, chat_id, message_id)
        if change == "kept":
            continue
        if change == "retire" and ref is not None:
            if retire is None:
                return None
            await retire(ref)
        await run(
            _REF_NEW if change == "new" else _REF_MOVED,
            {"name": name, "chat": chat_id, "message": message_id},
        )
        ran += 1
    return ran


async def _marks_on(
    dialect: Any, batch: list[tuple[OutboxMessage, int | None]], now: Any, execute: Execute
) -> int | None:
    """`Sender._record_marks` in a driver connection's own transaction (`LoopConnection.run`
    on SQLite, `DriverConnection.run` on PostgreSQL): the same statements (`_record`)."""
    return await _record(batch, now, statements_on(execute, dialect), None)


def _ref_change(ref: Ref | None, name: str, chat_id: int, message_id: int) -> str:
    """What recording a delivered message under `name` does to the name's row: "new" (no
    row yet), "kept" (it names this message already), "retire" (it names an older copy of a
    card in the same chat: retired, then moved) or "moved"."""
    if ref is None:
        return "new"
    if (ref.chat_id, ref.message_id) == (chat_id, message_id):
        return "kept"
    if ref.chat_id == chat_id and name.startswith("card:"):
        return "retire"
    return "moved"


class _Countdown:
    """The rows of one pass not yet on their way; `event` is set when none are left."""

    __slots__ = ("left", "event")

    def __init__(self, n: int) -> None:
        self.left = n
        self.event = asyncio.Event()
        if n <= 0:
            self.event.set()

    def tick(self, n: int = 1) -> None:
        self.left -= n
        if self.left <= 0:
            self.event.set()


def _ptb_payload(method: str, payload: dict[str, Any]) -> dict[str, Any]:
    """PTB insists on InputMedia objects for `media` (it sets their parse_mode): build them."""
    if method != "sendMediaGroup" or not isinstance(payload.get("media"), list):
        return payload
    from telegram import InputMediaPhoto

    media = [
        InputMediaPhoto(m["media"], caption=m.get("caption"), parse_mode=m.get("parse_mode"))
        if isinstance(m, dict) and m.get("type") == "photo"
        else m
        for m in payload["media"]
    ]
    return {**payload, "media": media}


async def _retire_older_copy(uow: UnitOfWork, ref: Ref) -> None:
    """A chat keeps one live copy of a card. A new copy recorded under the card's name while
    the older one still has its buttons (the older copy's delivery was recorded after the new
    one was asked for) takes the older copy's buttons off here; replies to it still reach the
    case through its alias. An older copy already retired has its alias and is left alone.
    (`_ref_change` tells when: a card's name, in the same chat.)"""
    if await remember_retired(uow, ref):
        uow.outbox.edit_markup(ref.chat_id, ref.message_id)


def _rank(row: OutboxMessage) -> tuple[bool, int]:
    """A conversation's rows before a broadcast's, then in the order written."""
    return (row.campaign is not None, row.id)
