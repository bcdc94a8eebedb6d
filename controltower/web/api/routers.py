"""The API's router: ids in routes are numbers.

A route such as ``/transactions/<id>/retry/`` matches only a positive integer that the
database can hold, so ``/transactions/abc/retry/`` or an id past 2^63 is an unmatched path
(a JSON 404) instead of reaching a view that would fail converting it.
"""

from __future__ import annotations

from rest_framework.routers import DefaultRouter

# Up to 18 digits: every such number fits a signed 64-bit integer.
ID_REGEX = "[0-9]{1,18}"


class ApiRouter(DefaultRouter):
    def get_lookup_regex(self, viewset, lookup_prefix: str = "") -> str:
        lookup_field = getattr(viewset, "lookup_field", "pk")
        if lookup_field in ("pk", "id") and getattr(viewset, "lookup_value_regex", None) is None:
            lookup_url_kwarg = getattr(viewset, "lookup_url_kwarg", None) or lookup_field
            return f"(?P<{lookup_prefix}{lookup_url_kwarg}>{ID_REGEX})"
        return super().get_lookup_regex(viewset, lookup_prefix)
