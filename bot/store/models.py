"""The store: SQLAlchemy 2 typed models. One table per aggregate part.

Timestamps are stored as UTC and always come back timezone-aware (see ``UTCDateTime``),
on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Any) -> Any:
        """On SQLite, a UTC datetime straight to the text SQLite's `DATETIME` writes
        (``YYYY-MM-DD HH:MM:SS.ffffff``): less than half the time of `process_bind_param` and then
        the dialect's format, on every datetime of every statement. Anything else takes that
        way, and gives the same text (tests/unit/test_driver_form.py)."""
        composed = super().bind_processor(dialect)
        if dialect.name != "sqlite" or composed is None:
            return composed

        def process(value: Any) -> Any:
            if type(value) is datetime and value.tzinfo is UTC:
                return value.isoformat(" ", "microseconds")[:26]
            return composed(value)

        return process

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    """A person who talked to the bot. Personal fields are empty until consent."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    language: Mapped[str] = mapped_column(String(8), default="en")
    first_name: Mapped[str | None] = mapped_column(String(128))
    consent_at: Mapped[datetime | None]
    home_building_id: Mapped[str | None] = mapped_column(String(64))
    home_grid_id: Mapped[str | None] = mapped_column(String(64), index=True)
    home_address: Mapped[str | None] = mapped_column(String(256))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # When a grid member answered the household verification request (one answer counts).
    verification_decided_at: Mapped[datetime | None]
    phone: Mapped[str | None] = mapped_column(String(32))
    pseudonym: Mapped[str] = mapped_column(String(32))
    muted_announcements: Mapped[bool] = mapped_column(Boolean, default=False)
    # Announcements as direct messages only to those who asked (/unmute); see broadcast.py.
    announcements_dm: Mapped[bool] = mapped_column(Boolean, default=False)
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the person is in a dialogue: lives here, not in process memory.
    state: Mapped[str | None] = mapped_column(String(64))
    state_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]


class Community(Base):
    __tablename__ = "communities"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(256))
    name_zh: Mapped[str] = mapped_column(String(256))


class Grid(Base):
    __tablename__ = "grids"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"), index=True)
    name_en: Mapped[str] = mapped_column(String(256))
    name_zh: Mapped[str] = mapped_column(String(256))


class GridMapVersion(Base):
    """Every grid map ever loaded; the newest is the one in force."""

    __tablename__ = "grid_map_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loaded_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(512))
    document: Mapped[str] = mapped_column(Text)


class StaffMember(Base):
    """A grid member, leader, centre, street, committee, party or admin account."""

    __tablename__ = "staff"

    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), index=True)
    grid_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    community_id: Mapped[str | None] = mapped_column(String(64))
    party_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(16), default="map")  # map | invite
    joined_at: Mapped[datetime]


class Invite(Base):
    """A one-time staff invite deep link."""

    __tablename__ = "invites"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    used_by: Mapped[int | None] = mapped_column(BigInteger)
    used_at: Mapped[datetime | None]


OPEN_STATUSES_SQL = (
    "status IN ('triage', 'assigned', 'accepted', 'needs_info', 'transferred', 'escalated', "
    "'reopened')"
)
# What the dashboard reads of a case in its period: covered by the index (PostgreSQL INCLUDE),
# so a district's figures are an index-only scan, not a read of a million rows.
DASHBOARD_COLUMNS = (
    "status",
    "category",
    "first_response_at",
    "resolved_at",
    "resolve_by",
    "escalation_count",
    "reopen_count",
    "rating",
    "held_since",
    "deferrals",
)
DASHBOARD_INDEXES = (
    Index(
        "ix_cases_created_dashboard",
        "created_at",
        postgresql_include=["grid_id", *DASHBOARD_COLUMNS],
    ),
    Index(
        "ix_cases_grid_created_dashboard",
        "grid_id",
        "created_at",
        postgresql_include=list(DASHBOARD_COLUMNS),
    ),
    Index("ix_cases_resolved_at", "resolved_at", postgresql_include=["grid_id"]),
    Index(
        "ix_cases_open_by_grid",
        "grid_id",
        "created_at",
        "updated_at",
        postgresql_where=sql_text(OPEN_STATUSES_SQL),
        sqlite_where=sql_text(OPEN_STATUSES_SQL),
    ),
)


