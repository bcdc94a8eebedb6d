"""The SLA sweep: marks items at risk and breached, records each breach once, tells the team.

Celery beat runs ``sla_sweep`` every minute. For each active policy it

1. closes the breaches whose item has finished (``met_at``; an at-risk item that
   finished in time is ``met``, one that finished late is still a breach);
2. records a breach row for every open item past the at-risk share of its target
   (``at_risk``, or ``breached`` straight away when the sweep first sees it late);
3. turns at-risk breaches whose due time has passed into breaches;
4. escalates breaches still open ``escalate_after_minutes`` after the breach to
   the team's second contact, at once for billing work ahead of an ERP period close.

Each step writes ``Notification`` rows (one per channel, recipient and kind);
``notifications_deliver`` sends them, holding them through maintenance windows.

Queries never scan history. Items are found by ``started <= cutoff``, where the
cutoff is the calendar arithmetic done once per team (``business_subtract``), on
open transactions (the flow-and-state index) and open exceptions (the status
index); breach rows are found by their state. Each step takes at most
``CT_SLA_SWEEP_BATCH`` rows per policy; the next sweep takes the rest.

Two sweeps may run at once (a slow one overlapping the next beat): a breach is
created under its unique constraint and moves from state to state by a
conditional update, so each transition, and each notification, happens once.

Snoozing an exception holds its alerts, not its clock: the breach is recorded
on time (the dashboards count it), and its notifications wait until the snooze
ends. Maintenance windows hold notifications the same way, at delivery.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from canonical.errors import ApplicationError
from controltower.operations.choices import (
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
    SlaKind,
    SlaState,
)
from controltower.operations.models import (
    BusinessException,
    Notification,
    PeriodClose,
    SlaBreach,
    SlaPolicy,
    Team,
)
from controltower.operations.services.audit import audit_record
from controltower.operations.services.calendars import WorkingHours, business_add, business_subtract
from controltower.operations.services.routing import active_rules, team_for
from integrations.choices import (
    FINAL_STATES,
    OPEN_STATUSES,
    ExceptionStatus,
    FlowKind,
    TransactionState,
)
from integrations.crypto import secret_url_mask
from integrations.models import Flow, Transaction

logger = logging.getLogger(__name__)

OPEN_TRANSACTION_STATES = [state for state in TransactionState if state not in FINAL_STATES]
CLOSED_STATUSES = [status for status in ExceptionStatus if status not in OPEN_STATUSES]
# With ``met_at`` empty: the breaches still open, on the (state, met_at) index.
OPEN_SLA_STATES = [SlaState.AT_RISK, SlaState.BREACHED]
# Work whose lateness costs a period's revenue: it escalates at once ahead of an ERP close.
BILLING_FLOWS = frozenset({FlowKind.TIME_TO_BILLING})
# A page for the item if the UI has one, else its API resource.
# The page a person opens from a notice (never the JSON API's address).
LINK_URL_NAMES = {
    "transaction": "transactions:detail",
    "exception": "exceptions:detail",
}


@dataclass
class _Sweep:
    """What one sweep reads once: the time, calendars, flow ids, routing, the period close."""

    now: dt.datetime
    batch: int = field(default_factory=lambda: settings.CT_SLA_SWEEP_BATCH)
    counts: Counter = field(default_factory=Counter)
    _hours: dict[int, WorkingHours] = field(default_factory=dict)
    _flow_ids: dict[str, int | None] = field(default_factory=dict)
    _flow_teams: dict[str, Team | None] = field(default_factory=dict)
    _teams: list[Team] | None = None
    _close_near: bool | None = None

    def hours(self, policy: SlaPolicy, team: Team | None) -> WorkingHours | None:
        """The clock of ``policy`` for ``team``: its calendar, or None for around the clock."""
        if not policy.business_hours or team is None or team.calendar_id is None:
            return None
        if team.calendar_id not in self._hours:
            self._hours[team.calendar_id] = WorkingHours.of(team.calendar)
        return self._hours[team.calendar_id]

    def flow_id(self, kind: str) -> int | None:
        if kind not in self._flow_ids:
            self._flow_ids[kind] = (
                Flow.objects.filter(kind=kind).values_list("pk", flat=True).first()
            )
        return self._flow_ids[kind]

    def flow_team(self, policy: SlaPolicy) -> Team | None:
        if policy.team_id:
            return policy.team
        if policy.flow not in self._flow_teams:
            team = team_for(flow=policy.flow, rules=active_rules())
            if team is not None and team.calendar_id:
                team = Team.objects.select_related("calendar").get(pk=team.pk)
            self._flow_teams[policy.flow] = team
        return self._flow_teams[policy.flow]

    def teams(self) -> list[Team]:
        if self._teams is None:
            self._teams = list(Team.objects.select_related("calendar"))
        return self._teams

    def period_close_near(self) -> bool:
        """Today is within the lead days before an ERP period close."""
        if self._close_near is None:
            today = timezone.localdate(self.now)
            upcoming = PeriodClose.objects.filter(closes_on__gte=today).order_by("closes_on")
            self._close_near = any(
                close.closes_on - dt.timedelta(days=close.lead_days) <= today
                for close in upcoming[:50]
            )
        return self._close_near


def sla_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """One pass over every active policy; returns how many items changed, by what."""
    sweep = _Sweep(now=now or timezone.now())
    policies = list(SlaPolicy.objects.filter(active=True).select_related("team__calendar"))
    # First the exceptions no one judged yet, so that their policy's sweep below sees them.
    sweep.counts["due_set"] += _exceptions_due_set(
        policies=[p for p in policies if p.kind == SlaKind.EXCEPTION], sweep=sweep
    )
    for policy in policies:
        try:
            if policy.kind == SlaKind.FLOW:
                _flow_policy_sweep(policy, sweep)
            else:
                _exception_policy_sweep(policy, sweep)
        except Exception:  # one misconfigured policy must not stop the others' alerts
            logger.exception("SLA sweep failed for policy %s", policy.pk)
            sweep.counts["errors"] += 1
    return {name: value for name, value in sweep.counts.items() if value}


# --- Flow policies -------------------------------------------------------------


def _flow_policy_sweep(policy: SlaPolicy, sweep: _Sweep) -> None:
    flow_id = sweep.flow_id(policy.flow)
    if flow_id is None:
        return
    team = sweep.flow_team(policy)
    hours = sweep.hours(policy, team)
    breaches = SlaBreach.objects.filter(policy=policy, transaction__isnull=False)

    finished = breaches.filter(
        state__in=OPEN_SLA_STATES, met_at__isnull=True, transaction__state__in=FINAL_STATES
    )
    for breach in finished.select_related("policy", "transaction")[: sweep.batch]:
        _breach_close(breach, breach.transaction.finished_at or sweep.now, sweep)

    cutoff = business_subtract(hours, sweep.now, _at_risk_minutes(policy))
    # Work waiting behind a system's open breaker has not failed: the breaker is the alarm.
    items = Transaction.objects.filter(
        flow_id=flow_id,
        state__in=OPEN_TRANSACTION_STATES,
        received_at__lte=cutoff,
        waiting_for__isnull=True,
    )
    if policy.event_type:
        items = items.filter(event_type=policy.event_type)
    items = items.filter(~Exists(breaches.filter(transaction=OuterRef("pk"))))
    fields = ["id", "event_type", "business_key", "received_at", "state", "flow_id"]
    for tx in items.order_by("received_at").only(*fields)[: sweep.batch]:
        due = business_add(hours, tx.received_at, policy.target_minutes)
        _breach_open(policy, sweep, team=team, started=tx.received_at, due=due, transaction_=tx)

    _breaches_due(policy, sweep, breaches)
    _breaches_escalate(policy, sweep, breaches)


# --- Exception policies --------------------------------------------------------


def _exception_match(policy: SlaPolicy) -> Q:
    match = Q()
    if policy.exception_type:
        match &= Q(exception_type=policy.exception_type)
    if policy.flow:
        match &= Q(flow=policy.flow)
    if policy.severity:
        match &= Q(severity=policy.severity)
    return match


def _exception_policy_sweep(policy: SlaPolicy, sweep: _Sweep) -> None:
    breaches = SlaBreach.objects.filter(policy=policy, exception__isnull=False)

    finished = breaches.filter(
        state__in=OPEN_SLA_STATES, met_at__isnull=True, exception__status__in=CLOSED_STATUSES
    )
    for breach in finished.select_related("policy", "exception")[: sweep.batch]:
        _breach_close(breach, breach.exception.resolved_at or sweep.now, sweep)

    # The cutoff depends on the owning team's calendar: one range per team, one query.
    at_risk_minutes = _at_risk_minutes(policy)
    if policy.business_hours:
        by_team = Q(team__isnull=True, created_at__lte=sweep.now - _minutes(at_risk_minutes))
        for team in sweep.teams():
            cutoff = business_subtract(sweep.hours(policy, team), sweep.now, at_risk_minutes)
            by_team |= Q(team_id=team.pk, created_at__lte=cutoff)
    else:
        by_team = Q(created_at__lte=sweep.now - _minutes(at_risk_minutes))
    items = (
        BusinessException.objects.filter(status__in=OPEN_STATUSES, sla_policy=policy)
        .filter(by_team)
        .filter(~Exists(breaches.filter(exception=OuterRef("pk"))))
        .select_related("team__calendar")
        .order_by("created_at")
    )
    for exc in items[: sweep.batch]:
        # The due time fixed when it was judged; a later edit of the policy does not move it.
        due = exc.sla_due_at or business_add(
            sweep.hours(policy, exc.team), exc.created_at, policy.target_minutes
        )
        _breach_open(policy, sweep, team=exc.team, started=exc.created_at, due=due, exception=exc)

    _breaches_due(policy, sweep, breaches)
    _breaches_escalate(policy, sweep, breaches)


def _exceptions_due_set(*, policies: list[SlaPolicy], sweep: _Sweep) -> int:
    """Judges open exceptions never judged (raised by no service that judges, or before
    any policy): the most specific policy that existed when each was raised."""
    if not policies:
        return 0
    match = Q()
    for policy in policies:
        match |= _exception_match(policy) & Q(created_at__gte=policy.created_at)
    pending = (
        BusinessException.objects.filter(
            status__in=OPEN_STATUSES, sla_policy__isnull=True, sla_due_at__isnull=True
        )
        .filter(match)
        .select_related("team__calendar")
        .order_by("created_at")
    )
    done = 0
    for exc in pending[: sweep.batch]:
        policy, due = exception_sla_judge(exc, policies=policies, sweep=sweep)
        # Not through save(): the sweep is not an edit of the exception.
        done += BusinessException.objects.filter(
            pk=exc.pk, sla_policy__isnull=True, sla_due_at__isnull=True
        ).update(sla_policy=policy, sla_due_at=due)
    return done


def exception_sla_judge(
    exception: BusinessException,
    *,
    start: dt.datetime | None = None,
    policies: list[SlaPolicy] | None = None,
    sweep: _Sweep | None = None,
    existing_then: bool = True,
) -> tuple[SlaPolicy | None, dt.datetime | None]:
    """The one policy that times ``exception`` and when it is due under it, counted from
    ``start`` (its creation) on its owning team's clock; (None, None) when none applies.

    The policy is the most specific active exception policy that matches it: one naming
    its type over one naming its flow over one naming its severity (a policy naming
    several counts each), the shorter target on a tie, then the older policy. With
    ``existing_then`` only policies that existed when it was raised are considered, so a
    policy added later never breaches work raised before it; an admin's re-judging
    (``exceptions_sla_rejudge``) considers all.
    """
    sweep = sweep or _Sweep(now=timezone.now())
    if policies is None:
        policies = list(SlaPolicy.objects.filter(active=True, kind=SlaKind.EXCEPTION))
    start = start or exception.created_at or sweep.now
    candidates = [
        policy
        for policy in policies
        if policy.kind == SlaKind.EXCEPTION
        and _matches(policy, exception)
        and (not existing_then or policy.created_at is None or policy.created_at <= start)
    ]
    if not candidates:
        return None, None
    policy = min(candidates, key=_specificity)
    return policy, business_add(sweep.hours(policy, exception.team), start, policy.target_minutes)


def _specificity(policy: SlaPolicy) -> tuple[int, int, int]:
    """Sort key: the most specific policy first."""
    weight = 4 * bool(policy.exception_type) + 2 * bool(policy.flow) + bool(policy.severity)
    return (-weight, policy.target_minutes, policy.pk or 0)


def _matches(policy: SlaPolicy, exc: BusinessException) -> bool:
    return (
        (not policy.exception_type or policy.exception_type == exc.exception_type)
        and (not policy.flow or policy.flow == exc.flow)
        and (not policy.severity or policy.severity == exc.severity)
    )


def exceptions_sla_rejudge(*, actor: Any, reason: str) -> int:
    """Judges every open exception again by the active policies, as an admin asked after
    changing them; returns how many changed policy or due time."""
    reason = reason.strip()
    if not reason:
        raise ApplicationError("Re-judging needs a reason.", errors={"reason": ["Required."]})
    sweep = _Sweep(now=timezone.now())
    policies = list(
        SlaPolicy.objects.filter(active=True, kind=SlaKind.EXCEPTION).select_related(
            "team__calendar"
        )
    )
    changed = 0
    with transaction.atomic():
        for exc in (
            BusinessException.objects.filter(status__in=OPEN_STATUSES)
            .select_related("team__calendar")
            .select_for_update(of=("self",))
            .order_by("pk")
            .iterator(chunk_size=500)
        ):
            policy, due = exception_sla_judge(
                exc, policies=policies, sweep=sweep, existing_then=False
            )
            if (policy.pk if policy else None) == exc.sla_policy_id and due == exc.sla_due_at:
                continue
            before = {"sla_policy": exc.sla_policy_id, "sla_due_at": _iso(exc.sla_due_at)}
            BusinessException.objects.filter(pk=exc.pk).update(sla_policy=policy, sla_due_at=due)
            # What the other policies had started is settled: an at-risk notice is
            # withdrawn, a recorded breach stays in the history and escalates no more.
            others = SlaBreach.objects.filter(exception=exc, met_at__isnull=True).exclude(
                policy=policy
            )
            others.filter(state=SlaState.AT_RISK).delete()
            others.update(met_at=sweep.now)
            audit_record(
                actor=actor,
                action="exception.sla_rejudge",
                obj=exc,
                before=before,
                after={"sla_policy": policy.pk if policy else None, "sla_due_at": _iso(due)},
                reason=reason,
            )
            changed += 1
    return changed


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- Breaches ------------------------------------------------------------------


def _breach_open(
    policy: SlaPolicy,
    sweep: _Sweep,
    *,
    team: Team | None,
    started: dt.datetime,
    due: dt.datetime,
    transaction_: Transaction | None = None,
    exception: BusinessException | None = None,
) -> SlaBreach | None:
    """Records the breach of one item, with its notices; None if another sweep just did."""
    late = sweep.now >= due
    try:
        with transaction.atomic():
            breach = SlaBreach.objects.create(
                policy=policy,
                transaction=transaction_,
                exception=exception,
                team=team,
                started_at=started,
                due_at=due,
                state=SlaState.BREACHED if late else SlaState.AT_RISK,
                at_risk_at=None if late else sweep.now,
                breached_at=sweep.now if late else None,
            )
            if late:
                _breached(breach, sweep)
            else:
                sweep.counts["at_risk"] += 1
                _notify(breach, NotificationKind.AT_RISK, sweep)
    except IntegrityError:
        return None
    return breach


def _breaches_due(policy: SlaPolicy, sweep: _Sweep, breaches: QuerySet[SlaBreach]) -> None:
    """At-risk breaches whose due time has passed become breaches."""
    due = breaches.filter(state=SlaState.AT_RISK, met_at__isnull=True, due_at__lte=sweep.now)
    for breach in _with_item(due.order_by("due_at"))[: sweep.batch]:
        with transaction.atomic():
            moved = SlaBreach.objects.filter(
                pk=breach.pk, state=SlaState.AT_RISK, met_at__isnull=True
            ).update(state=SlaState.BREACHED, breached_at=sweep.now)
            if moved:
                breach.state, breach.breached_at = SlaState.BREACHED, sweep.now
                _superseded_drop(breach)
                _breached(breach, sweep)


def _breached(breach: SlaBreach, sweep: _Sweep) -> None:
    """A breach has just been recorded: audit it, tell the team, escalate now if billing is due."""
    sweep.counts["breached"] += 1
    audit_record(
        actor=None,
        action="sla.breach",
        obj=breach,
        after=_breach_facts(breach),
        reason=f"Due {breach.due_at:%Y-%m-%d %H:%M} UTC under {breach.policy}.",
    )
    _notify(breach, NotificationKind.BREACH, sweep)
    if _is_billing(breach) and sweep.period_close_near():
        _escalate(breach, sweep, reason="Billing breach ahead of the ERP period close.")


def _breach_close(breach: SlaBreach, finished_at: dt.datetime, sweep: _Sweep) -> None:
    """The item finished: in time (the at-risk breach is met) or late (a breach all the same)."""
    changes: dict[str, Any] = {"met_at": finished_at}
    late = breach.state == SlaState.BREACHED or finished_at > breach.due_at
    if breach.state == SlaState.AT_RISK:
        changes.update(
            {"state": SlaState.BREACHED, "breached_at": breach.due_at}
            if late
            else {"state": SlaState.MET}
        )
    with transaction.atomic():
        closed = SlaBreach.objects.filter(
            pk=breach.pk, state=breach.state, met_at__isnull=True
        ).update(**changes)
        if not closed:
            return
        was_at_risk = breach.state == SlaState.AT_RISK
        for name, value in changes.items():
            setattr(breach, name, value)
        sweep.counts["met"] += 1
        _superseded_drop(breach)
        if was_at_risk and late:
            # Late, but finished before a sweep saw it due: recorded, nobody to chase.
            audit_record(
                actor=None,
                action="sla.breach",
                obj=breach,
                after=_breach_facts(breach),
                reason="Finished after its due time.",
            )


def _breaches_escalate(policy: SlaPolicy, sweep: _Sweep, breaches: QuerySet[SlaBreach]) -> None:
    """Breaches still open ``escalate_after_minutes`` after the breach go to the second contact."""
    pending = breaches.filter(
        state=SlaState.BREACHED, met_at__isnull=True, escalated_at__isnull=True
    )
    # Working time never outruns the clock: nothing breached more recently can be due yet.
    earliest = Q(breached_at__lte=sweep.now - _minutes(policy.escalate_after_minutes))
    if sweep.period_close_near():
        if policy.kind == SlaKind.FLOW and policy.flow in BILLING_FLOWS:
            earliest = Q()
        elif policy.kind == SlaKind.EXCEPTION:
            earliest |= Q(exception__flow__in=list(BILLING_FLOWS))
    for breach in _with_item(pending.filter(earliest).order_by("breached_at"))[: sweep.batch]:
        ahead_of_close = _is_billing(breach) and sweep.period_close_near()
        if not ahead_of_close:
            hours = sweep.hours(policy, breach.team)
            if sweep.now < business_add(hours, breach.breached_at, policy.escalate_after_minutes):
                continue
        reason = (
            "Billing breach ahead of the ERP period close."
            if ahead_of_close
            else f"Still open {policy.escalate_after_minutes} minutes after the breach."
        )
        with transaction.atomic():
            _escalate(breach, sweep, reason=reason)


def _escalate(breach: SlaBreach, sweep: _Sweep, *, reason: str) -> None:
    taken = SlaBreach.objects.filter(pk=breach.pk, escalated_at__isnull=True).update(
        escalated_at=sweep.now
    )
    if not taken:
        return
    breach.escalated_at = sweep.now
    sweep.counts["escalated"] += 1
    audit_record(
        actor=None, action="sla.escalate", obj=breach, after=_breach_facts(breach), reason=reason
    )
    _notify(breach, NotificationKind.ESCALATION, sweep)


def _with_item(breaches: QuerySet[SlaBreach]) -> QuerySet[SlaBreach]:
    return breaches.select_related("policy", "team__calendar", "transaction", "exception")


def _is_billing(breach: SlaBreach) -> bool:
    if breach.transaction_id:
        return breach.policy.flow in BILLING_FLOWS
    return breach.exception is not None and breach.exception.flow in BILLING_FLOWS


def _superseded_drop(breach: SlaBreach) -> None:
    """An at-risk notice not yet tried says nothing once the item breached or finished."""
    Notification.objects.filter(
        breach=breach,
        kind=NotificationKind.AT_RISK,
        status__in=[NotificationStatus.PENDING, NotificationStatus.HELD],
        attempts_count=0,
    ).delete()


def _breach_facts(breach: SlaBreach) -> dict[str, Any]:
    return {
        "policy": breach.policy.name,
        "state": breach.state,
        "transaction": breach.transaction_id,
        "exception": breach.exception_id,
        "team": breach.team_id,
        "started_at": breach.started_at.isoformat(),
        "due_at": breach.due_at.isoformat(),
        "breached_at": breach.breached_at.isoformat() if breach.breached_at else None,
        "escalated_at": breach.escalated_at.isoformat() if breach.escalated_at else None,
        "met_at": breach.met_at.isoformat() if breach.met_at else None,
    }


# --- Notifications -------------------------------------------------------------

KIND_WORDS = {
    NotificationKind.AT_RISK: "SLA at risk",
    NotificationKind.BREACH: "SLA breached",
    NotificationKind.ESCALATION: "SLA breach escalated",
}


def _recipients(team: Team | None, kind: str) -> list[tuple[str, str]]:
    if team is None:
        return []
    if kind == NotificationKind.ESCALATION:
        pairs = [
            (NotificationChannel.EMAIL, team.escalation_email),
            (NotificationChannel.WEBHOOK, team.escalation_webhook_url),
        ]
    else:
        pairs = [
            (NotificationChannel.EMAIL, team.email),
            (NotificationChannel.WEBHOOK, team.chat_webhook_url),
        ]
    return [(channel, recipient) for channel, recipient in pairs if recipient]


def _notify(breach: SlaBreach, kind: str, sweep: _Sweep) -> None:
    """One pending notification per channel and recipient; a snoozed exception's wait."""
    recipients = _recipients(breach.team, kind)
    if not recipients:
        return
    subject, body = _message(breach, kind)
    snoozed_until = breach.exception.snoozed_until if breach.exception_id else None
    send_from = snoozed_until if snoozed_until and snoozed_until > sweep.now else sweep.now
    for channel, recipient in recipients:
        webhook = channel == NotificationChannel.WEBHOOK
        _, created = Notification.objects.get_or_create(
            breach=breach,
            kind=kind,
            channel=channel,
            # A webhook's URL is its credential: the row names it masked, keeps it encrypted.
            recipient=secret_url_mask(recipient) if webhook else recipient,
            defaults={
                "team": breach.team,
                "webhook_url": recipient if webhook else "",
                "subject": subject,
                "body": body,
                "next_attempt_at": send_from,
            },
        )
        sweep.counts["notifications"] += created


