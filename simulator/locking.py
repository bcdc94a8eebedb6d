"""The one way the simulator makes two concurrent requests take turns on a key."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction

Row = TypeVar("Row", bound=models.Model)


def row_claim(model: type[Row], **key: Any) -> tuple[Row, bool]:
    """The row of ``model`` with ``key``, locked until the open transaction ends; inserted
    (answering ``True``) when there is none.

    ``model`` has a unique constraint on the ``key`` fields. When another transaction is
    inserting the same row, PostgreSQL makes this insert wait for it and then fail on the
    constraint, and the row is then locked as it stands; SQLite lets one writer in at a
    time, so the row is simply found. Must run inside ``transaction.atomic``.
    """
    rows = model._default_manager.select_for_update().filter(**key)
    row = rows.first()
    if row is not None:
        return row, False
    try:
        with transaction.atomic():
            return model._default_manager.create(**key), True
    except IntegrityError:
        return rows.get(), False
