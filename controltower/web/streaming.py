"""Streamed exports that fail before they answer, not in the middle of the body.

A streamed response sends its 200 and headers before the body is produced, so a query that
fails while the body is read leaves the client with a cut-off file that looks like a
finished one. ``primed`` fetches the first row (which runs the query, with its filters)
before the response is built: a refused or failed query is an error answer, and what
streams afterwards only reads a cursor that the database has already accepted. Rows are
still not all held in memory, so an export of any size stays cheap.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def primed(rows: Iterable[T]) -> Iterator[T]:
    """``rows`` with the first one already fetched (and the query behind it run)."""
    iterator = iter(rows)
    try:
        first = next(iterator)
    except StopIteration:
        return iter(())
    return itertools.chain([first], iterator)