class Case(Base):
    """One resident request, from report to closure."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    human_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    matched: Mapped[list[Any]] = mapped_column(JSON, default=list)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    grid_id: Mapped[str] = mapped_column(String(64), index=True)
    building_id: Mapped[str | None] = mapped_column(String(64))
    place_text: Mapped[str | None] = mapped_column(String(256))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), index=True)
    owner_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    owner_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    party_id: Mapped[str | None] = mapped_column(String(64))
    follow_up_id: Mapped[int | None] = mapped_column(BigInteger)
    rung: Mapped[str] = mapped_column(String(16), default="member")
    assignment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    accept_by: Mapped[datetime | None]
    resolve_by: Mapped[datetime | None]
    reminded: Mapped[str | None] = mapped_column(String(16))  # which deadline was reminded
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    # The first time someone in charge acted on the case (accepted, asked, transferred, resolved,
    # rejected, triaged): "time to first response" on the public dashboard. Never reset.
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    resolution_note: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    escalation_count: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    source_update_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # How the case came in: "bot" (Telegram) or "open311" (an outside client with an API key).
    source: Mapped[str] = mapped_column(String(16), default="bot", server_default="bot")
    # A description staff approved for publication; public only when the deployment says so.
    public_description: Mapped[str | None] = mapped_column(Text)
    # The note staff publish on purpose ("Public note"): the case page, Open311 status_notes and
    # open data show it. The resolution note and a decline reason go to the resident only.
    public_note: Mapped[str | None] = mapped_column(Text)
    # When the case last changed publicly: the last public event (`status.PUBLIC_UPDATE_KINDS`).
    # A rating moves `updated_at`, never this.
    public_updated_at: Mapped[datetime | None]
    # Fair clocks (migration 0009_holds): while `held_since` is set the deadlines stand still
    # (no reminder, no escalation) until `held_until`, and on release both deadlines move on by
    # the time held. `held_reason` is a hold's reason category, or "answer" while the case waits
    # for the resident's answer. `deferrals` counts approved holds and extensions (the official
    # on-time rate leaves such cases out).
    held_since: Mapped[datetime | None]
    held_until: Mapped[datetime | None] = mapped_column(index=True)
    held_reason: Mapped[str | None] = mapped_column(String(16))
    deferrals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # --- supervision (督办): a supervisor flags the case with its own deadline and reason ---
    # (bot/services/cases/lifecycle.py `supervise`); set once, kept after the case ends so the
    # outcome (resolved by the supervision deadline, late, open) can be counted.
    supervised_at: Mapped[datetime | None]
    supervised_by: Mapped[int | None] = mapped_column(BigInteger)  # the supervisor
    supervise_by: Mapped[datetime | None]  # the supervision deadline
    supervise_reason: Mapped[str | None] = mapped_column(Text)  # staff only, never public
    supervise_missed_at: Mapped[datetime | None]  # when the scheduler escalated it for missing it
    # --- whose duty (migration 0013_duty): the distinct owners the case has had (ping-pong) ---
    owners_seen: Mapped[list[str] | None] = mapped_column(JSON)  # `m:<id>`, `p:<party>`, `c:<chat>`
    owner_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __table_args__ = (
        Index("ix_cases_grid_status_category", "grid_id", "status", "category"),
        # Public lists (Open311, open data, the dashboard): newest first within a date window,
        # by service code, and changes since a time.
        Index("ix_cases_created_id", "created_at", "id"),
        Index("ix_cases_category_created", "category", "created_at"),
        Index("ix_cases_updated_at", "updated_at"),
        Index("ix_cases_public_updated_at", "public_updated_at"),
        # Open-case counts per owner (assignment) must not read every open case of the district.
        Index("ix_cases_owner_status", "owner_id", "status"),
        # The follow-up question: only closed cases not yet asked, however many closed there are.
        Index(
            "ix_cases_follow_up_due",
            "closed_at",
            postgresql_where=sql_text("status = 'closed' AND reminded IS NULL"),
            sqlite_where=sql_text("status = 'closed' AND reminded IS NULL"),
        ),
        # The public dashboard (bot/services/public/dashboard.py) reads these without touching the table.
        *DASHBOARD_INDEXES,
        # Supervised cases whose supervision deadline the scheduler has yet to check.
        Index(
            "ix_cases_supervise_due",
            "supervise_by",
            postgresql_where=sql_text("supervise_missed_at IS NULL"),
            sqlite_where=sql_text("supervise_missed_at IS NULL"),
        ),
    )


class Verification(Base):
    """An independent check of a closure (bot/services/cases/verification.py): a case drawn in
    the sample when it closed is checked by someone other than its handler, the resident asked
    "is it still fixed?" or, with no reachable resident, a member of another grid of the
    community on site with a photo. One row per sampled case; answered once."""

    __tablename__ = "verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    grid_id: Mapped[str] = mapped_column(String(64))
    handler_id: Mapped[int | None] = mapped_column(BigInteger)  # who resolved the closure checked
    closed_at: Mapped[datetime]
    ask_at: Mapped[datetime]  # when the check is asked (closed_at + settings.verify_after)
    way: Mapped[str | None] = mapped_column(String(16))  # resident | peer | none
    checker_id: Mapped[int | None] = mapped_column(BigInteger)
    asked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # passed | failed | expired
    answered_at: Mapped[datetime | None]
    photo: Mapped[str | None] = mapped_column(String(256))  # the peer's photo (a Telegram file id)

    __table_args__ = (
        Index("ix_verifications_due", "outcome", "ask_at"),
        Index("ix_verifications_grid_closed", "grid_id", "closed_at"),
    )


class CasePhoto(Base):
    __tablename__ = "case_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    file_id: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16), default="report")  # report | resolution


class CaseFollower(Base):
    """A resident who has the same problem and follows someone else's case."""

    __tablename__ = "case_followers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    since: Mapped[datetime]

    __table_args__ = (UniqueConstraint("case_id", "user_id"),)


