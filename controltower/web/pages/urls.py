"""URL maps of the pages, one per namespace, and the page routes they make together."""

from __future__ import annotations

from django.urls import include, path

from controltower.web.pages import (
    approvals,
    audit,
    compensations,
    config,
    connections,
    exceptions,
    health,
    home,
    imports,
    mappings,
    measures,
    pollers,
    preferences,
    reconciliation,
    records,
    saved_views,
    schemas,
    search,
    slas,
    subscriptions,
    systems,
    tokens,
    transactions,
)

config_urls = [
    path("", config.config_index, name="index"),
    path("rules/preview/", config.rule_preview_view, name="rule-preview-new"),
    path("rules/<int:pk>/preview/", config.rule_preview_view, name="rule-preview"),
    path("rules/reroute/", config.rules_reroute, name="rules-reroute"),
    path("sla-policies/rejudge/", config.sla_rejudge, name="sla-rejudge"),
    path("calendars/<int:pk>/holidays/", config.holiday_add, name="holiday-add"),
    path(
        "calendars/<int:pk>/holidays/<int:holiday_pk>/delete/",
        config.holiday_remove,
        name="holiday-remove",
    ),
    path("<slug:section>/", config.config_list, name="list"),
    path("<slug:section>/new/", config.config_create, name="create"),
    path("<slug:section>/<int:pk>/", config.config_edit, name="edit"),
    path("<slug:section>/<int:pk>/delete/", config.config_remove, name="delete"),
]

import_urls = [
    path("", imports.import_list, name="list"),
    path("<int:pk>/", imports.import_detail, name="detail"),
    path("<int:pk>/refused.csv", imports.import_refused, name="refused"),
    path("<int:pk>/<slug:action>/", imports.import_act, name="act"),
]

audit_urls = [path("", audit.audit_list, name="list")]

exception_urls = [
    path("", exceptions.exception_list, name="list"),
    path("bulk/", exceptions.exception_bulk_start, name="bulk-start"),
    path("bulk/<int:pk>/", exceptions.exception_bulk_progress, name="bulk"),
    path("<int:pk>/", exceptions.exception_detail, name="detail"),
    path("<int:pk>/<slug:action>/", exceptions.exception_action, name="action"),
]

approval_urls = [
    path("", approvals.approval_list, name="list"),
    path("invoices/approve/", approvals.invoices_approve_view, name="invoices-approve"),
    path(
        "invoices/<int:pk>/<slug:action>/",
        approvals.invoice_action,
        name="invoice-action",
    ),
    path(
        "exceptions/<int:pk>/<slug:action>/",
        approvals.exception_approval,
        name="exception-action",
    ),
]

sla_urls = [
    path("", slas.sla_index, name="index"),
    path("history/", slas.sla_history, name="history"),
    path("notifications/", slas.sla_notifications, name="notifications"),
]

compensation_urls = [
    path("", compensations.compensation_index, name="index"),
    path("<int:pk>/", compensations.compensation_detail, name="detail"),
    path("<int:pk>/<slug:action>/", compensations.compensation_action, name="action"),
]

reconciliation_urls = [
    path("", reconciliation.reconciliation_index, name="index"),
    path("runs/", reconciliation.reconciliation_run_start, name="start"),
    path("runs/<int:pk>/", reconciliation.reconciliation_run, name="run"),
    path("drifts/<int:pk>/act/", reconciliation.drift_act_view, name="drift-act"),
]

saved_view_urls = [
    path("", saved_views.saved_view_create, name="save"),
    path("<int:pk>/delete/", saved_views.saved_view_remove, name="delete"),
]

transactions_urls = [
    path("", transactions.transaction_list, name="list"),
    path("bulk-retry/", transactions.transactions_bulk_retry, name="bulk-retry"),
    path(
        "bulk-retry/<int:pk>/",
        transactions.transactions_bulk_retry_progress,
        name="bulk-retry-progress",
    ),
    path("<int:pk>/", transactions.transaction_detail, name="detail"),
    path("<int:pk>/retry/", transactions.transaction_retry, name="retry"),
    path("<int:pk>/replay/", transactions.transaction_replay, name="replay"),
    path("<int:pk>/cancel/", transactions.transaction_cancel, name="cancel"),
]

