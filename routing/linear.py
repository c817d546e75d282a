"""A linear category model over word and character n-grams: features, scoring, model files.

Pure Python + numpy, no I/O beyond reading a model file.  Training lives in
``routing.learn`` (scikit-learn, imported only when training).  See docs/classifier.md.

Features of a normalised message (``routing.text.normalize``):

* English: light stems (``routing.text.stem``) of words that are not stop words, stem bigrams
  of adjacent words (``"fire lane"``, ``"no heat"``), and character 4-grams of words of five
  letters or more, at half weight (``"#<ele"``, ``"#vato"``: typos and unseen inflections).
* Chinese: character bigrams and trigrams of every run of Chinese characters (no segmenter: as
  accurate here as jieba words, and no dictionary to load at start-up).
* The **head** of a message (its subject line or first sentence, at most ``HEAD_CHARS``
  characters) counts ``HEAD_WEIGHT`` extra times: residents name the main complaint first and
  mention other things in passing later.

Each feature's count becomes ``1 + log(count)``, is multiplied by its idf, the vector is
L2-normalised, and ``x · W + b`` are the category logits (``softmax`` gives probabilities).
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routing.neighbours import NeighbourIndex
from routing.text import cjk_runs, english_tokens, stem

FORMAT = "gridvoice-linear-1"
CHAR_MIN = 5  # English words this long also give character 4-grams ("#eleva")
CHAR_WEIGHT = 0.5
HEAD_CHARS = 60
HEAD_WEIGHT = 1.0
_HEAD_END = re.compile(r"[。！？!?\n]|\.\s")

_STOP = frozenset(
    """a an the and or but if of to in on at by for from with without into onto about as is are
    was were be been being am do does did doing have has had having it its it's this that these
    those there here i me my we our us you your he him his she her they them their what which who
    whom when where why how all any both each few more most other some such only own same so than
    too very can will just should would could now then again also up down out off over under
    s t don't didn't doesn't isn't wasn't aren't can't won't im i'm pls please hi hello thank
    thanks""".split()
)
_STOP_STEMS = frozenset(stem(w) for w in _STOP)
#: Stems that never count as evidence on a card: the stop words and the verbs and nouns of a
#: message that names no problem ("I would like to know more about the thing").
STOP_STEMS = _STOP_STEMS | frozenset(
    stem(w)
    for w in """like want know tell ask say said thing things stuff something anything nothing
    matter issue problem question help need get got make let talk discuss discussed again
    last time today yesterday week before earlier later more much one lot really just
    ok okay sure someone anyone everyone people""".split()
)
#: The model's pseudo-category for messages that state no problem (greetings, thanks, "can you
#: tell me more"): trained like a category, never answered: the classifier abstains instead.
NOTHING = "nothing"


def head_length(norm: str) -> int:
    """Where the head (subject line / first sentence) of a normalised message ends."""
    m = _HEAD_END.search(norm, 0, HEAD_CHARS)
    end = m.end() if m is not None and m.start() >= 4 else HEAD_CHARS
    return min(end, len(norm))


def _add(counts: dict[str, float], norm: str, weight: float) -> None:
    tokens = english_tokens(norm)
    if tokens:
        prev = None
        for tok in tokens:
            st = stem(tok)
            if st not in _STOP_STEMS and not st.isdigit():
                counts[st] = counts.get(st, 0.0) + weight
            if prev is not None:
                key = f"{prev} {st}"
                counts[key] = counts.get(key, 0.0) + weight
            prev = st
            if len(tok) >= CHAR_MIN:  # spelling variants and typos share character 4-grams
                padded = f"<{tok}>"
                half = weight * CHAR_WEIGHT
                for i in range(len(padded) - 3):
                    key = "#" + padded[i : i + 4]
                    counts[key] = counts.get(key, 0.0) + half
    for _, run in cjk_runs(norm):
        n = len(run)
        for i in range(n - 1):
            key = run[i : i + 2]
            counts[key] = counts.get(key, 0.0) + weight
            if i + 3 <= n:
                key = run[i : i + 3]
                counts[key] = counts.get(key, 0.0) + weight


def feature_counts(norm: str) -> dict[str, float]:
    """Feature -> weighted count for a normalised message (head counted extra)."""
    counts: dict[str, float] = {}
    if not norm:
        return counts
    _add(counts, norm, 1.0)
    cut = head_length(norm)
    if HEAD_WEIGHT and cut < len(norm):  # a message that is all head needs no extra weight
        _add(counts, norm[:cut], HEAD_WEIGHT)
    return counts


@dataclass
class Scored:
    """Logits per category (in model order) and the known features with their values."""

    logits: list[float]
    features: list[str]
    values: np.ndarray
    weights: np.ndarray  # the model's weight rows of ``features``
    grams: int = 0  # how many of ``features`` are character 4-grams

    @property
    def probs(self) -> np.ndarray:
        z = np.asarray(self.logits)
        e = np.exp(z - z.max())
        return e / e.sum()


class LinearModel:
    """Softmax over ``x · W + b``; ``threshold`` is the probability needed to answer."""

    def __init__(
        self,
        categories: Sequence[str],
        vocabulary: Sequence[str],
        idf: np.ndarray,
        weights: np.ndarray,
        bias: np.ndarray,
        *,
        threshold: float,
        info: dict[str, object] | None = None,
        neighbours: NeighbourIndex | None = None,
    ) -> None:
        self.categories = tuple(categories)
        self.vocabulary = list(vocabulary)
        self.index = {f: i for i, f in enumerate(self.vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float64)
        self.weights = np.asarray(weights, dtype=np.float64)  # (features, categories)
        self.bias = np.asarray(bias, dtype=np.float64)
        self.threshold = float(threshold)
        self.info = dict(info or {})
        #: the embeddings and categories of the cases it was trained on (a deployment's model
        #: file, ``gridvoice model train``): they vote as settled cases do
        self.neighbours = neighbours

    def score(self, norm: str) -> Scored:
        counts = feature_counts(norm)
        get = self.index.get
        feats, rows, tf = [], [], []
        grams = 0
        for f, n in counts.items():
            i = get(f)
            if i is not None:
                feats.append(f)
                rows.append(i)
                tf.append(n)
                if f[0] == "#":
                    grams += 1
        if not feats:
            return Scored(self.bias.tolist(), [], np.zeros(0), np.zeros((0, len(self.bias))))
        at = np.array(rows)
        values = (1.0 + np.log(np.array(tf))) * self.idf[at]
        values /= math.sqrt(float(values @ values))
        w = self.weights[at]
        z = values @ w + self.bias
        return Scored(z.tolist(), feats, values, w, grams)

    def strongest(self, scored: Scored, win: int, other: int, n: int = 4) -> list[str]:
        """The ``n`` features that most favour category ``win`` over ``other``."""
        if not scored.features:
            return []
        w = scored.weights
        push = scored.values * (w[:, win] - w[:, other])
        order = np.argsort(-push, kind="stable")[:n]
        return [scored.features[i] for i in order if push[i] > 0]

    # -- files ------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        meta = {
            "format": FORMAT,
            "categories": list(self.categories),
            "threshold": self.threshold,
            "info": self.info,
        }
        buf = io.BytesIO()
        extra = self.neighbours.arrays("nb_") if self.neighbours is not None else {}
        np.savez_compressed(
            buf,
            meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8),
            vocabulary=np.frombuffer("\n".join(self.vocabulary).encode(), dtype=np.uint8),
            idf=self.idf.astype(np.float32),
            weights=self.weights.astype(np.float32),
            bias=self.bias,
            **extra,
        )
        Path(path).write_bytes(buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> LinearModel:
        """Read a model file written by :meth:`save`; ``ValueError`` if it is not one."""
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                meta = json.loads(z["meta"].tobytes().decode())
                vocab = z["vocabulary"].tobytes().decode().split("\n")
                idf, weights, bias = z["idf"], z["weights"], z["bias"]
                neighbours = NeighbourIndex.from_arrays(z, "nb_") if "nb_meta" in z else None
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"{path}: not a gridvoice model file ({exc})") from exc
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: unknown model format {meta.get('format')!r}")
        return cls(
            meta["categories"],
            vocab,
            idf,
            weights,
            bias,
            threshold=meta["threshold"],
            info=meta.get("info"),
            neighbours=neighbours,
        )