class CaseEvent(Base):
    """The audit trail: every transition and every message about a case."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    # Open311 servicerequestupdates lists the steps of a time window in (time, id) order.
    __table_args__ = (Index("ix_case_events_at_id", "at", "id"),)


class CaseNote(Base):
    """A note staff write on a case for each other: read only by staff who may see the case,
    never by the resident, a follower, a public page, Open311 or open data."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    author_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    # The staff named in it (@username at the chat, picked at the desk), each told once.
    mentions: Mapped[list[Any]] = mapped_column(JSON, default=list)


class CaseDeferral(Base):
    """An owner's request to hold a case or extend its resolve-by deadline, and the leader's
    decision (decided once). `note` is staff text: never public."""

    __tablename__ = "case_deferrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # hold | extend
    reason: Mapped[str] = mapped_column(String(16))  # a hold's reason category ("" to extend)
    note: Mapped[str] = mapped_column(Text, default="")
    days: Mapped[int] = mapped_column(Integer)
    asked_by: Mapped[int] = mapped_column(BigInteger)
    asked_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(10), default="asked")  # asked|approved|declined
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None]


class Correction(Base):
    """A category someone corrected: the classifier learns from these."""

    __tablename__ = "category_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    text: Mapped[str] = mapped_column(Text)
    predicted: Mapped[str | None] = mapped_column(String(32))
    corrected: Mapped[str] = mapped_column(String(32))
    by_role: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]


class CaseNeighbour(Base):
    """A settled case's embedding and category: the classifier's deployment neighbours.

    One row per case, written in the transaction that settles the case (resolved, closed, or
    its category corrected; ``bot.services.cases.neighbours``); a later correction replaces it
    (a new row: ids only grow, so readers notice any change by ``max(id)`` and ``count``).
    ``embedding`` is ``None`` when the second voter was not loaded then; readers compute it.
    """

    __tablename__ = "case_neighbours"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    encoder: Mapped[str | None] = mapped_column(String(32))
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    at: Mapped[datetime]


