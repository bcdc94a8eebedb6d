"""The API's documentation page works offline: Swagger UI comes from the tower's own
static files, and the page asks no other host for anything."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def only_the_tower(page: Page, live_server) -> list[str]:
    """Lets the page reach the tower alone; returns the list of what it asked elsewhere."""
    tower = urlsplit(live_server.url).netloc
    elsewhere: list[str] = []

    def route_it(route: Route) -> None:
        if urlsplit(route.request.url).netloc == tower:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", route_it)
    return elsewhere


def test_the_api_docs_render_with_no_request_leaving_the_tower(page: Page, live_server, screenshot):
    elsewhere = only_the_tower(page, live_server)
    page.goto(f"{live_server.url}/api/docs/")

    expect(page.locator(".swagger-ui .title")).to_contain_text("Integration Control Tower API")
    expect(page.locator(".opblock").first).to_be_visible()
    # Swagger UI draws only the operations near the view (OpenAPI 3.1): scroll down to it.
    inbound = page.locator(".opblock-summary-path", has_text="/api/v1/inbound/{system_slug}/")
    for _ in range(200):
        if inbound.count():
            break
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(50)
    expect(inbound.first).to_be_visible()
    expect(page.get_by_text("contract.signed").first).to_be_attached()  # the webhooks
    screenshot("api-docs")
    assert elsewhere == []
