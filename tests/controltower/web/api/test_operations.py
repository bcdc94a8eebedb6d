"""The operations layer's API: configuration with its audit trail, queues, actions, approvals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from django.db import models
from django.utils import timezone

from canonical.choices import InvoiceStatus
from controltower.operations.choices import BulkStatus, NotificationStatus, SlaKind, SlaState
from controltower.operations.models import (
    AuditEvent,
    BulkOperation,
    BusinessException,
    OwnershipRule,
    Team,
)
from controltower.operations.services.bulk import bulk_operation_run
from integrations.choices import (
    ExceptionStatus,
    ExceptionType,
    FlowKind,
    Severity,
    TransactionState,
)
from tests.factories.canonical import (
    CustomerFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    LegalEntityFactory,
)
from tests.factories.operations import (
    BulkOperationFactory,
    BusinessCalendarFactory,
    BusinessExceptionFactory,
    ExceptionCommentFactory,
    FlowTransactionFactory,
    HolidayFactory,
    MaintenanceWindowFactory,
    NotificationAttemptFactory,
    NotificationFactory,
    OwnershipRuleFactory,
    PeriodCloseFactory,
    SlaBreachFactory,
    SlaPolicyFactory,
    TeamFactory,
)
from tests.support.api import ReadOnlyAPITests

Data = dict[str, Any] | Callable[[Sequence[models.Model]], dict[str, Any]]
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _data(data: Data, objects: Sequence[models.Model]) -> dict[str, Any]:
    return data(objects) if callable(data) else dict(data)


class ConfigAPITests(ReadOnlyAPITests):
    """A configuration endpoint: read by everyone, written by admins, every write audited.

    A subclass declares what a valid create and update post, and one invalid post with
    the field its refusal must name.
    """

    create_data: ClassVar[Data]
    update_data: ClassVar[Data]
    invalid_data: ClassVar[Data]
    invalid_field: ClassVar[str]

    @property
    def model_name(self) -> str:
        return self.model._meta.model_name

    @pytest.fixture
    def admin(self, user_with_role):
        return user_with_role("admin", "ada")

    def test_it_refuses_writes(self, objects, reader, client_for, user_with_role) -> None:
        detail = self.detail_url(objects[0])
        for user in (reader, user_with_role("operator"), user_with_role("approver")):
            client = client_for(user)
            assert client.post(self.url, _data(self.create_data, objects)).status_code == 403
            assert client.patch(detail, _data(self.update_data, objects)).status_code == 403
            assert client.delete(detail).status_code == 403
        assert self.model.objects.count() == len(objects)
        assert not AuditEvent.objects.exists()

    def test_an_admin_creates_one_and_the_audit_log_keeps_it(
        self, objects, admin, client_for
    ) -> None:
        data = {**_data(self.create_data, objects), "change_reason": "Asked by finance"}

        response = client_for(admin).post(self.url, data, format="json")

        assert response.status_code == 201, response.data
        created = self.model.objects.get(pk=response.data["id"])
        audit = AuditEvent.objects.get(action=f"{self.model_name}.create")
        assert (audit.object_id, audit.actor_name, audit.reason) == (
            str(created.pk),
            "ada",
            "Asked by finance",
        )
        assert audit.before is None
        assert audit.after["id"] == created.pk
        for field, value in data.items():
            if field in audit.after and not isinstance(value, list):
                assert str(audit.after[field]).startswith(str(value)), field

    def test_an_admin_changes_one_and_the_audit_log_keeps_before_and_after(
        self, objects, admin, client_for
    ) -> None:
        target = objects[0]
        data = _data(self.update_data, objects)
        field, value = next(iter(data.items()))

        response = client_for(admin).patch(
            self.detail_url(target), {**data, "change_reason": "Tuning"}, format="json"
        )

        assert response.status_code == 200, response.data
        assert str(response.data[field]).startswith(str(value))
        audit = AuditEvent.objects.get(action=f"{self.model_name}.update")
        assert (audit.object_id, audit.reason) == (str(target.pk), "Tuning")
        assert audit.before[field] != audit.after[field]
        assert str(audit.after[field]).startswith(str(value))

    def test_an_admin_deletes_one_and_the_audit_log_keeps_its_last_state(
        self, objects, admin, client_for
    ) -> None:
        target = objects[0]

        response = client_for(admin).delete(f"{self.detail_url(target)}?change_reason=Obsolete")

        assert response.status_code == 204, getattr(response, "data", None)
        assert not self.model.objects.filter(pk=target.pk).exists()
        audit = AuditEvent.objects.get(action=f"{self.model_name}.delete")
        assert (audit.object_id, audit.reason, audit.after) == (str(target.pk), "Obsolete", None)
        assert audit.before["id"] == target.pk

    def test_a_refused_write_names_the_field(self, objects, admin, client_for) -> None:
        response = client_for(admin).post(
            self.url, _data(self.invalid_data, objects), format="json"
        )

        assert response.status_code == 400, response.data
        assert self.invalid_field in response.data["errors"], response.data
        assert response.data["message"]
        assert self.model.objects.count() == len(objects)
        assert not AuditEvent.objects.exists()


# --- configuration ---------------------------------------------------------------------


class TestTeamsAPI(ConfigAPITests):
    url = "/api/v1/teams/"
    factory = TeamFactory
    ordering = "name"
    shows = {"calendar_name": "calendar.name"}
    filter_cases = [
        ({"name": "billing"}, 1),
        ({"is_default": "true"}, 1),
        ({"member": "mia"}, 1),
        (lambda objs: {"calendar": objs[0].calendar_id}, 1),
    ]
    create_data = {"name": "Collections", "email": "collections@example.com", "members": ["mia"]}
    update_data = {"email": "billing-desk@example.com"}
    invalid_data = {"name": "Billing ops", "email": "not an address"}
    invalid_field = "email"

    def create_objects(self):
        from django.contrib.auth import get_user_model

        mia = get_user_model().objects.create_user(username="mia")
        billing = TeamFactory(name="Billing ops", calendar=BusinessCalendarFactory())
        billing.members.add(mia)
        return [
            billing,
            TeamFactory(name="Master data"),
            TeamFactory(name="Catch-all", is_default=True),
        ]

    def test_members_are_written_by_username_and_audited_as_ids(
        self, objects, admin, client_for
    ) -> None:
        from django.contrib.auth import get_user_model

        mia = get_user_model().objects.get(username="mia")
        response = client_for(admin).post(
            self.url, {"name": "Collections", "members": ["mia", "ada"]}, format="json"
        )

        assert response.status_code == 201, response.data
        assert sorted(response.data["members"]) == ["ada", "mia"]
        audit = AuditEvent.objects.get(action="team.create")
        assert audit.after["members"] == sorted([mia.pk, admin.pk])

    def test_an_unknown_member_is_refused_by_name(self, objects, admin, client_for) -> None:
        response = client_for(admin).post(
            self.url, {"name": "Collections", "members": ["nobody-here"]}, format="json"
        )

        assert response.status_code == 400
        assert "members" in response.data["errors"]

    def test_a_second_default_team_is_refused(self, objects, admin, client_for) -> None:
        response = client_for(admin).post(
            self.url, {"name": "Another catch-all", "is_default": True}, format="json"
        )

        assert response.status_code == 400, response.data
        assert response.data["errors"] == {
            "is_default": ["Catch-all is the default team; only one team catches the rest."]
        }
        assert Team.objects.filter(is_default=True).count() == 1

    def test_it_counts_each_team_s_open_exceptions(self, objects, reader, client_for) -> None:
        BusinessExceptionFactory.create_batch(2, team=objects[0])
        BusinessExceptionFactory(team=objects[0], status=ExceptionStatus.RESOLVED)

        row = client_for(reader).get(self.detail_url(objects[0])).data

        assert row["open_exceptions"] == 2


class TestOwnershipRulesAPI(ConfigAPITests):
    url = "/api/v1/ownership-rules/"
    factory = OwnershipRuleFactory
    ordering = "priority"
    shows = {"team_name": "team.name", "customer": "customer.number"}
    filter_cases = [
        (lambda objs: {"team": objs[0].team_id}, 1),
        ({"exception_type": "missing_rate_card"}, 1),
        ({"flow": "time_to_billing"}, 1),
        ({"customer": "C-7001"}, 1),
        ({"legal_entity": "DE77"}, 1),
        ({"active": "false"}, 1),
    ]
    create_data = staticmethod(
        lambda objs: {"team": objs[1].team_id, "exception_type": "billing_hold", "priority": 5}
    )
    update_data = {"priority": 9}
    invalid_data = staticmethod(lambda objs: {"team": objs[0].team_id, "exception_type": "nope"})
    invalid_field = "exception_type"

    def create_objects(self):
        entity = LegalEntityFactory(code="DE77", country="DE", currency="EUR")
        customer = CustomerFactory(number="C-7001")
        return [
            OwnershipRuleFactory(customer=customer, priority=1),
            OwnershipRuleFactory(
                exception_type="", flow=FlowKind.TIME_TO_BILLING, legal_entity=entity, priority=2
            ),
            OwnershipRuleFactory(
                exception_type=ExceptionType.BILLING_HOLD, priority=3, active=False
            ),
        ]

    def test_it_describes_a_rule_and_its_specificity(self, objects, reader, client_for) -> None:
        row = client_for(reader).get(self.detail_url(objects[0])).data

        assert row["specificity"] == 5
        assert "C-7001" in row["description"] and objects[0].team.name in row["description"]

    def test_a_rule_without_a_criterion_is_refused_with_why(
        self, objects, admin, client_for
    ) -> None:
        response = client_for(admin).post(self.url, {"team": objects[0].team_id}, format="json")

        assert response.status_code == 400
        assert "at least one criterion" in str(response.data["errors"])

    def test_an_unknown_customer_is_refused_by_name(self, objects, admin, client_for) -> None:
        response = client_for(admin).post(
            self.url, {"team": objects[0].team_id, "customer": "C-0000"}, format="json"
        )

        assert response.status_code == 400
        assert list(response.data["errors"]) == ["customer"]


class TestBusinessCalendarsAPI(ConfigAPITests):
    url = "/api/v1/business-calendars/"
    factory = BusinessCalendarFactory
    ordering = "name"
    filter_cases = [({"name": "berlin"}, 1), ({"time_zone": "America/New_York"}, 1)]
    create_data = {
        "name": "London office",
        "time_zone": "Europe/London",
        "working_days": [0, 1, 2, 3, 4],
        "day_start": "08:00",
        "day_end": "16:30",
    }
    update_data = {"day_end": "18:00:00"}
    invalid_data = {"name": "Somewhere", "time_zone": "Mars/Olympus"}
    invalid_field = "time_zone"

    def create_objects(self):
        return [
            BusinessCalendarFactory(name="Berlin office"),
            BusinessCalendarFactory(name="New York office", time_zone="America/New_York"),
            BusinessCalendarFactory(name="Around the clock", working_days=list(range(7))),
        ]

    def test_it_nests_the_holidays(self, objects, reader, client_for) -> None:
        HolidayFactory(calendar=objects[0], date=dt.date(2026, 12, 25), name="Christmas")

        row = client_for(reader).get(self.detail_url(objects[0])).data

        assert row["holidays"] == [
            {"id": objects[0].holidays.get().pk, "date": "2026-12-25", "name": "Christmas"}
        ]

    def test_a_day_that_ends_before_it_starts_is_refused_on_day_end(
        self, objects, admin, client_for
    ) -> None:
        response = client_for(admin).patch(
            self.detail_url(objects[0]), {"day_start": "17:00", "day_end": "09:00"}, format="json"
        )

        assert response.status_code == 400
        assert "day_end" in response.data["errors"]
        assert not AuditEvent.objects.exists()

    def test_working_days_outside_the_week_are_refused(self, objects, admin, client_for) -> None:
        response = client_for(admin).patch(
            self.detail_url(objects[0]), {"working_days": [0, 7]}, format="json"
        )

        assert response.status_code == 400
        assert "working_days" in response.data["errors"]

    def test_a_calendar_a_team_uses_is_not_deleted(self, objects, admin, client_for) -> None:
        TeamFactory(calendar=objects[0])

        response = client_for(admin).delete(self.detail_url(objects[0]))

        assert response.status_code == 409
        assert "still in use" in response.data["message"]


class TestHolidaysAPI(ConfigAPITests):
    url = "/api/v1/holidays/"
    factory = HolidayFactory
    ordering = "date"
    filter_cases = [
        (lambda objs: {"calendar": objs[0].calendar_id}, 2),
        ({"date_after": "2026-12-26"}, 1),
        ({"date_before": "2026-12-26"}, 2),
    ]
    create_data = staticmethod(
        lambda objs: {"calendar": objs[0].calendar_id, "date": "2027-01-01", "name": "New year"}
    )
    update_data = {"name": "Boxing day"}
    invalid_data = staticmethod(lambda objs: {"calendar": objs[0].calendar_id, "date": "31/12"})
    invalid_field = "date"

    def create_objects(self):
        berlin = BusinessCalendarFactory()
        return [
            HolidayFactory(calendar=berlin, date=dt.date(2026, 12, 25), name="Christmas"),
            HolidayFactory(calendar=berlin, date=dt.date(2026, 12, 24)),
            HolidayFactory(date=dt.date(2026, 12, 31)),
        ]

    def test_the_same_day_twice_in_a_calendar_is_refused(self, objects, admin, client_for) -> None:
        response = client_for(admin).post(
            self.url, {"calendar": objects[0].calendar_id, "date": "2026-12-25"}, format="json"
        )

        assert response.status_code == 400
        assert response.data["errors"]


class TestSlaPoliciesAPI(ConfigAPITests):
    url = "/api/v1/sla-policies/"
    factory = SlaPolicyFactory
    ordering = "target_minutes"
    shows = {"team_name": "team.name"}
    filter_cases = [
        ({"kind": "flow"}, 1),
        ({"exception_type": "missing_rate_card"}, 1),
        ({"severity": "critical"}, 1),
        ({"active": "false"}, 1),
        (lambda objs: {"team": objs[0].team_id}, 1),
    ]
    create_data = {
        "name": "Rate cards within a day",
        "kind": "exception",
        "exception_type": "missing_rate_card",
        "target_minutes": 480,
        "business_hours": True,
    }
    update_data = {"target_minutes": 120}
    invalid_data = {"name": "Flow without a flow", "kind": "flow", "target_minutes": 60}
    invalid_field = "flow"

    def create_objects(self):
        return [
            SlaPolicyFactory(for_exceptions=True, target_minutes=240, team=TeamFactory()),
            SlaPolicyFactory(
                kind=SlaKind.FLOW,
                flow=FlowKind.CONTRACT_TO_PROJECT,
                exception_type="",
                target_minutes=30,
            ),
            SlaPolicyFactory(
                for_exceptions=True,
                exception_type="",
                severity=Severity.CRITICAL,
                target_minutes=60,
                active=False,
            ),
        ]

    def test_an_at_risk_share_over_one_is_refused(self, objects, admin, client_for) -> None:
        response = client_for(admin).patch(
            self.detail_url(objects[0]), {"at_risk_share": "1.50"}, format="json"
        )

        assert response.status_code == 400
        assert "at_risk_share" in response.data["errors"]


class TestMaintenanceWindowsAPI(ConfigAPITests):
    url = "/api/v1/maintenance-windows/"
    factory = MaintenanceWindowFactory
    ordering = "starts_at"
    shows = {"team_name": "team.name"}
    filter_cases = [
        (lambda objs: {"team": objs[0].team_id}, 1),
        ({"starts_after": "2026-11-03T00:00:00Z"}, 2),
        ({"active_at": "2026-11-02T10:00:00Z"}, 1),
    ]
    create_data = {
        "name": "ERP upgrade",
        "starts_at": "2026-12-05T20:00:00Z",
        "ends_at": "2026-12-06T02:00:00Z",
        "reason": "Vendor release 2026.2",
    }
    update_data = {"name": "ERP upgrade (moved)"}
    invalid_data = {
        "name": "Backwards",
        "starts_at": "2026-12-05T20:00:00Z",
        "ends_at": "2026-12-05T19:00:00Z",
    }
    invalid_field = "ends_at"

    def create_objects(self):
        return [
            MaintenanceWindowFactory(starts_at=NOW, team=TeamFactory()),
            MaintenanceWindowFactory(starts_at=NOW + dt.timedelta(days=3)),
            MaintenanceWindowFactory(starts_at=NOW + dt.timedelta(days=7)),
        ]

    def test_the_window_s_own_reason_is_kept_apart_from_the_change_reason(
        self, objects, admin, client_for
    ) -> None:
        data = {**self.create_data, "change_reason": "Planned with IT"}

        response = client_for(admin).post(self.url, data, format="json")

        assert response.data["reason"] == "Vendor release 2026.2"
        assert "change_reason" not in response.data
        assert AuditEvent.objects.get(action="maintenancewindow.create").reason == "Planned with IT"


class TestPeriodClosesAPI(ConfigAPITests):
    url = "/api/v1/period-closes/"
    factory = PeriodCloseFactory
    ordering = "closes_on"
    filter_cases = [({"closes_after": "2026-12-01"}, 2), ({"closes_before": "2026-12-01"}, 1)]
    create_data = {"closes_on": "2027-03-31", "name": "March 2027", "lead_days": 5}
    update_data = {"lead_days": 1}
    invalid_data = {"closes_on": "2026-11-30"}
    invalid_field = "closes_on"

    def create_objects(self):
        return [
            PeriodCloseFactory(closes_on=dt.date(2026, 11, 30)),
            PeriodCloseFactory(closes_on=dt.date(2026, 12, 31)),
            PeriodCloseFactory(closes_on=dt.date(2027, 1, 31)),
        ]


# --- service levels --------------------------------------------------------------------


class TestSlaBreachesAPI(ReadOnlyAPITests):
    url = "/api/v1/sla-breaches/"
    factory = SlaBreachFactory
    ordering = "due_at"
    shows = {"policy_name": "policy.name", "team_name": "team.name", "kind": "policy.kind"}
    filter_cases = [
        ({"state": "breached"}, 2),
        ({"state": ["at_risk", "met"]}, 1),
        (lambda objs: {"policy": objs[0].policy_id}, 1),
        (lambda objs: {"team": objs[0].team_id}, 1),
        ({"breached_after": "2026-11-02T12:00:00Z"}, 1),
        ({"breached_before": "2026-11-02T12:00:00Z"}, 1),
        ({"kind": "flow"}, 1),
        ({"open": "true"}, 3),
    ]

    def create_objects(self):
        flow_policy = SlaPolicyFactory(
            kind=SlaKind.FLOW, flow=FlowKind.TIME_TO_BILLING, exception_type=""
        )
        return [
            SlaBreachFactory(team=TeamFactory(), due_at=NOW, breached_at=NOW),
            SlaBreachFactory(
                due_at=NOW + dt.timedelta(hours=5), breached_at=NOW + dt.timedelta(hours=5)
            ),
            SlaBreachFactory(
                policy=flow_policy,
                exception=None,
                transaction=FlowTransactionFactory(kind=FlowKind.TIME_TO_BILLING),
                state=SlaState.AT_RISK,
                due_at=NOW + dt.timedelta(hours=9),
                breached_at=None,
                at_risk_at=NOW,
            ),
        ]


class TestNotificationsAPI(ReadOnlyAPITests):
    url = "/api/v1/notifications/"
    factory = NotificationFactory
    ordering = "id"
    shows = {"team_name": "team.name", "recipient": "recipient"}
    filter_cases = [
        ({"status": "failed"}, 1),
        ({"status": ["pending", "sent"]}, 2),
        ({"channel": "webhook"}, 1),
        ({"kind": "escalation"}, 1),
        (lambda objs: {"team": objs[0].team_id}, 1),
        (lambda objs: {"breach": objs[0].breach_id}, 1),
    ]

    def create_objects(self):
        return [
            NotificationFactory(status=NotificationStatus.SENT),
            NotificationFactory(
                status=NotificationStatus.FAILED,
                channel="webhook",
                recipient="https://chat.example.com/hook",
            ),
            NotificationFactory(kind="escalation"),
        ]

    def test_it_shows_every_delivery_attempt(self, objects, reader, client_for) -> None:
        failing = objects[1]
        NotificationAttemptFactory(notification=failing, number=1, ok=False, status_code=503)
        NotificationAttemptFactory(
            notification=failing, number=2, ok=False, error="timed out", status_code=None
        )

        row = client_for(reader).get(self.detail_url(failing)).data

        assert [(a["number"], a["ok"], a["status_code"]) for a in row["attempts"]] == [
            (1, False, 503),
            (2, False, None),
        ]
        assert row["attempts"][1]["error"] == "timed out"


# --- exception queues ------------------------------------------------------------------


class TestExceptionQueueAPI(ReadOnlyAPITests):
    url = "/api/v1/exceptions/"
    factory = BusinessExceptionFactory
    ordering = "money_at_risk"
    shows = {
        "team_name": "team.name",
        "assignee": "assignee.username",
        "customer": "customer.number",
        "customer_name": "customer.name",
        "legal_entity": "legal_entity.code",
    }
    filter_cases = [
        (lambda objs: {"team": objs[0].team_id}, 2),
        ({"assignee": "mia"}, 1),
        ({"unassigned": "true"}, 2),
        ({"no_team": "false"}, 3),
        ({"snoozed": "false"}, 2),
        ({"snoozed": "true"}, 1),
        ({"customer": "C-8001"}, 1),
        ({"legal_entity": "GB88"}, 1),
        ({"money_min": "500"}, 2),
        ({"status": "open"}, 1),
        ({"status": ["open", "in_progress"]}, 2),
        ({"severity": "critical"}, 1),
        ({"sla_due_before": "2026-11-03T00:00:00Z"}, 1),
    ]

    def create_objects(self):
        from django.contrib.auth import get_user_model

        mia = get_user_model().objects.create_user(username="mia")
        desk, other = TeamFactory(name="Rates desk"), TeamFactory(name="Master data")
        entity = LegalEntityFactory(code="GB88", country="GB", currency="GBP")
        customer = CustomerFactory(number="C-8001", name="Initech", legal_entity=entity)
        return [
            BusinessExceptionFactory(
                team=desk,
                assignee=mia,
                status=ExceptionStatus.IN_PROGRESS,
                customer=customer,
                legal_entity=entity,
                money_at_risk=Decimal("5000.00"),
                severity=Severity.CRITICAL,
                snoozed_until=timezone.now() + dt.timedelta(days=1),
                sla_due_at=NOW,
            ),
            BusinessExceptionFactory(
                team=other, money_at_risk=Decimal("100.00"), severity=Severity.LOW
            ),
            BusinessExceptionFactory(
                team=desk,
                status=ExceptionStatus.RESOLVED,
                money_at_risk=Decimal("800.00"),
                sla_due_at=NOW + dt.timedelta(days=2),
            ),
        ]

    def test_assignee_me_is_the_caller_s_queue(self, objects, client_for, user_with_role) -> None:
        from django.contrib.auth.models import Group

        mia = objects[0].assignee
        mia.groups.add(Group.objects.get(name="operator"))
        someone_else = user_with_role("operator")

        mine = client_for(mia).get(self.url, {"assignee": "me"}).data["results"]
        theirs = client_for(someone_else).get(self.url, {"assignee": "me"}).data["results"]

        assert [row["id"] for row in mine] == [objects[0].pk]
        assert theirs == []

    def test_it_orders_by_severity_as_the_business_ranks_it(
        self, objects, reader, client_for
    ) -> None:
        rows = client_for(reader).get(self.url, {"ordering": "-severity"}).data["results"]

        assert [row["severity"] for row in rows] == ["critical", "high", "low"]
        rows = client_for(reader).get(self.url, {"ordering": "severity"}).data["results"]
        assert [row["severity"] for row in rows] == ["low", "high", "critical"]

    def test_it_orders_by_sla_due_time(self, objects, reader, client_for) -> None:
        rows = client_for(reader).get(self.url, {"ordering": "sla_due_at"}).data["results"]

        assert [row["id"] for row in rows if row["sla_due_at"]] == [objects[0].pk, objects[2].pk]

    def test_the_default_order_puts_the_most_money_first(self, objects, reader, client_for) -> None:
        rows = client_for(reader).get(self.url).data["results"]

        assert [Decimal(row["money_at_risk"]) for row in rows] == [
            Decimal("5000.00"),
            Decimal("800.00"),
            Decimal("100.00"),
        ]

    def test_each_row_counts_its_comments_and_says_if_it_sleeps(
        self, objects, reader, client_for
    ) -> None:
        ExceptionCommentFactory.create_batch(2, exception=objects[0])

        rows = {row["id"]: row for row in client_for(reader).get(self.url).data["results"]}

        assert rows[objects[0].pk]["comment_count"] == 2
        assert rows[objects[0].pk]["is_snoozed"] is True
        assert rows[objects[1].pk]["comment_count"] == 0
        assert rows[objects[1].pk]["is_snoozed"] is False

    def test_an_unknown_filter_value_names_the_filter(self, objects, reader, client_for) -> None:
        response = client_for(reader).get(self.url, {"status": "sleeping"})

        assert response.status_code == 400
        assert "status" in response.data["errors"]


# --- ownership rule preview and re-route ---------------------------------------------


@pytest.fixture
def routed(db):
    """Open exceptions in the default team's queue, and one a customer rule already owns."""
    catch_all = TeamFactory(name="Catch-all", is_default=True)
    key_accounts = TeamFactory(name="Key accounts")
    acme = CustomerFactory(number="C-6001")
    OwnershipRuleFactory(team=key_accounts, exception_type="", customer=acme)
    return {
        "catch_all": catch_all,
        "key_accounts": key_accounts,
        "rates": [
            BusinessExceptionFactory(team=catch_all, money_at_risk=Decimal("1200")),
            BusinessExceptionFactory(team=catch_all, money_at_risk=Decimal("300")),
        ],
        "acme_rates": BusinessExceptionFactory(team=key_accounts, customer=acme),
        "hold": BusinessExceptionFactory(team=catch_all, exception_type=ExceptionType.BILLING_HOLD),
        "closed": BusinessExceptionFactory(team=catch_all, status=ExceptionStatus.RESOLVED),
    }


