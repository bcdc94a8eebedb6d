"""The real URLs, plus a stand-in for each list page the overview links to that does not
exist yet, so that its links (built with ``url_or_empty``) can be checked before every
section has its page. A page that exists is used as it is."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, include, path, reverse

from controltower.urls import urlpatterns as real_urlpatterns

LINKED = (
    ("transactions", "list"),
    ("exceptions", "list"),
    ("approvals", "list"),
    ("slas", "index"),
)


def stand_in(request: HttpRequest) -> HttpResponse:
    return HttpResponse("A section still being built.")


urlpatterns = list(real_urlpatterns)
for namespace, name in LINKED:
    try:
        reverse(f"{namespace}:{name}", urlconf="controltower.urls")
    except NoReverseMatch:
        urlpatterns.append(
            path(f"stand-in/{namespace}/", include(([path("", stand_in, name=name)], namespace)))
        )
