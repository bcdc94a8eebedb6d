from controltower.models.audit import AuditEvent
from controltower.models.exceptions import BulkOperation, BusinessException, ExceptionComment
from controltower.models.ownership import BusinessCalendar, Holiday, OwnershipRule, Team
from controltower.models.sla import (
    MaintenanceWindow,
    Notification,
    NotificationAttempt,
    PeriodClose,
    SlaBreach,
    SlaPolicy,
)
from controltower.models.views import SavedView

__all__ = [
    "AuditEvent",
    "BulkOperation",
    "BusinessCalendar",
    "BusinessException",
    "ExceptionComment",
    "Holiday",
    "MaintenanceWindow",
    "Notification",
    "NotificationAttempt",
    "OwnershipRule",
    "PeriodClose",
    "SavedView",
    "SlaBreach",
    "SlaPolicy",
    "Team",
]
