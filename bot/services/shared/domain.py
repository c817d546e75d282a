"""The domain's shared context and its unit of work (one transaction per change).

A handler asks the `Domain` for a `UnitOfWork`, calls services with it, and the unit
commits the change, its audit rows and its outgoing messages together.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock, wall_now
from bot.config import Settings
from bot.render import Renderer
from bot.services.shared.outbox import Outbox
from bot.store.db import (
    BORN_CLAIMED,
    CREATED_CASES,
    HOT_DRIVER,
    HOT_WRITES,
    ON_LOOP,
    PEOPLE,
    WRITTEN,
    DriverConnection,
    LoopConnection,
    begin_hot_asyncpg,
    create_engine,
    hot_write_changes,
    is_sqlite,
    session_factory,
    statements_off_loop,
)
from bot.store.models import Case, DutyAmendment, GridMapVersion, StaffMember, User
from routing.address import AddressIndex
from routing.classifier import Classifier, load_lexicon
from routing.geo import GridIndex
from routing.gridmap import Duty, GridMap, Staff
from routing.matrix import Amendment, amend
from routing.neighbours import DeploymentIndex

log = logging.getLogger(__name__)


@dataclass
class Routing:
    """The pure routing objects built from the grid map in force."""

    gridmap: GridMap
    addresses: AddressIndex
    locator: GridIndex
    fingerprint: tuple[Any, ...] = ()
    base: GridMap | None = None  # the map as loaded, before the staff overlay
    loaded_at: datetime | None = None  # when that version of the map was loaded


class Wake:
    """When a loop must run next: at once (`set`), or at a time it learned (`at`)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.due: float | None = None  # time.monotonic() of the earliest known future work
        self.sets = 0  # how many wake-ups so far (see `settle`)

    def set(self) -> None:
        self.sets += 1
        self.event.set()

    def nudge(self) -> None:
        """Wake the loop for work handed to it in memory (not counted: see `settle`)."""
        self.event.set()

    def at(self, monotonic: float) -> None:
        """Something becomes due at `monotonic` (a retry pause, a 429's retry_after)."""
        if self.due is None or monotonic < self.due:
            self.due = monotonic
            self.set()  # a sleeping loop looks again and learns the new time

    def is_set(self) -> bool:
        return self.event.is_set()

    def clear(self) -> None:
        self.event.clear()

    def settle(self, seen: int) -> None:
        """A pass looked for work after the first `seen` wake-ups (the work they announced
        was committed before it looked): when no other came since, the wake-up is spent, and
        no second pass runs only to find nothing."""
        if self.sets == seen:
            self.event.clear()

    async def wait(self) -> bool:
        return await self.event.wait()


class NoGridMap(RuntimeError):
    """No grid map has been loaded yet (`gridvoice grids load FILE`)."""


class UnitOfWork:
    """One database transaction, its clock reading and its outbox."""

    def __init__(self, domain: Domain, session: AsyncSession) -> None:
        self.domain = domain
        self.session = session
        self.now: datetime = domain.clock.now()
        self.outbox = Outbox(session, domain.renderer, self.now)
        self.after_commit: list[Any] = []
        #: set by the processor when it knows no later update of this person is waiting in
        #: the inbox (theirs was the only one fetched, and none was pending): nothing to look for
        self.alone = False

    @property
    def routing(self) -> Routing:
        return self.domain.routing

    @property
    def settings(self) -> Settings:
        return self.domain.settings

    def knows(self, person_id: int, person: Any) -> Any:
        """Remember a person's row (None: they have none) as loaded by this transaction: what
        it sends them needs no second look at whether they blocked the bot
        (`bot.store.db.sending_needs`). Returns `person`."""
        self.session.info.setdefault(PEOPLE, {})[person_id] = person
        return person

    async def reads_much(self) -> None:
        """This transaction is about to read much (a report over months, an export): on SQLite
        its statements leave the event loop's thread (`bot.store.db.statements_off_loop`)."""
        if self.domain.sqlite:
            await statements_off_loop(self.session)

    def created(self, case_id: int) -> None:
        """`case_id` was created in this transaction (see `none_yet`)."""
        self.session.info.setdefault(CREATED_CASES, set()).add(case_id)

    def none_yet(self, case_id: int, table: str) -> bool:
        """True when the case was created in this transaction and the transaction has written
        nothing to `table` since: the case can have no row there, and no query is needed (a
        new case's card asks of its tasks, requests, returns and hand-offs)."""
        info = self.session.info
        if case_id not in info.get(CREATED_CASES, ()) or table in info.get(WRITTEN, ()):
            return False
        return not any(getattr(o, "__tablename__", None) == table for o in self.session.new)


