from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from controltower import views
from controltower.views import approvals as approval_views
from controltower.views import audit as audit_views
from controltower.views import config as config_views
from controltower.views import exceptions as exception_views
from controltower.views import reconciliation as reconciliation_views
from controltower.views import saved_views as saved_view_views
from controltower.views import slas as sla_views
from integrations import urls as integration_urls

api_v1 = [
    path("", include("canonical.api.urls")),
    path("", include("integrations.api.urls")),
    path("", include("controltower.api.urls")),
]

config_urls = [
    path("", config_views.config_index, name="index"),
    path("rules/preview/", config_views.rule_preview_view, name="rule-preview-new"),
    path("rules/<int:pk>/preview/", config_views.rule_preview_view, name="rule-preview"),
    path("rules/reroute/", config_views.rules_reroute, name="rules-reroute"),
    path("calendars/<int:pk>/holidays/", config_views.holiday_add, name="holiday-add"),
    path(
        "calendars/<int:pk>/holidays/<int:holiday_pk>/delete/",
        config_views.holiday_remove,
        name="holiday-remove",
    ),
    path("<slug:section>/", config_views.config_list, name="list"),
    path("<slug:section>/new/", config_views.config_create, name="create"),
    path("<slug:section>/<int:pk>/", config_views.config_edit, name="edit"),
    path("<slug:section>/<int:pk>/delete/", config_views.config_remove, name="delete"),
]

audit_urls = [path("", audit_views.audit_list, name="list")]

exception_urls = [
    path("", exception_views.exception_list, name="list"),
    path("bulk/", exception_views.exception_bulk_start, name="bulk-start"),
    path("bulk/<int:pk>/", exception_views.exception_bulk_progress, name="bulk"),
    path("<int:pk>/", exception_views.exception_detail, name="detail"),
    path("<int:pk>/<slug:action>/", exception_views.exception_action, name="action"),
]

approval_urls = [
    path("", approval_views.approval_list, name="list"),
    path("invoices/approve/", approval_views.invoices_approve_view, name="invoices-approve"),
    path(
        "invoices/<int:pk>/<slug:action>/",
        approval_views.invoice_action,
        name="invoice-action",
    ),
    path(
        "exceptions/<int:pk>/<slug:action>/",
        approval_views.exception_approval,
        name="exception-action",
    ),
]

sla_urls = [
    path("", sla_views.sla_index, name="index"),
    path("history/", sla_views.sla_history, name="history"),
    path("notifications/", sla_views.sla_notifications, name="notifications"),
]

reconciliation_urls = [
    path("", reconciliation_views.reconciliation_index, name="index"),
    path("runs/", reconciliation_views.reconciliation_run_start, name="start"),
    path("runs/<int:pk>/", reconciliation_views.reconciliation_run, name="run"),
]

saved_view_urls = [
    path("", saved_view_views.saved_view_create, name="save"),
    path("<int:pk>/delete/", saved_view_views.saved_view_remove, name="delete"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("config/", include((config_urls, "config"))),
    path("audit/", include((audit_urls, "audit"))),
    path("transactions/", include((integration_urls.transactions_urls, "transactions"))),
    path("systems/", include((integration_urls.systems_urls, "systems"))),
    path("records/", include((integration_urls.records_urls, "records"))),
    path("exceptions/", include((exception_urls, "exceptions"))),
    path("approvals/", include((approval_urls, "approvals"))),
    path("slas/", include((sla_urls, "slas"))),
    path("reconciliation/", include((reconciliation_urls, "reconciliation"))),
    path("saved-views/", include((saved_view_urls, "saved_views"))),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("simulator/", include("simulator.urls")),
]
