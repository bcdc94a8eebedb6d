"""The four roles, as groups of permissions.

viewer reads everything but pricing and personal data; operator also retries, replays and
cancels transactions, replays an event to a subscriber, opens and closes a system's circuit breaker, tests its connection,
runs a poller now, and works exceptions (assign, comment, snooze, resolve, dismiss, bulk
actions); approver also approves and sees pricing and personal data; admin also configures
systems, flows, pollers, event subscriptions, teams, ownership rules, calendars and SLA
policies, runs batch imports, and lifts sign-in lockouts.
``roles_sync`` is run by migrations (and is safe to run again) so that a new
permission reaches its roles with the migration that adds it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management import create_permissions

VIEW_APPS = ("canonical", "integrations", "controltower")

OPERATOR = [
    "integrations.retry_transaction",
    "integrations.replay_transaction",
    "integrations.cancel_transaction",
    "integrations.operate_circuitbreaker",
    "integrations.test_connectedsystem",
    "integrations.run_poller",
    "integrations.request_compensation",
    "integrations.replay_delivery",
    "controltower.work_businessexception",
    "controltower.add_exceptioncomment",
    "controltower.add_bulkoperation",
]
# Finance approves money, so it sees pricing; the people it bills for are part of that.
# Viewers and operators (support) see both masked (``controltower.operations.data_access``).
DATA_ACCESS = ["canonical.see_pricing", "canonical.see_personal"]
APPROVER = [
    "canonical.approve_invoice",
    "integrations.approve_compensation",
    "controltower.approve_businessexception",
    *DATA_ACCESS,
]
CONFIGURABLE = (
    "team",
    "ownershiprule",
    "businesscalendar",
    "holiday",
    "slapolicy",
    "maintenancewindow",
    "periodclose",
)
ADMIN = [
    "integrations.pause_flow",
    "integrations.add_connectedsystem",
    "integrations.change_connectedsystem",
    "integrations.delete_connectedsystem",
    "integrations.change_flow",
    *(f"integrations.{verb}_poller" for verb in ("add", "change", "delete")),
    # Outbound event subscriptions: endpoints, their secrets, enabling and disabling.
    *(f"integrations.{verb}_subscription" for verb in ("add", "change", "delete")),
    # Which ERP instance keeps each legal entity's books.
    "integrations.add_erproute",
    "integrations.change_erproute",
    "integrations.delete_erproute",
    # Sign-in lockouts: see them and lift them.
    "axes.view_accessattempt",
    "axes.delete_accessattempt",
    "controltower.delete_apitoken",  # sees and revokes every user's API tokens
    # Batch imports write history in bulk: starting one (or a dry run), resuming one, and
    # reading its refused rows, which quote the file.
    "integrations.add_importjob",
    *(
        f"controltower.{verb}_{model}"
        for model in CONFIGURABLE
        for verb in ("add", "change", "delete")
    ),
]

ROLE_NAMES = ("viewer", "operator", "approver", "admin")


def role_permissions() -> dict[str, list[str]]:
    operator = OPERATOR
    approver = operator + APPROVER
    return {"viewer": [], "operator": operator, "approver": approver, "admin": approver + ADMIN}


def roles_sync(apps: Any) -> None:
    """Creates the groups and gives each exactly its permissions."""

    # Permissions are normally created after migrating; a migration needs them now.
    # Historical app configs have no models_module, which create_permissions requires.
    for app_config in apps.get_app_configs():
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True
        try:
            create_permissions(app_config, verbosity=0, apps=apps)
        finally:
            app_config.models_module = original

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    views = list(
        Permission.objects.filter(
            content_type__app_label__in=VIEW_APPS, codename__startswith="view_"
        )
    )
    for name, extra in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = list(views)
        for label in extra:
            app_label, codename = label.split(".")
            # An earlier migration runs before a later one has made its permission; the
            # migration that adds a permission runs this again and grants it then.
            perms.extend(
                Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(perms)
