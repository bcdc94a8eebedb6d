"""The overview in a real browser: the seeded figures, the charts drawn, and a counter that
changes by itself after an event arrives through the inbound API."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.controltower.web.browser.test_sign_in import sign_in
from tests.support.inbound import customer_event, events_post_over_http, signed_post

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

CHART = """(selector) => {
    const canvas = document.querySelector(selector);
    const chart = canvas && window.Chart && window.Chart.getChart(canvas);
    if (!chart) return null;
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
    const points = chart.data.datasets.map((d) => d.data.reduce((a, b) => a + b, 0));
    return {
        type: chart.config.type,
        labels: chart.data.labels.length,
        datasets: chart.data.datasets.map((d) => d.label),
        total: points.reduce((a, b) => a + b, 0),
        painted: painted,
    };
}"""


def chart(page: Page, selector: str) -> dict:
    """The Chart.js chart on ``selector`` once the page's deferred scripts have drawn it."""
    page.wait_for_function(
        "(s) => window.Chart && window.Chart.getChart(document.querySelector(s))", arg=selector
    )
    return page.evaluate(CHART, selector)


def tile(page: Page, key: str):
    return page.locator(f'[data-figure="{key}"]')


@pytest.fixture
def embedded(settings):
    """The embedded mode's channel layer (one process's memory): the page polls, quickly."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.CT_LIVE_POLL_SECONDS = 0.5


@pytest.fixture
def processed():
    """The demo, and three customer events from the CRM processed: two applied, one blocked."""
    from django.test import Client

    from controltower.operations.demo import demo_load
    from integrations.services.processing import transactions_process

    demo_load()
    ids = signed_post(
        Client(),
        "crm",
        [
            customer_event("C-8301"),
            customer_event("C-8302"),
            customer_event("C-8303", legal_entity="XX01"),  # no such legal entity: blocked
        ],
    ).json()["transaction_ids"]
    transactions_process(ids=ids)


def test_the_overview_shows_the_seeded_figures_and_draws_its_charts(
    page: Page, live_server, screenshot, embedded, processed
):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server.url, "viewer", "viewer")

    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    expect(tile(page, "success_rate").locator(".tile-value")).to_have_text("66.7 %")
    expect(tile(page, "success_rate").locator(".tile-note")).to_have_text("2 of 3 finished")
    expect(tile(page, "failed").locator(".tile-value")).to_have_text("1")
    expect(tile(page, "failed")).to_contain_text("Needs a look")  # said in words, not only red
    expect(tile(page, "open_exceptions").locator(".tile-value")).to_have_text("1")
    master = page.locator('tr[data-flow="master_data_sync"]')
    expect(master.locator("td").first).to_have_text("3")

    throughput = chart(page, "#throughput-chart")
    assert throughput["type"] == "line"
    assert throughput["labels"] == 24
    assert "Master-data sync" in throughput["datasets"]
    assert throughput["total"] == 3  # finished: two succeeded, one blocked
    assert throughput["painted"] > 500  # axes, lines and points were drawn
    by_type = chart(page, "#by-type-chart")
    assert by_type["type"] == "bar" and by_type["total"] == 1 and by_type["painted"] > 100
    expect(page.locator("#by-type-chart")).to_have_attribute(
        "aria-label", "Open exceptions by type: Invalid legal entity: 1."
    )

    # The chart's numbers, for whoever cannot read the chart.
    page.get_by_text("The chart's numbers").click()
    numbers = page.locator("#throughput-numbers table")
    expect(numbers.get_by_role("columnheader", name="Master-data sync")).to_be_visible()
    screenshot("1280")

    page.set_viewport_size({"width": 820, "height": 1000})
    expect(page.locator(".tiles").first).to_be_visible()
    # Nothing spills over the width (the charts follow it when their observer fires).
    page.wait_for_function("document.documentElement.scrollWidth <= 820", timeout=5_000)
    screenshot("820")

    ranges = page.get_by_role("navigation", name="Time range of the flow figures")
    ranges.get_by_role("link", name="Last 7 days").click()
    expect(page).to_have_url(f"{live_server.url}/?range=7d")
    week = chart(page, "#throughput-chart")
    assert week["labels"] == 7 and week["total"] == 3


def test_a_live_counter_changes_after_an_event_is_posted(
    page: Page, live_server, screenshot, embedded, processed
):
    from integrations.services.processing import transactions_process

    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server.url, "operator", "operator")
    master = page.locator('tr[data-flow="master_data_sync"] td').first
    expect(master).to_have_text("3")
    expect(page.locator("[data-live-status]")).to_contain_text("Updates every 0.5 s")
    page.evaluate("window.__stillTheSamePage = true")

    ids = events_post_over_http(live_server.url, customer_event("C-8304"))

    # Received counts the moment the event is stored; nothing has run it yet.
    expect(master).to_have_text("4")
    expect(tile(page, "retry_queue").locator(".tile-note")).to_have_text("1 new waiting to run")
    expect(page.locator("[data-live-status]")).to_contain_text("checked")
    screenshot("received")

    transactions_process(ids=ids)

    expect(tile(page, "success_rate").locator(".tile-value")).to_have_text("75.0 %")
    expect(tile(page, "retry_queue").locator(".tile-note")).to_have_text(
        "nothing new waiting to run"
    )
    assert chart(page, "#throughput-chart")["total"] == 4  # the chart was drawn again
    assert page.evaluate("window.__stillTheSamePage") is True  # no reload
    screenshot("processed")


@pytest.fixture
def asgi_server(transactional_db):
    """The tower's ASGI application (HTTP and the live websocket) served by uvicorn on a
    free port, in this process, on the test database."""
    import socket
    import threading
    import time

    import uvicorn
    from django.db import connections

    from controltower.asgi import application

    # The server's threads close their connections after each request, as Django does
    # without persistent connections, so that none is left open on the test database.
    database = connections.settings["default"]
    kept_for = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
            ws="websockets-sansio",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    database["CONN_MAX_AGE"] = kept_for


def test_with_redis_the_overview_hears_the_engine_over_the_websocket(
    page: Page, asgi_server, screenshot, processed, settings
):
    """Production's way: no polling to speak of; the worker's message brings the figures."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from integrations.live import live_mode, live_throttle_reset
    from integrations.services.processing import transactions_process

    if live_mode() != "socket":
        pytest.skip("the websocket path needs a shared channel layer: run with REDIS_URL")
    settings.CT_LIVE_POLL_SECONDS = 120  # far beyond this test: only the socket can update it
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, asgi_server, "operator", "operator")
    status = page.locator("[data-live-status]")
    expect(status).to_contain_text("Live: updates as events arrive")
    expect(tile(page, "success_rate").locator(".tile-value")).to_have_text("66.7 %")

    ids = events_post_over_http(asgi_server, customer_event("C-8305"))

    def work() -> None:  # as a worker would: on its own thread, with its own connection
        try:
            live_throttle_reset()
            transactions_process(ids=ids)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(work).result(timeout=30)

    expect(tile(page, "success_rate").locator(".tile-value")).to_have_text("75.0 %")
    expect(page.locator('tr[data-flow="master_data_sync"] td').first).to_have_text("4")
    expect(status).to_contain_text("Live: updates as events arrive")
    screenshot()