def test_a_draft_rule_s_preview_lists_what_it_would_take_and_saves_nothing(
    routed, user_with_role, api_client_for
):
    rates_desk = TeamFactory(name="Rates desk")
    client = api_client_for(user_with_role("viewer"))

    response = client.post(
        "/api/v1/ownership-rules/preview/",
        {"team": rates_desk.pk, "exception_type": "missing_rate_card"},
        format="json",
    )

    assert response.status_code == 200, response.data
    assert response.data["count"] == 2
    assert [row["id"] for row in response.data["results"]] == [e.pk for e in routed["rates"]]
    assert {row["team_name"] for row in response.data["results"]} == {"Catch-all"}
    assert OwnershipRule.objects.count() == 1
    assert not AuditEvent.objects.exists()


def test_a_draft_rule_without_a_criterion_is_refused_before_preview(
    routed, user_with_role, api_client_for
):
    client = api_client_for(user_with_role("viewer"))

    response = client.post(
        "/api/v1/ownership-rules/preview/", {"team": routed["catch_all"].pk}, format="json"
    )

    assert response.status_code == 400
    assert "criterion" in response.data["message"]


def test_a_saved_rule_s_preview_and_an_admin_s_reroute_move_the_same_exceptions(
    routed, user_with_role, api_client_for
):
    admin = api_client_for(user_with_role("admin", "ada"))
    created = admin.post(
        "/api/v1/ownership-rules/",
        {"team": TeamFactory(name="Rates desk").pk, "exception_type": "missing_rate_card"},
        format="json",
    ).data
    assert BusinessException.objects.filter(team__name="Rates desk").count() == 0

    preview = admin.get(f"/api/v1/ownership-rules/{created['id']}/preview/").data
    operator = api_client_for(user_with_role("operator"))
    assert operator.post("/api/v1/ownership-rules/reroute/", {}).status_code == 403
    moved = admin.post("/api/v1/ownership-rules/reroute/", {"reason": "New rates desk"})

    assert moved.status_code == 200
    assert moved.data == {"moved": 2}
    taken = {row["id"] for row in preview["results"]}
    assert taken == {e.pk for e in routed["rates"]}
    assert (
        set(BusinessException.objects.filter(team__name="Rates desk").values_list("pk", flat=True))
        == taken
    )
    reroutes = AuditEvent.objects.filter(action="exception.reroute")
    assert {a.object_id for a in reroutes} == {str(pk) for pk in taken}
    assert {a.reason for a in reroutes} == {"New rates desk"}


