"""What every case of the benchmark shares: the error that ends a run, the progress line, percentiles."""

from __future__ import annotations

import statistics
from collections.abc import Callable

# Where a case writes its progress lines (the command prints them as they come).
Report = Callable[[str], None]


class BenchError(Exception):
    """The run could not be completed; the message says why."""


def percentile_of(values: list[float], percentile: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percentile - 1]