class InboxUpdate(Base):
    """Every update Telegram delivered, stored before it is processed (exactly-once intake)."""

    __tablename__ = "inbox"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Base):
    """A message to send, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime]
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    method: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # A name under which the sent message's id is remembered (e.g. a case card), and the
    # name of a remembered message this one edits.
    ref: Mapped[str | None] = mapped_column(String(64))
    edit_ref: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    campaign: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class MessageRef(Base):
    """The Telegram message id behind a remembered name (a case card in a chat)."""

    __tablename__ = "message_refs"

    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_message_refs_chat_message", "chat_id", "message_id"),)


class RateWindow(Base):
    """Per-user message counts per minute, for polite rate limiting across replicas."""

    __tablename__ = "rate_windows"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    window_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer, default=0)
    warned: Mapped[bool] = mapped_column(Boolean, default=False)


# --- consultations, announcements, household register (议事协商) ---------------------------


class Consultation(Base):
    """A question put to the verified residents of an audience, open between two times."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    question: Mapped[str] = mapped_column(Text)
    options: Mapped[list[Any]] = mapped_column(JSON, default=list)
    multiple: Mapped[bool] = mapped_column(Boolean, default=False)
    grid_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_change: Mapped[bool] = mapped_column(Boolean, default=False)
    live_counts: Mapped[bool] = mapped_column(Boolean, default=False)
    # proposals | scheduled | open | closed
    status: Mapped[str] = mapped_column(String(16), index=True)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    eligible: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # grid -> count at opening
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ConsultBallot(Base):
    """That a resident voted. For a secret ballot `choices` stays empty: choices are tallies."""

    __tablename__ = "consult_ballots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    grid_id: Mapped[str] = mapped_column(String(64))
    choices: Mapped[list[Any] | None] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("consultation_id", "user_id", name="uq_consult_ballot_voter"),
    )


class ConsultTally(Base):
    """Secret ballots: a counter per option, never a row per voter."""

    __tablename__ = "consult_tallies"

    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), primary_key=True)
    option: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    votes: Mapped[int] = mapped_column(Integer, default=0)


class ConsultComment(Base):
    """A resident's comment or proposal; `author` is a pseudonym, empty on secret ballots."""

    __tablename__ = "consult_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # comment | proposal
    author: Mapped[str | None] = mapped_column(String(32))
    option: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class Announcement(Base):
    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    photo_file_id: Mapped[str | None] = mapped_column(String(256))
    grid_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    # Direct messages are queued batch by batch (bot/services/participation/broadcast.py): the
    # last recipient id queued, how many so far, and when the last batch was queued.
    dm_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    dm_queued: Mapped[int] = mapped_column(Integer, default=0)
    dm_done_at: Mapped[datetime | None]


class Channel(Base):
    """A Telegram channel linked to a community (or, scope '*', the whole district) where the
    bot, as an administrator, posts announcements once."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), index=True)
    chat_ref: Mapped[str] = mapped_column(String(64))  # what the committee named
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str | None] = mapped_column(String(256))
    link: Mapped[str | None] = mapped_column(String(256))
    language: Mapped[str] = mapped_column(String(8), default="en")
    # checking -> linked | refused (never linked); linked -> broken (Telegram refused a post)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    linked_by: Mapped[int] = mapped_column(BigInteger)
    linked_at: Mapped[datetime]
    broken_at: Mapped[datetime | None]


class HouseholdPhone(Base):
    """The household register the deployment loads: hashed phone -> home."""

    __tablename__ = "household_phones"

    phone_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grid_id: Mapped[str] = mapped_column(String(64))
    building_id: Mapped[str | None] = mapped_column(String(64))


# --- Open311: API keys and what an outside client told us about its submitter ---------------


class ApiKey(Base):
    """A key an outside Open311 client posts requests with. Only its hash is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in `api-key list` to recognise it
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    # A link key (migration 0016_link_intake): another deployment or centre at `link_level`
    # (street, district, city, community, department) or a 12345-style hotline ("hotline").
    # Cases it posts are received from that link, with hand-off deadlines on our side.
    link_name: Mapped[str | None] = mapped_column(String(64))
    link_level: Mapped[str | None] = mapped_column(String(16))


