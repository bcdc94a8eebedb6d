"""The web server's heartbeat, run by the ASGI lifespan as uvicorn drives it."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from controltower.asgi import application
from integrations.choices import ProcessRole
from integrations.models import ProcessHeartbeat


@pytest.mark.django_db(transaction=True)
def test_the_web_server_beats_between_its_startup_and_its_shutdown(settings):
    settings.CT_HEARTBEAT_SECONDS = 0.2
    sent: list[dict] = []

    async def serve() -> int:
        inbox: asyncio.Queue[dict] = asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})

        async def send(message: dict) -> None:
            sent.append(message)

        server = asyncio.create_task(
            application({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
        )
        for _ in range(100):  # a few beats, at most 10 s
            await asyncio.sleep(0.1)
            beats = await asyncio.to_thread(
                lambda: ProcessHeartbeat.objects.filter(role=ProcessRole.WEB).count()
            )
            if beats and len(sent) == 1:
                break
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(server, timeout=10)
        return beats

    # On a thread of its own: a browser test may have left an event loop on this one.
    with ThreadPoolExecutor(max_workers=1) as thread:
        assert thread.submit(asyncio.run, serve()).result() == 1
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    row = ProcessHeartbeat.objects.get(role=ProcessRole.WEB)
    assert row.name.endswith(f":{os.getpid()}") and row.beat_at is not None
