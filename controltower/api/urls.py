from __future__ import annotations

from rest_framework.routers import DefaultRouter

from controltower.api import views

router = DefaultRouter(trailing_slash=True)
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
router.register("exceptions", views.BusinessExceptionViewSet, basename="exception")

urlpatterns = router.urls
