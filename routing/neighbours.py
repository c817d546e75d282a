"""Neighbour votes over sentence embeddings: the packaged corpus and a deployment's settled cases.

A message's embedding (``routing.voter``) is compared (cosine) with the embeddings of messages
whose category is known; the ``K`` nearest vote, each with weight ``exp(similarity / TEMPERATURE)``
(``vote``).  Two indexes vote, next to the linear model (``routing.classifier``):

* the **packaged corpus** (``routing/corpus_vectors.npz``, computed when the packaged model is
  built, ``gridvoice model build``);
* the **deployment's settled cases** — every case a person settled joins the index in the same
  transaction (``bot.services.cases.neighbours``), so the next similar message benefits at
  once, without retraining; a model file written by ``gridvoice model train`` carries the
  embeddings of its training cases too.

Vectors are stored as int8 with one float scale per row (a quarter of float32, cosine within
0.001).  Pure numpy, no I/O beyond reading a vectors file.

The packaged corpus (10,642 messages) is searched in two stages (:meth:`NeighbourIndex.project`):
every entry ranked by its first ``PROJECTED`` principal components, then the best
``CANDIDATES`` ranked exactly.  The full product read 21 MB for every message classified; the
two stages read about a quarter of it (docs/classifier.md gives the measurements).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "gridvoice-neighbours-1"
#: How many neighbours vote, and how sharply a closer one counts more (chosen on evidence,
#: docs/classifier.md).
K = 10
TEMPERATURE = 0.05
#: The two-stage search of a large index: the principal components kept for the first stage,
#: and how many entries it passes to the exact second (chosen on the development set).
PROJECTED = 128
CANDIDATES = 512


def pack(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(int8 rows, float32 scale per row)`` of float rows."""
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim == 1:
        v = v[None, :]
    scale = np.abs(v).max(axis=1) / 127.0 if len(v) else np.zeros(0, dtype=np.float32)
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    return np.round(v / scale[:, None]).astype(np.int8), scale