# --- exception actions -------------------------------------------------------------------


@pytest.fixture
def queue(db, user_with_role):
    """A rates desk with Olivia (operator) on it, and an open exception in its queue."""
    olivia = user_with_role("operator", "olivia")
    desk = TeamFactory(name="Rates desk")
    desk.members.add(olivia)
    exc = BusinessExceptionFactory(team=desk, money_at_risk=Decimal("2400.00"))
    blocked = FlowTransactionFactory(
        kind=FlowKind.TIME_TO_BILLING, state=TransactionState.BLOCKED, exception=exc
    )
    return {"olivia": olivia, "desk": desk, "exception": exc, "blocked": blocked}


def test_an_operator_assigns_an_exception_to_herself_and_it_is_in_progress(queue, api_client_for):
    client = api_client_for(queue["olivia"])
    url = f"/api/v1/exceptions/{queue['exception'].pk}/assign/"

    response = client.post(url, {"assignee": "me", "reason": "Mine"}, format="json")

    assert response.status_code == 200, response.data
    assert (response.data["assignee"], response.data["status"]) == ("olivia", "in_progress")
    audit = AuditEvent.objects.get(action="exception.assign")
    assert (audit.before["assignee"], audit.after["assignee"]) == (None, queue["olivia"].pk)


def test_assigning_to_nobody_and_no_team_names_the_field(queue, api_client_for):
    client = api_client_for(queue["olivia"])
    url = f"/api/v1/exceptions/{queue['exception'].pk}/assign/"

    response = client.post(url, {}, format="json")
    unknown = client.post(url, {"assignee": "ghost"}, format="json")

    assert response.status_code == 400 and "assignee" in response.data["errors"]
    assert unknown.status_code == 400 and "assignee" in unknown.data["errors"]


