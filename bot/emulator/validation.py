"""Validation the emulator applies the way Telegram does: limits, HTML, markup and the spec.

Errors are raised as :class:`ApiError`, which the HTTP layer turns into
``{"ok": false, "error_code": ..., "description": ...}``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64

ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*?)?)\s*(/?)>")
_ATTR_RE = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))|([a-zA-Z-]+)""")
_ENTITY_RE = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")


@dataclass
class ApiError(Exception):
    """A Bot API error answer."""

    code: int
    description: str
    parameters: dict[str, Any] | None = field(default=None)

    def __str__(self) -> str:
        return f"{self.code} {self.description}"


def bad_request(detail: str) -> ApiError:
    """A 400 error with Telegram's ``Bad Request: `` prefix."""
    return ApiError(400, f"Bad Request: {detail}")


def _entity_error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


def _check_attrs(name: str, attrs: str, offset: int) -> None:
    parsed = {}
    for m in _ATTR_RE.finditer(attrs):
        key = (m.group(1) or m.group(5)).lower()
        value = next((g for g in m.group(2, 3, 4) if g is not None), "")
        parsed[key] = value
    if name == "span" and parsed.get("class") != "tg-spoiler":
        raise _entity_error(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    if name == "a" and "href" in parsed and not parsed["href"]:
        raise _entity_error(f'Empty href in tag "a" at byte offset {offset}')
    if name == "tg-emoji" and "emoji-id" not in parsed:
        raise _entity_error(
            f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {offset}'
        )


def parse_html(text: str) -> str:
    """Validate Telegram-flavoured HTML and return the plain text it renders to.

    Stricter than Telegram in one respect: a ``&`` that does not start a valid entity
    (``&lt;`` ``&gt;`` ``&amp;`` ``&quot;`` or a numeric one) is rejected.
    """
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        offset = len(text[:i].encode("utf-8"))
        if ch == "<":
            m = _TAG_RE.match(text, i)
            if not m:
                if text.find(">", i) == -1:
                    raise _entity_error(
                        f"Can't find end of the tag starting at byte offset {offset}"
                    )
                raise _entity_error(f"Unsupported start tag at byte offset {offset}")
            closing, name, attrs, _selfclose = m.groups()
            name = name.lower()
            if name not in ALLOWED_TAGS:
                kind = "end" if closing else "start"
                raise _entity_error(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
            if closing:
                if not stack:
                    raise _entity_error(f"Unexpected end tag at byte offset {offset}")
                if stack[-1][0] != name:
                    raise _entity_error(
                        f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"'
                    )
                stack.pop()
            else:
                _check_attrs(name, attrs or "", offset)
                stack.append((name, offset))
            i = m.end()
            continue
        if ch == ">":
            out.append(">")
            i += 1
            continue
        if ch == "&":
            m = _ENTITY_RE.match(text, i)
            if not m:
                raise _entity_error(
                    f"Can't find end of the entity starting at byte offset {offset}"
                )
            dec, hexa, named = m.groups()
            if named is not None:
                if named not in NAMED_ENTITIES:
                    raise _entity_error(
                        f'Unsupported HTML entity "&{named};" at byte offset {offset}'
                    )
                out.append(NAMED_ENTITIES[named])
            else:
                code = int(dec) if dec is not None else int(hexa, 16)
                if code > 0x10FFFF or code == 0:
                    raise _entity_error(f"Invalid numeric entity at byte offset {offset}")
                out.append(chr(code))
            i = m.end()
            continue
        out.append(ch)
        i += 1
    if stack:
        raise _entity_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out)


def render_text(text: str, parse_mode: str | None) -> str:
    """Return the plain text for ``text`` under ``parse_mode`` (HTML validated)."""
    if parse_mode and parse_mode.lower() == "html":
        return parse_html(text)
    if parse_mode and parse_mode.lower() not in ("markdown", "markdownv2"):
        raise bad_request(f"unsupported parse_mode {parse_mode!r}")
    return text


def check_text(text: Any, parse_mode: str | None) -> str:
    """Validate a message text and return its plain rendering."""
    if text is None or str(text).strip() == "":
        raise bad_request("message text is empty")
    plain = render_text(str(text), parse_mode)
    if not plain.strip():
        raise bad_request("message text is empty")
    if len(plain) > MAX_TEXT:
        raise bad_request("message is too long")
    return plain


def check_caption(caption: Any, parse_mode: str | None) -> str | None:
    """Validate a media caption and return its plain rendering (``None`` when absent)."""
    if caption is None or caption == "":
        return None
    plain = render_text(str(caption), parse_mode)
    if len(plain) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return plain


def check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Validate a reply_markup object (already JSON-decoded)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    size = len(str(data).encode("utf-8"))
                    if not isinstance(data, str) or size < 1 or size > MAX_CALLBACK_DATA:
                        raise bad_request("BUTTON_DATA_INVALID")
                elif not any(
                    k in button
                    for k in (
                        "url",
                        "login_url",
                        "switch_inline_query",
                        "web_app",
                        "pay",
                        "switch_inline_query_current_chat",
                        "copy_text",
                        "callback_game",
                        "switch_inline_query_chosen_chat",
                    )
                ):
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                    )
    return markup


class SpecChecker:
    """Checks calls against the official api.json description."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        methods = data["methods"]
        items = methods.values() if isinstance(methods, dict) else methods
        self.version: str = str(data.get("version", ""))
        self.methods: dict[str, dict[str, bool]] = {
            m["name"].lower(): {f["name"]: bool(f["required"]) for f in m.get("fields", [])}
            for m in items
        }

    @classmethod
    def from_env(cls, spec_path: str | None) -> SpecChecker | None:
        path = spec_path or os.environ.get("GRIDVOICE_BOTAPI_SPEC")
        if not path:
            return None
        return cls(path)

    def check(self, method: str, params: dict[str, Any], attached: set[str]) -> str | None:
        """Return a violation description, or ``None`` when the call conforms."""
        fields = self.methods.get(method.lower())
        if fields is None:
            return f"method {method} is not in the Bot API specification"
        unknown = sorted(p for p in params if p not in fields and p not in attached)
        if unknown:
            return f"parameter {', '.join(unknown)} is not a field of {method}"
        missing = sorted(f for f, req in fields.items() if req and f not in params)
        if missing:
            return f"parameter {', '.join(missing)} is required by {method}"
        return None
