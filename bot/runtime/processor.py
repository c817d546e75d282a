"""Processes the inbox: each update in its own transaction with the change it causes.

A row is marked done in the same transaction as the case, the audit row and the
outgoing messages it led to, so a crash either keeps all of it or none of it (and the
update is processed again). Updates of one person are handled in order; different people
in parallel. Replicas share the inbox through short leases.

The common case costs one transaction: long polling hands a fetched batch to `take_in`,
which inserts the rows and handles them in the same transaction, the rows written as done.
The inbox loop serves the rest: an update whose person has an earlier one still pending,
a batch that failed (then one by one, with retries), updates from the webhook, and what a
crashed process left.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from telegram import Bot, Update

from bot.bounds import parse_id
from bot.clock import wall_now
from bot.runtime.intake import inbox_rows, store_updates
from bot.runtime.loop import run_passes
from bot.runtime.metrics import Metrics
from bot.services.shared.domain import Domain, UnitOfWork
from bot.store.db import hot_rows
from bot.store.models import InboxUpdate
from bot.store.upserts import inbox_insert
from handlers.dispatch import Dispatcher

log = logging.getLogger(__name__)

# How long a claimed update is held before another processor (or a restarted one) may take it.
MAX_ATTEMPTS = 3
# SQLite: at most this many updates are handled in one transaction (see Processor.process_batch).
BATCH_UPDATES = 16
# Updates claimed by one pass of the inbox loop (a full batch: the next pass starts at once).
CLAIM = 100


#: The people among `people` with an update still pending (handled after it, in order). Built
#: once: SQLAlchemy remembers a statement's cache key on the statement.
_WAITING = select(InboxUpdate.user_id).where(
    InboxUpdate.status == "pending", InboxUpdate.user_id.in_(bindparam("people", expanding=True))
)

# PostgreSQL conditions that pass on their own: serialization failure, deadlock, lost
# connection, too many connections, a lock not available, an administrator's shutdown.
TRANSIENT_SQLSTATES = ("40", "08", "53", "55P03", "57P")


def parse_update(payload: dict[str, Any], bot: Bot) -> Update:
    """The update as python-telegram-bot's objects, without the keyboard of the message a
    pressed button was on: no handler reads it, and parsing it was about a third of a button
    press's parse (the stored payload keeps it)."""
    query = payload.get("callback_query")
    pressed = query.get("message") if isinstance(query, dict) else None
    if isinstance(pressed, dict) and "reply_markup" in pressed:
        pressed = {k: v for k, v in pressed.items() if k != "reply_markup"}
        payload = {**payload, "callback_query": {**query, "message": pressed}}
    return Update.de_json(dict(payload), bot)


def worth_retrying(exc: BaseException) -> bool:
    """True for a failure that may pass on its own (a lock, a lost connection, a race between
    replicas); False for one the update itself caused, which fails the same way every time.

    Retrying the second kind only makes the person wait for the same apology.
    """
    if isinstance(exc, DBAPIError):
        driver_error = getattr(exc.orig, "__cause__", None) or exc.orig
        if isinstance(driver_error, ValueError):
            return False  # a value the store cannot take (asyncpg's DataError): input, not luck
        if exc.connection_invalidated or isinstance(
            exc, (OperationalError, InterfaceError, IntegrityError)
        ):
            return True
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return isinstance(sqlstate, str) and sqlstate.startswith(TRANSIENT_SQLSTATES)
    return isinstance(exc, (TimeoutError, ConnectionError))


def log_context(row: InboxUpdate) -> dict[str, Any]:
    """update_id, user_id, the update's kind and, for case buttons, the case id: for JSON logs."""
    extra: dict[str, Any] = {"update_id": row.update_id, "user_id": row.user_id}
    payload = row.payload if isinstance(row.payload, dict) else {}
    kinds = [k for k in payload if k != "update_id"]
    if kinds:
        extra["update_kind"] = kinds[0]
    query = payload.get("callback_query")
    data = query.get("data") if isinstance(query, dict) else None
    if isinstance(data, str):
        parts = data.split(":")
        # c:<action>:<case>:<version>, r:<action>:<case>
        case_id = parse_id(parts[2]) if len(parts) >= 3 and parts[0] in ("c", "r") else None
        if case_id is not None:
            extra["case_id"] = case_id
    return extra