def test_assigning_to_someone_without_the_operator_role_is_refused(
    queue, user_with_role, api_client_for
):
    user_with_role("viewer", "vic")
    client = api_client_for(queue["olivia"])

    response = client.post(
        f"/api/v1/exceptions/{queue['exception'].pk}/assign/", {"assignee": "vic"}, format="json"
    )

    assert response.status_code == 400
    assert "operator role" in response.data["message"]


def test_comments_are_added_and_listed_in_order(queue, api_client_for, user_with_role):
    url = f"/api/v1/exceptions/{queue['exception'].pk}/comments/"
    olivia = api_client_for(queue["olivia"])

    first = olivia.post(url, {"body": "Asked finance for the Architect rate."}, format="json")
    olivia.post(url, {"body": "Finance says tomorrow."}, format="json")
    empty = olivia.post(url, {"body": ""}, format="json")
    listed = api_client_for(user_with_role("viewer")).get(url)

    assert first.status_code == 201 and first.data["author"] == "olivia"
    assert empty.status_code == 400 and "body" in empty.data["errors"]
    assert [c["body"] for c in listed.data] == [
        "Asked finance for the Architect rate.",
        "Finance says tomorrow.",
    ]
    detail = olivia.get(f"/api/v1/exceptions/{queue['exception'].pk}/").data
    assert detail["comment_count"] == 2


