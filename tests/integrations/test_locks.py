"""Named locks on the embedded default: advisory file locks striped over a fixed number of
files, so two names may share a stripe. A thread that holds one name and takes another of
the same stripe (a push that fetches an access token) must not wait for itself; another
thread still waits for it."""

from __future__ import annotations

import itertools
import threading

import pytest
from django.db import connection

from integrations.services.locks import FILE_STRIPES, LockBusy, lock_key, named_lock

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="file locks are the embedded one's"),
]


def same_stripe() -> tuple[str, str]:
    """Two lock names that fall in the same stripe."""
    first = "push:1:project:1"
    stripe = lock_key(first) % FILE_STRIPES
    other = next(
        name
        for name in (f"oauth:{n}" for n in itertools.count(1))
        if lock_key(name) % FILE_STRIPES == stripe
    )
    return first, other


def test_a_thread_takes_a_second_name_of_the_stripe_it_holds_without_waiting():
    push, token = same_stripe()
    with named_lock(push, timeout=0.5), named_lock(token, timeout=0.5):
        pass  # no LockBusy: the stripe is this thread's


def test_another_thread_still_waits_for_the_stripe():
    push, token = same_stripe()
    outcome: list[str] = []

    def other() -> None:
        try:
            with named_lock(token, timeout=0.3):
                outcome.append("took it")
        except LockBusy:
            outcome.append("waited in vain")

    with named_lock(push, timeout=0.5):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert outcome == ["waited in vain"]
    with named_lock(token, timeout=0.5):  # released with the block: free again
        pass
