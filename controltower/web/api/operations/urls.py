from __future__ import annotations

from controltower.web.api.operations import views
from controltower.web.api.routers import ApiRouter

router = ApiRouter(trailing_slash=True)
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
router.register("exceptions", views.BusinessExceptionViewSet, basename="exception")
router.register("bulk-operations", views.BulkOperationViewSet, basename="bulk-operation")
router.register("teams", views.TeamViewSet, basename="team")
router.register("ownership-rules", views.OwnershipRuleViewSet, basename="ownership-rule")
router.register("business-calendars", views.BusinessCalendarViewSet, basename="business-calendar")
router.register("holidays", views.HolidayViewSet, basename="holiday")
router.register("sla-policies", views.SlaPolicyViewSet, basename="sla-policy")
router.register(
    "maintenance-windows", views.MaintenanceWindowViewSet, basename="maintenance-window"
)
router.register("period-closes", views.PeriodCloseViewSet, basename="period-close")
router.register("sla-breaches", views.SlaBreachViewSet, basename="sla-breach")
router.register("notifications", views.NotificationViewSet, basename="notification")
router.register("api-tokens", views.ApiTokenViewSet, basename="api-token")

urlpatterns = router.urls