class Processor:
    def __init__(self, domain: Domain, bot: Bot, dispatcher: Dispatcher, metrics: Metrics) -> None:
        self.domain = domain
        self.bot = bot
        self.dispatcher = dispatcher
        self.metrics = metrics
        self._stop = asyncio.Event()
        self.concurrency = 1 if domain.sqlite else 8

    def stop(self) -> None:
        self._stop.set()
        self.domain.inbox_written.set()

    async def run(self) -> None:
        await run_passes(self._stop, self.domain.inbox_written, self.pass_once, "inbox")

    async def pass_once(self) -> bool:
        """One pass of the inbox loop; True when its batch was full (more may be waiting)."""
        return await self.run_once() >= CLAIM

    async def take_in(self, payloads: list[dict[str, Any]]) -> int:
        """Store a batch of fetched updates and handle them in the same transaction.

        Each update is written to the inbox already done, with the change it causes and its
        outgoing messages, in one commit; a duplicate delivery is not inserted and not handled.
        An update whose person still has an earlier one pending is only stored (the inbox
        loop keeps their order). If anything fails, the transaction rolls back and the batch
        is stored as pending instead: the inbox loop handles it one by one, with its retries
        and apologies. Returns how many updates were new.
        """
        rows = inbox_rows(payloads)
        if not rows:
            return 0
        if len(rows) > BATCH_UPDATES:
            return await store_updates(self.domain, payloads)
        try:
            return await self._take_in(rows)
        except Exception:
            log.debug("batch rolled back; stored for the inbox loop", exc_info=True)
            return await store_updates(self.domain, payloads)

    async def _take_in(self, rows: list[dict[str, Any]]) -> int:
        parsed: dict[int, Update] = {}
        for row in rows:
            try:
                parsed[row["update_id"]] = parse_update(row["payload"], self.bot)
            except Exception:
                pass  # stored pending: the inbox loop records it as failed
        timings: list[tuple[dict[str, Any], float]] = []
        left = False
        async with self.domain.units(quiet=("inbox",), hot=True) as new_unit:
            session = new_unit().session
            people = {row["user_id"] for row in rows if row["user_id"] is not None}
            waiting = (
                {r[0] for r in await hot_rows(session, _WAITING, {"people": list(people)})}
                if people
                else set()
            )
            now = wall_now()
            per_person = Counter(row["user_id"] for row in rows)
            handle: set[int] = set()
            for row in rows:
                if row["update_id"] in parsed and row["user_id"] not in waiting:
                    handle.add(row["update_id"])
                    if per_person[row["user_id"]] == 1 or row["user_id"] is None:
                        row.update(status="done", processed_at=now, attempts=1)
                    # else: stored pending and marked done when its turn comes, so a handler
                    # sees the person's next updates still waiting (an album, a burst)
            inserted = {r[0] for r in await hot_rows(session, *inbox_insert(rows, returning=True))}
            for row in sorted(rows, key=lambda r: r["update_id"]):
                if row["update_id"] not in inserted:
                    continue  # a duplicate: handled when it first came
                if row["update_id"] not in handle:
                    left = True
                    continue
                started = time.monotonic()
                uow = new_unit()
                if row["status"] != "done" and not await mark_done(uow, row["update_id"]):
                    continue
                uow.alone = row["status"] == "done"  # theirs alone in the batch, none waiting
                await self.dispatcher.handle(uow, parsed[row["update_id"]], row["payload"])
                timings.append((row, time.monotonic() - started))
        for row, elapsed in timings:
            self.metrics.inc("gridvoice_updates_handled_total")
            self.metrics.observe("gridvoice_update_seconds", elapsed)
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "update handled",
                    extra={
                        "update_id": row["update_id"],
                        "user_id": row["user_id"],
                        "seconds": round(elapsed, 4),
                    },
                )
        if left:
            self.domain.inbox_written.set()
        return len(inserted)

    async def claim(self, limit: int = CLAIM) -> list[InboxUpdate]:
        """Pending updates to handle, oldest first.

        PostgreSQL (replicas): one statement takes a short lease on the rows
        (`UPDATE ... WHERE update_id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`).
        SQLite (one process, one writer): a plain read, no lease write — each update is
        re-checked as pending inside the transaction that handles it (`BEGIN IMMEDIATE`
        serialises them), so a second process on the same file can never handle it twice.
        """
        now = wall_now()
        due = (
            select(InboxUpdate.update_id)
            .where(
                InboxUpdate.status == "pending",
                or_(InboxUpdate.locked_until.is_(None), InboxUpdate.locked_until < now),
            )
            .order_by(InboxUpdate.update_id)
            .limit(limit)
        )
        if self.domain.sqlite:
            async with self.domain.reading() as session:
                rows = (await session.execute(due.with_only_columns(InboxUpdate))).scalars().all()
            return sorted(rows, key=lambda r: r.update_id)
        claimed = (
            update(InboxUpdate)
            .where(
                InboxUpdate.update_id.in_(due.with_for_update(skip_locked=True).scalar_subquery())
            )
            .values(locked_until=now + self.domain.settings.inbox_lease)
            .returning(InboxUpdate)
            .execution_options(synchronize_session=False)
        )
        async with self.domain.unit(quiet=("inbox",)) as uow:
            rows = (await uow.session.execute(claimed)).scalars().all()
        return sorted(rows, key=lambda r: r.update_id)

    async def take_back_leases(self) -> int:
        """SQLite (one process): updates this process held before a crash are handled at once
        after a restart rather than when their lease (or retry pause) runs out. PostgreSQL: the
        inbox loop looks again when a lease taken before this process started runs out."""
        if not self.domain.sqlite:
            lease = self.domain.settings.inbox_lease.total_seconds()
            self.domain.inbox_written.at(time.monotonic() + lease + 0.05)
            return 0
        async with self.domain.unit(quiet=("inbox",)) as uow:
            taken = await uow.session.execute(
                update(InboxUpdate)
                .where(InboxUpdate.status == "pending", InboxUpdate.locked_until.is_not(None))
                .values(locked_until=None)
                .execution_options(synchronize_session=False)
            )
        return int(taken.rowcount or 0)

    async def run_once(self) -> int:
        rows = await self.claim()
        if not rows:
            return 0

        if self.domain.sqlite:
            # One writer: handle the claimed updates in order, a run at a time in one transaction.
            for start in range(0, len(rows), BATCH_UPDATES):
                chunk = rows[start : start + BATCH_UPDATES]
                if len(chunk) == 1 or not await self.process_batch(chunk):
                    for row in chunk:
                        await self.process(row)
            return len(rows)
        by_user: dict[Any, list[InboxUpdate]] = defaultdict(list)
        for row in rows:
            by_user[row.user_id].append(row)
        semaphore = asyncio.Semaphore(self.concurrency)

        async def person(items: list[InboxUpdate]) -> None:
            async with semaphore:
                for row in items:
                    await self.process(row)

        await asyncio.gather(*(person(items) for items in by_user.values()))
        return len(rows)

    async def process_batch(self, rows: list[InboxUpdate]) -> bool:
        """Handle several updates in ONE transaction (SQLite), each marked done in it.

        All or nothing: if any update cannot be parsed or its handler raises, the whole
        transaction rolls back and False is returned; the caller then handles the rows one by
        one with `process()`, which logs, counts and retries the failing one as usual. So a
        crash or an error never leaves an update half-handled, exactly as with one transaction
        per update, while the common case pays one BEGIN/COMMIT for the run.
        """
        parsed: list[tuple[InboxUpdate, Update]] = []
        for row in rows:
            try:
                parsed.append((row, parse_update(row.payload, self.bot)))
            except Exception:
                return False  # process() keeps it as failed
        timings: list[tuple[InboxUpdate, float]] = []
        try:
            async with self.domain.units(quiet=("inbox",), hot=True) as new_unit:
                for row, update_obj in parsed:
                    started = time.monotonic()
                    uow = new_unit()
                    if not await mark_done(uow, row.update_id):
                        continue  # another process finished it
                    await self.dispatcher.handle(uow, update_obj, row.payload)
                    timings.append((row, time.monotonic() - started))
        except Exception:
            log.debug("batch rolled back; handling its updates one by one", exc_info=True)
            return False
        for row, elapsed in timings:
            self.metrics.inc("gridvoice_updates_handled_total")
            self.metrics.observe("gridvoice_update_seconds", elapsed)
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "update handled", extra={**log_context(row), "seconds": round(elapsed, 4)}
                )
        return True

    async def process(self, row: InboxUpdate) -> None:
        started = time.monotonic()
        try:
            update_obj = parse_update(row.payload, self.bot)
        except Exception as exc:  # a malformed update: keep it, answer nobody, never crash
            log.warning("unparseable update", extra={"update_id": row.update_id, "error": str(exc)})
            await self._finish(row.update_id, "failed", f"unparseable: {exc}")
            self.metrics.inc("gridvoice_updates_malformed_total")
            return
        try:
            async with self.domain.unit(quiet=("inbox",), hot=True) as uow:
                if not await mark_done(uow, row.update_id):
                    return  # another replica finished it
                await self.dispatcher.handle(uow, update_obj, row.payload)
        except Exception as exc:
            self.metrics.inc("gridvoice_update_errors_total")
            log.exception("update failed", extra=log_context(row))
            await self._failed_attempt(row, update_obj, exc)
            return
        self.metrics.inc("gridvoice_updates_handled_total")
        elapsed = time.monotonic() - started
        self.metrics.observe("gridvoice_update_seconds", elapsed)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("update handled", extra={**log_context(row), "seconds": round(elapsed, 4)})

    async def _failed_attempt(self, row: InboxUpdate, update_obj: Update, exc: Exception) -> None:
        attempts = row.attempts + 1
        if attempts < MAX_ATTEMPTS and worth_retrying(exc):
            async with self.domain.unit(quiet=("inbox",)) as uow:
                await uow.session.execute(
                    update(InboxUpdate)
                    .where(InboxUpdate.update_id == row.update_id)
                    .values(
                        attempts=attempts,
                        locked_until=wall_now() + timedelta(seconds=2 * attempts),
                        error=repr(exc)[:1000],
                    )
                )
            self.domain.inbox_written.at(time.monotonic() + 2 * attempts + 0.05)
            return
        # Give up on this update, but tell the person and keep their message in the inbox.
        async with self.domain.unit(quiet=("inbox",)) as uow:
            await uow.session.execute(
                update(InboxUpdate)
                .where(InboxUpdate.update_id == row.update_id)
                .values(
                    status="failed", attempts=attempts, locked_until=None, error=repr(exc)[:1000]
                )
            )
            await self.dispatcher.apologise(uow, update_obj)

    async def _finish(self, update_id: int, status: str, error: str | None = None) -> None:
        async with self.domain.unit(quiet=("inbox",)) as uow:
            await uow.session.execute(
                update(InboxUpdate)
                .where(InboxUpdate.update_id == update_id)
                .values(status=status, error=error, locked_until=None, processed_at=wall_now())
            )


async def mark_done(uow: UnitOfWork, update_id: int) -> bool:
    """Mark an update done inside the transaction that handles it; False if it was not pending.

    The statement re-checks the row is still pending (and, on PostgreSQL, holds its row lock to
    the commit), so two replicas never both handle it; a rollback undoes the mark with the rest.
    """
    marked = await uow.session.execute(
        update(InboxUpdate)
        .where(InboxUpdate.update_id == update_id, InboxUpdate.status == "pending")
        .values(
            status="done",
            processed_at=wall_now(),
            locked_until=None,
            attempts=InboxUpdate.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(marked.rowcount)
