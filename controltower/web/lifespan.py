"""The web server's heartbeat, written from its event loop while it serves.

An ASGI server that speaks the lifespan protocol (uvicorn) starts it with the application
and stops it on shutdown; a heartbeat that stops coming means the loop is blocked or the
server is gone. The health probes list the web servers heard of lately.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import close_old_connections, connection
from django.utils import timezone

from integrations.choices import ProcessRole
from integrations.services.runtime import heartbeat_record, process_identity

logger = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class HeartbeatLifespan:
    """ASGI application for the ``lifespan`` scope: beats while the server runs."""

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        beating: asyncio.Task[None] | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                beating = asyncio.create_task(self.beat())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if beating is not None:
                    beating.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await beating
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def beat(self) -> None:
        identity = process_identity()
        name = f"web@{socket.gethostname()}:{identity['pid']}"
        started_at = timezone.now()
        record = sync_to_async(_record, thread_sensitive=False)
        while True:
            await record(name, started_at, identity)
            await asyncio.sleep(settings.CT_HEARTBEAT_SECONDS)


def _record(name: str, started_at: datetime, identity: dict[str, Any]) -> None:
    # On a thread of its own: the connection it opens is closed again, not left per thread.
    try:
        close_old_connections()
        heartbeat_record(role=ProcessRole.WEB, name=name, started_at=started_at, details=identity)
    except DatabaseError as exc:  # the liveness probe reports the database; go on beating
        logger.warning("Web heartbeat not recorded: %s", exc)
    finally:
        connection.close()
