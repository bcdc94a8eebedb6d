"""What every admin page of the tower shares: changes made there are audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from controltower.operations.services.audit import audit_record, secrets_changed, snapshot


class AuditedModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose every add, change and delete is written to the audit log."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        current = type(obj).objects.get(pk=obj.pk) if change and obj.pk else None
        before = snapshot(current) if current is not None else None
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action=f"{obj._meta.model_name}.{'change' if change else 'add'}",
            obj=obj,
            before=before,
            after=secrets_changed(current, obj, snapshot(obj)),
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