def build_classifier(settings: Settings) -> Classifier:
    """The packaged classifier, or the deployment's own trained model when there is one.

    The second voter is attached later, off the event loop (:meth:`Domain.warm_classifier`)."""
    model = settings.category_model_file()
    threshold = settings.classifier_threshold
    if model.exists():
        try:
            return Classifier(load_lexicon(settings.lexicon_path), model=model, threshold=threshold)
        except ValueError:
            log.exception("unreadable category model %s: using the packaged one", model)
    if settings.lexicon_path or threshold is not None:
        return Classifier(load_lexicon(settings.lexicon_path), threshold=threshold)
    return Classifier.default()


#: The rows a hot transaction writes on the driver (`hot_write_changes`, named in its session as
#: `HOT_WRITES`), before its commit and before a statement that reads their table: a
#: person's, whose dialogue state nearly every update changes, and a case's (a new one's
#: public number, a status a member's press changed).
_WRITTEN_HERE = (User, Case)


class Domain:
    """Settings, clock, store, renderer, classifier and routing: what services need."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        engine: AsyncEngine | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.engine = engine or create_engine(settings.database_url)
        self.sqlite = is_sqlite(settings.database_url)
        # Any commit that wrote a queue row wakes the loop serving it (and, on PostgreSQL, the
        # other replicas' through NOTIFY): see bot/store/db.py.
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(
            self.engine,
            {"on_commit": self._wrote, "on_hand": self._hand, "notify": not self.sqlite},
        )
        self.renderer = Renderer()
        self.classifier = build_classifier(settings)
        # the deployment's settled cases as the classifier's neighbours, read from the store
        # (bot/services/cases/neighbours.py)
        self.neighbour_cache: DeploymentIndex | None = None
        #: community -> (has organisations that joined, until when that is trusted)
        self.joined_organisations: dict[str, tuple[bool, float]] = {}
        self._routing: Routing | None = None
        #: transactions open that changed the staff list and installed their own routing: a
        #: reload from another session meanwhile would read the list before their commit and
        #: put the old one back (`reload_routing` waits for them to end; `_routing_gen` moves
        #: when one starts or ends, so a reload that overlapped one installs nothing)
        self._routing_held = 0
        self._routing_gen = 0
        self.bot_username: str | None = None
        self.web_url: str | None = None  # where the HTTP edge listens (set when it starts)
        # Messages the sender delivered whose ref is not committed yet: (chat_id, message_id)
        # -> ref. A reply to one that arrives meanwhile still finds it (`case_of_message`).
        self.unrecorded: dict[tuple[int, int], str] = {}
        self.outbox_written = Wake()
        # Where this process's sender runs, a conversation's messages are written claimed by
        # it and handed over after the commit (bot/store/db.py `write_queued_outbox`): the
        # rows, the refs they name, the people among them known to have blocked the bot.
        self.takes_born = False
        self.handed: list[Any] = []
        self.handed_refs: dict[str, tuple[int, int]] = {}
        self.handed_unreachable: set[int] = set()
        self.inbox_written = Wake()
        self.schedule_changed = asyncio.Event()
        self.links_wake = asyncio.Event()  # a hand-off was queued (bot/runtime/links.py)
        # an announcement or a channel link waits for the broadcaster (bot/runtime/broadcaster.py)
        self.broadcast_wake = Wake()
        # SQLite has one writer; serialise in-process writers instead of spinning on locks.
        self.write_lock = asyncio.Lock() if self.sqlite else None
        # the event loop's own connection for the sender's `sent` marks: a SQLite file's, or a
        # PostgreSQL connection kept from the pool (an in-memory SQLite has only the pool's)
        self.loop_writes: LoopConnection | DriverConnection | None = None
        if LoopConnection.serves(settings.database_url):
            self.loop_writes = LoopConnection(settings.database_url, self.write_lock)
        elif not self.sqlite:
            self.loop_writes = DriverConnection(self.engine)

    async def warm_classifier(self) -> bool:
        """Load the classifier's second voter in a worker thread (about 1 s) and let it vote
        from then on.  Until it is loaded, and on a machine where it cannot load (one warning
        in the log), the classifier answers without it.  True when it votes."""
        if not self.settings.classifier_voter or self.classifier.voting:
            return self.classifier.voting
        voting = copy.copy(self.classifier)  # Classifier.default() is shared: never mutated
        if not await asyncio.to_thread(voting.attach_voter):
            return False
        self.classifier = voting
        return True

    @property
    def routing(self) -> Routing:
        if self._routing is None:
            raise NoGridMap("no grid map loaded")
        return self._routing

    @property
    def has_routing(self) -> bool:
        return self._routing is not None

    def insert(self, model: Any) -> Any:
        """An INSERT of `model` in this database's dialect (for ON CONFLICT)."""
        from sqlalchemy.dialects import postgresql, sqlite

        return (sqlite if self.sqlite else postgresql).insert(model)

    def _hand(self, rows: list[Any], refs: dict[str, tuple[int, int]], gone: set[int]) -> None:
        """After a commit: rows written claimed by this process's sender, for it to send."""
        self.handed.extend(rows)
        self.handed_refs.update(refs)
        self.handed_unreachable |= gone
        self.outbox_written.nudge()

    def take_handed(self) -> tuple[list[Any], dict[str, tuple[int, int]], set[int]]:
        """The rows handed to the sender so far (and what sending them needs), taken."""
        taken = (self.handed, self.handed_refs, self.handed_unreachable)
        self.handed, self.handed_refs, self.handed_unreachable = [], {}, set()
        return taken

    def _born(self, session: AsyncSession) -> None:
        if self.takes_born:
            session.info[BORN_CLAIMED] = wall_now() + self.settings.outbox_lease

    def _wrote(self, queues: set[str]) -> None:
        """After a commit that wrote queue rows: wake the loops that serve them."""
        if "outbox" in queues:
            self.outbox_written.set()
        if "inbox" in queues:
            self.inbox_written.set()

    async def _hot(self, session: AsyncSession, hot: bool) -> None:
        """A hot transaction's statements run on the event loop's thread (SQLite: `ON_LOOP`),
        and its short ones on the driver's connection (`bot.store.db.hot_rows`): SQLite's,
        or asyncpg's on PostgreSQL."""
        if hot:
            options = {ON_LOOP: True} if self.sqlite else None
            connection = await session.connection(execution_options=options)
            raw = await connection.get_raw_connection()
            session.info[HOT_DRIVER] = raw.driver_connection
            session.info[HOT_WRITES] = _WRITTEN_HERE
            if not self.sqlite:
                await begin_hot_asyncpg(raw.dbapi_connection)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only: on SQLite a plain BEGIN, never the writer's lock."""
        async with self.sessions() as session:
            await session.connection(execution_options={"read_only": True})
            yield session

    @asynccontextmanager
    async def unit(
        self, quiet: tuple[str, ...] = (), hot: bool = False
    ) -> AsyncIterator[UnitOfWork]:
        """A transaction: commits on success, rolls back on error, then wakes the sender.

        `quiet` names queues ("outbox", "inbox") whose writes here wake nobody: the loop that
        serves the queue writing its own bookkeeping (claims, marks). `hot`: a short
        transaction of the processor or the sender, whose statements may run on the event
        loop's thread (SQLite; `bot.store.db.ON_LOOP`)."""
        if self.write_lock is not None:
            await self.write_lock.acquire()
        try:
            async with self.sessions() as session:
                if quiet:
                    session.info["quiet"] = quiet
                self._born(session)
                async with session.begin():
                    await self._hot(session, hot)
                    uow = UnitOfWork(self, session)
                    yield uow
                    if hot:
                        await hot_write_changes(session)
        finally:
            if self.write_lock is not None:
                self.write_lock.release()
        if uow.outbox.written and not self.takes_born:
            self.outbox_written.set()
        for callback in uow.after_commit:
            callback()

    @asynccontextmanager
    async def units(
        self, quiet: tuple[str, ...] = (), hot: bool = False
    ) -> AsyncIterator[Callable[[], UnitOfWork]]:
        """Several units of work in ONE transaction: all of them commit, or none does.

        Yields a function that makes the next unit (its own clock reading and outbox) on the
        shared session. Used by the processor on SQLite to handle a run of updates with one
        BEGIN/COMMIT and one turn of the writer lock; each unit's wake-ups and after-commit
        callbacks run after the commit, as with `unit()`.
        """
        made: list[UnitOfWork] = []
        if self.write_lock is not None:
            await self.write_lock.acquire()
        try:
            async with self.sessions() as session:
                if quiet:
                    session.info["quiet"] = quiet
                self._born(session)
                async with session.begin():
                    await self._hot(session, hot)

                    def new_unit() -> UnitOfWork:
                        uow = UnitOfWork(self, session)
                        made.append(uow)
                        return uow

                    yield new_unit
                    if hot:
                        await hot_write_changes(session)
        finally:
            if self.write_lock is not None:
                self.write_lock.release()
        if any(uow.outbox.written for uow in made) and not self.takes_born:
            self.outbox_written.set()
        for uow in made:
            for callback in uow.after_commit:
                callback()

    async def reload_routing(self, force: bool = False) -> bool:
        """Rebuild routing objects when the grid map or the staff list changed."""
        if self._routing_held and self._routing is not None:
            return False  # a transaction changing the staff list is open: its routing stands
        gen = self._routing_gen
        async with self.sessions() as session:
            return await self._reload(session, force, gen)

    async def reload_routing_in(self, uow: UnitOfWork) -> None:
        """Rebuild routing inside a transaction that just changed the staff list; until it
        ends, no other session's reload replaces it (they would read the list before it)."""
        from sqlalchemy import event

        sync = uow.session.sync_session
        if not sync.info.get("holds_routing"):
            sync.info["holds_routing"] = True
            self._routing_held += 1
            self._routing_gen += 1

            def ended(_session: Any, transaction: Any) -> None:
                # once, when the outermost transaction ends (committed or rolled back); the
                # session is not reused after a unit of work
                if transaction.parent is None and sync.info.pop("holds_routing", None):
                    self._routing_held -= 1
                    self._routing_gen += 1

            event.listen(sync, "after_transaction_end", ended)
        await self._reload(uow.session, True, self._routing_gen)

    async def _reload(self, session: AsyncSession, force: bool, gen: int) -> bool:
        version = (
            await session.execute(
                select(GridMapVersion).order_by(GridMapVersion.id.desc()).limit(1)
            )
        ).scalar_one_or_none()
        if version is None:
            return False
        staff_sig = (
            await session.execute(
                select(
                    func.count(),
                    func.max(StaffMember.joined_at),
                    func.sum(case((StaffMember.active, 1), else_=0)),
                )
            )
        ).one()
        amended = tuple(
            (await session.execute(select(func.count(), func.max(DutyAmendment.id)))).one()
        )
        fingerprint = (version.id, tuple(staff_sig), amended)
        if not force and self._routing and self._routing.fingerprint == fingerprint:
            return False
        staff_rows = list((await session.execute(select(StaffMember))).scalars().all())
        same_version = self._routing is not None and self._routing.fingerprint[:1] == (version.id,)
        if same_version:
            assert self._routing is not None
            gridmap = self._routing.base
        else:
            gridmap = GridMap.from_yaml(version.document)
        # The duty list's amendments (rulings), applied in order on the loaded map: setting a
        # rule again is harmless, so a map that has some of them already may take them all.
        if amended[0] and not (same_version and self._routing.fingerprint[2:] == (amended,)):  # type: ignore[union-attr]
            gridmap = amend(gridmap, await _amendments(session))
        routed = gridmap.with_staff(staff_overlay(gridmap, staff_rows))
        if gen != self._routing_gen:
            return False  # a transaction changed the staff list meanwhile: its view stands
        self._routing = Routing(
            gridmap=routed,
            addresses=self._routing.addresses
            if same_version and self._routing is not None
            else AddressIndex(gridmap),
            locator=self._routing.locator
            if same_version and self._routing is not None
            else GridIndex(gridmap),
            fingerprint=fingerprint,
            base=gridmap,
            loaded_at=version.loaded_at,
        )
        self.renderer.tz = _zone(gridmap.timezone)
        log.info("routing loaded: %d grids, %d staff", len(gridmap.grids), len(staff_rows))
        return True

    async def dispose(self) -> None:
        if self.loop_writes is not None:
            await self.loop_writes.close()
        await self.engine.dispose()