def _message(breach: SlaBreach, kind: str) -> tuple[str, dict[str, Any]]:
    """The subject and the JSON body: Slack-style ``text`` plus the facts, for any receiver."""
    policy, team = breach.policy, breach.team
    zone = _zone(breach)
    due_local = breach.due_at.astimezone(zone)
    item = _item(breach)
    link = _link(item["type"], item["id"])
    url = f"{settings.CT_PUBLIC_URL.rstrip('/')}{link}" if link else ""
    words = KIND_WORDS[NotificationKind(kind)]
    due_text = f"{due_local:%a %d %b %H:%M} {due_local.tzname()}"
    subject = f"[{words}] {item['label']} ({policy.name})"[:200]
    text = (
        f"{words}: {item['label']}, due {due_text} under “{policy.name}”"
        f"{f', owned by {team.name}' if team else ''}."
        f"{f' {url}' if url else ''}"
    )
    body = {
        "text": text,
        "kind": kind,
        "team": team.name if team else None,
        "policy": {
            "id": policy.pk,
            "name": policy.name,
            "target_minutes": policy.target_minutes,
            "business_hours": policy.business_hours,
        },
        "item": item,
        "state": breach.state,
        "started": breach.started_at.isoformat(),
        "due": breach.due_at.isoformat(),
        "breached": breach.breached_at.isoformat() if breach.breached_at else None,
        "link": link,
        "url": url,
    }
    return subject, body