systems_urls = [
    path("", systems.systems_list, name="list"),
    path("flows/<slug:kind>/pause/", systems.flow_pause, name="flow-pause"),
    path("flows/<slug:kind>/resume/", systems.flow_resume, name="flow-resume"),
    path("<slug:slug>/breaker/", systems.system_breaker, name="breaker"),
    path("<slug:slug>/connection/", connections.system_connection, name="connection"),
    path(
        "<slug:slug>/connection/test/", connections.system_connection_test, name="connection-test"
    ),
    path("<slug:slug>/mappings/", mappings.system_mappings, name="mappings"),
    path("<slug:slug>/pollers/", pollers.system_pollers, name="pollers"),
    path("<slug:slug>/schemas/", schemas.system_schemas, name="schemas"),
    path(
        "<slug:slug>/pollers/<int:poller_id>/",
        pollers.system_poller_change,
        name="poller-change",
    ),
    path("<slug:slug>/pollers/<int:poller_id>/run/", pollers.system_poller_run, name="poller-run"),
    path("<slug:slug>/mappings/<slug:record_type>/", mappings.system_mapping, name="mapping"),
    path(
        "<slug:slug>/signing-secret/",
        connections.system_signing_secret,
        name="signing-secret",
    ),
    path(
        "<slug:slug>/signing-secret/end-grace/",
        connections.system_signing_grace_end,
        name="signing-grace-end",
    ),
]

subscription_urls = [
    path("", subscriptions.subscription_list, name="list"),
    path("new/", subscriptions.subscription_create_view, name="create"),
    path("<int:pk>/", subscriptions.subscription_detail, name="detail"),
    path("<int:pk>/edit/", subscriptions.subscription_edit, name="edit"),
    path("<int:pk>/switch/", subscriptions.subscription_switch_view, name="switch"),
    path("<int:pk>/rotate-secret/", subscriptions.subscription_rotate_view, name="rotate"),
    path("<int:pk>/replay/", subscriptions.subscription_replay_view, name="replay"),
    path(
        "<int:pk>/deliveries/<int:delivery_id>/replay/",
        subscriptions.delivery_replay_view,
        name="delivery-replay",
    ),
]

account_urls = [
    path("tokens/", tokens.api_tokens, name="tokens"),
    path("time-zone/", preferences.time_zone_view, name="time-zone"),
    path("tokens/<str:prefix>/revoke/", tokens.api_token_revoke_view, name="token-revoke"),
]

records_urls = [
    path("", records.record_lookup, name="lookup"),
    path("<slug:kind>/<int:pk>/link/", records.record_link_view, name="link"),
    path("<slug:kind>/<int:pk>/", records.record_detail, name="detail"),
    path("<slug:kind>/<int:pk>/repush/", records.record_repush, name="repush"),
]


urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("search/", search.search_page, name="search"),
    path("measures/", include(([path("", measures.measures_page, name="index")], "measures"))),
    # Before the configuration sections: "subscriptions" is not one of their slugs.
    path("config/subscriptions/", include((subscription_urls, "subscriptions"))),
    path("config/", include((config_urls, "config"))),
    path("audit/", include((audit_urls, "audit"))),
    path("imports/", include((import_urls, "imports"))),
    path("transactions/", include((transactions_urls, "transactions"))),
    path("systems/", include((systems_urls, "systems"))),
    path("records/", include((records_urls, "records"))),
    path("exceptions/", include((exception_urls, "exceptions"))),
    path("approvals/", include((approval_urls, "approvals"))),
    path("slas/", include((sla_urls, "slas"))),
    path("reconciliation/", include((reconciliation_urls, "reconciliation"))),
    path("compensations/", include((compensation_urls, "compensations"))),
    path("saved-views/", include((saved_view_urls, "saved_views"))),
    path("account/", include((account_urls, "account"))),
]
