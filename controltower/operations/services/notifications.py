"""Delivery of SLA notifications: email through Django's mail backend, chat through a webhook.

A notification is a row before it is a message. Celery beat runs
``notifications_deliver`` every half minute; it sends what is pending and due,
writes a ``NotificationAttempt`` for every try, and retries a failure with
exponential backoff (honouring a receiver's ``Retry-After``) until
``CT_NOTIFY_MAX_ATTEMPTS``, after which the notification is ``failed``. A 4xx
answer other than 408 and 429 is permanent: the webhook address is wrong and
retrying will not fix it.

A worker claims a notification by a conditional update of its attempt count
before sending, so two workers never send it twice; the claim also moves the
next attempt past the send's time limit, so a worker killed mid-send leaves it
to be tried again (at least once, never lost).

Maintenance windows hold alerts, not data: during a window that covers a
notification's team (or every team), the notification is ``held`` until the
window ends, then released to ``pending`` and sent. The SLA sweep, and all
processing, carry on through the window. A snoozed exception's notifications
wait for the snooze to end in the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F, Q
from django.utils import timezone

from controltower.operations.choices import NotificationChannel, NotificationStatus
from controltower.operations.models import MaintenanceWindow, Notification, NotificationAttempt

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429})
USER_AGENT = "integration-control-tower/1 (SLA notifications)"


@dataclass(frozen=True)
class DeliveryResult:
    """How one try went."""

    ok: bool
    status_code: int | None = None
    error: str = ""
    permanent: bool = False
    retry_after: float | None = None


def notifications_deliver(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Releases held notifications whose window ended, then holds or sends what is due."""
    now = now or timezone.now()
    counts: Counter[str] = Counter()
    windows = list(MaintenanceWindow.objects.filter(starts_at__lte=now, ends_at__gt=now))
    counts["released"] = _held_release(now=now, windows=windows)
    due = (
        Notification.objects.filter(status=NotificationStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .select_related("breach__exception")
        .order_by("next_attempt_at", "id")[: settings.CT_NOTIFY_BATCH]
    )
    client: httpx.Client | None = None  # made on the first webhook: it costs a TLS context
    try:
        for notification in due:
            window_end = _window_end(notification, windows)
            if window_end is not None:
                counts["held"] += _hold(notification, until=window_end)
                continue
            exception = notification.breach.exception if notification.breach_id else None
            if exception is not None and exception.snoozed_until and exception.snoozed_until > now:
                counts["snoozed"] += _postpone(notification, until=exception.snoozed_until)
                continue
            if client is None and notification.channel == NotificationChannel.WEBHOOK:
                client = webhook_client()
            counts[notification_send(notification=notification, client=client, now=now)] += 1
    finally:
        if client is not None:
            client.close()
    return {name: value for name, value in counts.items() if value}


def webhook_client() -> httpx.Client:
    return httpx.Client(
        timeout=settings.CT_NOTIFY_TIMEOUT_SECONDS,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


def notification_send(
    *, notification: Notification, client: httpx.Client | None = None, now: dt.datetime
) -> str:
    """One try at one notification: ``sent``, ``retry``, ``failed``, or ``skipped`` if taken."""
    number = notification.attempts_count + 1
    claimed = Notification.objects.filter(
        pk=notification.pk,
        status=NotificationStatus.PENDING,
        attempts_count=notification.attempts_count,
    ).update(attempts_count=F("attempts_count") + 1, next_attempt_at=now + _lease())
    if not claimed:
        return "skipped"
    if notification.channel == NotificationChannel.EMAIL:
        result = _email_send(notification)
    else:
        result = _webhook_post(notification, client)
    NotificationAttempt.objects.create(
        notification=notification,
        number=number,
        ok=result.ok,
        status_code=result.status_code,
        error=result.error[:2000],
    )
    fields: dict[str, object]
    if result.ok:
        outcome = "sent"
        fields = {
            "status": NotificationStatus.SENT,
            "sent_at": timezone.now(),
            "next_attempt_at": None,
            "last_error": "",
        }
    elif result.permanent or number >= settings.CT_NOTIFY_MAX_ATTEMPTS:
        outcome = "failed"
        fields = {
            "status": NotificationStatus.FAILED,
            "next_attempt_at": None,
            "last_error": result.error[:2000],
        }
        logger.warning(
            "Notification %s to %s failed after %s tries: %s",
            notification.pk,
            notification.recipient,
            number,
            result.error,
        )
    else:
        outcome = "retry"
        fields = {
            "next_attempt_at": now + _backoff(number, retry_after=result.retry_after),
            "last_error": result.error[:2000],
        }
    Notification.objects.filter(pk=notification.pk).update(**fields)
    return outcome


def _email_send(notification: Notification) -> DeliveryResult:
    try:
        sent = send_mail(
            notification.subject,
            _email_text(notification.body),
            settings.DEFAULT_FROM_EMAIL,
            [notification.recipient],
            fail_silently=False,
        )
    except smtplib.SMTPRecipientsRefused as exc:
        return DeliveryResult(ok=False, error=f"Recipient refused: {exc}", permanent=True)
    except (smtplib.SMTPException, OSError) as exc:
        return DeliveryResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    if not sent:
        return DeliveryResult(ok=False, error="The mail backend sent nothing.")
    return DeliveryResult(ok=True)


def _email_text(body: dict) -> str:
    item = body.get("item") or {}
    lines = [body.get("text", ""), "", f"Team: {body.get('team') or '-'}"]
    if body.get("policy"):  # an SLA's notification; a notice has none
        lines.append(f"Policy: {body['policy'].get('name', '-')}")
    lines.append(f"Item: {item.get('label', '-')}")
    if body.get("due"):
        lines.append(f"Due: {body['due']}")
    if body.get("remaining"):
        lines.append(f"Remaining value: {body['remaining']}")
    if body.get("url"):
        lines.append(f"Open: {body['url']}")
    return "\n".join(lines) + "\n"


def _webhook_post(notification: Notification, client: httpx.Client | None) -> DeliveryResult:
    # Receivers that keep state can drop a retry of a post they already took.
    headers = {"X-Tower-Notification": str(notification.pk)}
    own_client = client is None
    client = client or webhook_client()
    try:
        response = client.post(notification.webhook_url, json=notification.body, headers=headers)
    except httpx.HTTPError as exc:
        # An error may quote the URL; the attempt log names it masked, as everywhere else.
        error = f"{type(exc).__name__}: {exc}"
        if notification.webhook_url:
            error = error.replace(notification.webhook_url, notification.recipient)
        return DeliveryResult(ok=False, error=error)
    finally:
        if own_client:
            client.close()
    code = response.status_code
    if 200 <= code < 300:
        return DeliveryResult(ok=True, status_code=code)
    error = f"HTTP {code}: {response.text[:500]}"
    if code >= 500 or code in RETRYABLE_STATUS:
        return DeliveryResult(
            ok=False,
            status_code=code,
            error=error,
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    return DeliveryResult(ok=False, status_code=code, error=error, permanent=True)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date; the backoff is good enough
        return None


def _backoff(number: int, *, retry_after: float | None = None) -> dt.timedelta:
    cap = settings.CT_NOTIFY_BACKOFF_CAP_SECONDS
    seconds = min(cap, settings.CT_NOTIFY_BACKOFF_SECONDS * 2 ** (number - 1))
    if retry_after is not None:
        seconds = min(cap, max(seconds, retry_after))
    return dt.timedelta(seconds=seconds)


def _lease() -> dt.timedelta:
    """Longer than any one send may take: a claim older than this belongs to a dead worker."""
    longest = max(settings.CT_NOTIFY_TIMEOUT_SECONDS, float(settings.EMAIL_TIMEOUT or 0))
    return dt.timedelta(seconds=2 * longest + 60)


# --- Maintenance windows -------------------------------------------------------


def _covering(
    notification: Notification, windows: Iterable[MaintenanceWindow]
) -> list[MaintenanceWindow]:
    return [w for w in windows if w.team_id is None or w.team_id == notification.team_id]


def _window_end(
    notification: Notification, windows: Iterable[MaintenanceWindow]
) -> dt.datetime | None:
    covering = _covering(notification, windows)
    return max(window.ends_at for window in covering) if covering else None


def _hold(notification: Notification, *, until: dt.datetime) -> int:
    return Notification.objects.filter(
        pk=notification.pk,
        status=NotificationStatus.PENDING,
        attempts_count=notification.attempts_count,
    ).update(status=NotificationStatus.HELD, next_attempt_at=until)


def _postpone(notification: Notification, *, until: dt.datetime) -> int:
    return Notification.objects.filter(
        pk=notification.pk,
        status=NotificationStatus.PENDING,
        attempts_count=notification.attempts_count,
    ).update(next_attempt_at=until)


def _held_release(*, now: dt.datetime, windows: list[MaintenanceWindow]) -> int:
    """Held notifications no window covers any more go back to pending, due now."""
    released = 0
    held = (
        Notification.objects.filter(status=NotificationStatus.HELD)
        .order_by("next_attempt_at", "id")  # the end of the window that held it
        .only("id", "team_id")
    )
    for notification in held[: settings.CT_NOTIFY_BATCH]:
        if _covering(notification, windows):
            continue
        released += Notification.objects.filter(
            pk=notification.pk, status=NotificationStatus.HELD
        ).update(status=NotificationStatus.PENDING, next_attempt_at=now)
    return released
