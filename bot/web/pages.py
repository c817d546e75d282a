"""Server-rendered pages: one jinja2 environment, the reader's language, and its texts.

A page's language comes from `?lang=` (which is remembered in a cookie), then the cookie, then
`Accept-Language`, then the deployment's default. Page texts live in `templates/<lang>/web.yaml`
(a key missing in one language fails a test); layouts and pages in `templates/web/`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
import yaml
from aiohttp import web

from bot.bounds import parse_float
from bot.config import Settings
from bot.render import LANGUAGES, TEMPLATES_DIR, Renderer, pick_language

LANG_COOKIE = "gv_lang"
log = logging.getLogger(__name__)


def static_root() -> Path:
    return Path(__file__).parent / "static"


def web_text_keys(lang: str, directory: Path = TEMPLATES_DIR, name: str = "web") -> set[str]:
    return set(_load_texts(directory / lang / f"{name}.yaml"))


@functools.lru_cache(maxsize=4)
def _load_texts(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): str(v) for k, v in data.items()}


@functools.lru_cache(maxsize=1024)
def _compile(text: str) -> jinja2.Template:
    """A text with {{ placeholders }}, compiled once (a page may use one a thousand times)."""
    return _TEXTS.from_string(text)


_TEXTS = jinja2.Environment(autoescape=False)


def request_language(request: web.Request, default: str = "en") -> str:
    """The language to answer in: ?lang=, then the cookie, then Accept-Language."""
    asked = request.query.get("lang")
    if asked in LANGUAGES:
        return asked
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    return accept_language(request.headers.get("Accept-Language", ""), default)


def accept_language(header: str, default: str = "en") -> str:
    """The supported language with the highest q in an Accept-Language header."""
    best, best_q = default, -1.0
    for part in header.split(",")[:20]:
        code, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            q = parse_float(params.strip()[2:], low=0.0, high=1.0) or 0.0
        lang = pick_language(code.strip(), default="")
        if lang and q > best_q:
            best, best_q = lang, q
    return best


class PageRenderer:
    """Renders `templates/web/<name>.html` in a language, with `t(key)` for its texts.

    Labels, durations and times come from the chat's own `Renderer` (the domain's, passed in),
    so a page shows a moment in the same timezone — the map's — as the chat message about it.
    """

    def __init__(
        self,
        settings: Settings,
        directory: Path = TEMPLATES_DIR,
        *,
        renderer: Renderer | None = None,
    ) -> None:
        self.settings = settings
        self.directory = directory
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory / "web")),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["local"] = self._local
        self.labels = renderer if renderer is not None else Renderer(directory=directory)

    def text(self, lang: str, key: str, *, book: str = "web", **data: Any) -> str:
        """A text of `templates/<lang>/<book>.yaml` (web pages; `open311` for the API)."""
        texts = _load_texts(self.directory / lang / f"{book}.yaml")
        value = texts.get(key)
        if value is None:
            raise KeyError(f"web text {key!r} missing in {lang}")
        return _compile(value).render(**data) if "{" in value else value

    def render(
        self, request: web.Request, name: str, *, status: int = 200, **data: Any
    ) -> web.Response:
        """A whole page in the reader's language; remembers an explicit ?lang= choice."""
        lang = request_language(request, self.settings.default_language)
        return self.respond(request, self.render_html(lang, name, request=request, **data), status)

    def respond(self, request: web.Request, html: str, status: int = 200) -> web.Response:
        """A rendered page as the answer: its language header, and an explicit choice kept."""
        lang = request_language(request, self.settings.default_language)
        response = web.Response(text=html, content_type="text/html", status=status)
        response.headers["Content-Language"] = lang
        if request.query.get("lang") in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="Lax"
            )
        return response

    def render_html(
        self, lang: str, name: str, *, request: web.Request | None = None, **data: Any
    ) -> str:
        template = self.env.get_template(f"{name}.html")

        texts = _load_texts(self.directory / lang / "web.yaml")
        said: dict[tuple[Any, ...], str] = {}  # a map of 1,000 grids says "3 open" many times

        def t(key: str, **kw: Any) -> str:
            value = texts.get(key)
            if value is None:
                raise KeyError(f"web text {key!r} missing in {lang}")
            if "{" not in value:
                return value
            memo = (key, *sorted(kw.items()))
            if memo not in said:
                said[memo] = _compile(value).render(**kw)
            return said[memo]

        def lang_url(other: str) -> str:
            if request is None:
                return f"?lang={other}"
            query = {k: v for k, v in request.query.items() if k != "lang"}
            query["lang"] = other
            return f"{request.path}?{urlencode(query)}"

        return template.render(
            lang=lang,
            t=t,
            lang_url=lang_url,
            has=texts.__contains__,  # for names from data (a status, an event) with no text yet
            languages=LANGUAGES,
            f=Formats(self, lang),
            **data,
        )

    def _local(self, value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return self.labels.local(value, fmt)


class PageCache:
    """Rendered public pages, reused for a few seconds (the figures' own reuse time): a burst
    of readers of a district's front page costs one rendering, not one each."""

    def __init__(self, pages: PageRenderer, seconds: float) -> None:
        self.pages = pages
        self.seconds = seconds
        self._pages: dict[tuple[Any, ...], tuple[float, str]] = {}
        self._rendering: dict[tuple[Any, ...], asyncio.Future[str]] = {}

    async def answer(
        self,
        request: web.Request,
        name: str,
        data: Callable[[], Awaitable[dict[str, Any]]],
    ) -> web.Response:
        """The page `name` for this path and language, rendered from `await data()` when stale."""
        lang = request_language(request, self.pages.settings.default_language)
        query = tuple(sorted((k, v) for k, v in request.query.items() if k != "lang"))
        key = (name, lang, request.path, query)
        hit = self._pages.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return self.pages.respond(request, hit[1])

        async def render() -> str:
            html = self.pages.render_html(lang, name, request=request, **(await data()))
            if self.seconds > 0:
                if len(self._pages) > 512:  # a crawler walking every grid: forget, do not grow
                    self._pages.clear()
                self._pages[key] = (time.monotonic() + self.seconds, html)
            return html

        if hit is not None and hit[0] + self.seconds * 3 > now:
            # Recently stale: the reader gets it at once while one refresh renders the next.
            if key not in self._rendering:
                task = asyncio.ensure_future(render())
                self._rendering[key] = task
                task.add_done_callback(lambda done: self._done(key, done))
            return self.pages.respond(request, hit[1])
        return self.pages.respond(request, await render())

    def _done(self, key: tuple[Any, ...], task: asyncio.Future[str]) -> None:
        self._rendering.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("refreshing a page failed: %r", task.exception(), extra={"page": key[:3]})


class Formats:
    """Numbers, durations, shares and names in the page's language (`f.…` in templates)."""

    def __init__(self, pages: PageRenderer, lang: str) -> None:
        self.pages = pages
        self.lang = lang

    def duration(self, seconds: float | None) -> str:
        return self.pages.labels.duration(self.lang, seconds)

    def percent(self, value: float | None) -> str:
        return "—" if value is None else f"{value * 100:.0f}%"

    def number(self, value: float | int | None, digits: int = 0) -> str:
        if value is None:
            return "—"
        return f"{value:,.{digits}f}"

    def category(self, code: str | None) -> str:
        key = f"cat_{code or 'other'}"
        if code == "triage":
            return self.pages.text(self.lang, "category_triage")
        if self.pages.labels.has_label(self.lang, key):
            return self.pages.labels.label(self.lang, key)
        return code or ""

    def name(self, text: Any) -> str:
        """A bilingual name from the grid map (routing.gridmap.Text) in the page's language."""
        return text.get(self.lang) if text is not None else ""

    def date(self, value: Any) -> str:
        return self.pages._local(value, "%Y-%m-%d")

    def time(self, value: Any) -> str:
        return self.pages._local(value)

    def short_date(self, value: Any) -> str:
        return self.pages._local(value, "%m-%d")
