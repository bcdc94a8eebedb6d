"""Notices: a renewal or obligation notice (``contract_nearing_end``), or an event
subscription the tower disabled, is sent to its owning team by email and chat webhook, delivered as SLA notifications are (retried and
recorded per attempt, held during maintenance windows)."""

from __future__ import annotations

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from canonical.formats import money_text
from controltower.operations.choices import NotificationChannel, NotificationKind
from controltower.operations.models import BusinessException, Notification, Team
from integrations.choices import ExceptionType
from integrations.crypto import secret_url_mask
from integrations.models import Subscription

# Exception codes that are notices to their team rather than work that stopped.
NOTICE_TYPES = (ExceptionType.CONTRACT_NEARING_END,)


def notice_notify(*, exception: BusinessException) -> int:
    """Queues the notice's email and chat message to its owning team; returns how many."""
    team = exception.team
    if exception.exception_type not in NOTICE_TYPES or team is None:
        return 0
    link = url_or_blank("exceptions:detail", exception.pk)
    url = f"{settings.CT_PUBLIC_URL.rstrip('/')}{link}" if link else ""
    remaining = money_text(exception.money_at_risk, exception.currency)
    subject = f"[Notice] {exception.message}"[:200]
    body = {
        "text": f"Notice: {exception.message} Owned by {team.name}.{f' {url}' if url else ''}",
        "kind": NotificationKind.NOTICE,
        "team": team.name,
        "item": {
            "type": "exception",
            "id": exception.pk,
            "label": f"{exception.get_exception_type_display()} {exception.business_key}",
        },
        "remaining": remaining,
        "link": link,
        "url": url,
    }
    return _team_notice_queue(team=team, subject=subject, body=body)


def subscription_disabled_notify(*, subscription: Subscription) -> int:
    """Tells a subscription's owning team (else the default team) that the tower disabled
    it; returns how many messages were queued."""
    team = (
        Team.objects.filter(name=subscription.owner_team).first()
        if subscription.owner_team
        else None
    ) or Team.objects.filter(is_default=True).first()
    if team is None:
        return 0
    link = url_or_blank("subscriptions:detail", subscription.pk)
    url = f"{settings.CT_PUBLIC_URL.rstrip('/')}{link}" if link else ""
    text = f"Event subscription {subscription.name} was disabled: {subscription.disabled_reason}"
    body = {
        "text": f"Notice: {text} Owned by {team.name}.{f' {url}' if url else ''}",
        "kind": NotificationKind.NOTICE,
        "team": team.name,
        "item": {"type": "subscription", "id": subscription.pk, "label": subscription.name},
        "link": link,
        "url": url,
    }
    return _team_notice_queue(team=team, subject=f"[Notice] {text}"[:200], body=body)


def url_or_blank(name: str, *args: object) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _team_notice_queue(*, team: Team, subject: str, body: dict) -> int:
    pairs = [
        (NotificationChannel.EMAIL, team.email),
        (NotificationChannel.WEBHOOK, team.chat_webhook_url),
    ]
    queued = 0
    for channel, recipient in pairs:
        if not recipient:
            continue
        webhook = channel == NotificationChannel.WEBHOOK
        Notification.objects.create(
            team=team,
            kind=NotificationKind.NOTICE,
            channel=channel,
            # A webhook's URL is its credential: the row names it masked, keeps it encrypted.
            recipient=secret_url_mask(recipient) if webhook else recipient,
            webhook_url=recipient if webhook else "",
            subject=subject,
            body=body,
            next_attempt_at=timezone.now(),
        )
        queued += 1
    return queued
