"""Protocol answers in JSON or XML, one structure for both (the Open311 "Spark convention").

A structure is dicts, lists, strings, numbers, booleans and None. In XML a dict's keys are
elements, a list repeats an item element named in `ITEMS`, None is an empty element and a
boolean is `true`/`false`. Every text is escaped (and characters XML cannot hold dropped), so
nothing a client sent can break the document.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

# A list's element name -> the element name of each item.
ITEMS = {
    "service_requests": "request",
    "services": "service",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "service_request_updates": "request_update",
}
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
XML_TYPE = "text/xml"
JSON_TYPE = "application/json"


def _write(out: list[str], tag: str, value: Any) -> None:
    if value is None:
        out.append(f"<{tag}/>")
    elif isinstance(value, dict):
        out.append(f"<{tag}>")
        for key, child in value.items():
            # the common leaves inline: a page of requests is ~17,000 of them
            if child is None:
                out.append(f"<{key}/>")
            elif type(child) is str:
                out.append(f"<{key}>{_text(child)}</{key}>")
            elif type(child) in (int, float):
                out.append(f"<{key}>{child}</{key}>")
            else:
                _write(out, key, child)
        out.append(f"</{tag}>")
    elif isinstance(value, list):
        item = ITEMS.get(tag, "item")
        out.append(f"<{tag}>")
        for child in value:
            _write(out, item, child)
        out.append(f"</{tag}>")
    elif isinstance(value, bool):
        out.append(f"<{tag}>{'true' if value else 'false'}</{tag}>")
    else:
        out.append(f"<{tag}>{_text(value)}</{tag}>")


def _text(value: Any) -> str:
    """Escaped element text; characters XML 1.0 cannot hold are dropped."""
    return NOT_XML.sub("", escape(str(value)))


def to_xml(root: str, value: Any) -> bytes:
    """Element names are ours (fixed keys); every text is escaped."""
    out = ['<?xml version="1.0" encoding="utf-8"?>\n']
    _write(out, root, value)
    return "".join(out).encode("utf-8")


def answer(fmt: str, root: str, value: Any, *, status: int = 200) -> web.Response:
    """The same structure as JSON (the value itself) or XML (under `root`)."""
    if fmt == "xml":
        return web.Response(
            body=to_xml(root, value), status=status, content_type=XML_TYPE, charset="utf-8"
        )
    return web.Response(
        text=json.dumps(value, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type=JSON_TYPE,
        charset="utf-8",
    )