def _item(breach: SlaBreach) -> dict[str, Any]:
    if breach.transaction_id:
        tx = breach.transaction
        label = " ".join(
            part for part in (f"Transaction #{tx.pk}", tx.event_type, tx.business_key) if part
        )
        return {
            "type": "transaction",
            "id": tx.pk,
            "label": label,
            "business_key": tx.business_key,
            "flow": breach.policy.flow,
            "event_type": tx.event_type,
        }
    exc = breach.exception
    return {
        "type": "exception",
        "id": exc.pk,
        "label": f"{exc.get_exception_type_display()} {exc.business_key}".strip(),
        "business_key": exc.business_key,
        "flow": exc.flow,
        "exception_type": exc.exception_type,
        "severity": exc.severity,
        "money_at_risk": str(exc.money_at_risk),
        "currency": exc.currency,
    }


def _link(kind: str, pk: int) -> str:
    try:
        return reverse(LINK_URL_NAMES[kind], args=[pk])
    except NoReverseMatch:  # a tower served without its pages (an API-only URL conf)
        return ""


def _zone(breach: SlaBreach) -> dt.tzinfo:
    """Due times read in the owning team's zone, else the tower's."""
    team = breach.team
    if team is not None and team.calendar_id:
        return zoneinfo.ZoneInfo(team.calendar.time_zone)
    return timezone.get_default_timezone()


def _at_risk_minutes(policy: SlaPolicy) -> float:
    return float(policy.target_minutes * policy.at_risk_share)


def _minutes(minutes: float) -> dt.timedelta:
    return dt.timedelta(minutes=minutes)