def test_a_snoozed_exception_leaves_the_queue_that_hides_snoozed_ones(queue, api_client_for):
    client = api_client_for(queue["olivia"])
    pk = queue["exception"].pk
    until = (timezone.now() + dt.timedelta(hours=4)).isoformat()

    response = client.post(f"/api/v1/exceptions/{pk}/snooze/", {"until": until}, format="json")
    past = client.post(
        f"/api/v1/exceptions/{pk}/snooze/", {"until": "2020-01-01T00:00:00Z"}, format="json"
    )

    assert response.status_code == 200 and response.data["is_snoozed"] is True
    assert past.status_code == 400 and "until" in past.data["errors"]
    awake = client.get("/api/v1/exceptions/", {"snoozed": "false"}).data
    everything = client.get("/api/v1/exceptions/").data
    assert (awake["count"], everything["count"]) == (0, 1)


def test_resolving_needs_a_resolution_and_re_runs_the_blocked_work(queue, api_client_for):
    client = api_client_for(queue["olivia"])
    pk = queue["exception"].pk

    missing = client.post(f"/api/v1/exceptions/{pk}/resolve/", {}, format="json")
    response = client.post(
        f"/api/v1/exceptions/{pk}/resolve/", {"resolution": "Rate added in ERP"}, format="json"
    )
    again = client.post(f"/api/v1/exceptions/{pk}/resolve/", {"resolution": "x"}, format="json")

    assert missing.status_code == 400 and "resolution" in missing.data["errors"]
    assert response.status_code == 200, response.data
    assert (response.data["status"], response.data["resolved_by"]) == ("resolved", "olivia")
    queue["blocked"].refresh_from_db()
    assert queue["blocked"].state == TransactionState.RECEIVED
    assert again.status_code == 409 and "only open exceptions" in again.data["message"]


