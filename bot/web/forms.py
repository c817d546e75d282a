"""Request bodies, read one way: a form or the raw bytes, bounded, strictly UTF-8.

Every way a client can break a body — a truncated or boundary-less multipart body, invalid
UTF-8 or an unknown charset, more than `MAX_FIELDS` fields, a stall past `web_body_timeout`, a
disconnect half-way — becomes a `BadBody`, which the error middlewares answer with 400 (408 for
a stall) in the route's own format and at most one log line: a client cannot write a traceback
into the log. A body over the application's `client_max_size` (`BODY_MAX`) stays aiohttp's 413.

A file in a form (a photo a desk action or a resident's proposal carries) is read once, by
`uploaded_file`, to at most `UPLOAD_MAX` bytes; `photo_kind` says whether it is a JPEG or PNG.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from bot.web.server import BodyTimeout

log = logging.getLogger(__name__)

MAX_FIELDS = 1000
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
UTF8 = frozenset({"", "utf-8", "utf8", "us-ascii", "ascii"})
BODY_MAX = 2 * 1024 * 1024  # the web application's `client_max_size`
UPLOAD_MAX = BODY_MAX - 64 * 1024  # a file in a form: the rest of the body is its other fields
PHOTO_KINDS = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


class UploadTooLarge(Exception):
    """A file in a form over `UPLOAD_MAX`."""


class BadBody(Exception):
    """A body that cannot be read. `key`: malformed, encoding, timeout or gone."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(key)
        self.key = key
        self.detail = detail

    @property
    def status(self) -> int:
        return 408 if self.key == "timeout" else 400


def client_gone(request: web.Request) -> bool:
    """The client closed its side: nobody will read an answer."""
    transport = request.transport
    return transport is None or transport.is_closing()


def _failure(request: web.Request, exc: BaseException) -> BadBody:
    if isinstance(exc, BodyTimeout):
        bad = BadBody("timeout")
    elif client_gone(request) or isinstance(exc, ConnectionError):
        bad = BadBody("gone")
    elif isinstance(exc, UnicodeError | LookupError):
        bad = BadBody("encoding")
    else:
        bad = BadBody("malformed")
    bad.detail = f"{type(exc).__name__}: {str(exc)[:120]}"
    return bad


async def read_body(request: web.Request) -> bytes:
    """The raw body (at most `client_max_size`, else aiohttp's 413)."""
    try:
        return await request.read()
    except web.HTTPException:
        raise
    except Exception as exc:  # anything a client can do to a body: see the module's text
        raise _failure(request, exc) from None


async def read_form(request: web.Request) -> MultiDictProxy[str | web.FileField]:
    """The POSTed form (url-encoded or multipart), its text strictly UTF-8. Another content
    type reads as an empty form, as in aiohttp."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return MultiDictProxy(MultiDict())
    if (request.charset or "").lower() not in UTF8:
        raise BadBody("encoding", f"charset {request.charset[:40]!r}")
    if request.content_type == MULTIPART:
        try:
            return await request.post()
        except web.HTTPException:
            raise
        except Exception as exc:  # anything a client can do to a body: see the module's text
            raise _failure(request, exc) from None
    if request.content_type not in ("", FORM):
        return MultiDictProxy(MultiDict())
    body = await read_body(request)
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text.rstrip(),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeError as exc:
        raise BadBody("encoding", str(exc)[:120]) from None
    except ValueError as exc:  # more fields than MAX_FIELDS
        raise BadBody("malformed", str(exc)[:120]) from None
    return MultiDictProxy(MultiDict(pairs))


def uploaded_file(form: MultiDictProxy[str | web.FileField], name: str) -> bytes | None:
    """The bytes of the form's file `name` (None when no file or an empty one was sent);
    raises UploadTooLarge past `UPLOAD_MAX`."""
    data = getattr(form.get(name), "file", None)
    if data is None:
        return None
    content = data.read(UPLOAD_MAX + 1)
    if not content:
        return None
    if len(content) > UPLOAD_MAX:
        raise UploadTooLarge(name)
    return bytes(content)


def photo_kind(data: bytes) -> str | None:
    """`image/jpeg` or `image/png` by the file's own first bytes (not its name or the
    browser's word for it); None for anything else."""
    for magic, kind in PHOTO_KINDS.items():
        if data.startswith(magic):
            return kind
    return None


def log_bad_body(request: web.Request, bad: BadBody) -> None:
    """One line, never a traceback: a client's broken body is not our failure."""
    level = logging.DEBUG if bad.key in ("gone", "timeout") else logging.INFO
    log.log(
        level,
        "unreadable request body (%s)",
        bad.key,
        extra={"path": request.path[:200], "detail": bad.detail},
    )
