"""Sign-in lockouts in the admin: who failed how often from where; an admin lifts them."""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from controltower.operations.services.access import login_lockout_lift


@admin.register(AccessAttempt)
class SignInLockoutAdmin(admin.ModelAdmin):
    list_display = ["username", "ip_address", "failures_since_start", "attempt_time"]
    search_fields = ["username", "ip_address"]
    date_hierarchy = "attempt_time"
    readonly_fields = [
        "username",
        "ip_address",
        "user_agent",
        "failures_since_start",
        "attempt_time",
        "path_info",
    ]
    exclude = ["get_data", "post_data", "http_accept"]
    actions = ["lift"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # lifting (audited) is the way to remove them

    @admin.action(description="Lift the lockout (user name and address)", permissions=["lift"])
    def lift(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        pairs = set(queryset.values_list("username", "ip_address"))
        removed = sum(
            login_lockout_lift(
                actor=request.user, username=username or "", ip_address=ip or "", reason="admin"
            )
            for username, ip in pairs
        )
        messages.success(request, f"Lifted {len(pairs)} lockout(s); {removed} record(s) removed.")

    def has_lift_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("axes.delete_accessattempt")
