"""Web sign-in without passwords: one-time /web links, Mini App initData, sessions — for the
staff's desk and, with the same links and sessions, for residents on the public pages.

A login link is a random nonce with an HMAC signature (so a forged one is refused before the
database is asked); only its SHA-256 is stored, and it is spent by one conditional UPDATE, so it
opens at most one session however often it is replayed. A session is a random cookie whose
hash is the row's key; each carries its own CSRF token. Every request re-reads the staff table:
a deactivated person's sessions end at once.

A link and a session have a scope: `DESK` (active staff) or `RESIDENT` (a registered resident:
consent given, not forgotten). The scope is in the link's signature (a resident's link does not
verify as a desk link, whatever is done to it) and in the session's `via` (`resident-link`,
`resident-app`). A resident session never opens the desk — `signed_in` refuses it even when
the same person is staff — and a desk session is never a resident one (`resident_signed_in`).
What a resident may do with it is the services' rule, as in the chat (a proposal needs a
verified resident of the community, bot/services/participation/proposals.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from sqlalchemy import select, update

from bot.bounds import same_secret
from bot.config import Settings
from bot.services.shared.domain import Domain, UnitOfWork
from bot.store.models import DeskLoginLink, DeskSession, StaffMember, User

# How often a session's last-seen time is written (not on every page view).
SEEN_RESOLUTION = timedelta(minutes=1)

# The two scopes of a link and a session (see the module's text).
DESK = "desk"
RESIDENT = "resident"
RESIDENT_VIA = "resident-"  # a resident session's `via` starts so: resident-link, resident-app


class DeskAuthError(Exception):
    """A login that must be refused; `key` names the page text that says why."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class ResidentIn:
    """A live resident session and the resident behind it (never a desk session)."""

    session: DeskSession
    user: User

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def csrf(self) -> str:
        return self.session.csrf


