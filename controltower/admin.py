from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from controltower.models import AuditEvent, BusinessException
from controltower.services import audit_record, snapshot


class AuditedModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose every add, change and delete is written to the audit log."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = snapshot(type(obj).objects.get(pk=obj.pk)) if change and obj.pk else None
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action=f"{obj._meta.model_name}.{'change' if change else 'add'}",
            obj=obj,
            before=before,
            after=snapshot(obj),
            reason="admin",
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        before = snapshot(obj)
        audit_record(
            actor=request.user,
            action=f"{obj._meta.model_name}.delete",
            obj=obj,
            before=before,
            reason="admin",
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_name", "action", "object_type", "object_repr", "reason"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_repr", "object_id", "reason"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

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
