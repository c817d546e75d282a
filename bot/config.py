"""Typed settings, read once at start-up from the environment and the command line."""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from bot.bounds import parse_float


def default_database_url() -> str:
    """A SQLite file in the user's data directory: needs no server."""
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return f"sqlite+aiosqlite:///{base / 'gridvoice' / 'gridvoice.db'}"


class SettingsError(ValueError):
    """A setting of the environment that cannot be used; the message names it (the command
    line prints it as one line, with no traceback)."""


@dataclass(frozen=True)
class Settings:
    """Everything the bot needs to know about its deployment."""

    database_url: str = field(default_factory=default_database_url)
    token: str = "000000:gridvoice-dev-token"
    api_url: str = "https://api.telegram.org"
    gridmap_path: str | None = None
    lexicon_path: str | None = None
    # The category model a deployment trained on its own cases (`gridvoice model train`);
    # None = `category_model.npz` next to the SQLite database (or in the data directory).
    model_path: str | None = None
    # The classifier's second voter (multilingual sentence embeddings: the nearest messages of
    # the packaged corpus and of the deployment's settled cases vote; docs/classifier.md).
    # Loaded in the background at start-up; off with GRIDVOICE_CLASSIFIER_VOTER=0.
    classifier_voter: bool = True
    # The share the winner of the vote needs before the classifier answers instead of sending
    # the case to triage: the operating point (docs/classifier.md "Abstention"). None = the
    # classifier's own: 0.4 with the voter (precision when answering >= 0.92 on messages it
    # was not tuned on), 0.5 without; a value set here applies with and without the voter.
    # GRIDVOICE_CLASSIFIER_THRESHOLD.
    classifier_threshold: float | None = None
    default_language: str = "en"
    # Webhook mode: public URL and the secret Telegram must echo back.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    listen_host: str = "0.0.0.0"
    listen_port: int = 8080
    # Outbox pacing (Telegram: ~30 msg/s per bot, ~1 msg/s per private chat, 20/min per group).
    send_rate_global: float = 25.0
    send_rate_private: float = 1.0
    # Two at once, one short of the burst Telegram lets through: what a chat is sent is counted
    # where it arrives, so a send held up on its way (a busy host, a slow network) must not make
    # the next one arrive too close behind it.
    send_burst_private: int = 2
    send_rate_group: float = 20 / 60
    send_concurrency: int = 16
    max_send_attempts: int = 8
    # Announcements' direct messages (bot/services/participation/broadcast.py): read this many
    # recipients at a time, keep at most broadcast_backlog seconds of sending queued ahead;
    # with broadcast_paid the operator pays Telegram for `allow_paid_broadcast` and they go at
    # broadcast_paid_rate a second (Telegram allows up to 1,000) instead of send_rate_global.
    broadcast_batch: int = 500
    broadcast_backlog: float = 10.0
    broadcast_paid: bool = False
    broadcast_paid_rate: float = 1000.0
    # Messages (a conversation's and broadcasts', uploads aside) are sent through the courier,
    # a child process that journals what Telegram accepted, so a crash of the bot neither
    # loses nor repeats them (bot/runtime/courier.py). Its journals live in `courier_dir`
    # (None: a `courier` folder next to the SQLite database, or in the data directory).
    courier: bool = True
    courier_dir: str | None = None
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
    # Fair clocks (holds and extensions, bot/services/cases/lifecycle.py): the longest hold a
    # leader may approve, the longest extension of a resolve-by deadline, and how long a case
    # waiting for the resident's answer keeps its clock stopped.
    hold_max: timedelta = timedelta(days=14)
    extension_max: timedelta = timedelta(days=30)
    answer_wait: timedelta = timedelta(days=7)
    # Supervision (督办) and independent verification of closures (bot/services/cases/
    # verification.py): the supervision deadlines a supervisor picks from (days); the share of
    # closed cases drawn for a check (a hash of the case id and `verify_seed`: None takes the
    # bot token, which staff never see, so nobody can tell in advance which closure is checked),
    # how long after closing the check is asked, and how long an answer is awaited (then the
    # check counts as unverified).
    supervise_days: tuple[int, ...] = (1, 3, 7)
    verify_share: float = 0.10
    verify_seed: str | None = None
    verify_after: timedelta = timedelta(days=3)
    verify_within: timedelta = timedelta(days=7)
    # Joint handling and summons (吹哨报到, bot/services/cases/joint.py): a co-handler's task is
    # due this long after it is given; a summoned party signs in (报到) within `summons_sign`
    # and makes first contact within `summons_contact`, else the miss escalates and is counted.
    task_within: timedelta = timedelta(days=3)
    summons_sign: timedelta = timedelta(hours=1)
    summons_contact: timedelta = timedelta(hours=24)
    # Cases received from a link (交办 from a superior, a report from a lower deployment) or a
    # hotline (bot/services/cases/intake.py): sign for them (accept) within `handoff_sign` and
    # make first contact within `handoff_contact`; the map's `handoff:` section may say otherwise.
    handoff_sign: timedelta = timedelta(hours=1)
    handoff_contact: timedelta = timedelta(hours=24)
    # The scheduler sleeps until the next deadline it reads from the database, at most
    # `scheduler_idle` seconds (reminders, which follow working time, are looked for then);
    # `scheduler_interval` is its shortest pause, and its cadence under a manual clock.
    scheduler_interval: float = 5.0
    # Links to other systems (bot/runtime/links.py, docs/federation.md): how often updates are
    # polled, the window of the periodic catch-up and how often it runs, how long a link may be
    # down before leaders are told, the timeout of one remote call.
    link_poll_interval: float = 60.0
    link_catchup_window: timedelta = timedelta(hours=24)
    link_catchup_every: timedelta = timedelta(hours=24)
    link_down_alert: timedelta = timedelta(minutes=30)
    link_timeout: float = 15.0
    scheduler_idle: float = 60.0
    # How long a claimed inbox or outbox row is held before another process may take it over.
    inbox_lease: timedelta = timedelta(seconds=60)
    outbox_lease: timedelta = timedelta(seconds=60)
    poll_timeout: int = 25
    # Long polling asks for updates at most once in this many seconds while they keep coming
    # (bot/runtime/intake.py, `Poller`): under load they arrive in batches, one Bot API call and
    # one transaction for several; a quiet bot's long poll still answers the first at once.
    # 0 asks again as soon as a batch is handled.
    poll_interval: float = 0.1
    # The public web pages (dashboard, case pages): where residents reach them.
    public_url: str | None = None  # e.g. https://grid.example.org (GRIDVOICE_PUBLIC_URL)
    dashboard_min_cases: int = 10  # below this many cases a rate or a time reads "too few cases"
    dashboard_window: timedelta = timedelta(days=90)  # the period of times and rates
    dashboard_new: timedelta = timedelta(days=7)  # an open case this young is "new"
    dashboard_stale: timedelta = timedelta(days=14)  # an open case with no update this long: stale
    dashboard_weeks: int = 12  # weeks in the reported-vs-resolved chart
    dashboard_cache: timedelta = timedelta(seconds=30)  # how long computed figures are reused
    # Ratings are published only per grid and whole month, over at least this many ratings
    # (never fewer than 5: bot/services/public/ratings.py); satisfaction covers this many of the
    # last whole months.
    rating_min_count: int = 5
    dashboard_rating_months: int = 3
    # Public output (web pages, Open311, open data): never personal data, see
    # bot/services/public/cases.py. Free text is published only when staff approved it AND
    # the deployment turns this on.
    publish_descriptions: bool = False
    public_location_decimals: int = 3  # about 100 m: a block, never a front door
    open_data_licence: str = "CC-BY-4.0"  # or ODbL-1.0
    # Open311: the jurisdiction_id clients may send (None: any). Discovery names the endpoint
    # under public_url (above), or under the request's host when it is not set.
    open311_jurisdiction: str | None = None
    # Rate limits of the web edge (in-process token buckets, per replica).
    web_rate_per_ip: float = 10.0  # requests a second, sustained
    web_burst_per_ip: int = 60
    open311_posts_per_key_per_minute: float = 30.0
    open311_burst_per_key: int = 10
    # The web server's connections (bot/web/server.py): a request's headers must be in within
    # web_header_timeout seconds of its first byte, its body within web_body_timeout of the
    # headers (else 408); a keep-alive connection idle for web_idle_timeout is closed (keep it
    # above the proxy's own upstream idle timeout); one address holds at most
    # web_max_connections_per_ip connections at once (trusted proxies are not counted); a
    # client that takes nothing of an answer for web_send_timeout is dropped.
    web_header_timeout: float = 15.0
    web_body_timeout: float = 60.0
    web_idle_timeout: float = 75.0
    web_send_timeout: float = 60.0
    web_max_connections_per_ip: int = 50
    # Reverse proxies (addresses or networks) whose X-Forwarded-For and X-Forwarded-Proto are
    # believed (bot/web/forwarded.py); from any other peer those headers are ignored.
    web_trusted_proxies: tuple[str, ...] = ()
    # /metrics answers only `Authorization: Bearer <metrics_token>`; unset, /metrics is off.
    metrics_token: str | None = None
    # The staff desk (web/desk): how long a login lasts.
    desk_link_ttl: timedelta = timedelta(minutes=10)  # a /web one-time login link
    desk_init_data_max_age: timedelta = timedelta(hours=1)  # a Mini App's initData auth_date
    desk_session_idle: timedelta = timedelta(hours=8)  # a session unused this long ends
    desk_recheck_interval: float = 5.0  # seconds between checks for changes made by replicas

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """The settings of the environment's `DATABASE_URL`, `GRIDVOICE_*` ...; one that cannot
        be used raises `SettingsError`, whose message names it."""
        try:
            return cls._from_env(**overrides)
        except SettingsError:
            raise
        except ValueError as exc:  # a number that is not one: float("soon"), int("many")
            raise SettingsError(f"a setting in the environment is not valid: {exc}") from exc

    @classmethod
    def _from_env(cls, **overrides: object) -> Settings:
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
        if env.get("GRIDVOICE_MODEL"):
            values["model_path"] = env["GRIDVOICE_MODEL"]
        if env.get("GRIDVOICE_CLASSIFIER_VOTER"):
            values["classifier_voter"] = env["GRIDVOICE_CLASSIFIER_VOTER"].lower() in (
                "1",
                "true",
                "yes",
            )
        if env.get("GRIDVOICE_CLASSIFIER_THRESHOLD"):
            values["classifier_threshold"] = share(
                "GRIDVOICE_CLASSIFIER_THRESHOLD", env["GRIDVOICE_CLASSIFIER_THRESHOLD"]
            )
        for key, name in (
            ("inbox_lease", "GRIDVOICE_INBOX_LEASE"),
            ("outbox_lease", "GRIDVOICE_OUTBOX_LEASE"),
        ):
            if env.get(name):
                values[key] = timedelta(seconds=float(env[name]))
        if env.get("GRIDVOICE_PUBLIC_URL"):
            values["public_url"] = env["GRIDVOICE_PUBLIC_URL"].rstrip("/")
        if env.get("GRIDVOICE_PUBLISH_DESCRIPTIONS"):
            values["publish_descriptions"] = env["GRIDVOICE_PUBLISH_DESCRIPTIONS"].lower() in (
                "1",
                "true",
                "yes",
            )
        if env.get("GRIDVOICE_DASHBOARD_MIN_CASES"):
            values["dashboard_min_cases"] = max(1, int(env["GRIDVOICE_DASHBOARD_MIN_CASES"]))
        if env.get("GRIDVOICE_RATING_MIN_COUNT"):
            values["rating_min_count"] = max(5, int(env["GRIDVOICE_RATING_MIN_COUNT"]))
        if env.get("GRIDVOICE_VERIFY_SHARE"):
            values["verify_share"] = min(1.0, max(0.0, float(env["GRIDVOICE_VERIFY_SHARE"])))
        if env.get("GRIDVOICE_VERIFY_SEED"):
            values["verify_seed"] = env["GRIDVOICE_VERIFY_SEED"]
        # Joint handling and summons (吹哨报到): the times, at least a minute each.
        for key, name, unit in (
            ("summons_sign", "GRIDVOICE_SUMMONS_SIGN_MINUTES", 60.0),
            ("summons_contact", "GRIDVOICE_SUMMONS_CONTACT_HOURS", 3600.0),
            ("task_within", "GRIDVOICE_TASK_DAYS", 86400.0),
            ("handoff_sign", "GRIDVOICE_HANDOFF_SIGN_MINUTES", 60.0),
            ("handoff_contact", "GRIDVOICE_HANDOFF_CONTACT_HOURS", 3600.0),
            ("link_down_alert", "GRIDVOICE_LINK_DOWN_ALERT_MINUTES", 60.0),
            ("link_catchup_window", "GRIDVOICE_LINK_CATCHUP_HOURS", 3600.0),
        ):
            if env.get(name):
                values[key] = timedelta(seconds=max(60.0, float(env[name]) * unit))
        if env.get("GRIDVOICE_POLL_INTERVAL"):
            values["poll_interval"] = poll_interval(env["GRIDVOICE_POLL_INTERVAL"])
        if env.get("GRIDVOICE_LINK_POLL_SECONDS"):
            values["link_poll_interval"] = max(1.0, float(env["GRIDVOICE_LINK_POLL_SECONDS"]))
        if env.get("GRIDVOICE_OPEN_DATA_LICENCE"):
            values["open_data_licence"] = env["GRIDVOICE_OPEN_DATA_LICENCE"]
        if env.get("GRIDVOICE_WEB_RATE_PER_IP"):
            values["web_rate_per_ip"] = float(env["GRIDVOICE_WEB_RATE_PER_IP"])
        if env.get("GRIDVOICE_WEBHOOK_SECRET"):
            values["webhook_secret"] = env["GRIDVOICE_WEBHOOK_SECRET"]
        for key, name in (
            ("web_header_timeout", "GRIDVOICE_WEB_HEADER_TIMEOUT"),
            ("web_body_timeout", "GRIDVOICE_WEB_BODY_TIMEOUT"),
            ("web_idle_timeout", "GRIDVOICE_WEB_IDLE_TIMEOUT"),
            ("web_send_timeout", "GRIDVOICE_WEB_SEND_TIMEOUT"),
        ):
            if env.get(name):
                values[key] = _seconds(name, env[name])
        if env.get("GRIDVOICE_WEB_MAX_CONNECTIONS_PER_IP"):
            values["web_max_connections_per_ip"] = max(
                1, int(env["GRIDVOICE_WEB_MAX_CONNECTIONS_PER_IP"])
            )
        if env.get("GRIDVOICE_TRUSTED_PROXIES"):
            values["web_trusted_proxies"] = trusted_proxies(env["GRIDVOICE_TRUSTED_PROXIES"])
        for key, name in (
            ("send_rate_global", "GRIDVOICE_SEND_RATE"),
            ("broadcast_paid_rate", "GRIDVOICE_BROADCAST_PAID_RATE"),
        ):
            if env.get(name):
                values[key] = min(1000.0, max(1.0, float(env[name])))
        if env.get("GRIDVOICE_SEND_CONCURRENCY"):
            values["send_concurrency"] = min(256, max(1, int(env["GRIDVOICE_SEND_CONCURRENCY"])))
        if env.get("GRIDVOICE_COURIER"):
            values["courier"] = env["GRIDVOICE_COURIER"].lower() not in ("0", "false", "no", "off")
        if env.get("GRIDVOICE_COURIER_DIR"):
            values["courier_dir"] = env["GRIDVOICE_COURIER_DIR"]
        if env.get("GRIDVOICE_BROADCAST_PAID"):
            values["broadcast_paid"] = env["GRIDVOICE_BROADCAST_PAID"].lower() in (
                "1",
                "true",
                "yes",
            )
        if env.get("GRIDVOICE_METRICS_TOKEN"):
            values["metrics_token"] = env["GRIDVOICE_METRICS_TOKEN"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def data_directory(self) -> Path:
        """Where the deployment's own files live: beside the SQLite database, else the data
        directory."""
        if self.database_url.startswith("sqlite"):
            database = self.database_url.split(":///", 1)[-1]
            if database and database != ":memory:":
                return Path(database).parent
        return Path(default_database_url().split(":///", 1)[-1]).parent

    def category_model_file(self) -> Path:
        """Where the deployment's trained category model lives (it may not exist yet)."""
        if self.model_path:
            return Path(self.model_path)
        return self.data_directory() / "category_model.npz"

    def courier_directory(self) -> Path:
        """Where the courier keeps its journals (bot/runtime/courier.py)."""
        if self.courier_dir:
            return Path(self.courier_dir)
        return self.data_directory() / "courier"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def share(name: str, text: str) -> float:
    """A share between 0 and 1 (a threshold), checked at start-up."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0.0 < value <= 1.0:
        raise SettingsError(f"{name} must be a number above 0 and at most 1, not {text!r}")
    return value


def poll_interval(text: str) -> float:
    """`GRIDVOICE_POLL_INTERVAL`: 0 to 1 second, checked at start-up (a longer pause would be
    felt in every answer under load)."""
    value = parse_float(text.strip(), low=0.0, high=1.0)
    if value is None:
        raise SettingsError(f"GRIDVOICE_POLL_INTERVAL must be 0 to 1 seconds, not {text!r}")
    return value


def _seconds(name: str, text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise SettingsError(f"{name} must be a number of seconds above 0, not {text!r}")
    return value


def trusted_proxies(text: str) -> tuple[str, ...]:
    """A comma-separated list of addresses and networks (`10.0.0.0/8, 127.0.0.1, ::1`),
    checked at start-up: a typo must not silently trust nobody, or everybody."""
    entries = tuple(part.strip() for part in text.split(",") if part.strip())
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise SettingsError(
                f"GRIDVOICE_TRUSTED_PROXIES: {entry!r} is not an address or a network"
            ) from None
    return entries


def normalise_database_url(url: str) -> str:
    """Accept the usual `postgres://` and `postgresql://` forms and pick the async driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///"):
        url = "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url