def unpack(rows: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Float32 L2-normalised rows of :func:`pack`'s output."""
    v = rows.astype(np.float32) * np.asarray(scale, dtype=np.float32)[:, None]
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return v / norms


def to_bytes(vector: np.ndarray) -> bytes:
    """One embedding as bytes for the database: 4 bytes of float32 scale, then int8 rows."""
    rows, scale = pack(vector)
    return scale.astype("<f4").tobytes() + rows.tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    """The float32 L2-normalised vector :func:`to_bytes` stored."""
    scale = np.frombuffer(blob[:4], dtype="<f4")
    rows = np.frombuffer(blob[4:], dtype=np.int8)[None, :]
    return unpack(rows, scale)[0]


@dataclass(frozen=True)
class Vote:
    """Probabilities per category of the index's vote, and the best similarity."""

    probs: np.ndarray
    best: float
    best_label: str


class NeighbourIndex:
    """L2-normalised embeddings and their categories; the ``K`` nearest vote."""

    def __init__(
        self, vectors: np.ndarray, labels: Sequence[str], *, encoder: str, info: dict | None = None
    ) -> None:
        v = np.ascontiguousarray(vectors, dtype=np.float32)
        self.vectors = v.reshape(len(labels), -1) if len(labels) else v.reshape(0, 0)
        self.labels = list(labels)
        self.encoder = encoder
        self.info = dict(info or {})
        self._codes: dict[tuple[str, ...], np.ndarray] = {}
        #: (basis, projected rows) once :meth:`project` ran: the two-stage search
        self._projection: tuple[np.ndarray, np.ndarray] | None = None

    def project(self) -> bool:
        """Search this index in two stages from now on (worth it for a large, fixed index such
        as the packaged corpus: about 0.15 s once). False when it is too small to gain."""
        n, dims = self.vectors.shape if self.vectors.ndim == 2 else (0, 0)
        if n <= 2 * CANDIDATES or dims <= PROJECTED:
            return False
        if self._projection is None:
            v = self.vectors
            values, vectors = np.linalg.eigh((v.T @ v).astype(np.float64))
            basis = np.ascontiguousarray(
                vectors[:, np.argsort(values)[::-1][:PROJECTED]], dtype=np.float32
            )
            self._projection = (basis, np.ascontiguousarray(v @ basis))
        return True

    def similarities(self, query: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """``(rows, cosines)``: the cosine of ``query`` with every entry (``rows`` None), or,
        searched in two stages, with the ``CANDIDATES`` entries nearest by projection."""
        projection = self._projection
        if projection is None:
            return None, self.vectors @ query
        basis, projected = projection
        rough = projected @ (query @ basis)
        rows = np.argpartition(-rough, CANDIDATES - 1)[:CANDIDATES]
        return rows, self.vectors[rows] @ query

    def __len__(self) -> int:
        return len(self.labels)

    def _label_codes(self, categories: tuple[str, ...]) -> np.ndarray:
        codes = self._codes.get(categories)
        if codes is None:
            where = {c: i for i, c in enumerate(categories)}
            codes = np.array([where.get(lab, -1) for lab in self.labels], dtype=np.int64)
            self._codes[categories] = codes
        return codes

    # -- files ------------------------------------------------------------------------------

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The index as named arrays (for an ``.npz`` file, alone or inside a model file)."""
        rows, scale = (
            pack(self.vectors)
            if len(self.labels)
            else (
                np.zeros((0, 0), dtype=np.int8),
                np.zeros(0, dtype=np.float32),
            )
        )
        meta = {"format": FORMAT, "encoder": self.encoder, "info": self.info}
        return {
            f"{prefix}meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            f"{prefix}rows": rows,
            f"{prefix}scale": scale,
            f"{prefix}labels": np.frombuffer("\n".join(self.labels).encode(), dtype=np.uint8),
        }

    @classmethod
    def from_arrays(cls, z: object, prefix: str = "") -> NeighbourIndex:
        get = z.__getitem__  # type: ignore[attr-defined]
        meta = json.loads(get(f"{prefix}meta").tobytes().decode())
        if meta.get("format") != FORMAT:
            raise ValueError(f"unknown neighbours format {meta.get('format')!r}")
        labels_raw = get(f"{prefix}labels").tobytes().decode()
        labels = labels_raw.split("\n") if labels_raw else []
        rows, scale = get(f"{prefix}rows"), get(f"{prefix}scale")
        vectors = unpack(rows, scale) if labels else np.zeros((0, 0), dtype=np.float32)
        return cls(vectors, labels, encoder=meta.get("encoder", ""), info=meta.get("info"))

    def save(self, path: str | Path) -> None:
        buf = io.BytesIO()
        np.savez_compressed(buf, **self.arrays())
        Path(path).write_bytes(buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> NeighbourIndex:
        """Read a file written by :meth:`save`; ``ValueError`` if it is not one."""
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                return cls.from_arrays(z)
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"{path}: not a neighbours file ({exc})") from exc


def corpus_fingerprint(rows: Iterable[tuple[str, str]]) -> str:
    """A short hash of ``(text, category)`` rows: a vectors file matches the corpus it was
    computed from, or it is recomputed."""
    h = hashlib.sha256()
    for text, cat in rows:
        h.update(text.encode())
        h.update(b"\x00")
        h.update(cat.encode())
        h.update(b"\x01")
    return h.hexdigest()[:16]


def vote(
    indexes: Sequence[NeighbourIndex | None],
    query: np.ndarray,
    categories: tuple[str, ...],
    k: int = K,
) -> Vote | None:
    """The ``k`` nearest entries of all ``indexes`` together vote over ``categories`` (entries
    labelled outside them are not counted); ``None`` when there is nothing to vote."""
    sims_parts, code_parts = [], []
    for index in indexes:
        if index is None or not len(index):
            continue
        if index.vectors.shape[1] != len(query):
            continue  # another encoder's vectors
        rows, sims = index.similarities(query)
        codes = index._label_codes(categories)
        sims_parts.append(sims)
        code_parts.append(codes if rows is None else codes[rows])
    if not sims_parts:
        return None
    sims = np.concatenate(sims_parts) if len(sims_parts) > 1 else sims_parts[0]
    codes = np.concatenate(code_parts) if len(code_parts) > 1 else code_parts[0]
    keep = codes >= 0
    if not keep.all():
        sims, codes = sims[keep], codes[keep]
    n = len(sims)
    if n == 0:
        return None
    kk = min(k, n)
    top = np.argpartition(-sims, kk - 1)[:kk] if kk < n else np.arange(n)
    s, c = sims[top], codes[top]
    w = np.exp((s - s.max()) / TEMPERATURE)
    probs = np.bincount(c, weights=w, minlength=len(categories))
    probs /= probs.sum()
    best = int(np.argmax(s))
    return Vote(probs, float(s[best]), categories[int(c[best])])


class DeploymentIndex:
    """A deployment's settled cases (case id -> vector, category), rebuilt into one
    :class:`NeighbourIndex` when it changes. ``state`` is the database's marker of the rows
    it last read (see ``bot.services.cases.neighbours``)."""

    def __init__(self, encoder: str) -> None:
        self.encoder = encoder
        self.entries: dict[int, tuple[np.ndarray, str]] = {}
        self.known: set[int] = set()  # every case id read, with or without a vector
        self.state: tuple[int, int] | None = None
        self.counted = 0.0  # when the row count was last read (time.monotonic())
        self._index: NeighbourIndex | None = None

    def put(self, case_id: int, vector: np.ndarray, category: str) -> None:
        self.entries[case_id] = (vector, category)
        self._index = None

    def drop(self, case_id: int) -> None:
        if self.entries.pop(case_id, None) is not None:
            self._index = None

    def index(self) -> NeighbourIndex | None:
        if not self.entries:
            return None
        if self._index is None:
            vecs = [v for v, _ in self.entries.values()]
            labels = [c for _, c in self.entries.values()]
            self._index = NeighbourIndex(np.vstack(vecs), labels, encoder=self.encoder)
        return self._index
