"""Typed settings, read once at start-up from the environment and the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path


def default_database_url() -> str:
    """A SQLite file in the user's data directory: needs no server."""
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return f"sqlite+aiosqlite:///{base / 'gridvoice' / 'gridvoice.db'}"


@dataclass(frozen=True)
class Settings:
    """Everything the bot needs to know about its deployment."""

    database_url: str = field(default_factory=default_database_url)
    token: str = "000000:gridvoice-dev-token"
    api_url: str = "https://api.telegram.org"
    gridmap_path: str | None = None
    lexicon_path: str | None = None
    default_language: str = "en"
    # Webhook mode: public URL and the secret Telegram must echo back.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    listen_host: str = "0.0.0.0"
    listen_port: int = 8080
    # Outbox pacing (Telegram: ~30 msg/s per bot, ~1 msg/s per private chat, 20/min per group).
    send_rate_global: float = 25.0
    send_rate_private: float = 1.0
    send_burst_private: int = 3
    send_rate_group: float = 20 / 60
    send_concurrency: int = 16
    max_send_attempts: int = 8
    # Abuse limits.
    max_text_length: int = 2000
    max_photo_bytes: int = 10 * 1024 * 1024
    max_photos_per_report: int = 10
    user_rate_per_minute: int = 20
    # Case lifecycle.
    reopen_window: timedelta = timedelta(days=7)
    auto_close_after: timedelta = timedelta(days=3)
    follow_up_after: timedelta | None = timedelta(days=14)
    reminder_before: timedelta = timedelta(minutes=30)
    scheduler_interval: float = 5.0
    # How long a claimed inbox or outbox row is held before another process may take it over.
    inbox_lease: timedelta = timedelta(seconds=60)
    outbox_lease: timedelta = timedelta(seconds=60)
    poll_timeout: int = 25
    # The staff desk (web/desk): where people reach the HTTP edge, and how long a login lasts.
    public_url: str | None = None  # e.g. https://grid.example.org; links and the Mini App use it
    desk_link_ttl: timedelta = timedelta(minutes=10)  # a /web one-time login link
    desk_init_data_max_age: timedelta = timedelta(hours=1)  # a Mini App's initData auth_date
    desk_session_idle: timedelta = timedelta(hours=8)  # a session unused this long ends
    desk_recheck_interval: float = 5.0  # seconds between checks for changes made by replicas

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {}
        if env.get("DATABASE_URL"):
            values["database_url"] = normalise_database_url(env["DATABASE_URL"])
        if env.get("TELEGRAM_BOT_TOKEN"):
            values["token"] = env["TELEGRAM_BOT_TOKEN"]
        if env.get("GRIDVOICE_API_URL"):
            values["api_url"] = env["GRIDVOICE_API_URL"]
        if env.get("GRIDVOICE_GRIDMAP"):
            values["gridmap_path"] = env["GRIDVOICE_GRIDMAP"]
        if env.get("GRIDVOICE_LEXICON"):
            values["lexicon_path"] = env["GRIDVOICE_LEXICON"]
        for key, name in (
            ("inbox_lease", "GRIDVOICE_INBOX_LEASE"),
            ("outbox_lease", "GRIDVOICE_OUTBOX_LEASE"),
        ):
            if env.get(name):
                values[key] = timedelta(seconds=float(env[name]))
        if env.get("GRIDVOICE_PUBLIC_URL"):
            values["public_url"] = env["GRIDVOICE_PUBLIC_URL"].rstrip("/")
        if env.get("GRIDVOICE_WEBHOOK_SECRET"):
            values["webhook_secret"] = env["GRIDVOICE_WEBHOOK_SECRET"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def normalise_database_url(url: str) -> str:
    """Accept the usual `postgres://` and `postgresql://` forms and pick the async driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///"):
        url = "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url
