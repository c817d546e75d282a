"""Rendering: every sentence a person reads comes from `templates/<lang>/`.

Messages are jinja2 templates rendered to Telegram HTML (autoescaped, so what people
typed can never break the markup); button labels and short answers live in
`templates/<lang>/labels.yaml`. Code passes data, never prose.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import yaml

import templates as _templates_pkg

LANGUAGES = ("en", "zh")
TELEGRAM_TEXT_LIMIT = 4096
TEMPLATES_DIR = Path(_templates_pkg.__file__).parent


def pick_language(code: str | None, default: str = "en") -> str:
    """Map a Telegram `language_code` (e.g. "zh-hans", "en-US") to a supported language."""
    if not code:
        return default
    code = code.lower()
    for lang in LANGUAGES:
        if code == lang or code.startswith(lang + "-") or code.startswith(lang + "_"):
            return lang
    return default


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split a long message at line breaks (then spaces) into parts Telegram accepts.

    Templates never open an HTML tag on one line and close it on another, so cutting at
    a line break keeps each part well-formed.
    """
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest.strip():
        parts.append(rest)
    return parts or [text]


class Renderer:
    """Renders named templates and labels in a language and a timezone."""

    def __init__(self, timezone: str = "Asia/Shanghai", directory: Path = TEMPLATES_DIR) -> None:
        self.tz = ZoneInfo(timezone)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["local"] = self._local
        self.env.filters["duration"] = self._duration_filter
        self.env.globals["label"] = self.label
        self.env.globals["label_exists"] = self.has_label
        self._labels = {lang: _load_labels(directory / lang / "labels.yaml") for lang in LANGUAGES}

    def render(self, lang: str, name: str, **data: Any) -> str:
        lang = lang if lang in LANGUAGES else "en"
        template = self.env.get_template(f"{lang}/{name}.j2")
        return template.render(lang=lang, **data).strip()

    def label(self, lang: str, key: str, **data: Any) -> str:
        lang = lang if lang in LANGUAGES else "en"
        text = self._labels[lang].get(key) or self._labels["en"].get(key)
        if text is None:
            raise KeyError(f"label {key!r} missing in {lang}")
        return _compile(text).render(**data) if "{" in text else text

    def has_label(self, lang: str, key: str) -> bool:
        return key in self._labels.get(lang, {})

    def local(self, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """A moment in the map's timezone (set when the map loads): chat and desk read the same."""
        if value is None:
            return "—"
        return value.astimezone(self.tz).strftime(fmt)

    def _local(self, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return self.local(value, fmt)

    def _duration_filter(self, value: timedelta | float | None, lang: str = "en") -> str:
        return self.duration(lang, value)

    def duration(self, lang: str, value: timedelta | float | None) -> str:
        if value is None:
            return "—"
        seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
        # Rounded to the nearest unit shown (minutes under a day, hours from a day on), the
        # same in the chat and on the pages: 117 s is "2 min", 23 h 59 m 40 s is "1d 0h".
        minutes = max(0, round(seconds / 60))
        if minutes < 24 * 60:
            hours, mins = divmod(minutes, 60)
            if hours:
                return self.label(lang, "duration_hours", hours=hours, minutes=mins)
            return self.label(lang, "duration_minutes", minutes=mins)
        days, hours = divmod(round(seconds / 3600), 24)
        return self.label(lang, "duration_days", days=days, hours=hours)


# libyaml's safe loader where installed: the labels load with each renderer (each start of the
# bot), ten times faster than the pure-Python one; the same documents, the same values.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=1024)
def _compile(text: str) -> jinja2.Template:
    return jinja2.Environment(autoescape=True).from_string(text)


def _load_labels(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER) or {}  # noqa: S506 - safe
    return {str(k): str(v) for k, v in data.items()}


def template_names(lang: str, directory: Path = TEMPLATES_DIR) -> set[str]:
    root = directory / lang
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def label_keys(lang: str, directory: Path = TEMPLATES_DIR) -> set[str]:
    return set(_load_labels(directory / lang / "labels.yaml"))


def join_nonempty(parts: Iterable[str], sep: str = "\n") -> str:
    return sep.join(p for p in parts if p)
