"""Time as the domain sees it: real in production, controllable in tests and demos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock(Clock):
    """A clock that moves only when told to (escalation tests, scripted demos)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; treat every stored value as UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def wall_now() -> datetime:
    """Real time, for leases and retries, which run on real time even under a ManualClock."""
    return datetime.now(UTC)
