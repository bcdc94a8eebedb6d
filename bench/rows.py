"""Rows written in bulk: COPY on PostgreSQL, multi-row inserts elsewhere, into id ranges
reserved so that nothing else takes an id the seed is about to write.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import connection, models


class Table:
    """A model's own table's columns in table order, with the value each takes unless a row
    says otherwise (a model that extends another writes its parent's table separately)."""

    def __init__(self, model: type[models.Model], *, with_id: bool = True) -> None:
        self.name = model._meta.db_table
        fields = [f for f in model._meta.local_concrete_fields if with_id or not f.primary_key]
        self.columns = [f.column for f in fields]
        self._index = {f.attname: i for i, f in enumerate(fields)}
        self._defaults = [_default(f) for f in fields]

    def index(self, attname: str) -> int:
        return self._index[attname]

    def row(self, **values: Any) -> tuple:
        row = list(self._defaults)
        index = self._index
        for name, value in values.items():
            row[index[name]] = value
        return tuple(row)


def _default(f: models.Field) -> Any:
    if f.has_default():
        value = f.get_default()
        return json.dumps(value) if isinstance(f, models.JSONField) else value
    if f.null or f.primary_key:
        return None
    if isinstance(f, models.CharField | models.TextField):
        return ""
    return None  # every other column is given by the rows


def insert_rows(table: Table, rows: Iterable[tuple]) -> int:
    """COPY on PostgreSQL; multi-row inserts elsewhere. Returns how many rows went in."""
    qn = connection.ops.quote_name
    columns = ", ".join(qn(c) for c in table.columns)
    count = 0
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            with cursor.copy(f"COPY {qn(table.name)} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        return count
    sql = f"INSERT INTO {qn(table.name)} ({columns}) VALUES ({', '.join(['%s'] * len(table.columns))})"
    batch: list[list[Any]] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append([_adapt(value) for value in row])
            if len(batch) >= 5_000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def _adapt(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def reserve_ids(model: type[models.Model], n: int) -> int:
    """The first of ``n`` ids nobody else will take: the sequence is moved past them."""
    table = model._meta.db_table
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {qn(table)}")
        top = cursor.fetchone()[0]
        if connection.vendor != "postgresql":
            return top + 1  # SQLite: the seed's write transaction keeps others out
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        cursor.execute(f"SELECT last_value FROM {sequence}")
        start = max(top, cursor.fetchone()[0])
        cursor.execute("SELECT setval(%s::regclass, %s)", [sequence, start + n])
    return start + 1
