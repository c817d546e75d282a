"""Server-rendered pages: one jinja2 environment, the reader's language, and its texts.

A page's language comes from `?lang=` (which is remembered in a cookie), then the cookie, then
`Accept-Language`, then the deployment's default. Page texts live in `templates/<lang>/web.yaml`
(a key missing in one language fails a test); layouts and pages in `templates/web/`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
import yaml
from aiohttp import web

from bot.config import Settings
from bot.render import LANGUAGES, TEMPLATES_DIR, pick_language

LANG_COOKIE = "gv_lang"


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
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = pick_language(code.strip(), default="")
        if lang and q > best_q:
            best, best_q = lang, q
    return best


class PageRenderer:
    """Renders `templates/web/<name>.html` in a language, with `t(key)` for its texts."""

    def __init__(self, settings: Settings, directory: Path = TEMPLATES_DIR) -> None:
        self.settings = settings
        self.directory = directory
        self.tz = ZoneInfo("Asia/Shanghai")
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory / "web")),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["local"] = self._local

    def text(self, lang: str, key: str, *, book: str = "web", **data: Any) -> str:
        """A text of `templates/<lang>/<book>.yaml` (web pages; `open311` for the API)."""
        texts = _load_texts(self.directory / lang / f"{book}.yaml")
        value = texts.get(key)
        if value is None:
            raise KeyError(f"web text {key!r} missing in {lang}")
        return (
            jinja2.Environment(autoescape=False).from_string(value).render(**data)
            if ("{" in value)
            else value
        )

    def render(
        self, request: web.Request, name: str, *, status: int = 200, **data: Any
    ) -> web.Response:
        """A whole page in the reader's language; remembers an explicit ?lang= choice."""
        lang = request_language(request, self.settings.default_language)
        html = self.render_html(lang, name, request=request, **data)
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

        def t(key: str, **kw: Any) -> str:
            return self.text(lang, key, **kw)

        def lang_url(other: str) -> str:
            if request is None:
                return f"?lang={other}"
            query = {k: v for k, v in request.query.items() if k != "lang"}
            query["lang"] = other
            return f"{request.path}?{urlencode(query)}"

        return template.render(lang=lang, t=t, lang_url=lang_url, languages=LANGUAGES, **data)

    def _local(self, value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return "—"
        return value.astimezone(self.tz).strftime(fmt)


PAGES_KEY = web.AppKey("gridvoice_pages", PageRenderer)
