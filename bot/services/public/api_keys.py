"""API keys for outside Open311 clients: issued once, stored hashed, revocable.

A key is shown to the operator exactly once (`gridvoice api-key create NAME`); the store
keeps its SHA-256 and a short prefix to recognise it in `api-key list`. Keys are long random
strings, so a plain hash (no salt, no slow KDF) is enough and lets a request find its key with
one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import ApiKey

KEY_PREFIX = "gv_"
MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class IssuedKey:
    id: int
    name: str
    key: str  # the secret: shown once, never stored


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


LINK_LEVELS = ("community", "street", "district", "city", "department", "hotline")
_LINK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")


async def create_key(
    session: AsyncSession,
    name: str,
    now: datetime,
    *,
    link: str | None = None,
    level: str | None = None,
) -> IssuedKey:
    """A new key; with `link` and `level`, a link key (cases it posts are hand-offs)."""
    name = name.strip()
    if not name or len(name) > 128:
        raise ValueError("a key needs a name of 1 to 128 characters")
    if (link is None) != (level is None):
        raise ValueError("a link key needs both a link name and a level")
    if link is not None and not _LINK_NAME.fullmatch(link):
        raise ValueError("a link name is 1 to 64 letters, digits, dots, dashes or underscores")
    if level is not None and level not in LINK_LEVELS:
        raise ValueError(f"a link's level is one of {', '.join(LINK_LEVELS)}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        key_hash=hash_key(key),
        prefix=key[:10],
        created_at=now,
        revoked_at=None,
        link_name=link,
        link_level=level,
    )
    session.add(row)
    await session.flush()
    return IssuedKey(id=row.id, name=name, key=key)


async def revoke_key(session: AsyncSession, key_id: int, now: datetime) -> ApiKey | None:
    row = await session.get(ApiKey, key_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
    return row


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list((await session.execute(select(ApiKey).order_by(ApiKey.id))).scalars().all())


async def check_key(session: AsyncSession, key: str | None) -> ApiKey | None:
    """The active key behind a presented secret, or None (missing, unknown or revoked)."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    digest = hash_key(key)
    row = (
        await session.execute(select(ApiKey).where(ApiKey.key_hash == digest))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, digest):
        return None
    return row


async def touch_key(session: AsyncSession, key_id: int, now: datetime) -> None:
    row = await session.get(ApiKey, key_id)
    if row is not None:
        row.last_used_at = now
