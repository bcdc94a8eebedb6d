"""The admin of the operations layer's records: teams, rules, calendars, SLAs, audit."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from rest_framework.authtoken.models import TokenProxy

from controltower.operations.models import (
    AuditEvent,
    BulkOperation,
    BusinessCalendar,
    BusinessException,
    Holiday,
    MaintenanceWindow,
    Notification,
    NotificationAttempt,
    OwnershipRule,
    PeriodClose,
    SlaBreach,
    SlaPolicy,
    Team,
)
from controltower.operations.services.audit import audit_redact
from controltower.web.admin.base import AuditedModelAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_name", "action", "object_type", "object_repr", "reason"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_repr", "object_id", "reason"]
    date_hierarchy = "at"
    # Before and after are shown with any secret in them masked, as on the audit page.
    exclude = ["before", "after"]
    readonly_fields = [
        *(f.name for f in AuditEvent._meta.fields if f.name not in ("before", "after")),
        "before_shown",
        "after_shown",
    ]

    @admin.display(description="before")
    def before_shown(self, obj: AuditEvent) -> str:
        return json.dumps(audit_redact(obj.before), indent=1, sort_keys=True)

    @admin.display(description="after")
    def after_shown(self, obj: AuditEvent) -> str:
        return json.dumps(audit_redact(obj.after), indent=1, sort_keys=True)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BusinessException)
class BusinessExceptionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "exception_type",
        "severity",
        "status",
        "flow",
        "business_key",
        "money_at_risk",
        "currency",
        "occurrences",
        "created_at",
    ]
    list_filter = ["status", "exception_type", "severity", "flow"]
    search_fields = ["business_key", "waiting_on", "message"]
    readonly_fields = [f.name for f in BusinessException._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    list_select_related = ["team", "assignee"]


@admin.register(Team)
class TeamAdmin(AuditedModelAdmin):
    list_display = ["name", "is_default", "email", "calendar"]
    # Webhook URLs are write-only: they are set on the tower's own team page, never shown.
    exclude = ["chat_webhook_url", "escalation_webhook_url"]
    filter_horizontal = ["members"]
    search_fields = ["name", "email"]


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(AuditedModelAdmin):
    list_display = ["name", "time_zone", "day_start", "day_end"]
    inlines = [HolidayInline]


@admin.register(OwnershipRule)
class OwnershipRuleAdmin(AuditedModelAdmin):
    list_display = ["__str__", "team", "priority", "active"]
    list_filter = ["team", "active", "exception_type", "flow"]
    autocomplete_fields = ["customer", "legal_entity"]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(AuditedModelAdmin):
    list_display = ["name", "kind", "flow", "exception_type", "severity", "target_minutes"]
    list_filter = ["kind", "active", "business_hours"]


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(AuditedModelAdmin):
    list_display = ["name", "starts_at", "ends_at", "team"]


@admin.register(PeriodClose)
class PeriodCloseAdmin(AuditedModelAdmin):
    list_display = ["closes_on", "name", "lead_days"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the tower writes itself: people read them here and act through the services."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SlaBreach)
class SlaBreachAdmin(ReadOnlyAdmin):
    list_display = ["policy", "state", "team", "due_at", "breached_at", "escalated_at", "met_at"]
    list_filter = ["state", "policy"]


class NotificationAttemptInline(admin.TabularInline):
    model = NotificationAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "at", "ok", "status_code", "error"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "channel", "recipient", "status", "attempts_count"]
    exclude = ["webhook_url"]
    list_filter = ["status", "channel", "kind"]
    inlines = [NotificationAttemptInline]


@admin.register(BulkOperation)
class BulkOperationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "requested_by", "status", "total", "done", "failed"]
    list_filter = ["action", "status"]


# Django REST framework's clear-text tokens authenticate nothing any more (API tokens are
# hashed, made on the API tokens page): their admin would only make keys that do not work.
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)
