"""The live channel: signed-in browsers join one group and receive what is sent to it."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from controltower.web.routing import websocket_urlpatterns
from integrations.live import LIVE_GROUP

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


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """Another test in this process may have published a moment ago."""
    from integrations.live import live_throttle_reset

    live_throttle_reset()
    yield
    live_throttle_reset()


def closing(action):
    """``action``, then its thread's database connections closed (the test database is
    dropped at the end, which PostgreSQL refuses while a connection is open)."""
    from django.db import connections

    def run_and_close():
        try:
            action()
        finally:
            connections.close_all()

    return run_and_close


def listen(user, action):
    """Connects a signed-in socket, runs ``action`` (sync code, on a worker thread) and
    returns the messages that arrived within a second, then closes."""
    from asgiref.sync import sync_to_async

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/live/")
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        await sync_to_async(closing(action))()
        messages = []
        while not await communicator.receive_nothing(timeout=1):
            messages.append(await communicator.receive_json_from(timeout=1))
        await communicator.disconnect()
        return messages

    return run(scenario)


def test_a_processed_chunk_tells_the_connected_pages_that_the_figures_changed(user_with_role):
    from django.test import Client

    from controltower.operations.demo import demo_load
    from integrations.services.processing import transactions_process
    from tests.support.inbound import customer_event, signed_post

    demo_load()
    ids = signed_post(Client(), "crm", [customer_event("C-8101"), customer_event("C-8102")]).json()[
        "transaction_ids"
    ]

    messages = listen(user_with_role("viewer"), lambda: transactions_process(ids=ids))

    assert [m["kind"] for m in messages] == ["figures"]  # one per chunk, not one per event
    assert set(messages[0]) == {"kind", "at"}


def test_a_chunk_with_nothing_to_claim_sends_nothing(user_with_role):
    from integrations.services.processing import transactions_process

    assert listen(user_with_role("viewer"), lambda: transactions_process(ids=[999_999])) == []


def test_closing_an_exception_tells_the_pages_after_it_commits(user_with_role):
    from controltower.operations.services.exceptions import exception_dismiss
    from tests.factories.operations import BusinessExceptionFactory

    exc = BusinessExceptionFactory()
    operator = user_with_role("operator")

    messages = listen(
        user_with_role("viewer"),
        lambda: exception_dismiss(exception_id=exc.pk, actor=operator, reason="Duplicate"),
    )

    assert [m["kind"] for m in messages] == ["figures"]


def test_messages_inside_the_throttle_window_are_sent_once(user_with_role, settings):
    import time

    from integrations.live import figures_changed

    settings.CT_LIVE_THROTTLE_SECONDS = 0.6

    def burst():
        for _ in range(5):
            figures_changed()
        time.sleep(0.7)
        figures_changed()  # after the window: sent again

    assert len(listen(user_with_role("viewer"), burst)) == 2


def test_pages_poll_in_the_embedded_mode_and_listen_on_the_socket_with_redis(settings):
    from integrations.live import live_mode

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert live_mode() == "poll"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:6379/9"]},
        }
    }
    assert live_mode() == "socket"
