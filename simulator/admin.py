from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from simulator.models import SimulatedRecord, SimulatedRequest, SimulatedSystem
from simulator.services import system_reset


@admin.register(SimulatedSystem)
class SimulatedSystemAdmin(admin.ModelAdmin):
    """The fault knobs, editable here as through ``PUT /simulator/<system>/_faults``."""

    list_display = [
        "slug",
        "latency_ms",
        "error_rate",
        "throttle",
        "retry_after_seconds",
        "outage",
        "pay_after_seconds",
        "auth",
        "updated_at",
    ]
    list_editable = ["latency_ms", "error_rate", "throttle", "outage"]
    readonly_fields = ["updated_at"]
    fieldsets = [
        (None, {"fields": ["slug"]}),
        (
            "Fault knobs",
            {
                "fields": [
                    "latency_ms",
                    "error_rate",
                    "throttle",
                    "retry_after_seconds",
                    "outage",
                    "reject",
                ]
            },
        ),
        ("Rate limit", {"fields": ["rate_limit_per_minute", "rate_limit_burst"]}),
        ("Credentials", {"fields": ["auth", "token_ttl_seconds"]}),
        ("ERP", {"fields": ["pay_after_seconds"]}),
        (None, {"fields": ["updated_at"]}),
    ]
    actions = ["reset"]

    @admin.action(description="Reset: delete their records and restore the default knobs")
    def reset(self, request: HttpRequest, queryset: QuerySet[SimulatedSystem]) -> None:
        deleted = sum(system_reset(system=system) for system in queryset)
        self.message_user(
            request, f"Reset {queryset.count()} system(s); {deleted} record(s) deleted."
        )


@admin.register(SimulatedRecord)
class SimulatedRecordAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "system",
        "kind",
        "external_id",
        "idempotency_key",
        "created_at",
        "updated_at",
    ]
    list_filter = ["system", "kind"]
    search_fields = ["external_id", "idempotency_key"]
    date_hierarchy = "created_at"
    list_select_related = ["system"]


@admin.register(SimulatedRequest)
class SimulatedRequestAdmin(admin.ModelAdmin):
    """The request log, read-only: what each system was asked and what it answered."""

    list_display = ["id", "system", "method", "path", "status", "idempotency_key", "received_at"]
    list_filter = ["system", "method", "status"]
    search_fields = ["path", "idempotency_key"]
    date_hierarchy = "received_at"
    list_select_related = ["system"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
