"""Upcasters: the one place an event of an older schema version becomes the current one.

Each upcaster takes an event valid in version ``n`` of its type and returns it valid in
version ``n + 1`` (it may change the event and its ``data`` in place: they are copies; a
nested list or object it changes it replaces, never edits); ``event_upcast`` runs them in turn up to the current version. The
canonical adapter calls it for every event it reads (a webhook's, a vendor mapping's, a
poller's, an edited replay), so the flows only ever read the current version. A contract
test checks that every older version has its upcaster, and each upcaster has its own test.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

Event = dict[str, Any]
Upcaster = Callable[[Event], Event]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Registers the function carrying ``event_type`` from ``from_version`` to the next."""

    def register(function: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in UPCASTERS:
            raise ValueError(f"{event_type} v{from_version} already has an upcaster.")
        UPCASTERS[key] = function
        return function

    return register


def event_upcast(*, event: Event, event_type: str, version: int, current: int) -> Event:
    """``event`` (valid in ``version``) as the ``current`` version: a new dict naming its
    ``schema_version``; the event itself is left as it arrived."""
    if version == current:
        return event
    # The envelope and its data are copied (a deep copy would cost more than the rest of
    # reading the event); an upcaster changing a nested list or object builds a new one.
    upcast = {**event, "data": dict(event["data"])}
    for step in range(version, current):
        function = UPCASTERS.get((event_type, step))
        if function is None:
            raise LookupError(f"{event_type} v{step} has no upcaster to v{step + 1}.")
        upcast = function(upcast)
        upcast["schema_version"] = step + 1
    return upcast


CENT = Decimal("0.01")


@upcaster("time_entry.approved", 1)
def time_entry_approved_v1(event: Event) -> Event:
    """v2 carries ``hours`` as a decimal string with at most two places ("7.50"), as money
    is carried, instead of a JSON number a sender's float may have made 7.499999. The value
    is rounded to the cent of an hour as the tower has always stored it (half to even)."""
    hours = Decimal(str(event["data"]["hours"])).quantize(CENT, rounding=ROUND_HALF_EVEN)
    event["data"]["hours"] = str(hours)
    return event
