"""Reply templates: texts staff start from when they write to a resident.

A deployment declares its own in the grid map's ``replies:`` section (keyed by category, or
``all`` for every category), each with an ``id``, a short ``title`` (a button's label) and the
text in both languages; gridvoice ships defaults per language beside its other texts
(``templates/<lang>/replies.yaml``, same shape with one language). A template may name the
actions it fits (``for:``); without it, every action in ``FOR_ACTIONS``.

Placeholders are filled by ``fill`` from values the member may see anyway (``PLACEHOLDERS``);
anything else in braces is left as written, and ``gridvoice grids check`` reports it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from routing.fields import GridMapError, parse_list, parse_mapping

# The staff actions whose text may start from a template: each is a row of the action table
# that asks for a text the resident reads. Never the public note (its words are published,
# and a template could name the member) nor an internal note (staff only).
FOR_ACTIONS = ("ask", "resolve", "reject", "transfer", "reassign")
# {case}: the case id; {category}: its category's name; {grid}: its grid's name; {member}:
# the name of the member who writes. Nothing about the resident.
PLACEHOLDERS = ("case", "category", "grid", "member")
EVERY_CATEGORY = "all"
MAX_TITLE = 32  # a button's label
MAX_TEXT = 1000
MAX_VALUE = 80  # a placeholder's value, cut
_BRACED = re.compile(r"\{([^{}\s]{0,40})\}")
_ID = re.compile(r"^[a-z0-9_\-]{1,32}$")


@dataclass(frozen=True)
class Reply:
    id: str
    title: Mapping[str, str]  # language -> title
    text: Mapping[str, str]  # language -> text
    actions: tuple[str, ...] = FOR_ACTIONS

    def fits(self, action: str) -> bool:
        return action in self.actions

    def get(self, field: Mapping[str, str], lang: str) -> str:
        short = "zh" if lang.lower().startswith("zh") else "en"
        return field.get(short) or field.get("en") or field.get("zh") or ""


Issue = Callable[[str, str, str], None]


def _strict(code: str, where: str, message: str) -> None:
    raise GridMapError(f"{where}: {message}")


def unknown_placeholders(text: str) -> list[str]:
    return [m for m in _BRACED.findall(text) if m not in PLACEHOLDERS]


def _texts(
    value: Any, where: str, langs: tuple[str, ...], issue: Issue, limit: int
) -> dict[str, str]:
    if isinstance(value, str) and len(langs) == 1:
        value = {langs[0]: value}
    value = parse_mapping(value, where)
    out: dict[str, str] = {}
    for lang in langs:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            issue("reply", where, f"{where}: no text in {lang!r}")
            continue
        text = text.strip()
        if len(text) > limit:
            issue("reply", where, f"{where}.{lang}: longer than {limit} characters")
            text = text[:limit]
        out[lang] = text
    return out


def parse_replies(
    raw: Any,
    categories: tuple[str, ...],
    issue: Issue = _strict,
    *,
    langs: tuple[str, ...] = ("en", "zh"),
    where: str = "replies",
) -> dict[str, tuple[Reply, ...]]:
    """``{category or "all": [template, ...]}`` as Reply tuples; problems go to `issue`
    (code, where, message). With one language (a shipped defaults file) a template's
    ``text`` and ``title`` are plain strings."""
    out: dict[str, tuple[Reply, ...]] = {}
    for category, entries in parse_mapping(raw, where).items():
        at = f"{where}.{category}"
        if category != EVERY_CATEGORY and category not in categories:
            issue("unknown_reference", at, f"unknown category {category!r}")
            continue
        seen: dict[str, Reply] = {}
        for i, entry in enumerate(parse_list(entries, at)):
            entry = parse_mapping(entry, f"{at}[{i}]")
            rid = entry.get("id")
            if not isinstance(rid, str) or not _ID.match(rid):
                issue("reply", f"{at}[{i}]", "missing or invalid 'id' (a-z, 0-9, _ and -)")
                continue
            here = f"{at}.{rid}"
            if rid in seen:
                issue("duplicate_id", here, f"reply {rid!r} is listed twice")
                continue
            title = _texts(entry.get("title"), f"{here}.title", langs, issue, MAX_TITLE)
            text = _texts(
                entry.get("text") if len(langs) == 1 else {k: entry.get(k) for k in langs},
                here,
                langs,
                issue,
                MAX_TEXT,
            )
            for lang, words in text.items():
                for name in unknown_placeholders(words):
                    issue(
                        "reply",
                        f"{here}.{lang}",
                        f"unknown placeholder {{{name}}} (known: "
                        + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                        + ")",
                    )
            actions = tuple(str(a) for a in parse_list(entry.get("for"), f"{here}.for"))
            for a in actions:
                if a not in FOR_ACTIONS:
                    issue("reply", f"{here}.for", f"{a!r} is not one of {', '.join(FOR_ACTIONS)}")
            actions = tuple(a for a in actions if a in FOR_ACTIONS) or FOR_ACTIONS
            if text and title:
                seen[rid] = Reply(rid, title, text, actions)
        out[str(category)] = tuple(seen.values())
    return out


def fill(text: str, values: Mapping[str, str], limit: int) -> str:
    """The template's text with its placeholders filled (each value cut to MAX_VALUE), the
    whole cut to `limit`. Only the known placeholders are replaced; no format string runs."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in PLACEHOLDERS and name in values:
            return str(values[name])[:MAX_VALUE]
        return match.group(0)

    return _BRACED.sub(one, text)[:limit]


def merged(
    shipped: Mapping[str, tuple[Reply, ...]],
    deployed: Mapping[str, tuple[Reply, ...]],
    category: str | None,
    action: str,
) -> list[Reply]:
    """The templates for a category and an action: the shipped ones, then the deployment's
    (a deployment's template with a shipped id replaces it), those for the category first."""
    keys = [k for k in (category or "", EVERY_CATEGORY) if k]
    found: dict[str, Reply] = {}
    for source in (shipped, deployed):
        for key in keys:
            for r in source.get(key, ()):
                found[r.id] = r
    return [r for r in found.values() if r.fits(action)]
