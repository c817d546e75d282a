"""Grid maps the tests load besides the demo's: the demo community split in two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEMO_MAP = Path(__file__).resolve().parents[2] / "bot" / "examples" / "demo-community.yaml"


def demo_document() -> dict[str, Any]:
    return yaml.safe_load(DEMO_MAP.read_text(encoding="utf-8"))


def two_communities() -> str:
    """The demo map with grids 3 and 4 moved into a second community, Heping (YAML text)."""
    doc = demo_document()
    xingfu = doc["communities"][0]
    heping = {
        "id": "heping",
        "name": {"en": "Heping Community", "zh": "和平社区"},
        "office": {"en": "Heping Rd 20", "zh": "和平路20号"},
        "hours": {"en": "Mon-Fri 9:00-17:00", "zh": "周一至周五 9:00-17:00"},
        "grids": xingfu["grids"][2:],
    }
    xingfu["grids"] = xingfu["grids"][:2]
    doc["communities"].append(heping)
    return yaml.safe_dump(doc, allow_unicode=True)
