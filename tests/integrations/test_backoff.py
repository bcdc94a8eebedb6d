from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from integrations.services.processing import backoff_delay


@given(
    attempt=st.integers(min_value=1, max_value=30),
    base=st.floats(min_value=0.1, max_value=60),
    cap=st.floats(min_value=60, max_value=3600),
    seed=st.integers(),
)
def test_the_delay_stays_within_the_exponential_ceiling_and_the_cap(attempt, base, cap, seed):
    delay = backoff_delay(attempt=attempt, base=base, cap=cap, rng=random.Random(seed))
    assert 0 <= delay <= min(cap, base * 2 ** (attempt - 1))


def test_the_delay_is_jittered_across_the_whole_window():
    rng = random.Random(7)
    delays = [backoff_delay(attempt=5, base=1, cap=600, rng=rng) for _ in range(2000)]
    assert min(delays) < 1.6 and max(delays) > 14.4  # full jitter over [0, 16]


@given(retry_after=st.floats(min_value=0, max_value=10_000), seed=st.integers())
def test_a_retry_after_is_never_undercut(retry_after, seed):
    delay = backoff_delay(
        attempt=1, base=1, cap=10, retry_after=retry_after, rng=random.Random(seed)
    )
    assert delay >= retry_after
