"""Protocol answers in JSON or XML, one structure for both (the Open311 "Spark convention").

A structure is dicts, lists, strings, numbers, booleans and None. In XML a dict's keys are
elements, a list repeats an item element named in `ITEMS`, None is an empty element and a
boolean is `true`/`false`. Text is escaped by ElementTree, so nothing a client sent can break
the document.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

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
}
XML_TYPE = "text/xml"
JSON_TYPE = "application/json"


def _fill(element: ET.Element, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, list):
        item = ITEMS.get(element.tag, "item")
        for child in value:
            _fill(ET.SubElement(element, item), child)
    else:
        element.text = str(value)


def to_xml(root: str, value: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, value)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8")


def answer(fmt: str, root: str, value: Any, *, status: int = 200) -> web.Response:
    """The same structure as JSON (the value itself) or XML (under `root`)."""
    if fmt == "xml":
        return web.Response(
            body=to_xml(root, value), status=status, content_type=XML_TYPE, charset="utf-8"
        )
    return web.Response(
        text=json.dumps(value, ensure_ascii=False),
        status=status,
        content_type=JSON_TYPE,
        charset="utf-8",
    )
