"""What a live page needs: how it hears of changes (``integrations.live``) and whether
the partial it holds is still current."""

from __future__ import annotations

import hashlib

from django.conf import settings

from integrations.live import live_mode


def live_settings() -> dict[str, object]:
    """What a live page needs to know: how it hears of changes, and how often it polls."""
    return {
        "mode": live_mode(),
        "poll_seconds": settings.CT_LIVE_POLL_SECONDS,
        "socket_path": "/ws/live/",
    }


def live_version(html: str) -> str:
    """A short fingerprint of a rendered partial: a page that holds it is up to date."""
    return hashlib.sha1(html.encode(), usedforsecurity=False).hexdigest()[:16]
