"""A working day for the queue pages: the demo plus exceptions, approvals, SLAs and a reconciliation.

``work_scene()`` builds on ``demo_load()`` (users admin, operator, approver, viewer with
their username as password) and adds a second approver, open and closed exceptions with
money at risk, an SLA breach with its notification, invoice candidates with lines, an
amendment conflict, an edited replay and a reconciliation run with drift.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from canonical.choices import InvoiceStatus, TimeEntryStatus
from canonical.models import (
    Assignment,
    Contract,
    ContractVersion,
    Customer,
    Invoice,
    InvoiceLine,
    LegalEntity,
    Project,
    RateCard,
    Resource,
    TimeEntry,
)
from controltower.operations.choices import (
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
    SlaState,
)
from controltower.operations.models import (
    BusinessException,
    Notification,
    NotificationAttempt,
    SlaBreach,
    SlaPolicy,
    Team,
)
from integrations.choices import (
    ExceptionStatus,
    ExceptionType,
    FlowKind,
    Severity,
    TransactionState,
)
from integrations.models import Flow, Transaction

SECOND_APPROVER = "approver2"


@dataclass
class Scene:
    users: dict[str, Any]
    finance: Team
    master_data: Team
    rate: BusinessException
    rate_tx: Transaction
    hold: BusinessException
    entity: BusinessException
    snoozed: BusinessException
    closed: BusinessException
    amendment: BusinessException
    replay: BusinessException
    prepared: Invoice
    candidate: Invoice
    run: Transaction
    drifts: list[BusinessException]


def _tx(kind: str, **fields: Any) -> Transaction:
    fields.setdefault("correlation_id", uuid.uuid4().hex)
    return Transaction.objects.create(flow=Flow.objects.get(kind=kind), **fields)


def _exception(**fields: Any) -> BusinessException:
    fields.setdefault("fingerprint", f"{fields['exception_type']}|{uuid.uuid4().hex}")
    fields.setdefault("severity", Severity.HIGH)
    return BusinessException.objects.create(**fields)


def _second_approver() -> Any:
    user, created = get_user_model().objects.get_or_create(username=SECOND_APPROVER)
    if created:
        user.set_password(SECOND_APPROVER)
        user.save()
    user.groups.add(Group.objects.get(name="approver"))
    return user


def work_scene() -> Scene:
    from controltower.operations.demo import demo_load, demo_operations_load

    demo_load()
    demo_operations_load()
    User = get_user_model()
    users = {
        name: User.objects.get(username=name)
        for name in ("admin", "operator", "approver", "viewer")
    }
    users[SECOND_APPROVER] = _second_approver()
    now = timezone.now()
    us = LegalEntity.objects.get(code="US01")
    acme = Customer.objects.get(number="C-1001")
    globex = Customer.objects.get(number="C-1002")
    finance = Team.objects.get(name="Finance operations")
    master_data = Team.objects.get(name="Master data")
    card = RateCard.objects.get(code="RC-US-STD")

    contract = Contract.objects.create(
        number="K-5001",
        customer=acme,
        legal_entity=us,
        rate_card=card,
        currency="USD",
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 12, 31),
        cap_amount=Decimal("250000.00"),
        status="signed",
        source_system="clm",
    )
    ContractVersion.objects.create(
        contract=contract,
        version=1,
        effective_date=dt.date(2026, 1, 1),
        terms={
            "number": "K-5001",
            "rate_card": "RC-US-STD",
            "billing_model": "time_and_materials",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "cap_amount": "250000.00",
            "rates": {"Consultant": "190.00", "Manager": "300.00"},
            "milestones": [],
        },
    )
    project = Project.objects.create(
        code="P-1042",
        name="Acme ERP roll-out",
        contract=contract,
        customer=acme,
        legal_entity=us,
        status="active",
        start_date=dt.date(2026, 1, 1),
        source_system="psa",
    )
    ada = Resource.objects.get(employee_number="E-0001")
    grace = Resource.objects.get(employee_number="E-0002")

    # A missing rate card line holds 18,400 USD of approved time; its SLA is breached.
    rate = _exception(
        exception_type=ExceptionType.MISSING_RATE_CARD,
        flow=FlowKind.TIME_TO_BILLING,
        message="No Architect rate on rate card RC-US-STD for project P-1042.",
        details={"rate_card": "RC-US-STD", "role": "Architect", "hours": "46.00"},
        waiting_on="rate_card:RC-US-STD:ARCHITECT",
        business_key="P-1042",
        customer=acme,
        legal_entity=us,
        team=finance,
        assignee=users["operator"],
        status=ExceptionStatus.IN_PROGRESS,
        money_at_risk=Decimal("18400.00"),
        currency="USD",
        occurrences=3,
        sla_due_at=now - dt.timedelta(hours=2),
        sla_policy=SlaPolicy.objects.get(name="High-severity exceptions resolved"),
    )
    rate_tx = _tx(
        FlowKind.TIME_TO_BILLING,
        event_type="time_entry.approved",
        business_key="TE-7001",
        state=TransactionState.BLOCKED,
        exception=rate,
        error_code="missing_rate_card",
        last_error=rate.message,
        normalized={"type": "time_entry.approved", "data": {"number": "TE-7001", "hours": "8.00"}},
    )
    policy = SlaPolicy.objects.get(name="High-severity exceptions resolved")
    breach = SlaBreach.objects.create(
        policy=policy,
        exception=rate,
        team=finance,
        state=SlaState.BREACHED,
        started_at=now - dt.timedelta(hours=10),
        due_at=now - dt.timedelta(hours=2),
        at_risk_at=now - dt.timedelta(hours=4),
        breached_at=now - dt.timedelta(hours=2),
        escalated_at=now - dt.timedelta(hours=1),
    )
    notice = Notification.objects.create(
        breach=breach,
        team=finance,
        kind=NotificationKind.BREACH,
        channel=NotificationChannel.EMAIL,
        recipient="finance-ops@example.com",
        subject="SLA breached: Missing rate card P-1042",
        status=NotificationStatus.SENT,
        attempts_count=2,
        sent_at=now - dt.timedelta(hours=2),
    )
    NotificationAttempt.objects.create(
        notification=notice, number=1, ok=False, status_code=503, error="Service unavailable"
    )
    NotificationAttempt.objects.create(notification=notice, number=2, ok=True, status_code=250)
    Notification.objects.create(
        breach=breach,
        team=finance,
        kind=NotificationKind.ESCALATION,
        channel=NotificationChannel.WEBHOOK,
        recipient="http://127.0.0.1:9/chat",
        subject="Escalation: Missing rate card P-1042",
        status=NotificationStatus.FAILED,
        attempts_count=5,
        last_error="Connection refused",
    )

    # A billing hold on a project, at risk.
    hold = _exception(
        exception_type=ExceptionType.BILLING_HOLD,
        severity=Severity.MEDIUM,
        flow=FlowKind.TIME_TO_BILLING,
        message="Billing is on hold for P-1042.",
        details={"project": "P-1042"},
        waiting_on="project_hold:P-1042",
        business_key="TE-7002",
        customer=acme,
        legal_entity=us,
        team=finance,
        money_at_risk=Decimal("2250.00"),
        currency="USD",
        sla_due_at=now + dt.timedelta(hours=3),
        sla_policy=SlaPolicy.objects.get(name="Critical exceptions resolved"),
    )
    SlaBreach.objects.create(
        policy=SlaPolicy.objects.get(name="Critical exceptions resolved"),
        exception=hold,
        team=finance,
        state=SlaState.AT_RISK,
        started_at=now - dt.timedelta(hours=1),
        due_at=now + dt.timedelta(hours=3),
        at_risk_at=now - dt.timedelta(minutes=10),
    )
    # An unknown legal entity: master data's queue.
    entity = _exception(
        exception_type=ExceptionType.INVALID_LEGAL_ENTITY,
        flow=FlowKind.MASTER_DATA_SYNC,
        message="Legal entity 'XX01' does not exist.",
        details={"legal_entity": "XX01"},
        waiting_on="legal_entity:XX01",
        business_key="C-8002",
        team=master_data,
        money_at_risk=Decimal("0"),
    )
    _tx(
        FlowKind.MASTER_DATA_SYNC,
        event_type="customer.upserted",
        business_key="C-8002",
        state=TransactionState.BLOCKED,
        exception=entity,
        error_code="invalid_legal_entity",
    )
    snoozed = _exception(
        exception_type=ExceptionType.UNKNOWN_CUSTOMER,
        flow=FlowKind.CONTRACT_TO_PROJECT,
        message="Customer 'C-7777' does not exist.",
        waiting_on="customer:C-7777",
        business_key="K-7777",
        team=master_data,
        money_at_risk=Decimal("9000.00"),
        currency="GBP",
        customer=globex,
        snoozed_until=now + dt.timedelta(days=1),
    )
    closed = _exception(
        exception_type=ExceptionType.PROJECT_NOT_ACTIVE,
        flow=FlowKind.TIME_TO_BILLING,
        message="Project 'P-0900' is closed.",
        business_key="TE-0900",
        team=finance,
        status=ExceptionStatus.RESOLVED,
        resolved_at=now - dt.timedelta(days=1),
        resolution="Re-opened the project in the PSA.",
        money_at_risk=Decimal("640.00"),
        currency="USD",
    )

    # An amendment that cuts the Consultant rate on invoiced time: finance decides.
    amendment = _exception(
        exception_type=ExceptionType.AMENDMENT_CONFLICT,
        flow=FlowKind.AMENDMENT_PROPAGATION,
        message="Amendment cuts the Consultant rate from 190.00 to 170.00 from 2026-10-01, "
        "but 40.00 h at the old rate are already invoiced.",
        details={
            "contract": "K-5001",
            "role": "Consultant",
            "from": "190.00",
            "to": "170.00",
            "hours": "40.00",
        },
        business_key="K-5001",
        customer=acme,
        legal_entity=us,
        team=finance,
        money_at_risk=Decimal("800.00"),
        currency="USD",
    )
    _tx(
        FlowKind.AMENDMENT_PROPAGATION,
        event_type="contract.amended",
        business_key="K-5001",
        event_version=2,
        state=TransactionState.BLOCKED,
        exception=amendment,
        normalized={
            "type": "contract.amended",
            "data": {
                "number": "K-5001",
                "customer": "C-1001",
                "legal_entity": "US01",
                "currency": "USD",
                "billing_model": "time_and_materials",
                "start_date": "2026-01-01",
                "end_date": "2027-03-31",
                "effective_date": "2026-10-01",
                "rate_card": "RC-US-STD",
                "rates": [
                    {"role": "Consultant", "rate": "170.00"},
                    {"role": "Manager", "rate": "300.00"},
                ],
                "cap_amount": "300000.00",
                "milestones": [],
            },
        },
    )

    # An edited replay of a time entry, prepared by the operator.
    original = _tx(
        FlowKind.TIME_TO_BILLING,
        event_type="time_entry.approved",
        business_key="TE-7003",
        state=TransactionState.DEAD,
        normalized={
            "type": "time_entry.approved",
            "data": {"number": "TE-7003", "hours": "8.00", "project": "P-1042"},
        },
    )
    edited = _tx(
        FlowKind.TIME_TO_BILLING,
        event_type="time_entry.approved",
        business_key="TE-7003",
        parent=original,
        state=TransactionState.AWAITING_APPROVAL,
        normalized={
            "type": "time_entry.approved",
            "data": {"number": "TE-7003", "hours": "7.50", "project": "P-1042"},
        },
    )
    replay = _exception(
        exception_type=ExceptionType.EDITED_REPLAY,
        flow=FlowKind.TIME_TO_BILLING,
        message=f"operator replayed transaction {original.pk} (time_entry.approved TE-7003) with an "
        "edited payload; it posts billing data, so another approver must approve it before it runs.",
        details={
            "original": original.pk,
            "replay": edited.pk,
            "reason": "Hours were keyed as 8, the timesheet says 7.5",
        },
        business_key="TE-7003",
        team=finance,
        prepared_by=users["operator"],
    )
    edited.exception = replay
    edited.save(update_fields=["exception"])

    # Invoice candidates: one prepared by the approver (who may not approve it), one not yet.
    assignment = Assignment.objects.create(
        number="A-9001",
        project=project,
        resource=ada,
        role="Partner",
        start_date=dt.date(2026, 1, 1),
        allocation_percent=50,
        source_system="psa",
    )
    prepared = Invoice.objects.create(
        number="INV-3001",
        project=project,
        customer=acme,
        legal_entity=us,
        period_start=dt.date(2026, 10, 1),
        period_end=dt.date(2026, 10, 31),
        currency="USD",
        amount=Decimal("0"),
        status=InvoiceStatus.AWAITING_APPROVAL,
        prepared_by=users["approver"],
        source_system="tower",
    )
    total = Decimal("0")
    for day, resource, hours, price in (
        (6, ada, Decimal("8.00"), Decimal("450.00")),
        (7, ada, Decimal("6.50"), Decimal("450.00")),
        (8, grace, Decimal("8.00"), Decimal("300.00")),
    ):
        entry = TimeEntry.objects.create(
            number=f"TE-10{day:02}",
            project=project,
            resource=resource,
            assignment=assignment,
            work_date=dt.date(2026, 10, day),
            hours=hours,
            status=TimeEntryStatus.APPROVED,
            source_system="time",
            invoice=prepared,
        )
        InvoiceLine.objects.create(
            invoice=prepared,
            time_entry=entry,
            description=f"{resource.name} {entry.work_date}",
            quantity=hours,
            rate=price,
            amount=hours * price,
        )
        total += hours * price
    prepared.amount = total
    prepared.save(update_fields=["amount"])
    candidate = Invoice.objects.create(
        number="INV-3002",
        project=project,
        customer=acme,
        legal_entity=us,
        period_start=dt.date(2026, 9, 1),
        period_end=dt.date(2026, 9, 30),
        currency="USD",
        amount=Decimal("3800.00"),
        status=InvoiceStatus.CANDIDATE,
        source_system="tower",
    )
    InvoiceLine.objects.create(
        invoice=candidate,
        description="Milestone M1 design sign-off",
        quantity=Decimal("1"),
        rate=Decimal("3800.00"),
        amount=Decimal("3800.00"),
    )

    # A reconciliation run that found two drifts on a posted invoice.
    posted = Invoice.objects.create(
        number="INV-2990",
        project=project,
        customer=acme,
        legal_entity=us,
        period_start=dt.date(2026, 8, 1),
        period_end=dt.date(2026, 8, 31),
        currency="USD",
        amount=Decimal("12000.00"),
        status=InvoiceStatus.POSTED,
        posted_at=now - dt.timedelta(days=30),
        source_system="tower",
    )
    run = _tx(
        FlowKind.RECONCILIATION,
        event_type="reconciliation.run",
        business_key=f"reconciliation {now:%Y-%m-%d %H:%M} UTC",
        state=TransactionState.SUCCEEDED,
        received_at=now - dt.timedelta(seconds=5),
        normalized={"type": "reconciliation.run", "data": {}},
    )
    drifts = [
        _exception(
            exception_type=ExceptionType.RECONCILIATION_DRIFT,
            flow=FlowKind.RECONCILIATION,
            message="P-1042 August 2026: 80.00 h approved and billed, the ERP invoice carries 72.00 h.",
            details={"invoice": posted.number, "tower_hours": "80.00", "erp_hours": "72.00"},
            business_key=run.business_key,
            team=finance,
            money_at_risk=Decimal("1200.00"),
            currency="USD",
        ),
        _exception(
            exception_type=ExceptionType.RECONCILIATION_DRIFT,
            flow=FlowKind.RECONCILIATION,
            message=f"Invoice {posted.number}: the tower billed 12000.00, the ERP holds 10800.00.",
            details={"invoice": posted.number, "tower": "12000.00", "erp": "10800.00"},
            business_key=run.business_key,
            team=finance,
            money_at_risk=Decimal("1200.00"),
            currency="USD",
        ),
    ]
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at"])
    return Scene(
        users=users,
        finance=finance,
        master_data=master_data,
        rate=rate,
        rate_tx=rate_tx,
        hold=hold,
        entity=entity,
        snoozed=snoozed,
        closed=closed,
        amendment=amendment,
        replay=replay,
        prepared=prepared,
        candidate=candidate,
        run=run,
        drifts=drifts,
    )
