"""The tower's URLs and two that fail, to see what a person and a client get from a 500."""

from __future__ import annotations

from django.urls import path

from controltower.urls import handler404
from controltower.urls import urlpatterns as tower_urlpatterns


def crash(request):
    raise RuntimeError("a bug in a view")


handler500 = "controltower.web.outage.server_error"
__all__ = ["handler404", "handler500", "urlpatterns"]

urlpatterns = [
    path("crash/", crash),
    path("api/v1/crash/", crash),
    *tower_urlpatterns,
]
