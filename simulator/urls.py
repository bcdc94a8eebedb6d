"""The simulator's URL map, mounted at ``/simulator/``.

ERP (NetSuite REST record API style), at ``erp/`` and, a second instance with its own
records, credentials and knobs, at ``erp2/``::

    /simulator/erp/services/rest/record/v1/<kind>          POST (204 + Location), GET list (?q=)
    /simulator/erp/services/rest/record/v1/<kind>/<id>     GET, PATCH (204), DELETE (204)
    /simulator/erp/services/rest/record/v1/<kind>/eid:<externalId>
                                                           the same, and PUT: upsert (204)
      kind: customer, job, projectCostForecast, invoice, journalEntry, revenuePlan,
            term (payment terms), salesTaxItem (tax codes); the last two per
            subsidiary (the demo firm's are put there by ``generate_traffic``); an
            invoice's ``terms`` and lines' ``taxCode`` must be ones its subsidiary has,
            if it has any (400 INVALID_KEY_OR_REF)
    /simulator/erp/services/rest/auth/oauth2/v1/token      POST: OAuth 2.0 client credentials

PSA, CRM, CLM (plain REST)::

    /simulator/<system>/api/v1/<collection>                POST (201), GET list
                                            (?changed_since=, ?<field>=, ?limit=&offset=)
    /simulator/<system>/api/v1/<collection>/<id>           GET, PATCH (200), DELETE (204)
      psa: projects, assignments, time-entries; crm: accounts, opportunities;
      clm: contracts, amendments; hris: employees (its records, by BambooHR field alias);
      harvest: users, projects

HRIS (BambooHR API style)::

    /simulator/hris/api/gateway.php/<company>/v1/employees/<id>/
                                                           GET (?fields=firstName,lastName)
    /simulator/hris/api/gateway.php/<company>/v1/employees/changed/
                                                           GET ?since=<ISO 8601> (required)
                                                           &type=inserted|updated|deleted
    /simulator/hris/api/gateway.php/<company>/v1/meta/fields/
                                                           GET the fields it offers

Harvest (API v2 style; users and projects, put there through its plain REST doors)::

    /simulator/harvest/v2/users/<id>                       GET a user (``email``, names)
    /simulator/harvest/v2/projects/<id>                    GET a project (``code``, ``name``)
    /simulator/harvest/v2/company                          GET the account (a harmless read)
    /simulator/harvest/api/v1/{users,projects}             POST (201), GET list

CRM, Salesforce REST API style (OAuth 2.0 client credentials, always)::

    /simulator/crm/services/oauth2/token                   POST: client credentials flow
    /simulator/crm/services/data/                          GET the versions (no token)
    /simulator/crm/services/data/v<version>/               GET the resources (a token)
    /simulator/crm/services/data/v<version>/sobjects/<sObject>
                                                           POST: create (201 {"id"})
    /simulator/crm/services/data/v<version>/sobjects/<sObject>/<Id>
                                                           GET (?fields=), PATCH, DELETE (204)
      sObject: Opportunity, Account (the crm's opportunities and accounts); version 59.0-62.0

Control (every system; fault knobs not applied)::

    /simulator/<system>/_faults    GET, PUT (partial update of the knobs)
    /simulator/<system>/_reset     POST (deletes its records and request log, resets the knobs)
    /simulator/<system>/_emit      POST {"events": [...], "tower_url": optional}
    /simulator/<system>/_requests  GET the request log (?since=<ISO 8601>&method=POST&limit=)

A trailing slash is accepted everywhere.
"""

from __future__ import annotations

from django.urls import re_path

from simulator import views

app_name = "simulator"

SYSTEMS = r"(?P<system>erp2|erp|psa|crm|clm|hris|harvest)"
REST_SYSTEMS = r"(?P<system>psa|crm|clm|hris|harvest)"
ERP_BASE = r"^(?P<system>erp2?)/services/rest/record/v1/(?P<kind>[A-Za-z]+)"
SALESFORCE_BASE = r"^crm/services/data/v(?P<version>\d+\.\d)"

urlpatterns = [
    re_path(rf"^{SYSTEMS}/_faults/?$", views.faults, name="faults"),
    re_path(rf"^{SYSTEMS}/_reset/?$", views.reset, name="reset"),
    re_path(rf"^{SYSTEMS}/_emit/?$", views.emit, name="emit"),
    re_path(rf"^{SYSTEMS}/_requests/?$", views.requests_log, name="requests"),
    re_path(
        r"^(?P<system>erp2?)/services/rest/auth/oauth2/v1/token/?$",
        views.erp_token,
        name="erp-token",
    ),
    re_path(rf"{ERP_BASE}/?$", views.erp_collection, name="erp-collection"),
    re_path(rf"{ERP_BASE}/(?P<record_id>[^/]+)/?$", views.erp_record, name="erp-record"),
    re_path(
        r"^hris/api/gateway\.php/(?P<company>[^/]+)/v1/meta/fields/?$",
        views.hris_fields,
        name="hris-fields",
    ),
    # Before an employee by id: "changed" is not an id.
    re_path(
        r"^hris/api/gateway\.php/(?P<company>[^/]+)/v1/employees/changed/?$",
        views.hris_changed_employees,
        name="hris-changed-employees",
    ),
    re_path(
        r"^hris/api/gateway\.php/(?P<company>[^/]+)/v1/employees/(?P<record_id>[^/]+)/?$",
        views.hris_employee,
        name="hris-employee",
    ),
    re_path(r"^harvest/v2/company/?$", views.harvest_company, name="harvest-company"),
    re_path(
        r"^harvest/v2/(?P<collection>users|projects)/(?P<record_id>[^/]+)/?$",
        views.harvest_record,
        name="harvest-record",
    ),
    re_path(r"^crm/services/oauth2/token/?$", views.salesforce_token, name="salesforce-token"),
    re_path(r"^crm/services/data/?$", views.salesforce_versions, name="salesforce-versions"),
    re_path(rf"{SALESFORCE_BASE}/?$", views.salesforce_resources, name="salesforce-resources"),
    re_path(
        rf"{SALESFORCE_BASE}/sobjects/(?P<sobject>\w+)/?$",
        views.salesforce_sobject,
        name="salesforce-sobject",
    ),
    re_path(
        rf"{SALESFORCE_BASE}/sobjects/(?P<sobject>\w+)/(?P<record_id>[^/]+)/?$",
        views.salesforce_row,
        name="salesforce-row",
    ),
    re_path(
        rf"^{REST_SYSTEMS}/api/v1/(?P<collection>[a-z-]+)/?$",
        views.rest_collection,
        name="rest-collection",
    ),
    re_path(
        rf"^{REST_SYSTEMS}/api/v1/(?P<collection>[a-z-]+)/(?P<record_id>[^/]+)/?$",
        views.rest_record,
        name="rest-record",
    ),
]
