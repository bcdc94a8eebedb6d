from controltower.operations.models.audit import AuditEvent
from controltower.operations.models.exceptions import (
    BulkOperation,
    BusinessException,
    ExceptionComment,
)
from controltower.operations.models.ownership import BusinessCalendar, Holiday, OwnershipRule, Team
from controltower.operations.models.preferences import UserPreference
from controltower.operations.models.sla import (
    MaintenanceWindow,
    Notification,
    NotificationAttempt,
    PeriodClose,
    SlaBreach,
    SlaPolicy,
)
from controltower.operations.models.tokens import ApiToken
from controltower.operations.models.views import SavedView

__all__ = [
    "ApiToken",
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
    "UserPreference",
]
