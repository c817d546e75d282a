"""The one factory that production, tests, the demo and benchmarks all call.

`Gridvoice` builds the python-telegram-bot `Application` (used for its `Bot`: requests,
retries, error types), the domain, and the loops that make up the running bot:

    intake (long polling or webhook) -> inbox -> processor -> handlers -> services
        -> store + outbox (one transaction) -> sender -> Telegram
    scheduler -> deadlines in rows -> escalations, reminders, auto-close
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlparse

from aiohttp import web
from telegram.ext import Application, ApplicationBuilder

from bot.clock import Clock
from bot.config import Settings
from bot.runtime.broadcaster import Broadcaster
from bot.runtime.files import BotFiles
from bot.runtime.intake import ALLOWED_UPDATES, Poller
from bot.runtime.links import LinkWorker
from bot.runtime.metrics import Metrics
from bot.runtime.processor import Processor
from bot.runtime.sender import Sender
from bot.runtime.web import build_web_app, web_runner
from bot.services.scheduler import Scheduler
from bot.services.shared.domain import Domain
from bot.store.db import listen, upgrade
from handlers.dispatch import Dispatcher

log = logging.getLogger(__name__)

COMMANDS = [
    ("start", "Start / 开始"),
    ("report", "Report a problem / 反映问题"),
    ("my", "My cases / 我的诉求"),
    ("mygrid", "My grid / 我的网格"),
    ("propose", "Propose an improvement / 提出建议"),
    ("proposals", "Proposals to support / 居民建议"),
    ("cancel", "Cancel / 取消"),
    ("language", "Language / 语言"),
    ("privacy", "Privacy / 隐私"),
    ("mydata", "My data / 我的数据"),
    ("forget", "Erase my data / 删除我的数据"),
    ("help", "Help / 帮助"),
]


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    api = settings.api_url.rstrip("/")
    return (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .updater(None)
        .connection_pool_size(max(8, settings.send_concurrency + 4))
        .pool_timeout(30)
        .get_updates_connection_pool_size(2)
        .build()
    )


class Gridvoice:
    """A running bot: start() it, stop() it; nothing lives only in its memory."""

    def __init__(
        self, settings: Settings, *, clock: Clock | None = None, webhook: bool | None = None
    ) -> None:
        self.settings = settings
        self.domain = Domain(settings, clock=clock)
        self.application = build_application(settings)
        self.bot = self.application.bot
        self.files = BotFiles(self.domain, self.bot)
        self.metrics = Metrics()
        self.dispatcher = Dispatcher()
        self.processor = Processor(self.domain, self.bot, self.dispatcher, self.metrics)
        self.sender = Sender(self.domain, self.bot, self.metrics)
        self.scheduler = Scheduler(self.domain)
        self.broadcaster = Broadcaster(self.domain, self.bot, self.metrics)
        self.links = LinkWorker(self.domain, self.metrics)  # hand-offs to other systems
        self.webhook = bool(settings.webhook_url) if webhook is None else webhook
        self.poller = (
            None
            if self.webhook
            else Poller(self.domain, self.bot, self.metrics, take_in=self.processor.take_in)
        )
        self._listening = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.listener: asyncio.Task[None] | None = None
        self.warm_task: asyncio.Task[None] | None = None
        self.links_task: asyncio.Task[None] | None = None
        self.runner: web.AppRunner | None = None
        self.web_url: str | None = None

    @property
    def webhook_path(self) -> str | None:
        if not self.settings.webhook_url:
            return None
        return urlparse(self.settings.webhook_url).path or "/"

    async def start(self, *, migrate: bool = True, serve_http: bool = True) -> None:
        if migrate:
            await upgrade(self.settings.database_url)
        await self.application.initialize()
        me = await self.bot.get_me()
        self.domain.bot_username = me.username
        await self.domain.reload_routing(force=True)
        if not self.domain.has_routing:
            log.warning("no grid map loaded yet: run `gridvoice grids load FILE`")
        await self._telegram_setup()
        if serve_http:
            await self._serve_http()
        await self.sender.take_back_leases()
        await self.processor.take_back_leases()
        loops = [self.processor.run(), self.sender.run(), self.scheduler.run()]
        if self.poller is not None:
            loops.append(self.poller.run())
        loops.append(self.broadcaster.run())
        self.tasks = [asyncio.create_task(c) for c in loops]
        self.links_task = asyncio.create_task(self.links.run())
        if not self.domain.sqlite:
            # replicas wake each other: a row another process commits wakes our loop at once
            self._listening.clear()
            self.listener = asyncio.create_task(
                listen(
                    self.settings.database_url,
                    {
                        "outbox": self.domain.outbox_written.set,
                        "inbox": self.domain.inbox_written.set,
                    },
                    self._listening,
                )
            )
        if self.settings.classifier_voter:
            # about 1 s in a worker thread: the bot answers meanwhile, without the second vote
            self.warm_task = asyncio.create_task(self._warm_classifier())

    async def _warm_classifier(self) -> None:
        from bot.services.cases.neighbours import fill_missing

        try:
            if await self.domain.warm_classifier():
                await fill_missing(self.domain)
        except Exception:  # the classifier answers without the vote; never a crash
            log.exception("the classifier's second voter: start-up failed")

    async def _telegram_setup(self) -> None:
        await self.bot.do_api_request(
            "setMyCommands",
            api_kwargs={"commands": [{"command": c, "description": d} for c, d in COMMANDS]},
        )
        if self.webhook and self.settings.webhook_url:
            kwargs = {"url": self.settings.webhook_url, "allowed_updates": ALLOWED_UPDATES}
            if self.settings.webhook_secret:
                kwargs["secret_token"] = self.settings.webhook_secret
            await self.bot.do_api_request("setWebhook", api_kwargs=kwargs)
        elif not self.webhook:
            await self.bot.do_api_request("deleteWebhook", api_kwargs={})

    async def _serve_http(self) -> None:
        app = build_web_app(self, self.webhook_path)
        self.runner = web_runner(self, app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.settings.listen_host, self.settings.listen_port)
        await site.start()
        port = self.settings.listen_port
        if port == 0 and self.runner.addresses:
            port = self.runner.addresses[0][1]
        self.web_url = f"http://{self.settings.listen_host}:{port}"
        local = self.web_url.replace("://0.0.0.0:", "://127.0.0.1:")  # a link one can open
        self.domain.web_url = self.settings.public_url or local

    async def stop(self) -> None:
        for loop in (
            self.processor,
            self.sender,
            self.scheduler,
            self.poller,
            self.broadcaster,
            self.links,
        ):
            if loop is not None:
                loop.stop()
        if self.links_task is not None:
            # a call in flight is abandoned: its row stays `sending` and is looked up next time
            try:
                await asyncio.wait_for(asyncio.shield(self.links_task), timeout=2.0)
            except (TimeoutError, asyncio.CancelledError):
                self.links_task.cancel()
                await asyncio.gather(self.links_task, return_exceptions=True)
            self.links_task = None
        self._listening.set()
        if self.listener is not None:
            self.listener.cancel()
            await asyncio.gather(self.listener, return_exceptions=True)
            self.listener = None
        if self.warm_task is not None:
            self.warm_task.cancel()
            await asyncio.gather(self.warm_task, return_exceptions=True)
            self.warm_task = None
        # Drain: let calls already made to Telegram finish and be marked sent (no repeats after a
        # graceful stop), then cancel whatever is still waiting (a long poll, a pacing sleep).
        if self.poller is not None and len(self.tasks) > 3:
            self.tasks[
                3
            ].cancel()  # a long poll holds nothing: the offset moves only after a commit
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5.0)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        try:
            await self.application.shutdown()
        except Exception:  # pragma: no cover - best effort on shutdown
            log.debug("application shutdown", exc_info=True)
        await self.domain.dispose()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()