class Open311Contact(Base):
    """Who submitted an Open311 request, kept for staff follow-up only: never published."""

    __tablename__ = "open311_contacts"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    email: Mapped[str | None] = mapped_column(String(256))
    first_name: Mapped[str | None] = mapped_column(String(128))
    last_name: Mapped[str | None] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(128))
    account_id: Mapped[str | None] = mapped_column(String(128))
    address_string: Mapped[str | None] = mapped_column(String(256))
    media_url: Mapped[str | None] = mapped_column(String(1024))


# --- the staff desk (web/desk): logins and sessions, cached Telegram files -----------------


class DeskLoginLink(Base):
    """A one-time login link sent by /web: only the token's hash is kept; used once."""

    __tablename__ = "desk_login_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class DeskSession(Base):
    """A signed-in browser: the cookie's hash, its CSRF token, and when it ends."""

    __tablename__ = "desk_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(BigInteger, index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(16))  # link | webapp
    created_at: Mapped[datetime]
    seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class TelegramFile(Base):
    """A file fetched from Telegram with getFile, kept so pages do not fetch it again."""

    __tablename__ = "telegram_files"

    file_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    fetched_at: Mapped[datetime]


class CaseTask(Base):
    """A co-handler's task on a case (joint handling) or a summons (吹哨): another party or
    member of the map helps the case's lead owner with a task of their own, a deadline and a
    status (open → done | waived). A summons also has its sign-in and first-contact deadlines.
    The lead resolves only once every task is done or waived (bot/services/cases/joint.py,
    lifecycle.py's last block)."""

    __tablename__ = "case_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # joint | summons
    party_id: Mapped[str | None] = mapped_column(String(64))  # a party of the map, or
    member_id: Mapped[int | None] = mapped_column(BigInteger)  # a member of the map
    chat_id: Mapped[int] = mapped_column(BigInteger)  # where the co-handler's card goes
    grid_id: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(Text)
    added_by: Mapped[int] = mapped_column(BigInteger)
    added_at: Mapped[datetime]
    due_at: Mapped[datetime]
    sign_by: Mapped[datetime | None]  # a summons: sign in (报到) by
    signed_at: Mapped[datetime | None]
    contact_by: Mapped[datetime | None]  # a summons: first contact by
    contacted_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done | waived
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[int | None] = mapped_column(BigInteger)
    waive_reason: Mapped[str | None] = mapped_column(Text)
    overdue_at: Mapped[datetime | None]  # its deadline missed (counted once)
    sign_missed_at: Mapped[datetime | None]
    contact_missed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_case_tasks_due", "status", "due_at"),)


# --- whose duty (bot/services/cases/duty.py): returns, rulings, the versioned duty list -------


class CaseDispute(Base):
    """An owner's return of a case ("not ours"), citing the clause of the responsibility matrix
    that makes it someone else's, and the adjudicator's ruling (made once). While it waits the
    case stays with the returning owner. `reason` and `ruling_reason` are staff text: never
    public."""

    __tablename__ = "case_disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    grid_id: Mapped[str] = mapped_column(String(64))
    community_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(32))
    returned_by: Mapped[int] = mapped_column(BigInteger)  # the member who returned it
    returner: Mapped[str] = mapped_column(String(80))  # whose duty it was: `grid` or `party:<id>`
    clause: Mapped[str] = mapped_column(String(120))  # the clause cited
    claimed_owner: Mapped[str] = mapped_column(String(80))  # the owner that clause names
    reason: Mapped[str] = mapped_column(Text)
    adjudicator: Mapped[str] = mapped_column(String(16))  # the role that rules
    opened_at: Mapped[datetime]
    rule_by: Mapped[datetime] = mapped_column(index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))  # reassigned | upheld
    ruled_by: Mapped[int | None] = mapped_column(BigInteger)
    ruled_at: Mapped[datetime | None]
    ruling_reason: Mapped[str | None] = mapped_column(Text)
    escalated_at: Mapped[datetime | None]  # not ruled by `rule_by`: the scheduler escalated it