async def _amendments(session: AsyncSession) -> list[Amendment]:
    """The duty list's amendments made by rulings, in order (`cases/duty.py`)."""
    rows = (
        await session.execute(
            select(
                DutyAmendment.level,
                DutyAmendment.scope,
                DutyAmendment.category,
                DutyAmendment.owner_after,
            ).order_by(DutyAmendment.id)
        )
    ).all()
    return [Amendment(*row) for row in rows]


def _zone(name: str):  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo(name or "UTC")


def staff_overlay(gridmap: GridMap, rows: list[StaffMember]) -> list[Staff]:
    """The staff in force: the map's people with their active flag, plus invited people."""
    result: list[Staff] = []
    for row in rows:
        known = gridmap.staff.get(row.telegram_id)
        if known is not None:
            result.append(
                dataclasses.replace(
                    known,
                    active=row.active,
                    role=row.role,
                    grid_ids=tuple(row.grid_ids or known.grid_ids),
                    community_id=row.community_id or known.community_id,
                    party_id=row.party_id or known.party_id,
                )
            )
        else:
            result.append(
                Staff(
                    telegram_id=row.telegram_id,
                    name=row.name,
                    role=row.role,
                    grid_ids=tuple(row.grid_ids or ()),
                    community_id=row.community_id,
                    party_id=row.party_id,
                    duty=Duty.always(gridmap.timezone),
                    categories=None,
                    active=row.active,
                )
            )
    return result
