"""Loading and validating the classifier lexicon (YAML, see docs/lexicon.md).

``load_lexicon(None)`` reads the packaged ``routing/lexicon.yaml``; a deployment passes the path
of its own edited copy.  Every problem is reported as a :class:`LexiconError` whose message names
the file and the place in it (``categories.facilities.en['pothole']: ...``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from routing.text import phrase_key, zh_key

DEFAULT_PATH = Path(__file__).with_name("lexicon.yaml")
LANGS = ("en", "zh")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP_KEYS = {"version", "threshold", "min_score", "fuzzy", "categories"}
_CAT_KEYS = {"description", "en", "zh", "patterns"}
_FUZZY_KEYS = {"min_length", "cutoff"}
MAX_WEIGHT = 10.0


class LexiconError(ValueError):
    """The lexicon file is missing, unreadable or invalid."""


@dataclass(frozen=True)
class Pattern:
    """A regular expression matched against the normalised text (lower-case, half-width)."""

    category: str
    regex: re.Pattern[str]
    weight: float
    label: str


@dataclass(frozen=True)
class Lexicon:
    """Validated lexicon: ``terms[category][lang][term] -> weight`` plus settings."""

    terms: Mapping[str, Mapping[str, Mapping[str, float]]]
    patterns: tuple[Pattern, ...] = ()
    descriptions: Mapping[str, str] = field(default_factory=dict)
    threshold: float = 0.5
    min_score: float = 0.0
    fuzzy_min_length: int = 4
    fuzzy_cutoff: float = 85.0
    source: str = "<memory>"

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(self.terms)

    def has_term(self, category: str, lang: str, term: str) -> bool:
        """True if ``term`` (compared after normalising/stemming) is in the category's list."""
        entries = self.terms.get(category, {}).get(lang, {})
        keyf = zh_key if lang == "zh" else phrase_key
        key = keyf(term)
        return any(keyf(t) == key for t in entries)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (a common editing mistake)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if key in result:
            mark = key_node.start_mark
            raise LexiconError(f"duplicate key {key!r} at line {mark.line + 1}")
        result[key] = loader.construct_object(value_node)
    return result


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,  # type: ignore[arg-type]
)