class DutyAmendment(Base):
    """A change of the responsibility matrix made by a ruling: the duty list in force is the
    loaded map with these applied in order (every replica reads them from here). Public on the
    community's "who does what" page without `made_by`."""

    __tablename__ = "duty_amendments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(16))  # community | grid
    scope: Mapped[str] = mapped_column(String(64))  # the community's or the grid's id
    category: Mapped[str] = mapped_column(String(32))
    owner_before: Mapped[str] = mapped_column(String(80))
    owner_after: Mapped[str] = mapped_column(String(80))
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("case_disputes.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    made_by: Mapped[int] = mapped_column(BigInteger)  # staff: never public
    by_role: Mapped[str] = mapped_column(String(16))  # the adjudicator's role: public
    made_at: Mapped[datetime]


# --- organisations and volunteers (bot/services/participation/volunteers.py) ------------------


class Organisation(Base):
    """A social organisation or business a committee invited. Its profile (name, what it does,
    where) is public on the community's volunteer page; its contact's Telegram id never is.
    Only the invitation code's hash is kept; the code is used once."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="social")  # social | business
    about: Mapped[str] = mapped_column(Text, default="")
    area: Mapped[str] = mapped_column(String(256), default="")
    invite_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    invited_by: Mapped[int] = mapped_column(BigInteger)
    invited_at: Mapped[datetime]
    contact_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    joined_at: Mapped[datetime | None]


class CaseOffer(Base):
    """A case offered to one organisation (`lifecycle.offer_to_organisations`): its answer.
    offered → taken → done, offered → declined, offered → gone (another took it up first).
    One organisation takes a case up: a partial unique index holds it under any race. The
    done note is for staff (the case's timeline), never published by itself."""

    __tablename__ = "case_offers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    state: Mapped[str] = mapped_column(String(16), default="offered")
    offered_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    done_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("case_id", "organisation_id", name="uq_case_offers_case_org"),
        Index(
            "ux_case_offers_taken",
            "case_id",
            unique=True,
            postgresql_where=sql_text("state IN ('taken', 'done')"),
            sqlite_where=sql_text("state IN ('taken', 'done')"),
        ),
    )


class Volunteer(Base):
    """A resident who opted in as a volunteer: what they can do, when and where. Thanked in
    public only when `thank_publicly` (their own choice). Deleted by opting out or /forget."""

    __tablename__ = "volunteers"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    skills: Mapped[str] = mapped_column(String(256), default="")
    times: Mapped[str] = mapped_column(String(256), default="")
    area: Mapped[str] = mapped_column(String(256), default="")
    thank_publicly: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[datetime]


class VolunteerTask(Base):
    """A task or event (a clean-up, visits to elderly neighbours, help on a case) posted by a
    grid member or an organisation, with a capacity the database enforces: `claimed` never
    exceeds `capacity` (a CHECK, and claims move it by a conditional UPDATE). `place` is
    coarse (a grid, a street): never a resident's address; a task on a case names none of
    the resident's details."""

    __tablename__ = "volunteer_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[str] = mapped_column(String(64), index=True)
    grid_id: Mapped[str | None] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(256), default="")
    hours: Mapped[float] = mapped_column(Float, default=1.0)
    capacity: Mapped[int] = mapped_column(Integer)
    claimed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    organiser_id: Mapped[int] = mapped_column(BigInteger, index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    created_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("claimed >= 0 AND claimed <= capacity", name="ck_volunteer_capacity"),
    )


