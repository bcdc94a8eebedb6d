"""URL maps of the engine's pages, one per namespace (included from ``controltower.urls``)."""

from __future__ import annotations

from django.urls import path

from integrations.views import records, systems, transactions

transactions_urls = [
    path("", transactions.transaction_list, name="list"),
    path("bulk-retry/", transactions.transactions_bulk_retry, name="bulk-retry"),
    path("<int:pk>/", transactions.transaction_detail, name="detail"),
    path("<int:pk>/retry/", transactions.transaction_retry, name="retry"),
    path("<int:pk>/replay/", transactions.transaction_replay, name="replay"),
    path("<int:pk>/cancel/", transactions.transaction_cancel, name="cancel"),
]

systems_urls = [
    path("", systems.systems_list, name="list"),
    path("flows/<slug:kind>/pause/", systems.flow_pause, name="flow-pause"),
    path("flows/<slug:kind>/resume/", systems.flow_resume, name="flow-resume"),
]

records_urls = [
    path("", records.record_lookup, name="lookup"),
    path("resource/<int:pk>/link/", records.resource_link_view, name="resource-link"),
    path("<slug:kind>/<int:pk>/", records.record_detail, name="detail"),
    path("<slug:kind>/<int:pk>/repush/", records.record_repush, name="repush"),
]