def test_dismissing_needs_a_reason_and_reopening_brings_it_back(queue, api_client_for):
    client = api_client_for(queue["olivia"])
    pk = queue["exception"].pk

    missing = client.post(f"/api/v1/exceptions/{pk}/dismiss/", {}, format="json")
    dismissed = client.post(
        f"/api/v1/exceptions/{pk}/dismiss/", {"reason": "Test data"}, format="json"
    )
    reopened = client.post(
        f"/api/v1/exceptions/{pk}/reopen/", {"reason": "Not test data after all"}, format="json"
    )

    assert missing.status_code == 400 and "reason" in missing.data["errors"]
    assert dismissed.data["status"] == "dismissed"
    queue["blocked"].refresh_from_db()
    assert queue["blocked"].state == TransactionState.CANCELLED
    assert reopened.status_code == 200 and reopened.data["status"] == "open"
    assert list(
        AuditEvent.objects.filter(object_id=str(pk)).order_by("id").values_list("action", "reason")
    ) == [("exception.dismiss", "Test data"), ("exception.reopen", "Not test data after all")]


def test_an_action_on_an_unknown_exception_answers_404(queue, api_client_for):
    response = api_client_for(queue["olivia"]).post(
        "/api/v1/exceptions/999999/resolve/", {"resolution": "x"}, format="json"
    )

    assert response.status_code == 404
    assert "does not exist" in response.data["message"]


def test_an_approver_approves_what_someone_else_prepared_but_not_her_own(
    user_with_role, api_client_for
):
    ann, bob = user_with_role("approver", "ann"), user_with_role("approver", "bob")
    replay = BusinessExceptionFactory(exception_type=ExceptionType.EDITED_REPLAY, prepared_by=ann)
    url = f"/api/v1/exceptions/{replay.pk}/approve/"

    own = api_client_for(ann).post(url, {}, format="json")
    other = api_client_for(bob).post(url, {"reason": "Checked the edit"}, format="json")

    assert own.status_code == 403
    assert "You prepared exception" in own.data["message"]
    assert other.status_code == 200, other.data
    assert other.data["status"] == "resolved" and other.data["resolved_by"] == "bob"


def test_an_approver_rejects_with_a_reason_and_an_operator_cannot_approve(
    queue, user_with_role, api_client_for
):
    conflict = BusinessExceptionFactory(exception_type=ExceptionType.AMENDMENT_CONFLICT)
    approver = api_client_for(user_with_role("approver"))

    refused = api_client_for(queue["olivia"]).post(
        f"/api/v1/exceptions/{conflict.pk}/approve/", {}, format="json"
    )
    no_reason = approver.post(f"/api/v1/exceptions/{conflict.pk}/reject/", {}, format="json")
    rejected = approver.post(
        f"/api/v1/exceptions/{conflict.pk}/reject/", {"reason": "Rate cut too deep"}, format="json"
    )
    not_approvable = approver.post(
        f"/api/v1/exceptions/{queue['exception'].pk}/approve/", {}, format="json"
    )

    assert refused.status_code == 403
    assert no_reason.status_code == 400 and "reason" in no_reason.data["errors"]
    assert rejected.status_code == 200 and rejected.data["status"] == "dismissed"
    assert not_approvable.status_code == 409


# --- invoices: four eyes ---------------------------------------------------------------


@pytest.fixture
def candidates(db):
    invoices = [InvoiceFactory(status=InvoiceStatus.CANDIDATE) for _ in range(2)]
    for invoice in invoices:
        InvoiceLineFactory(invoice=invoice)
    return invoices


def test_a_finance_approver_approves_a_candidate_someone_else_prepared(
    candidates, user_with_role, api_client_for
):
    invoice = candidates[0]
    operator = api_client_for(user_with_role("operator", "olivia"))
    approver = api_client_for(user_with_role("approver", "fiona"))

    prepared = operator.post(
        f"/api/v1/invoices/{invoice.pk}/prepare/", {"note": "Hours checked"}, format="json"
    )
    approved = approver.post(f"/api/v1/invoices/{invoice.pk}/approve/", {"reason": "OK"})

    assert prepared.status_code == 200, prepared.data
    assert (prepared.data["status"], prepared.data["prepared_by"]) == (
        "awaiting_approval",
        "olivia",
    )
    assert approved.status_code == 200, approved.data
    assert (approved.data["status"], approved.data["approved_by"]) == ("approved", "fiona")
    assert AuditEvent.objects.get(action="invoice.prepare").reason == "Hours checked"