class VolunteerClaim(Base):
    """One volunteer on one task (claimed → withdrawn → claimed again → attended): one row per
    pair, a unique constraint, so a repeated press changes nothing. `hours` are counted when
    the organiser confirms attendance."""

    __tablename__ = "volunteer_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("volunteer_tasks.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))  # claimed | withdrawn | attended
    claimed_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    hours: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (UniqueConstraint("task_id", "user_id", name="uq_volunteer_claim"),)


class AssistedContact(Base):
    """How a resident without Telegram (a phone call, a walk-in) wants to hear back about the
    case staff filed for them, and that they agreed. The phone is for staff who may see the
    case (`access.may_see_contact`): never on a public page, Open311 or open data; erased on
    request and a month after the case closed."""

    __tablename__ = "assisted_contacts"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # phone | walk_in
    hear_back: Mapped[str] = mapped_column(String(16))  # printed | phone
    phone: Mapped[str | None] = mapped_column(String(32))
    consent_at: Mapped[datetime]
    recorded_by: Mapped[int] = mapped_column(BigInteger)


class CallBack(Base):
    """A step of an assisted case the resident hears of by phone: the owner is reminded to
    call them back, and presses *Called* once (`staff_intake.called_back`)."""

    __tablename__ = "call_backs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime]
    called_at: Mapped[datetime | None]
    called_by: Mapped[int | None] = mapped_column(BigInteger)


# --- cases that arrive from a link (交办, a lower level's report) or a hotline order ---------


class CaseIntake(Base):
    """Where a case received over Open311 from a link key or a hotline came from: the link's
    name and level, the sender's own reference (its id, a hotline's order id), and the
    receive-side hand-off deadlines: sign for it (accept) by `sign_by`, make first contact by
    `contact_by` (bot/services/cases/intake.py). The sender's reference is unique per key: the
    same order twice is one case. No person's identity is ever part of it."""

    __tablename__ = "case_intakes"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    kind: Mapped[str] = mapped_column(String(16))  # link | hotline
    link_name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))  # the sender's level (street, district, ...)
    remote_ref: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime]
    sign_by: Mapped[datetime]
    signed_at: Mapped[datetime | None]
    sign_missed_at: Mapped[datetime | None]
    contact_by: Mapped[datetime]
    contacted_at: Mapped[datetime | None]
    contact_missed_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]  # declined back to the sender

    __table_args__ = (
        UniqueConstraint("api_key_id", "remote_ref", name="uq_case_intakes_key_ref"),
        Index("ix_case_intakes_sign_due", "sign_by"),
        Index("ix_case_intakes_contact_due", "contact_by"),
        Index("ix_case_intakes_received", "received_at"),
    )


class RemoteUpdate(Base):
    """An update a client pushed (POST servicerequestupdates) about a case: the other side's
    step, on the staff timeline. `(api_key_id, update_id)` is unique: the same update twice is
    one row. Its description is the other side's text: staff read it, no public page does."""

    __tablename__ = "remote_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    update_id: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    media_url: Mapped[str | None] = mapped_column(String(1024))
    updated_at: Mapped[datetime]
    received_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("api_key_id", "update_id", name="uq_remote_updates_key_update"),
    )


class Proposal(Base):
    """A resident's proposal for their community (bot/services/participation/proposals.py).
    Public at once; `author_id` is never shown (and is emptied by /forget)."""

    __tablename__ = "proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    community_id: Mapped[str] = mapped_column(String(64), index=True)
    grid_id: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="en")
    title: Mapped[str] = mapped_column(String(160))
    text: Mapped[str] = mapped_column(Text)
    photo_file_id: Mapped[str | None] = mapped_column(String(256))
    place_text: Mapped[str | None] = mapped_column(String(256))
    cited_case_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # open | reached | accepted | declined | merged | expired (`proposals.Stage`)
    status: Mapped[str] = mapped_column(String(16), index=True)
    threshold: Mapped[int] = mapped_column(Integer)  # supports needed, fixed when published
    supports: Mapped[int] = mapped_column(Integer, default=0)  # counted from proposal_supports
    created_at: Mapped[datetime]
    window_ends_at: Mapped[datetime]
    reached_at: Mapped[datetime | None]
    answer_due: Mapped[datetime | None]
    late_at: Mapped[datetime | None]  # when the scheduler found the answer late
    answered_at: Mapped[datetime | None]
    answered_late: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_by: Mapped[int | None] = mapped_column(BigInteger)
    answer_reason: Mapped[str | None] = mapped_column(Text)  # public: the committee's answer
    merged_into: Mapped[int | None] = mapped_column(Integer)
    consultation_id: Mapped[int | None] = mapped_column(Integer)
    work_case_id: Mapped[int | None] = mapped_column(Integer)
    hidden_at: Mapped[datetime | None]
    hidden_reason: Mapped[str | None] = mapped_column(Text)  # public

    __table_args__ = (Index("ix_proposals_due", "status", "answer_due"),)


