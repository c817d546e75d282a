"""One-tap category fixes: the classifier's likeliest categories, offered first.

Two places offer them, both settling the category through `labels.settle_label`:

* the **resident's filing message**, when the classifier was unsure (it abstained and the case
  waits at triage, or its answer's share is below `UNSURE_BELOW`): the top three as buttons
  (`r:one:<case>:<version>:<category>`, the case's own category marked) and *Something else*
  (`r:else:<case>:<version>`). A press counts only from the reporter, only while nobody has
  started on the case — its status is still `triage` or `assigned` — and within `WINDOW` of
  filing, and only with the version the buttons were drawn for (any change to the case, the
  press itself included, makes them stale);
* the **triage card** (chat `/triage` and the desk): the top three first, *More…* for the
  whole taxonomy — a step of the `category` row of the action table.

The probabilities come from `Classification.top` (routing/classifier.py); the case's text is
classified again when the choices are drawn (the classifier is deterministic and about a
millisecond a message), so nothing more is stored on the case.
"""

from __future__ import annotations

from datetime import timedelta

from bot.services.cases.status import Status
from bot.services.shared.domain import UnitOfWork
from bot.services.shared.outbox import Button, Keyboard
from bot.store.models import Case
from routing.classifier import Classification

#: How many categories are offered first.
TOP = 3
#: An answer whose share is below this is "unsure": the resident is offered the top three.
UNSURE_BELOW = 0.7
#: How long after filing the resident's one-tap buttons count.
WINDOW = timedelta(minutes=30)
#: The statuses in which they count: nobody has accepted or handled the case yet.
STATUSES = frozenset({Status.TRIAGE, Status.ASSIGNED})


def unsure(classification: Classification) -> bool:
    """Whether the classifier abstained or answered with a share below `UNSURE_BELOW`."""
    return classification.category is None or classification.confidence < UNSURE_BELOW


def top_categories(
    uow: UnitOfWork, text: str, *, k: int = TOP, classification: Classification | None = None
) -> list[str]:
    """The `k` likeliest categories of the grid map for `text`, likeliest first, topped up in
    the map's order when the classifier found fewer (a card keeps its shape)."""
    known = uow.routing.gridmap.categories
    found = classification or uow.domain.classifier.classify(text)
    ranked = [c for c, _ in found.top(len(known)) if c in known][:k]
    for c in known:
        if len(ranked) >= k:
            break
        if c not in ranked:
            ranked.append(c)
    return ranked


def resident_choices(uow: UnitOfWork, case: Case, classification: Classification) -> list[str]:
    """What the resident is offered: the case's own category first when it has one, then
    the likeliest others, three in all; empty when the classifier found nothing to offer."""
    if not classification.top(1):
        return []
    choices = top_categories(uow, case.text, classification=classification)
    if case.category is not None and case.category in uow.routing.gridmap.categories:
        choices = [case.category] + [c for c in choices if c != case.category]
    return choices[:TOP]


def resident_keyboard(uow: UnitOfWork, case: Case, choices: list[str], lang: str) -> Keyboard:
    """The filing message's buttons in the resident's language: one per choice (the current
    category marked), then *Something else*."""
    label = uow.domain.renderer.label
    keyboard: Keyboard = []
    for c in choices:
        name = label(lang, f"cat_{c}")
        text = label(lang, "btn_cat_current", name=name) if c == case.category else name
        keyboard.append([Button.literal(text, f"r:one:{case.id}:{case.version}:{c}")])
    keyboard.append([Button.of("btn_cat_else", f"r:else:{case.id}:{case.version}")])
    return keyboard


def refusal(uow: UnitOfWork, case: Case, resident_id: int, version: int) -> str | None:
    """Why a one-tap press must change nothing (a label for the answer), or None."""
    if case.resident_id != resident_id:
        return "not_allowed"
    if case.version != version or case.status not in STATUSES:
        return "onetap_expired"
    if uow.now - case.created_at > WINDOW:
        return "onetap_expired"
    return None
