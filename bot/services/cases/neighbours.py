"""The deployment's settled cases as the classifier's neighbours: learning at once.

Every case whose category a person settled — resolved or closed in it, or its category
corrected by the resident, the grid leader or at triage (the same rule as
``bot.services.cases.labels``) — joins the ``case_neighbours`` table **in the transaction that
settles it** (:func:`settle`, called by ``bot.services.cases.lifecycle``): its embedding (the
second voter's, ``routing.voter``), category and language.  The next similar message is
classified with it (:func:`classify`), without retraining or restart, by every replica: each
process keeps the rows in memory and re-reads only what changed, noticed by the table's
largest id (a replaced row is a new row: ids only grow), read from its primary key's index.
A row gone without a successor (a case deleted outside the bot, a restored backup) is noticed
by the row count, a scan of the table, so that is read only every ``RECOUNT`` seconds.

A later correction of the same case replaces its row, so a wrong correction is undone by the
next one (a reopened case recategorised likewise).  A case settled while the voter was not
loaded is stored without an embedding; :func:`fill_missing` computes those once the voter is
loaded (the bot does at start-up, off the event loop).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

from sqlalchemy import delete, func, select

from bot.services.shared.domain import Domain, UnitOfWork
from bot.store.db import hot_rows
from bot.store.models import Case, CaseNeighbour
from routing.classifier import Classification
from routing.neighbours import DeploymentIndex, NeighbourIndex, from_bytes, to_bytes

log = logging.getLogger(__name__)

#: What tells whether rows were added or replaced (ids only grow): the largest id, one step
#: down the primary key's index whatever the table's size.
_TOP = select(func.max(CaseNeighbour.id))
#: What also tells whether rows vanished: the largest id and the row count, which scans the
#: table; read at most every ``RECOUNT`` seconds (and when the largest id went down).
_STATE = select(func.max(CaseNeighbour.id), func.count(CaseNeighbour.id))
RECOUNT = 60.0

#: Embeddings computed per transaction by :func:`fill_missing`.
FILL_BATCH = 200


async def settle(uow: UnitOfWork, case: Case) -> None:
    """The case's current category joins (or replaces its entry in) the neighbour table."""
    if case.category is None or not (case.text or "").strip():
        return
    classifier = uow.domain.classifier
    vector = await asyncio.to_thread(classifier.embed, case.text) if classifier.voting else None
    await uow.session.execute(delete(CaseNeighbour).where(CaseNeighbour.case_id == case.id))
    uow.session.add(
        CaseNeighbour(
            case_id=case.id,
            category=case.category,
            language=case.language,
            encoder=classifier.voter.name if vector is not None and classifier.voter else None,
            embedding=to_bytes(vector) if vector is not None else None,
            at=uow.now,
        )
    )
    await uow.session.flush()


async def index(uow: UnitOfWork) -> NeighbourIndex | None:
    """The deployment's settled cases as a neighbour index (``None`` without the voter)."""
    voter = uow.domain.classifier.voter
    if voter is None:
        return None
    cache: DeploymentIndex | None = uow.domain.neighbour_cache
    if cache is None or cache.encoder != voter.name:
        cache = uow.domain.neighbour_cache = DeploymentIndex(voter.name)
    now = time.monotonic()
    if cache.state is not None and now - cache.counted < RECOUNT:
        ((top,),) = await hot_rows(uow.session, _TOP, {})
        top = int(top or 0)
        if top == cache.state[0]:
            return cache.index()
        if top > cache.state[0]:  # rows added or replaced: read the new ones
            read = await _read(uow, cache, cache.state[0], top)
            if read < top - cache.state[0]:
                # an id between is missing: a rolled-back insert, or one whose transaction has
                # not committed yet (ids are taken in order, commits need not be): the next
                # look counts the rows, so that one is read as soon as it is there
                cache.counted = 0.0
            cache.state = (top, len(cache.known))
            return cache.index()
    ((top, count),) = await hot_rows(uow.session, _STATE, {})
    state = (int(top or 0), int(count or 0))
    if state == cache.state:
        cache.counted = now
        return cache.index()
    last = cache.state[0] if cache.state is not None else 0
    if state[0] < last:  # the table was emptied or restored: read it all again
        cache = uow.domain.neighbour_cache = DeploymentIndex(voter.name)
        last = 0
    await _read(uow, cache, last, state[0])
    if len(cache.known) != state[1] and last:
        # a row disappeared without a successor (a deleted case): read it all again
        cache = uow.domain.neighbour_cache = DeploymentIndex(voter.name)
        await _read(uow, cache, 0, state[0])
    cache.state = state
    cache.counted = now
    return cache.index()