class ProposalSupport(Base):
    """One support: at most one per resident and proposal (the constraint, not a handler's
    check). /forget empties `user_id` and keeps the row: the support stays counted."""

    __tablename__ = "proposal_supports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    grid_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    follow: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("proposal_id", "user_id", name="uq_proposal_support_resident"),
    )


class ProposalPoint(Base):
    """A short point for or against, one of each per resident and proposal."""

    __tablename__ = "proposal_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    side: Mapped[str] = mapped_column(String(8))  # for | against
    text: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("proposal_id", "user_id", "side", name="uq_proposal_point_resident"),
    )


class ProposalEvent(Base):
    """A proposal's public history: published, reached, hidden, answered, late."""

    __tablename__ = "proposal_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    actor_role: Mapped[str] = mapped_column(String(16))  # resident | committee | system
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Handoff(Base):
    """A case handed to a link (an Open311 endpoint, the superior, a lower deployment):
    queued in the transaction that decided it, posted by the link worker (bot/runtime/links.py).

    Never two remote requests for one case: `attempt_id` is written and committed before a
    POST; the remote id (or token) is written in the transaction that records the send. A
    row left `sending` by a crash is looked up at the remote before anything is posted again
    (bot/services/cases/handoffs.py)."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    link_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))  # route | escalate | report_up | hand_down
    # pending | sending | token | sent | unknown | refused | done
    status: Mapped[str] = mapped_column(String(16))
    attempt_id: Mapped[str | None] = mapped_column(String(40))
    attempted_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    remote_id: Mapped[str | None] = mapped_column(String(64))
    token: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(16), default="submitted")
    step_at: Mapped[datetime | None]  # the remote time of the step in force
    remote_status: Mapped[str | None] = mapped_column(String(32))
    remote_external: Mapped[str | None] = mapped_column(String(64))
    remote_updated_at: Mapped[datetime | None]
    acked_at: Mapped[datetime | None]
    contacted_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    ack_missed_at: Mapped[datetime | None]
    contact_missed_at: Mapped[datetime | None]
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(300))
    alerted: Mapped[str | None] = mapped_column(String(32))  # the last problem leaders were told
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_handoffs_due", "status", "next_attempt_at"),
        Index("ix_handoffs_remote", "link_id", "remote_id"),
    )


class HandoffUpdate(Base):
    """One update heard from a link, kept once (`link_id`, `key`): the remote's update id, or
    its (request, status, time) where it gives none. Repeated updates change nothing."""

    __tablename__ = "handoff_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(160))
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id"), index=True)
    remote_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(32))
    external: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    description: Mapped[str | None] = mapped_column(Text)  # staff only, bounded
    # applied | same | older | backwards | unknown_status | unknown_case
    outcome: Mapped[str] = mapped_column(String(16))

    __table_args__ = (UniqueConstraint("link_id", "key", name="uq_handoff_updates_key"),)


class LinkState(Base):
    """How a link is doing: since when it is down, whether leaders were told, the cursor of
    the update poll and the last catch-up."""

    __tablename__ = "link_states"

    link_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    down_since: Mapped[datetime | None]
    told_down_at: Mapped[datetime | None]
    last_ok_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(32))
    polled_to: Mapped[datetime | None]
    caught_up_at: Mapped[datetime | None]
