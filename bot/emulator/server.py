"""HTTP layer of the Telegram Bot API emulator: routing, parameter parsing, answers.

``create_app`` builds the aiohttp application; ``start_emulator`` runs it inside the
current event loop (tests, demo, benchmarks); ``serve`` blocks (the ``gridvoice sim``
command).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.emulator.call import Call, Upload
from bot.emulator.control import setup_control
from bot.emulator.flood import FloodControl
from bot.emulator.methods import METHODS, missing_parameter
from bot.emulator.state import World
from bot.emulator.validation import ApiError, SpecChecker
from bot.emulator.webhook import WebhookDeliverer

log = logging.getLogger(__name__)

WORLD = web.AppKey("world", World)
FLOOD = web.AppKey("flood", FloodControl)
SPEC = web.AppKey("spec", object)
WEBHOOK = web.AppKey("webhook", WebhookDeliverer)

_ATTACH_RE = re.compile(r"attach://([A-Za-z0-9_.\-]+)")


def _answer(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    params: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.method != "POST" or not request.can_read_body:
        return params, uploads
    ctype = request.content_type
    if ctype == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON") from None
        if isinstance(body, dict):
            params.update(body)
    elif ctype == "multipart/form-data":
        reader = await request.multipart()
        async for part in reader:
            name = part.name or ""
            if part.filename is not None:
                data = bytes(await part.read())
                uploads[name] = Upload(
                    part.filename,
                    data,
                    part.headers.get("Content-Type", "application/octet-stream"),
                )
            else:
                params[name] = await part.text()
    else:
        post = await request.post()
        for key, value in post.items():
            if isinstance(value, web.FileField):
                uploads[key] = Upload(value.filename, value.file.read(), value.content_type)
            else:
                params[key] = value
    return params, uploads


def _loggable(params: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
    shown = dict(params)
    for name, up in uploads.items():
        shown[name] = f"<upload {up.filename} {len(up.data)} bytes>"
    return shown


def _attached(params: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for value in params.values():
        if isinstance(value, str):
            names.update(_ATTACH_RE.findall(value))
        elif isinstance(value, list | dict):
            names.update(_ATTACH_RE.findall(json.dumps(value)))
    return names


async def _bot_api(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    token = request.match_info["token"]
    method_name = request.match_info["method"]
    world.bot_from_token(token)
    entry: dict[str, Any] = {"method": method_name, "time": world.now()}
    world.calls.append(entry)
    params: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    try:
        params, uploads = await _read_params(request)
        method = METHODS.get(method_name.lower())
        if method is None:
            raise ApiError(404, "Not Found")
        entry["method"] = method.name
        spec: SpecChecker | None = request.app[SPEC]  # type: ignore[assignment]
        if spec is not None:
            given = {k: v for k, v in params.items()}
            given.update({k: "" for k in uploads})
            violation = spec.check(method.name, given, _attached(params))
            if violation:
                entry["spec_violation"] = violation
                raise ApiError(400, f"Bad Request: {violation}")
        call = Call(
            method=method.name,
            params=params,
            world=world,
            flood=request.app[FLOOD],
            webhook=request.app[WEBHOOK],
            uploads=uploads,
        )
        for name, required in method.params.items():
            if required and not call.has(name):
                raise missing_parameter(name)
        result = await method.handler(call)
        body: dict[str, Any] = {"ok": True, "result": result}
        status = 200
    except ApiError as err:
        status = err.code
        body = {"ok": False, "error_code": err.code, "description": err.description}
        if err.parameters:
            body["parameters"] = err.parameters
        entry["error"] = err.description
    except Exception:  # pragma: no cover - a bug in the emulator itself
        log.exception("emulator failed on %s", method_name)
        status = 500
        body = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        entry["error"] = body["description"]
    entry["params"] = _loggable(params, uploads)
    entry["status"] = status
    if status == 200 and entry["method"] != "getUpdates":
        entry["result"] = body["result"]
    return _answer(status, body)


async def _file(request: web.Request) -> web.StreamResponse:
    stored = request.app[WORLD].files_by_path.get(request.match_info["path"])
    if stored is None:
        return _answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
    return web.Response(body=stored.data, content_type="application/octet-stream")


async def _on_startup(app: web.Application) -> None:
    await app[WEBHOOK].start()


async def _on_shutdown(app: web.Application) -> None:
    # A long poll still open would hold the server's shutdown for its whole timeout: answer it.
    world = app[WORLD]
    world.closing = True
    world.notify()


async def _on_cleanup(app: web.Application) -> None:
    await app[WEBHOOK].stop()


def create_app(
    *,
    flood: bool = False,
    spec_path: str | None = None,
    clock: Callable[[], float] | None = None,
) -> web.Application:
    """Build the emulator application (Bot API, file downloads and the /sim control API).

    ``spec_path`` (or the ``GRIDVOICE_BOTAPI_SPEC`` environment variable) enables checking
    every call against the official api.json; ``clock`` replaces ``time.time``.
    """
    app = web.Application(client_max_size=64 * 1024 * 1024)
    world = World(clock)
    app[WORLD] = world
    app[FLOOD] = FloodControl(enabled=flood)
    app[SPEC] = SpecChecker.from_env(spec_path)
    app[WEBHOOK] = WebhookDeliverer(world)
    app.router.add_route("*", r"/bot{token}/{method}", _bot_api)
    app.router.add_get(r"/file/bot{token}/{path:.+}", _file)
    setup_control(app, world, app[FLOOD])
    app.on_startup.append(_on_startup)
    app.on_shutdown.append(_on_shutdown)
    app.on_cleanup.append(_on_cleanup)
    return app


@dataclass
class RunningEmulator:
    """An emulator started with :func:`start_emulator`."""

    url: str
    app: web.Application
    runner: web.AppRunner

    @property
    def state(self) -> World:
        return self.app[WORLD]

    @property
    def flood(self) -> FloodControl:
        return self.app[FLOOD]

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_emulator(host: str = "127.0.0.1", port: int = 0, **kw: Any) -> RunningEmulator:
    """Start the emulator in the running event loop; ``port=0`` picks a free port."""
    app = create_app(**kw)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    addresses = runner.addresses
    actual = addresses[0][1] if addresses else port
    return RunningEmulator(url=f"http://{host}:{actual}", app=app, runner=runner)


def serve(host: str = "127.0.0.1", port: int = 8081, **kw: Any) -> None:
    """Run the emulator until interrupted (blocking)."""

    async def main() -> None:
        emu = await start_emulator(host, port, **kw)
        print(f"Telegram Bot API emulator listening on {emu.url}", flush=True)
        print(f"  bot base_url={emu.url}/bot  base_file_url={emu.url}/file/bot", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await emu.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