def test_a_finance_approver_cannot_approve_a_candidate_she_prepared(
    candidates, user_with_role, api_client_for
):
    invoice = candidates[1]
    fiona = api_client_for(user_with_role("approver", "fiona"))
    viewer = api_client_for(user_with_role("viewer"))

    assert viewer.post(f"/api/v1/invoices/{invoice.pk}/prepare/", {}).status_code == 403
    fiona.post(f"/api/v1/invoices/{invoice.pk}/prepare/", {}, format="json")
    refused = fiona.post(f"/api/v1/invoices/{invoice.pk}/approve/", {}, format="json")

    assert refused.status_code == 403
    assert refused.data["message"] == (
        f"You prepared invoice {invoice.number}; a second person with the approver role must "
        "approve it."
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.AWAITING_APPROVAL and invoice.approved_by is None


# --- bulk operations -----------------------------------------------------------------------


class TestBulkOperationsAPI(ReadOnlyAPITests):
    url = "/api/v1/bulk-operations/"
    factory = BulkOperationFactory
    ordering = "id"
    shows = {"requested_by": "requested_by.username", "progress": "progress"}
    filter_cases = [
        ({"action": "assign"}, 1),
        ({"status": "done"}, 1),
        ({"status": ["queued", "running"]}, 2),
        ({"requested_by": "olivia"}, 1),
    ]

    def create_objects(self):
        from django.contrib.auth import get_user_model

        olivia = get_user_model().objects.create_user(username="olivia")
        return [
            BulkOperationFactory(requested_by=olivia, status=BulkStatus.RUNNING, total=4, done=1),
            BulkOperationFactory(action="assign", status=BulkStatus.DONE, total=2, done=2),
            BulkOperationFactory(),
        ]

    def test_it_refuses_writes(self, objects, reader, client_for) -> None:
        detail = self.detail_url(objects[0])
        client = client_for(reader)
        assert client.post(self.url, {"action": "dismiss", "ids": [1]}).status_code == 403
        for method in (client.put, client.patch, client.delete):
            assert method(detail, {}).status_code in (403, 405)
        assert BulkOperation.objects.count() == len(objects)


def test_a_bulk_dismiss_by_ids_starts_and_reports_its_progress(queue, api_client_for):
    others = BusinessExceptionFactory.create_batch(2, team=queue["desk"])
    ids = [queue["exception"].pk, *(e.pk for e in others)]
    client = api_client_for(queue["olivia"])

    started = client.post(
        "/api/v1/bulk-operations/",
        {"action": "dismiss", "ids": ids, "params": {"reason": "Duplicates of INC-7"}},
        format="json",
    )

    assert started.status_code == 202, started.data
    assert (started.data["status"], started.data["total"], started.data["progress"]) == (
        "queued",
        3,
        0,
    )
    bulk_operation_run(operation_id=started.data["id"])
    done = client.get(f"/api/v1/bulk-operations/{started.data['id']}/").data
    assert (done["status"], done["done"], done["failed"], done["progress"]) == ("done", 3, 0, 100)
    assert set(BusinessException.objects.values_list("status", flat=True)) == {"dismissed"}


def test_a_bulk_assign_by_filter_takes_the_queue_as_seen_and_assigns_to_me(queue, api_client_for):
    BusinessExceptionFactory(team=queue["desk"], status=ExceptionStatus.RESOLVED)
    BusinessExceptionFactory(team=TeamFactory())
    client = api_client_for(queue["olivia"])

    started = client.post(
        "/api/v1/bulk-operations/",
        {
            "action": "assign",
            "filter": {"team": queue["desk"].pk, "status": "open", "unassigned": True},
            "params": {"assignee": "me"},
        },
        format="json",
    )

    assert started.status_code == 202, started.data
    assert started.data["total"] == 1
    assert started.data["params"] == {"assignee_id": queue["olivia"].pk}
    bulk_operation_run(operation_id=started.data["id"])
    queue["exception"].refresh_from_db()
    assert queue["exception"].assignee == queue["olivia"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "dismiss", "params": {"reason": "x"}}, "ids"),
        (
            {"action": "dismiss", "ids": [1], "filter": {"team": 1}, "params": {"reason": "x"}},
            "ids",
        ),
        ({"action": "dismiss", "filter": {"staus": "open"}, "params": {"reason": "x"}}, "filter"),
        ({"action": "dismiss", "filter": {}, "params": {"reason": "x"}}, "filter"),
        ({"action": "dismiss", "filter": {"status": "asleep"}}, "filter.status"),
        ({"action": "explode", "ids": [1]}, "action"),
        ({"action": "dismiss", "ids": ["one"]}, "ids.one"),
        ({"action": "assign", "ids": [1], "params": {"assignee": "ghost"}}, "params.assignee"),
    ],
    ids=["neither", "both", "typo", "empty-filter", "bad-status", "action", "ids", "assignee"],
)
def test_a_bulk_request_that_does_not_fit_names_the_field(queue, api_client_for, body, field):
    response = api_client_for(queue["olivia"]).post("/api/v1/bulk-operations/", body, format="json")

    assert response.status_code == 400, response.data
    assert any(key.startswith(field.split(".one")[0]) for key in response.data["errors"]), (
        response.data
    )
    assert not BulkOperation.objects.exists()


def test_a_bulk_dismiss_without_a_reason_is_refused_by_the_service(queue, api_client_for):
    response = api_client_for(queue["olivia"]).post(
        "/api/v1/bulk-operations/",
        {"action": "dismiss", "ids": [queue["exception"].pk]},
        format="json",
    )

    assert response.status_code == 400
    assert "params.reason" in response.data["errors"]


# --- the support journey, end to end -----------------------------------------------------


@pytest.fixture
def simulated(live_server):
    """The demo, its ERP and PSA served by the simulator over real HTTP."""
    import httpx

    from controltower.operations.demo import demo_load
    from integrations.models import ConnectedSystem

    demo_load()
    base = f"{live_server.url}/simulator"
    ConnectedSystem.objects.filter(slug="erp").update(base_url=f"{base}/erp")
    ConnectedSystem.objects.filter(slug="psa").update(base_url=f"{base}/psa")
    httpx.post(f"{base}/erp/_reset", timeout=10)
    return live_server


