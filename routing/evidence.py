"""The evidence on a case card: which of the model's features to show, in the resident's words.

The classifier lists the lexicon's terms for the winning category first; these helpers top the
list up with the model features that most favour the winner, mapped back from stems to the words
of the message (``"hot water"``, not ``"hot wat"``) and leaving out what reads as noise:
character 4-grams, Chinese n-grams of function characters, n-grams straddling two words
(``"业不"`` of ``"物业不管"`` next to ``"物业"``), and English features with a stop word or a
word that names no problem (``STOP_STEMS``: ``"like to"``, ``"know"``, ``"thing"``).
"""

from __future__ import annotations

from collections.abc import Iterable

from routing.linear import STOP_STEMS
from routing.text import english_tokens, has_cjk, stem

_PARTICLES = frozenset("的了吗呢吧啊")
_WEAK_ZH = frozenset("的了吗呢吧啊是在我你他她它们有很都也就还和与及这那个一不人说会要到把被让给对")


def add_model_evidence(matched: list[str], norm: str, features: Iterable[str], limit: int) -> None:
    """Append the showable ``features`` (strongest first) to ``matched``, up to ``limit``."""
    surfaces: dict[str, str] | None = None
    for f in features:
        if len(matched) >= limit:
            break
        if f[0] == "#":
            continue  # a character 4-gram: not a word to show
        if surfaces is None and not has_cjk(f):
            surfaces = _surfaces(norm)
        shown = _surface(f, surfaces or {})
        if shown and not any(
            shown in m or m in shown or (has_cjk(shown) and set(shown) & set(m)) for m in matched
        ):
            matched.append(shown)


def _surfaces(norm: str) -> dict[str, str]:
    """Stem and stem-bigram -> the words of the message they came from (first occurrence)."""
    words = english_tokens(norm)
    stems = [stem(w) for w in words]
    out: dict[str, str] = {}
    for i, st in enumerate(stems):
        out.setdefault(st, words[i])
        if i:
            out.setdefault(f"{stems[i - 1]} {st}", f"{words[i - 1]} {words[i]}")
    return out


def _surface(feature: str, surfaces: dict[str, str]) -> str | None:
    """How a model feature reads on a card: the resident's words, not stems."""
    if has_cjk(feature):
        weak = all(ch in _WEAK_ZH for ch in feature) or any(ch in _PARTICLES for ch in feature)
        return None if weak else feature
    if any(part in STOP_STEMS for part in feature.split()):
        return None  # "like to", "would like", "know": words, but no evidence of a problem
    return surfaces.get(feature)  # never a stem the message does not contain as a word
