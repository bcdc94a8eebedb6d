"""Live updates: the engine says "the figures changed", open pages fetch them again.

The message carries no figures, only the news that there are new ones: a page that
hears it re-reads its own partial, so what it shows always comes from the same
selectors as a fresh load, and a lost message costs nothing but a later refresh.

With Redis (production) the message reaches every browser through the Channels
group ``LIVE_GROUP``, which the web layer's websocket consumer joins. In the embedded
mode the layer lives in one process's memory and the workers run in other processes,
so the pages poll instead (``live_mode``).

Publishing is throttled per process to one message per ``CT_LIVE_THROTTLE_SECONDS``:
a worker finishing ten chunks a second sends one message a second. A page that
hears a message fetches again a little later as well, so a change that fell inside
the throttle window still arrives.
"""

from __future__ import annotations

import logging
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

LIVE_GROUP = "live"
FIGURES = "figures"
IN_PROCESS_LAYERS = ("channels.layers.InMemoryChannelLayer",)

_lock = threading.Lock()
_last_sent = float("-inf")


def live_mode() -> str:
    """``socket`` when the channel layer reaches across processes (Redis), else ``poll``."""
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    return "socket" if backend and backend not in IN_PROCESS_LAYERS else "poll"


def figures_changed() -> None:
    """Tells the live pages that the figures changed, once the current transaction commits."""
    if not settings.CHANNEL_LAYERS:
        return
    transaction.on_commit(_publish)


def _publish() -> None:
    global _last_sent
    with _lock:
        clock = time.monotonic()
        if clock - _last_sent < settings.CT_LIVE_THROTTLE_SECONDS:
            return
        _last_sent = clock
    layer = get_channel_layer()
    if layer is None:
        return
    message = {
        "type": "live.event",
        "payload": {"kind": FIGURES, "at": timezone.now().isoformat()},
    }
    try:
        async_to_sync(layer.group_send)(LIVE_GROUP, message)
    except RuntimeError:
        # Called on a thread that runs an event loop itself: nobody there listens through us.
        logger.debug("Live update skipped: called from inside an event loop.")
    except Exception:  # the live view is a convenience; the work it reports is already done
        logger.warning("Live update could not be published.", exc_info=True)


def live_throttle_reset() -> None:
    """Forgets when the last message went out (for tests that publish twice in a row)."""
    global _last_sent
    with _lock:
        _last_sent = float("-inf")