async def _read(uow: UnitOfWork, cache: DeploymentIndex, after: int, upto: int) -> int:
    """Read the rows with ``after < id <= upto`` into ``cache``; returns how many there were."""
    rows = await uow.session.execute(
        select(
            CaseNeighbour.case_id,
            CaseNeighbour.category,
            CaseNeighbour.encoder,
            CaseNeighbour.embedding,
        )
        .where(CaseNeighbour.id > after, CaseNeighbour.id <= upto)
        .order_by(CaseNeighbour.id)
    )
    found = rows.all()
    for case_id, category, encoder, blob in found:
        if blob is not None and encoder == cache.encoder:
            cache.put(case_id, from_bytes(blob), category)
        else:
            cache.drop(case_id)  # waiting for fill_missing: the old entry is no longer true
        cache.known.add(case_id)
    return len(found)


async def classify(uow: UnitOfWork, text: str) -> Classification:
    """Classify a resident's message with the deployment's settled cases voting too.

    With the second voter the work (an embedding, the neighbour votes: a few milliseconds)
    runs in a worker thread, off the event loop."""
    classifier = uow.domain.classifier
    if not classifier.voting:
        return classifier.classify(text)
    neighbours = await index(uow)
    known = _RECENT.get(text)
    if known is not None and known[0] is classifier and known[1] is neighbours:
        _RECENT.move_to_end(text)
        return known[2]
    found = await asyncio.to_thread(classifier.classify, text, neighbours)
    _RECENT[text] = (classifier, neighbours, found)
    if len(_RECENT) > RECENT:
        _RECENT.popitem(last=False)
    return found


#: The last messages classified, with the classifier and the settled-case index that voted:
#: the same text asked again while neither changed (a report filed after "file a new one
#: anyway", a draft sent twice) gets the same answer without a second embedding.
RECENT = 64
_RECENT: OrderedDict[str, tuple[Any, Any, Classification]] = OrderedDict()


async def fill_missing(domain: Domain) -> int:
    """Compute the embeddings of settled cases stored without one (or with another
    encoder's); returns how many.  Run off the event loop's critical path, in batches."""
    classifier = domain.classifier
    voter = classifier.voter
    if voter is None:
        return 0
    done = 0
    while True:
        async with domain.unit() as uow:
            rows = (
                await uow.session.execute(
                    select(CaseNeighbour.id, Case.text)
                    .join(Case, Case.id == CaseNeighbour.case_id)
                    .where(
                        (CaseNeighbour.embedding.is_(None))
                        | (CaseNeighbour.encoder.is_(None))
                        | (CaseNeighbour.encoder != voter.name)
                    )
                    .order_by(CaseNeighbour.id)
                    .limit(FILL_BATCH)
                )
            ).all()
        if not rows:
            return done
        vectors = await asyncio.to_thread(voter.embed, [text or " " for _, text in rows])
        async with domain.unit() as uow:
            for (row_id, _), vector in zip(rows, vectors, strict=True):
                row = await uow.session.get(CaseNeighbour, row_id)
                if row is None or (row.embedding is not None and row.encoder == voter.name):
                    continue  # replaced or filled meanwhile
                # a new row (ids only grow) so that every replica notices the change
                await uow.session.delete(row)
                await uow.session.flush()
                uow.session.add(
                    CaseNeighbour(
                        case_id=row.case_id,
                        category=row.category,
                        language=row.language,
                        encoder=voter.name,
                        embedding=to_bytes(vector),
                        at=row.at,
                    )
                )
                done += 1
        log.info("settled cases embedded for the classifier: %d", done)
