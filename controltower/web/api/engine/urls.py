from __future__ import annotations

from django.urls import path

from controltower.web.api.engine import views
from controltower.web.api.routers import ApiRouter

router = ApiRouter(trailing_slash=True)
router.register("transactions", views.TransactionViewSet, basename="transaction")
router.register("systems", views.ConnectedSystemViewSet, basename="system")
router.register("flows", views.FlowViewSet, basename="flow")
router.register("schemas", views.EventSchemaViewSet, basename="schema")
router.register("pollers", views.PollerViewSet, basename="poller")
router.register("sync-states", views.SyncStateViewSet, basename="sync-state")
router.register("compensations", views.CompensationViewSet, basename="compensation")
router.register("erp-routes", views.ErpRouteViewSet, basename="erp-route")
router.register("imports", views.ImportJobViewSet, basename="import")

urlpatterns = [
    path("inbound/<slug:system_slug>/", views.InboundView.as_view(), name="inbound"),
    path("reconciliation/runs/", views.ReconciliationView.as_view(), name="reconciliation-run"),
    path(
        "reconciliation/drifts/<int:pk>/act/",
        views.ReconciliationDriftActionView.as_view(),
        name="reconciliation-drift-act",
    ),
    *router.urls,
]