@pytest.mark.django_db(transaction=True)
def test_support_works_a_missing_rate_from_the_team_queue_to_the_fix_through_the_api(
    simulated, user_with_role, api_client_for
):
    from integrations.services.processing import transactions_process
    from tests.support.inbound import contract_event, event, events_send

    admin = api_client_for(user_with_role("admin", "ada"))
    olivia = user_with_role("operator", "olivia")
    desk = admin.post(
        "/api/v1/teams/", {"name": "Rates desk", "members": ["olivia"]}, format="json"
    ).data
    rule = admin.post(
        "/api/v1/ownership-rules/",
        {"team": desk["id"], "exception_type": "missing_rate_card"},
        format="json",
    )
    assert rule.status_code == 201, rule.data
    events_send(contract_event("K-6101"), system="clm")
    [blocked] = events_send(
        event(
            "assignment.upserted",
            {
                "number": "A-61",
                "project": "P-K-6101",
                "resource": "E-0003",
                "role": "Architect",
                "start_date": "2026-11-02",
                "allocation_percent": 50,
            },
        ),
        system="psa",
    )
    me = api_client_for(olivia)

    # My team's queue shows the exception, routed by the rule.
    queue = me.get("/api/v1/exceptions/", {"team": desk["id"], "status": "open"}).data
    assert queue["count"] == 1
    [item] = queue["results"]
    assert (item["exception_type"], item["team_name"], item["waiting_on"]) == (
        "missing_rate_card",
        "Rates desk",
        "rate_card:RC-US-STD:ARCHITECT",
    )
    assert item["transaction_ids"] == [blocked]
    url = f"/api/v1/exceptions/{item['id']}"

    # Take it, say what is happening.
    assert me.post(f"{url}/assign/", {"assignee": "me"}, format="json").data["status"] == (
        "in_progress"
    )
    assert me.get("/api/v1/exceptions/", {"assignee": "me"}).data["count"] == 1
    comment = me.post(f"{url}/comments/", {"body": "Asked finance for the rate."}, format="json")
    assert comment.status_code == 201

    # Finance adds the missing line in the ERP; the tower hears of it and clears the exception.
    events_send(
        event(
            "rate_card.upserted",
            {
                "code": "RC-US-STD",
                "name": "US standard",
                "currency": "USD",
                "lines": [
                    {"role": "Partner", "rate": 450},
                    {"role": "Manager", "rate": 300},
                    {"role": "Consultant", "rate": 190},
                    {"role": "Analyst", "rate": 120},
                    {"role": "Architect", "rate": 260},
                ],
            },
            version=2,
        ),
        system="erp",
    )
    resolved = me.get(f"{url}/").data
    assert resolved["status"] == "resolved", resolved
    assert me.get(f"/api/v1/transactions/{blocked}/").data["state"] == TransactionState.RECEIVED

    # The parked assignment runs again and goes through.
    transactions_process(ids=[blocked])
    assert me.get(f"/api/v1/transactions/{blocked}/").data["state"] == TransactionState.SUCCEEDED
    assert (
        me.get("/api/v1/exceptions/", {"assignee": "me", "status": "in_progress"}).data["count"]
        == 0
    )

    # And the audit log tells the story.
    trail = me.get(
        "/api/v1/audit-events/",
        {
            "object_type": "controltower.businessexception",
            "object_id": item["id"],
            "ordering": "id",
        },
    ).data["results"]
    assert [(row["action"], row["actor_name"]) for row in trail] == [
        ("exception.assign", "olivia"),
        ("exception.comment", "olivia"),
        ("exception.resolve_by_fix", "system"),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_bulk_operation_s_progress_is_followed_through_the_api_while_a_worker_runs_it(
    celery_worker, user_with_role, api_client_for
):
    from tests.support.worker import wait_for

    client = api_client_for(user_with_role("operator", "olivia"))
    desk = TeamFactory(name="Rates desk")
    BusinessExceptionFactory.create_batch(120, team=desk)
    BusinessExceptionFactory(team=desk, status=ExceptionStatus.RESOLVED)

    started = client.post(
        "/api/v1/bulk-operations/",
        {"action": "dismiss", "filter": {"team": desk.pk}, "params": {"reason": "Load test"}},
        format="json",
    )
    assert started.status_code == 202, started.data
    assert started.data["total"] == 120
    url = f"/api/v1/bulk-operations/{started.data['id']}/"
    seen: list[int] = []

    def finished() -> bool:
        row = client.get(url).data
        seen.append(row["progress"])
        return row["status"] == BulkStatus.DONE

    wait_for(finished, timeout=90, what="the bulk dismiss to finish", on_timeout=celery_worker.tail)
    row = client.get(url).data
    assert (row["done"], row["failed"], row["progress"], row["finished_at"] is not None) == (
        120,
        0,
        100,
        True,
    )
    assert seen == sorted(seen)
    dismissed = client.get("/api/v1/exceptions/", {"team": desk.pk, "status": "dismissed"})
    assert dismissed.data["count"] == 120


# --- the OpenAPI schema ------------------------------------------------------------------


def test_every_operations_route_is_in_the_schema_with_its_request_body_documented():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    body = {
        "/api/v1/exceptions/{id}/assign/": "AssignRequest",
        "/api/v1/exceptions/{id}/comments/": "NewCommentRequest",
        "/api/v1/exceptions/{id}/snooze/": "SnoozeRequest",
        "/api/v1/exceptions/{id}/resolve/": "ResolveRequest",
        "/api/v1/exceptions/{id}/dismiss/": "RequiredReasonRequest",
        "/api/v1/exceptions/{id}/reopen/": "RequiredReasonRequest",
        "/api/v1/exceptions/{id}/approve/": "ReasonRequest",
        "/api/v1/exceptions/{id}/reject/": "RequiredReasonRequest",
        "/api/v1/bulk-operations/": "BulkStartRequest",
        "/api/v1/ownership-rules/preview/": "DraftRuleRequest",
        "/api/v1/ownership-rules/reroute/": "ReasonRequest",
        "/api/v1/teams/": "TeamRequest",
        "/api/v1/invoices/{id}/prepare/": "PrepareRequest",
    }
    for path, component in body.items():
        schema = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{component}"}, path
    for path in (
        "/api/v1/business-calendars/{id}/",
        "/api/v1/holidays/{id}/",
        "/api/v1/sla-policies/{id}/",
        "/api/v1/maintenance-windows/{id}/",
        "/api/v1/period-closes/{id}/",
        "/api/v1/ownership-rules/{id}/",
    ):
        assert {"get", "put", "patch", "delete"} <= set(paths[path]), path
    for path in ("/api/v1/sla-breaches/", "/api/v1/notifications/"):
        assert set(paths[path]) == {"get"}
    export = paths["/api/v1/audit-events/export/"]["get"]
    assert "text/csv" in export["responses"]["200"]["content"]
    assert {"q", "user", "object_type", "at_after"} <= {p["name"] for p in export["parameters"]}
    queue = {p["name"] for p in paths["/api/v1/exceptions/"]["get"]["parameters"]}
    assert {
        "team",
        "assignee",
        "unassigned",
        "snoozed",
        "customer",
        "money_min",
        "ordering",
    } <= queue
