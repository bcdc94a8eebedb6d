"""The API under ``/api/v1/``: the canonical records, the engine's work and the
operations layer's, and the subscriptions to the tower's events, each from its own module."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("controltower.web.api.canonical.urls")),
    path("", include("controltower.web.api.engine.urls")),
    path("", include("controltower.web.api.operations.urls")),
    path("", include("controltower.web.api.subscriptions.urls")),
]
