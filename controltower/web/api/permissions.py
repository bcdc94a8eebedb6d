"""Role permissions for the API.

Reads need the model's ``view`` permission, writes its ``add``/``change``/``delete``
permission, and an action declares the permission it needs with ``required_permission``
(for example ``integrations.retry_transaction``). The roles viewer, operator,
approver and admin are groups holding these permissions (see ``controltower.operations.roles``).
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import DjangoModelPermissions
from rest_framework.request import Request


class RolePermissions(DjangoModelPermissions):
    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        action = getattr(view, "action", None)
        action_handler = getattr(view, action, None) if action else None
        required = getattr(action_handler, "required_permission", None) or getattr(
            view, "required_permission", None
        )
        if required:
            return request.user.has_perm(required)
        return super().has_permission(request, view)


def requires(permission: str):
    """Marks a viewset action with the permission it needs."""

    def decorate(func):
        func.required_permission = permission
        return func

    return decorate
