"""The admin of the engine: connected systems, flows, transactions, sync state; its actions
are the same services as the pages' and the API's."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from canonical.errors import ApplicationError
from controltower.operations.services import actions
from controltower.web.admin.base import AuditedModelAdmin
from integrations.models import (
    Attempt,
    ConnectedSystem,
    ErpRoute,
    Flow,
    Poller,
    ProcessHeartbeat,
    SyncState,
    SystemOfRecord,
    Transaction,
)
from integrations.pollers import source_find, source_kinds
from integrations.services.routing import erp_route_waits_clear


@admin.register(ConnectedSystem)
class ConnectedSystemAdmin(AuditedModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = [
        "slug",
        "name",
        "kind",
        "adapter",
        "enabled",
        "inbound_requests_per_minute",
        "secret_env_name",
    ]
    list_filter = ["kind", "adapter", "enabled"]
    search_fields = ["slug", "name"]
    # Signing secrets are write-only: rotated on the system's signing secret page, never shown.
    exclude = ["signing_secret", "previous_signing_secrets"]
    readonly_fields = ["signing_secret_rotated_at", "previous_signing_secrets_until"]


@admin.register(Flow)
class FlowAdmin(AuditedModelAdmin):
    list_display = [
        "name",
        "kind",
        "paused",
        "max_attempts",
        "backoff_base_seconds",
        "backoff_cap_seconds",
    ]
    readonly_fields = ["kind", "paused"]
    actions = ["pause", "resume"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the flows are the engine's; they exist from the first migration

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Pause the selected flows", permissions=["pause"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Flow]) -> None:
        for flow in queryset:
            actions.flow_pause(flow=flow, actor=request.user, reason="admin")
        self.message_user(request, f"Paused {queryset.count()} flow(s).")

    @admin.action(description="Resume the selected flows", permissions=["pause"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Flow]) -> None:
        for flow in queryset:
            actions.flow_resume(flow=flow, actor=request.user, reason="admin")
        self.message_user(request, f"Resumed {queryset.count()} flow(s).")

    def has_pause_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.pause_flow")


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = [
        "number",
        "started_at",
        "duration_ms",
        "outcome",
        "error_class",
        "error_message",
        "outbound_status",
        "worker",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "flow",
        "source_system",
        "event_type",
        "business_key",
        "state",
        "outcome",
        "attempts_count",
        "received_at",
    ]
    list_filter = ["state", "flow", "source_system", "error_class", "outcome"]
    search_fields = ["business_key", "idempotency_key", "correlation_id", "external_id"]
    list_select_related = ["flow", "source_system"]
    date_hierarchy = "received_at"
    inlines = [AttemptInline]
    actions = ["retry"]
    fieldsets = [
        (
            "Status",
            {
                "fields": [
                    "state",
                    "outcome",
                    "attempts_count",
                    "next_attempt_at",
                    "error_class",
                    "error_code",
                    "last_error",
                    "errors",
                ]
            },
        ),
        (
            "Event",
            {
                "fields": [
                    "flow",
                    "source_system",
                    "target_system",
                    "event_type",
                    "business_key",
                    "external_id",
                    "idempotency_key",
                    "event_version",
                    "correlation_id",
                    "parent",
                    "replaced_by",
                ]
            },
        ),
        (
            "Payload",
            {
                "fields": [
                    "payload_pretty",
                    "normalized_pretty",
                    "raw_body",
                    "raw_body_bytes",
                    "raw_body_truncated",
                ]
            },
        ),
        (
            "Times",
            {"fields": ["received_at", "sla_due_at", "finished_at", "claimed_at", "enqueued_at"]},
        ),
    ]
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Nothing is edited here: changes go through the actions, which are audited.
        return [f.name for f in Transaction._meta.fields] + ["payload_pretty", "normalized_pretty"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Payload as received")
    def payload_pretty(self, obj: Transaction) -> str:
        return format_html(
            "<pre>{}</pre>",
            json.dumps(obj.payload, indent=2) if obj.payload is not None else obj.raw_body,
        )

    @admin.display(description="Normalized payload")
    def normalized_pretty(self, obj: Transaction) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.normalized, indent=2))

    @admin.action(description="Retry the selected transactions", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Transaction]) -> None:
        try:
            count = actions.transactions_bulk_retry(
                queryset=queryset, actor=request.user, reason="admin", description="admin selection"
            ).total
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, f"Retrying {count} transaction(s).")

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.retry_transaction")


@admin.register(SyncState)
class SyncStateAdmin(admin.ModelAdmin):
    list_display = [
        "content_type",
        "object_id",
        "system",
        "external_id",
        "last_version",
        "source_version",
        "synced_at",
        "outcome",
    ]
    list_filter = ["system", "content_type", "outcome"]
    search_fields = ["external_id"]
    list_select_related = ["system", "content_type"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


POLLER_FIELDS = [
    "system",
    "record_type",
    "enabled",
    "interval_seconds",
    "overlap_seconds",
    "page_size",
    "cursor",
]


class PollerAdminForm(forms.ModelForm):
    """Refuses a poller the tower has no source for (a record type the system's kind and
    adapter do not offer)."""

    class Meta:
        model = Poller
        fields = POLLER_FIELDS

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        system, record_type = data.get("system"), data.get("record_type")
        if system and record_type and source_find(system=system, record_type=record_type) is None:
            readable = ", ".join(
                f"{kind} ({adapter}): {kind_type}" for kind, adapter, kind_type in source_kinds()
            )
            raise forms.ValidationError(
                f"The tower cannot poll {record_type} records from a {system.kind} system "
                f"that speaks {system.adapter}; it polls {readable}."
            )
        return data


@admin.register(Poller)
class PollerAdmin(AuditedModelAdmin):
    """Adding a poller is done here; its schedule is also changed on the system's pollers
    page, and it is run from there."""

    form = PollerAdminForm

    list_display = [
        "system",
        "record_type",
        "enabled",
        "interval_seconds",
        "cursor",
        "last_outcome",
        "last_started_at",
    ]
    list_filter = ["enabled", "record_type", "last_outcome"]
    fields = POLLER_FIELDS


@admin.register(SystemOfRecord)
class SystemOfRecordAdmin(AuditedModelAdmin):
    list_display = ["domain", "system", "updated_at"]
    list_select_related = ["system"]


@admin.register(ErpRoute)
class ErpRouteAdmin(AuditedModelAdmin):
    """Which ERP instance keeps each legal entity's books."""

    list_display = ["legal_entity", "system", "updated_at"]
    list_select_related = ["legal_entity", "system"]
    search_fields = ["legal_entity__code", "legal_entity__name", "system__slug"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            erp_route_waits_clear(route=obj)


@admin.register(ProcessHeartbeat)
class ProcessHeartbeatAdmin(admin.ModelAdmin):
    """The processes of the tower and their last heartbeat; written by the processes only."""

    list_display = ["name", "role", "started_at", "beat_at"]
    list_filter = ["role"]
    search_fields = ["name"]
    readonly_fields = ["role", "name", "started_at", "beat_at", "details"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
