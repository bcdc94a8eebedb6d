"""The live channel: signed-in browsers join one group and receive what is sent to it."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from controltower.consumers import LIVE_GROUP
from controltower.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)

application = URLRouter(websocket_urlpatterns)


def run(scenario):
    """Runs a coroutine on its own loop in its own thread (Playwright may own this thread's loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, scenario()).result(timeout=30)


def test_an_anonymous_socket_is_closed():
    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/live/")
        communicator.scope["user"] = AnonymousUser()
        connected, code = await communicator.connect()
        return connected, code

    assert run(scenario) == (False, 4401)


def test_a_signed_in_socket_receives_the_live_group_messages(user_with_role):
    user = user_with_role("viewer")

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/live/")
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        await get_channel_layer().group_send(
            LIVE_GROUP,
            {"type": "live.event", "payload": {"kind": "transaction", "state": "succeeded"}},
        )
        message = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return message

    assert run(scenario) == {"kind": "transaction", "state": "succeeded"}