@dataclass(frozen=True)
class SignedIn:
    """A live desk session and the staff member behind it."""

    session: DeskSession
    staff: StaffMember

    @property
    def staff_id(self) -> int:
        return self.staff.telegram_id

    @property
    def csrf(self) -> str:
        return self.session.csrf


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _signature(settings: Settings, nonce: str, scope: str = DESK) -> str:
    purpose = b"gridvoice-desk-link:" if scope == DESK else b"gridvoice-resident-link:"
    key = hashlib.sha256(purpose + settings.token.encode()).digest()
    mac = hmac.new(key, nonce.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def well_formed(settings: Settings, token: str, scope: str = DESK) -> bool:
    """The token carries our signature for this scope (a guessed or altered one does not, nor
    a link of the other scope)."""
    nonce, _, signature = token.partition(".")
    if not nonce or not signature or len(token) > 128:
        return False
    return same_secret(signature, _signature(settings, nonce, scope))


async def web_resident(uow: UnitOfWork, user_id: int) -> User | None:
    """The registered resident behind this id (consent given, not forgotten), or None."""
    user = await uow.session.get(User, user_id, populate_existing=True)
    if user is None or user.erased_at is not None or user.consent_at is None:
        return None
    return user


async def desk_staff(uow: UnitOfWork, user_id: int) -> StaffMember | None:
    """The active staff row of this person, read from the table (not a cached map)."""
    row = await uow.session.get(StaffMember, user_id, populate_existing=True)
    return row if row is not None and row.active else None


def login_url(domain: Domain, token: str) -> str | None:
    base = domain.settings.public_url or getattr(domain, "web_url", None)
    return f"{base.rstrip('/')}/desk/login?token={token}" if base else None


def resident_login_url(domain: Domain, token: str) -> str | None:
    base = domain.settings.public_url or getattr(domain, "web_url", None)
    return f"{base.rstrip('/')}/signin?token={token}" if base else None


def web_app_url(settings: Settings, scope: str = DESK) -> str | None:
    """The Mini App's address (the desk's, or the residents' sign-in); Telegram opens Web Apps
    over HTTPS only."""
    base = settings.public_url
    path = "/desk/app" if scope == DESK else "/signin/app"
    return f"{base.rstrip('/')}{path}" if base and base.startswith("https://") else None


async def issue_link(uow: UnitOfWork, user_id: int, scope: str = DESK) -> str:
    """A one-time login link token: for the desk, an active staff member's (residents are
    refused); for residents, a registered resident's."""
    if scope == DESK and await desk_staff(uow, user_id) is None:
        raise DeskAuthError("not_staff")
    if scope == RESIDENT and await web_resident(uow, user_id) is None:
        raise DeskAuthError("not_resident")
    nonce = secrets.token_urlsafe(24)
    token = f"{nonce}.{_signature(uow.settings, nonce, scope)}"
    uow.session.add(
        DeskLoginLink(
            token_hash=token_hash(token),
            staff_id=user_id,
            created_at=uow.now,
            expires_at=uow.now + uow.settings.desk_link_ttl,
        )
    )
    return token


async def link_holder(uow: UnitOfWork, token: str) -> StaffMember:
    """Whom a login link signs in, without spending it (the sign-in page names them), or
    DeskAuthError saying why it would be refused (unknown, used, expired, not staff)."""
    link = await _live_link(uow, token, DESK)
    staff = await desk_staff(uow, link.staff_id)
    if staff is None:
        raise DeskAuthError("not_staff")
    return staff


async def resident_link_holder(uow: UnitOfWork, token: str) -> User:
    """The resident a resident's login link signs in, without spending it."""
    link = await _live_link(uow, token, RESIDENT)
    user = await web_resident(uow, link.staff_id)
    if user is None:
        raise DeskAuthError("not_resident")
    return user


async def _live_link(uow: UnitOfWork, token: str, scope: str) -> DeskLoginLink:
    if not well_formed(uow.settings, token, scope):
        raise DeskAuthError("link_invalid")
    link = await uow.session.get(DeskLoginLink, token_hash(token))
    if link is None:
        raise DeskAuthError("link_invalid")
    if link.used_at is not None:
        raise DeskAuthError("link_used")
    if link.expires_at <= uow.now:
        raise DeskAuthError("link_expired")
    return link


async def redeem_link(uow: UnitOfWork, token: str) -> tuple[str, SignedIn]:
    """Spend a login link: a new session, or DeskAuthError (unknown, used, expired, not staff)."""
    return await open_session(uow, await _spend(uow, token, DESK), "link")


async def redeem_resident_link(uow: UnitOfWork, token: str) -> tuple[str, ResidentIn]:
    """Spend a resident's login link: a new resident session, or DeskAuthError."""
    return await open_resident_session(uow, await _spend(uow, token, RESIDENT), "link")


async def _spend(uow: UnitOfWork, token: str, scope: str) -> int:
    """Spend a link of this scope once; the id it was issued to."""
    if not well_formed(uow.settings, token, scope):
        raise DeskAuthError("link_invalid")
    digest = token_hash(token)
    spent = (
        await uow.session.execute(
            update(DeskLoginLink)
            .where(
                DeskLoginLink.token_hash == digest,
                DeskLoginLink.used_at.is_(None),
                DeskLoginLink.expires_at > uow.now,
            )
            .values(used_at=uow.now)
            .returning(DeskLoginLink.staff_id)
        )
    ).scalar_one_or_none()
    if spent is None:
        link = await uow.session.get(DeskLoginLink, digest)
        if link is None:
            raise DeskAuthError("link_invalid")
        raise DeskAuthError("link_used" if link.used_at is not None else "link_expired")
    return int(spent)


def check_init_data(
    init_data: str, bot_token: str, now: datetime, max_age: timedelta
) -> dict[str, object]:
    """Validate a Mini App's initData (Telegram's HMAC-SHA256 scheme); returns its user.

    secret = HMAC_SHA256(key="WebAppData", msg=bot_token); the hash is HMAC_SHA256 of the
    sorted `key=value` lines (all fields but `hash`) under that secret.
    """
    if not init_data or len(init_data) > 8192:
        raise DeskAuthError("init_data_invalid")
    fields = dict(parse_qsl(init_data, keep_blank_values=True, strict_parsing=False))
    given = fields.pop("hash", "")
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    if not given or not same_secret(given, expected):
        raise DeskAuthError("init_data_invalid")
    try:
        auth_date = int(fields.get("auth_date", ""))
        user = json.loads(fields.get("user", ""))
    except ValueError:
        raise DeskAuthError("init_data_invalid") from None
    age = now.timestamp() - auth_date
    if age > max_age.total_seconds() or age < -60:
        raise DeskAuthError("init_data_stale")
    if not isinstance(user, dict) or not isinstance(user.get("id"), int):
        raise DeskAuthError("init_data_invalid")
    return user


def sign_init_data(fields: dict[str, str], bot_token: str) -> str:
    """initData as Telegram builds it (for the emulator, the demo and tests)."""
    from urllib.parse import urlencode

    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


async def login_web_app(uow: UnitOfWork, init_data: str) -> tuple[str, SignedIn]:
    user = check_init_data(
        init_data, uow.settings.token, uow.now, uow.settings.desk_init_data_max_age
    )
    return await open_session(uow, int(user["id"]), "webapp")  # type: ignore[call-overload]


async def login_resident_web_app(uow: UnitOfWork, init_data: str) -> tuple[str, ResidentIn]:
    """The Mini App's initData, checked as for the desk, opens a resident session."""
    user = check_init_data(
        init_data, uow.settings.token, uow.now, uow.settings.desk_init_data_max_age
    )
    return await open_resident_session(uow, int(user["id"]), "app")  # type: ignore[call-overload]


async def open_session(uow: UnitOfWork, staff_id: int, via: str) -> tuple[str, SignedIn]:
    staff = await desk_staff(uow, staff_id)
    if staff is None:
        raise DeskAuthError("not_staff")
    token = secrets.token_urlsafe(32)
    session = DeskSession(
        token_hash=token_hash(token),
        staff_id=staff_id,
        csrf=secrets.token_urlsafe(24),
        via=via,
        created_at=uow.now,
        seen_at=uow.now,
    )
    uow.session.add(session)
    return token, SignedIn(session, staff)


async def open_resident_session(uow: UnitOfWork, user_id: int, via: str) -> tuple[str, ResidentIn]:
    user = await web_resident(uow, user_id)
    if user is None:
        raise DeskAuthError("not_resident")
    token = secrets.token_urlsafe(32)
    session = DeskSession(
        token_hash=token_hash(token),
        staff_id=user_id,  # the person's Telegram id, whatever the scope
        csrf=secrets.token_urlsafe(24),
        via=RESIDENT_VIA + via,
        created_at=uow.now,
        seen_at=uow.now,
    )
    uow.session.add(session)
    return token, ResidentIn(session, user)


async def _live_session(uow: UnitOfWork, token: str | None, scope: str) -> DeskSession | None:
    if not token or len(token) > 128:
        return None
    session = await uow.session.get(DeskSession, token_hash(token))
    if session is None or session.ended_at is not None:
        return None
    if session.via.startswith(RESIDENT_VIA) != (scope == RESIDENT):
        return None  # the other scope's session: not ended, simply not this one
    if uow.now - session.seen_at > uow.settings.desk_session_idle:
        session.ended_at = uow.now
        return None
    return session


def _seen(uow: UnitOfWork, session: DeskSession) -> None:
    if uow.now - session.seen_at >= SEEN_RESOLUTION:
        session.seen_at = uow.now


async def signed_in(uow: UnitOfWork, token: str | None) -> SignedIn | None:
    """The desk session behind a cookie, if it is live and its person is still active staff
    (a resident session is never one, even of a person who is staff)."""
    session = await _live_session(uow, token, DESK)
    if session is None:
        return None
    staff = await desk_staff(uow, session.staff_id)
    if staff is None:
        session.ended_at = uow.now
        return None
    _seen(uow, session)
    return SignedIn(session, staff)


async def resident_signed_in(uow: UnitOfWork, token: str | None) -> ResidentIn | None:
    """The resident session behind a cookie, if it is live and its resident is still
    registered (/forget ends it at once)."""
    session = await _live_session(uow, token, RESIDENT)
    if session is None:
        return None
    user = await web_resident(uow, session.staff_id)
    if user is None:
        session.ended_at = uow.now
        return None
    _seen(uow, session)
    return ResidentIn(session, user)


async def end_session(uow: UnitOfWork, token: str | None) -> None:
    if token:
        session = await uow.session.get(DeskSession, token_hash(token))
        if session is not None and session.ended_at is None:
            session.ended_at = uow.now


async def end_sessions_of(uow: UnitOfWork, staff_id: int) -> int:
    """End every open session of a person (deactivation)."""
    result = await uow.session.execute(
        update(DeskSession)
        .where(DeskSession.staff_id == staff_id, DeskSession.ended_at.is_(None))
        .values(ended_at=uow.now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def csrf_ok(signed: SignedIn | ResidentIn, given: str | None) -> bool:
    return bool(given) and same_secret(given, signed.csrf)


async def open_sessions(uow: UnitOfWork) -> int:
    """How many sessions are open (for tests and /metrics)."""
    from sqlalchemy import func

    stmt = select(func.count()).where(DeskSession.ended_at.is_(None))
    return int((await uow.session.execute(stmt)).scalar_one())
