"""Pages as a signed-in person sees them."""

from __future__ import annotations

from django.test import Client


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