def _weight(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LexiconError(f"{where}: weight must be a number, got {value!r}")
    w = float(value)
    if not math.isfinite(w) or w == 0 or abs(w) > MAX_WEIGHT:
        raise LexiconError(f"{where}: weight must be non-zero and within ±{MAX_WEIGHT:g}, got {w}")
    return w


def _terms(value: Any, where: str, lang: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise LexiconError(
            f"{where}: expected a mapping of term: weight, got {type(value).__name__}"
        )
    out: dict[str, float] = {}
    for term, w in value.items():
        spot = f"{where}[{term!r}]"
        if not isinstance(term, str) or not term.strip():
            raise LexiconError(f"{spot}: term must be a non-empty string")
        key = zh_key(term) if lang == "zh" else phrase_key(term)
        if not key:
            raise LexiconError(f"{spot}: term has no matchable characters for language {lang!r}")
        out[term] = _weight(w, spot)
    return out


def _patterns(cat: str, value: Any, where: str) -> list[Pattern]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise LexiconError(f"{where}: expected a list of {{regex, weight}}")
    out = []
    for i, item in enumerate(value):
        spot = f"{where}[{i}]"
        if (
            not isinstance(item, Mapping)
            or set(item) - {"regex", "weight", "label"}
            or "regex" not in item
        ):
            raise LexiconError(f"{spot}: expected {{regex: ..., weight: ..., label: ...}}")
        try:
            rx = re.compile(str(item["regex"]))
        except re.error as exc:
            raise LexiconError(f"{spot}: invalid regex {item['regex']!r}: {exc}") from None
        label = str(item.get("label") or item["regex"])
        out.append(Pattern(cat, rx, _weight(item.get("weight", 1.0), spot), label))
    return out


def parse_lexicon(data: Any, source: str = "<memory>") -> Lexicon:
    """Validate an already-parsed YAML document and build a :class:`Lexicon`."""
    try:
        return _parse(data, source)
    except LexiconError as exc:
        raise LexiconError(f"{source}: {exc}") from None


def _parse(data: Any, source: str) -> Lexicon:
    if not isinstance(data, Mapping):
        raise LexiconError("top level must be a mapping with 'version' and 'categories'")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise LexiconError(f"unknown top-level key(s): {', '.join(sorted(map(str, unknown)))}")
    if data.get("version") != 1:
        raise LexiconError(f"'version' must be 1, got {data.get('version')!r}")
    threshold = data.get("threshold", 0.5)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold < 1
    ):
        raise LexiconError(
            f"'threshold' must be a number strictly between 0 and 1, got {threshold!r}"
        )
    min_score = data.get("min_score", 0.0)
    if isinstance(min_score, bool) or not isinstance(min_score, int | float) or min_score < 0:
        raise LexiconError(f"'min_score' must be a number >= 0, got {min_score!r}")
    fuzzy = data.get("fuzzy") or {}
    if not isinstance(fuzzy, Mapping) or set(fuzzy) - _FUZZY_KEYS:
        raise LexiconError(f"'fuzzy' accepts only {sorted(_FUZZY_KEYS)}")
    min_len = fuzzy.get("min_length", 4)
    cutoff = fuzzy.get("cutoff", 85)
    if not isinstance(min_len, int) or min_len < 3:
        raise LexiconError(f"fuzzy.min_length must be an integer >= 3, got {min_len!r}")
    if not isinstance(cutoff, int | float) or not 50 <= cutoff <= 100:
        raise LexiconError(f"fuzzy.cutoff must be between 50 and 100, got {cutoff!r}")
    cats = data.get("categories")
    if not isinstance(cats, Mapping) or not cats:
        raise LexiconError("'categories' must be a non-empty mapping of category id -> entries")
    terms: dict[str, dict[str, dict[str, float]]] = {}
    patterns: list[Pattern] = []
    descriptions: dict[str, str] = {}
    for cat, body in cats.items():
        where = f"categories.{cat}"
        if not isinstance(cat, str) or not _ID_RE.match(cat):
            raise LexiconError(f"{where}: category id must match {_ID_RE.pattern}")
        body = body or {}
        if not isinstance(body, Mapping):
            raise LexiconError(f"{where}: expected a mapping with en/zh/patterns")
        bad = set(body) - _CAT_KEYS
        if bad:
            raise LexiconError(
                f"{where}: unknown key(s) {sorted(map(str, bad))}; allowed {sorted(_CAT_KEYS)}"
            )
        terms[cat] = {lang: _terms(body.get(lang), f"{where}.{lang}", lang) for lang in LANGS}
        patterns.extend(_patterns(cat, body.get("patterns"), f"{where}.patterns"))
        descriptions[cat] = str(body.get("description") or "")
    return Lexicon(
        terms=terms,
        patterns=tuple(patterns),
        descriptions=descriptions,
        threshold=float(threshold),
        min_score=float(min_score),
        fuzzy_min_length=min_len,
        fuzzy_cutoff=float(cutoff),
        source=source,
    )


def load_lexicon(path: str | Path | None = None) -> Lexicon:
    """Load and validate a lexicon file; ``None`` means the packaged default."""
    p = Path(path) if path is not None else DEFAULT_PATH
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise LexiconError(f"{p}: cannot read lexicon: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise LexiconError(f"{p}: lexicon must be UTF-8 text") from None
    try:
        data = yaml.load(raw, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except LexiconError as exc:
        raise LexiconError(f"{p}: {exc}") from None
    except yaml.YAMLError as exc:
        raise LexiconError(f"{p}: not valid YAML: {exc}") from None
    return parse_lexicon(data, str(p))
