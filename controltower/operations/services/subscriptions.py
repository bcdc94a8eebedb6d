"""People's actions on outbound event subscriptions, each audited: an admin registers an
endpoint (its signing secret shown once), changes it, gives it a new secret, disables and
enables it; an operator sends an event, or a time range of them, again.

The sending itself is the engine's (``integrations.services.deliveries``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction

from canonical.errors import ApplicationError, NotFoundError
from controltower.operations.models import Team
from controltower.operations.services.audit import audit_record, secrets_changed, snapshot
from integrations.choices import EventType
from integrations.models import Delivery, Subscription
from integrations.services.deliveries import (
    deliveries_replay,
    delivery_replay,
    subscription_disable,
    subscription_enable,
)
from integrations.services.signing import signing_secret_generate

CHANGEABLE = ("name", "url", "event_types", "owner_team")
AUDITED = ("consecutive_failures", "created_at", "updated_at", "disabled_at")


def _picture(subscription: Subscription) -> dict[str, Any]:
    return snapshot(subscription, exclude=AUDITED)


def _clean(fields: dict[str, Any], *, exclude_pk: int | None = None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if not fields["name"]:
            errors["name"] = ["A name is required."]
        elif Subscription.objects.filter(name=fields["name"]).exclude(pk=exclude_pk).exists():
            errors["name"] = ["Another subscription has this name."]
    if "url" in fields:
        url = (fields["url"] or "").strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors["url"] = ["An http:// or https:// address."]
        fields["url"] = url
    if "event_types" in fields:
        types = list(dict.fromkeys(fields["event_types"] or []))
        unknown = [t for t in types if t not in EventType.values]
        if unknown:
            errors["event_types"] = [
                f"Unknown event type {', '.join(map(str, unknown))}; one of "
                f"{', '.join(EventType.values)}."
            ]
        elif not types:
            errors["event_types"] = ["At least one event type."]
        fields["event_types"] = types
    if fields.get("owner_team"):
        if not Team.objects.filter(name=fields["owner_team"]).exists():
            errors["owner_team"] = [f"No team is named {fields['owner_team']}."]
    if errors:
        raise ApplicationError("The subscription was not saved.", errors=errors)
    return fields


def _subscription(subscription_id: int) -> Subscription:
    subscription = Subscription.objects.select_for_update().filter(pk=subscription_id).first()
    if subscription is None:
        raise NotFoundError(f"Subscription {subscription_id} does not exist.")
    return subscription


def subscription_create(
    *,
    actor: Any,
    name: str,
    url: str,
    event_types: list[str],
    owner_team: str = "",
    reason: str = "",
) -> tuple[Subscription, str]:
    """Registers an endpoint; returns it and its signing secret, which is shown this once."""
    fields = _clean(
        {"name": name, "url": url, "event_types": event_types, "owner_team": owner_team}
    )
    secret = signing_secret_generate()
    with transaction.atomic():
        subscription = Subscription.objects.create(**fields, secret=secret)
        audit_record(
            actor=actor,
            action="subscription.create",
            obj=subscription,
            after=_picture(subscription),
            reason=reason,
        )
    return subscription, secret


def subscription_change(
    *, actor: Any, subscription_id: int, changes: dict[str, Any], reason: str = ""
) -> Subscription:
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise ApplicationError(
            f"A subscription's {', '.join(unknown)} cannot be changed here.",
            errors={name: ["Not changeable."] for name in unknown},
        )
    with transaction.atomic():
        subscription = _subscription(subscription_id)
        changes = _clean(dict(changes), exclude_pk=subscription.pk)
        before = _picture(subscription)
        for name, value in changes.items():
            setattr(subscription, name, value)
        subscription.save()
        audit_record(
            actor=actor,
            action="subscription.change",
            obj=subscription,
            before=before,
            after=_picture(subscription),
            reason=reason,
        )
    return subscription


def subscription_secret_rotate(
    *, actor: Any, subscription_id: int, reason: str = ""
) -> tuple[Subscription, str]:
    """A new signing secret, shown this once; events are signed with it from now on."""
    with transaction.atomic():
        subscription = _subscription(subscription_id)
        old = Subscription(secret=subscription.secret)
        before = _picture(subscription)
        secret = signing_secret_generate()
        subscription.secret = secret
        subscription.save(update_fields=["secret", "updated_at"])
        audit_record(
            actor=actor,
            action="subscription.rotate_secret",
            obj=subscription,
            before=before,
            after=secrets_changed(old, subscription, _picture(subscription)),
            reason=reason,
        )
    return subscription, secret


def subscription_switch(
    *, actor: Any, subscription_id: int, enabled: bool, reason: str = ""
) -> Subscription:
    """Disables a subscription (its events wait) or enables it (they are sent, in order)."""
    with transaction.atomic():
        before = _picture(_subscription(subscription_id))
        if enabled:
            subscription = subscription_enable(subscription_id=subscription_id)
        else:
            subscription = subscription_disable(
                subscription_id=subscription_id,
                reason=f"Disabled by {getattr(actor, 'username', 'a person')}"
                + (f": {reason}" if reason else "."),
            )
        audit_record(
            actor=actor,
            action="subscription.enable" if enabled else "subscription.disable",
            obj=subscription,
            before=before,
            after=_picture(subscription),
            reason=reason,
        )
    return subscription


def subscription_delete(*, actor: Any, subscription_id: int, reason: str = "") -> None:
    with transaction.atomic():
        subscription = _subscription(subscription_id)
        before = _picture(subscription)
        audit_record(
            actor=actor,
            action="subscription.delete",
            obj=subscription,
            before=before,
            reason=reason,
        )
        subscription.delete()


def delivery_resend(*, actor: Any, delivery_id: int, reason: str = "") -> Delivery:
    """Sends one event to its subscriber again: same event id, new attempts."""
    with transaction.atomic():
        delivery = delivery_replay(delivery_id=delivery_id)
        audit_record(
            actor=actor,
            action="delivery.replay",
            obj=delivery,
            after={"event_id": str(delivery.event.event_id), "state": delivery.state},
            reason=reason,
        )
    return delivery


def deliveries_resend(
    *,
    actor: Any,
    subscription_id: int,
    since: dt.datetime,
    until: dt.datetime,
    reason: str = "",
) -> int:
    """Sends again every event published to the subscription in [since, until)."""
    with transaction.atomic():
        count = deliveries_replay(subscription_id=subscription_id, since=since, until=until)
        subscription = Subscription.objects.get(pk=subscription_id)
        audit_record(
            actor=actor,
            action="subscription.replay",
            obj=subscription,
            after={"since": since.isoformat(), "until": until.isoformat(), "deliveries": count},
            reason=reason,
        )
    return count
