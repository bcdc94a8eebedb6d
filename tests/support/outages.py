"""The tower's own outages, for real: its database or its broker where nothing answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from celery import current_app
from django.db import connection

from integrations.selectors.runtime import broker_check


@contextmanager
def database_unreachable() -> Iterator[None]:
    """This process's database connection points where no database answers (a path in no
    folder, a port nobody listens on), for real; restored afterwards."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-folder/controltower.sqlite3"
    else:
        connection.settings_dict["PORT"] = 1
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


def _forget_broker_connections() -> None:
    """The app keeps a pool of broker connections (and producers) made from the address it had
    when it first sent; drop them so that the next send connects to the address now set."""
    app = current_app._get_current_object()
    app._pool = None  # kombu keeps each address's pool; the original's is found again
    app.amqp._producer_pool = None


@contextmanager
def broker_unreachable() -> Iterator[None]:
    """The Celery app points at a broker address nobody listens on; restored afterwards."""
    conf = current_app.conf
    saved = conf.broker_url, conf.broker_transport
    conf.broker_url, conf.broker_transport = "redis://127.0.0.1:1/0", None
    _forget_broker_connections()
    try:
        broker_check(fresh=True)
        yield
    finally:
        conf.broker_url, conf.broker_transport = saved
        _forget_broker_connections()
        broker_check(fresh=True)
