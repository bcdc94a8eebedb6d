"""The system simulator: ERP, PSA, CRM, CLM and HRIS as HTTP APIs with their own stored state.

Served by the tower's own server under ``/simulator/<system>/`` (``urls.py`` has the map),
so the demo and the tests reach them over real HTTP on loopback. The ERP, the PSA and the
HRIS demand credentials as their vendors do, by default (the ``auth`` knob, below), as does
the CRM's Salesforce REST API (always), and all
answer 404 unless
the simulator is enabled (``CT_DEMO=1``, or the setting ``CT_SIMULATOR_ENABLED``),
because the control endpoints take no credentials and ``_emit`` signs whatever it is
given with the systems' secrets.

Each system behaves as the vendor it stands for, not kinder: it may demand credentials,
limit rates, time out and fail (the knobs), and offers idempotency only where the vendor
does (the ERP's POST).

The simulator stands for other vendors' systems: it imports nothing from the tower
(``integrations``, ``canonical``, ``controltower``) and reaches it only over HTTP. What
it needs of the tower's conventions it has as its own copy, written to the published
description: the sender's side of the ``X-CT-Signature`` scheme (``signing.py``) and the
demo firm's master data that its traffic refers to (``demo_firm.py``).

ERP, NetSuite REST record style, base ``/simulator/erp/services/rest/record/v1/``
-------------------------------------------------------------------------------------

A second instance, ``erp2`` (base ``/simulator/erp2/services/rest/record/v1/``), stands for
another region's ERP: the same API, with its own records, knobs, request log and OAuth 2.0
client (``CT_SIM_ERP2_CLIENT_ID`` and ``..._SECRET``; ``demo-erp2-client`` in demo mode).

``POST {kind}`` answers ``204 No Content`` with ``Location: .../record/v1/{kind}/{id}``
(ids are numeric strings). Nothing is de-duplicated by content: a second POST is a
second record, even with the same ``externalId``. ``GET {kind}/{id}`` answers the record with ``id``, ``createdDate`` and
``lastModifiedDate``; ``PATCH {kind}/{id}`` merges the top-level fields sent (204);
``DELETE`` (204). ``GET {kind}`` answers ``{"items": [...], "count", "totalResults",
"hasMore", "offset", "links"}`` (``limit``/``offset``); ``?q=externalId IS "K-5001"``
finds by ``externalId`` (the one query form understood).

Upsert by external id, as NetSuite's REST upsert: ``PUT {kind}/eid:{externalId}`` creates
the record with that ``externalId`` when no record of that kind has it, and otherwise
merges the fields sent into that record as a PATCH does; either way ``204 No Content``
with ``Location: .../record/v1/{kind}/{id}`` (the internal id). A body whose
``externalId`` differs from the URL's is refused (400 ``USER_ERROR`` at ``externalId``).
Two upserts of the same new external id at once make one record. ``PUT {kind}/{id}``
with an internal id answers 405. ``eid:{externalId}`` also stands in for the id in
``GET``, ``PATCH`` and ``DELETE {kind}/{id}`` (404 ``NONEXISTENT_ID`` when no record has
it). Should POSTs have made several records with one external id, the upsert and
``eid:`` use the first of them.

Idempotency keys, on ``POST {kind}`` only: a POST carrying ``X-NetSuite-Idempotency-Key``
(or ``Idempotency-Key``; one key space) that repeats a key this system saw within 24
hours is answered what the first was (status, ``Location``, body) and creates nothing,
whatever its body or record type. A POST that was refused (4xx, 5xx) leaves no key, so
a corrected retry under the same key creates. Two POSTs with one key at once make one
record. Keys are kept in the simulator's database, pruned after 24 hours, and forgotten
by ``_reset``. (NetSuite documents its key for asynchronous requests, ``Prefer:
respond-async``, where a repeat is refused with ``IDEMPOTENCY_ERROR`` and a link to the
first job; the simulator serves synchronous requests only and answers a repeat with the
first answer instead.)

Request fields the tower sends, by record type:

- ``customer``: ``{"entityId", "companyName", "subsidiary": {"id"},
  "currency": {"refName"}, "externalId"}``
- ``job`` (a project): ``{"entityId", "companyName", "customer": {"id"} or
  {"externalId"}, "subsidiary": {"id"}, "entityStatus": {"refName"} (``Pending``,
  ``In Progress``, ``Closed``), "startDate", "endDate", "externalId",
  "custentity_contract_number", "billingSchedule": {"items": [{"code", "name",
  "dueDate", "amount"}]}}``
- ``projectCostForecast``: ``{"job": {"id"}, "resource", "role", "startDate",
  "endDate", "allocationPercent", "costRate", "externalId"}``
- ``invoice``: ``{"entity": {"id"}, "job": {"id"}, "subsidiary": {"id"},
  "currency": {"refName"}, "tranDate", "externalId", "taxCode",
  "item": {"items": [{"description", "quantity", "rate", "amount"}]}}``
- ``journalEntry`` (a project's cost for a month): ``{"externalId", "subsidiary": {"id"},
  "currency": {"refName"}, "tranDate", "memo", "line": {"items": [{"account":
  {"refName"}, "debit" or "credit", "entity": {"id"}, "memo"}]}}``
- ``revenuePlan`` (a contract's revenue schedule): ``{"externalId", "job": {"id"},
  "subsidiary": {"id"}, "currency": {"refName"}, "memo", "revenueRecognitionRule":
  {"refName"}, "amount", "plannedRevenue": {"items": [{"plannedPeriod", "amount",
  "recognitionMethod", "isRecognized"}]}}``

References: a ``{"id"}`` in ``job.customer``, ``projectCostForecast.job``,
``revenuePlan.job``, ``invoice.entity`` or ``invoice.job`` must name an existing record (else 400
``INVALID_KEY_OR_REF`` at that path); an ``{"externalId"}`` gets the ``id`` of the
record with that external id when there is one, and is kept as sent otherwise.

An invoice is answered with ``tranId`` (``INV<10000 + id>``, assigned on create),
``total`` (sum of ``item.items[].amount``; ``quantity * rate`` for a line without one),
``amountRemaining``, and ``status`` ``{"id": "open", "refName": "Open"}`` that becomes
``{"id": "paidInFull", "refName": "Paid In Full"}`` once ``pay_after_seconds`` (a knob,
default 60, 0 = never) have passed since creation; a PATCH of ``status`` sets it by hand.

Errors come in NetSuite's body::

    {"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
     "title": "Bad Request", "status": 400,
     "o:errorDetails": [{"detail": "...", "o:errorCode": "INVALID_KEY_OR_REF",
                         "o:errorPath": "subsidiary"}]}

with ``o:errorCode`` ``NONEXISTENT_ID`` (404, unknown id), ``INVALID_RCRD_TYPE`` (404,
record type not simulated), ``USER_ERROR`` (400, body not a JSON object, bad query),
``INVALID_KEY_OR_REF`` (400), ``INVALID_FLD_VALUE`` (400, a ``reject`` rule),
``SERVICE_UNAVAILABLE`` (503, outage), ``CONCURRENCY_LIMIT_EXCEEDED`` (429, with
``Retry-After``: the ``throttle`` knob, or the rate limit), ``UNEXPECTED_ERROR`` (500,
error rate).

PSA, CRM and CLM, plain REST, base ``/simulator/<system>/api/v1/``
----------------------------------------------------------------------

Collections: psa ``projects``, ``assignments``, ``time-entries``; crm ``accounts``,
``opportunities``; clm ``contracts``, ``amendments``. ``POST`` answers 201 with the
record (any JSON object, plus ``id``, ``created_at``, ``updated_at``) and a
``Location``; ``GET {id}``, ``PATCH {id}`` (200, merges), ``DELETE {id}`` (204);
``GET`` lists ``{"count": n, "results": [...]}``, oldest first, filtered by
``?changed_since=<ISO 8601>`` (updated at or after), ``?external_id=``, and any other
parameter as a top-level field equal to its value (``?code=P-1042``; ``?hours=2`` finds
the number 2 and the text "2", ``?billable=true`` the boolean and the text; ``?id=`` the
record's id; a field no record has finds nothing); the filters combine. With
``?limit=`` (1 to 1000) or ``?offset=`` the list is paged: ``{"count": <all that
match>, "next": <url or null>, "previous": <url or null>, "results": [...]}``; without
either, the whole list. No idempotency: these systems
ignore ``Idempotency-Key`` and ``X-NetSuite-Idempotency-Key`` (the header is kept on the
record for inspection only), so a POST sent twice is two records. Errors: ``{"error": {"code",
"message", "field"?}}`` with codes ``not_found``, ``invalid_body``,
``invalid_parameter``, ``invalid_field_value``, ``service_unavailable``,
``rate_limited``, ``internal_error``.

CRM, Salesforce REST API style, instance ``/simulator/crm``
-----------------------------------------------------------

The CRM's opportunities and accounts (the records of its plain REST collections
``opportunities`` and ``accounts``) are also served as Salesforce's REST API serves the
``Opportunity`` and ``Account`` sObjects, their fields by API name (``StageName``,
``Contract_Number__c``, ``AccountNumber``). A record's ``Id`` is 18 characters: the
sObject's key prefix (``006`` Opportunity, ``001`` Account), its record number in 12
digits and the case-safe suffix (``006000000000042AAA``); the 15-character form names it
too. API versions 59.0 to 62.0 are served; another answers 404.

- ``POST /services/oauth2/token``: OAuth 2.0 client credentials flow (``grant_type=
  client_credentials``, the client id and secret by HTTP Basic or as the form fields
  ``client_id``/``client_secret``; ``CT_SIM_CRM_CLIENT_ID``/``..._SECRET``,
  ``demo-crm-client``/``demo-crm-client-secret`` in demo mode). Answers ``{"access_token",
  "instance_url", "id", "token_type": "Bearer", "issued_at", "signature"}`` without
  ``expires_in``, as Salesforce does; the session lasts ``token_ttl_seconds`` (a knob,
  3600 by default). Refusals are 400 ``{"error", "error_description"}``: ``invalid_client``
  ("invalid client credentials"), ``unsupported_grant_type``, ``invalid_request``.
- ``GET /services/data/``: the versions (``[{"label", "url", "version"}]``), no session
  needed, as Salesforce's "Versions".
- ``GET /services/data/v<version>/``: "Resources by Version" (``{"sobjects": ..., ...}``),
  a harmless read that needs a session.
- ``POST /services/data/v<version>/sobjects/<sObject>/``: creates a record from its fields
  (201 ``{"id", "success": true, "errors": []}``): the way to seed the org.
- ``GET /services/data/v<version>/sobjects/<sObject>/<Id>``: "sObject Rows":
  ``{"attributes": {"type", "url"}, "Id", <its fields>, "IsDeleted", "CreatedDate",
  "LastModifiedDate", "SystemModstamp"}`` (date-times as ``2026-11-02T09:30:00.000+0000``);
  ``?fields=Name,StageName`` answers those fields only (null when the record has no
  value). ``PATCH`` merges the fields sent (204), ``DELETE`` (204).

Every call but the token and the versions needs ``Authorization: Bearer <access_token>``
whatever the ``auth`` knob says (Salesforce has no door without a session; the knob
still governs the plain REST collections). Errors come in Salesforce's list::

    [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]

with ``errorCode`` ``INVALID_SESSION_ID`` (401: a missing, unknown or expired session),
``NOT_FOUND`` (404: an unknown id, sObject or version), ``INVALID_FIELD_FOR_INSERT_UPDATE``
(400, with ``fields``: a create or update naming a field Salesforce sets itself, such as
``Id`` or ``SystemModstamp``), ``JSON_PARSER_ERROR`` (400), ``SERVER_UNAVAILABLE``
(503, outage), ``REQUEST_LIMIT_EXCEEDED`` (429 with ``Retry-After``: the throttle knob or
the rate limit), ``UNKNOWN_EXCEPTION`` (500, error rate).

HRIS, BambooHR style, base ``/simulator/hris/api/gateway.php/<company>/v1/``
--------------------------------------------------------------------------

The employees are records of the plain REST collection ``/simulator/hris/api/v1/employees``
(seed them with a POST of their fields by BambooHR alias: ``employeeNumber``,
``firstName``, ``lastName``, ``workEmail``, ``jobTitle``, ``division``, ``status``); their
record id is their BambooHR id. ``GET employees/{id}/?fields=firstName,lastName`` answers
``{"id": "<id>", "firstName": ..., "lastName": ...}`` as BambooHR's "Get Employee" does
(a field asked for that the employee lacks is null; without ``fields``, all of them);
404 ``not_found`` for an unknown id. ``GET meta/fields/`` lists the fields (``[{"id",
"name", "type", "alias"}]``), a read that touches no employee. ``GET
employees/changed/?since=<ISO 8601>`` answers BambooHR's "Get Changed Employee IDs":
``{"latest": <time or null>, "employees": {"<id>": {"id", "action", "lastChanged"}}}``,
each employee changed at or after ``since`` with its last change, ``Inserted`` (never
changed since it was created), ``Updated``, or ``Deleted`` (a ``DELETE`` of the record;
the simulator keeps its id), times in whole seconds (``2026-11-02T09:30:00+00:00``);
``?type=inserted|updated|deleted`` keeps one kind; a missing or unreadable ``since`` or
another ``type`` answers 400 ``invalid_parameter``. Any ``<company>`` is accepted.

Harvest, API v2 style, base ``/simulator/harvest``
------------------------------------------------

Users and projects are records of the plain REST collections
``/simulator/harvest/api/v1/users`` and ``.../projects`` (seed them with a POST of their
fields as Harvest names them: ``first_name``, ``last_name``, ``email``, ``is_active``;
``name``, ``code``, ``is_active``); their record id is their Harvest id. ``GET
v2/users/{id}`` and ``GET v2/projects/{id}`` answer the object with its integer ``id``,
its fields and ``created_at``/``updated_at`` as Harvest's "Retrieve a user" and
"Retrieve a project" do, and ``GET v2/company`` the account, as "Retrieve a company"
does (a read that touches no record); errors in Harvest's shape ``{"error", "error_description"}``
(404 ``not_found``, 401 ``unauthorized``).

Credentials, every system (off by default)
------------------------------------------

The knob ``auth`` says what every call to the system's API must carry; 401 otherwise.

- ``none`` (the default of the CRM and the CLM): nothing. (The CRM's Salesforce REST API
  asks for its session whatever the knob, above.)
- ``oauth2`` (ERP only, and its default, with ``token_ttl_seconds`` 600), OAuth 2.0 client credentials as NetSuite offers for machine
  access: ``POST /simulator/erp/services/rest/auth/oauth2/v1/token`` with the form field
  ``grant_type=client_credentials`` and the client id and secret by HTTP Basic or as the
  form fields ``client_id``/``client_secret`` (not both) answers ``200 {"access_token",
  "token_type": "bearer", "expires_in": <token_ttl_seconds>}`` (``Cache-Control:
  no-store``); refusals in OAuth 2.0's shape ``{"error", "error_description"}``: 400
  ``invalid_request``, 400 ``unsupported_grant_type``, 401 ``invalid_client``. API calls
  then carry ``Authorization: Bearer <token>``; a missing, unknown or expired token
  answers 401 in NetSuite's body with ``o:errorCode`` ``INVALID_LOGIN`` ("Invalid login
  attempt. ...") and ``WWW-Authenticate: Bearer``. The token endpoint answers whatever
  the knob (a client can get its token before ``auth`` is switched on) and goes through
  the other knobs like any call. ``token_ttl_seconds`` (default 3600, 1 to 86,400) is
  the lifetime of the tokens issued from then on.
- ``api_key`` (PSA, CRM, CLM; the PSA's default): the header ``X-Api-Key: <key>``.
- ``basic`` (PSA, CRM, CLM): HTTP Basic with the client id and secret.
- ``basic_key`` (HRIS only, and its default): HTTP Basic with the API key as the user name
  and any password, as BambooHR wants.
- ``harvest`` (Harvest only, and its default): ``Authorization: Bearer <personal access
  token>`` (the API key) and ``Harvest-Account-Id: <account id>``
  (``CT_SIM_HARVEST_ACCOUNT_ID``, in demo mode ``100001``), as Harvest wants.

A refused PSA, CRM, CLM or HRIS call answers 401 ``{"error": {"code": "unauthorized",
"message"}}`` with ``WWW-Authenticate``. The expected values come from the environment,
per system: ``CT_SIM_<SYSTEM>_CLIENT_ID``, ``CT_SIM_<SYSTEM>_CLIENT_SECRET``,
``CT_SIM_<SYSTEM>_API_KEY``; in demo mode an unset one defaults to
``demo-<system>-client``, ``demo-<system>-client-secret``, ``demo-<system>-api-key``,
and elsewhere it accepts nothing. NetSuite's REST API takes no password, so the ERP
refuses ``auth: basic``, as the PSA, CRM and CLM refuse ``oauth2``. Credentials are
checked after the outage and throttle knobs and before the rate limit, so a refused
call is not counted; control endpoints never ask for any.

Rate limits, every system
-------------------------

The knobs ``rate_limit_per_minute`` and ``rate_limit_burst`` (0 = no limit, the default)
admit at most that many calls in any 60 seconds, and in any one second; a call beyond
either answers 429 with ``Retry-After`` (whole seconds until an admitted call leaves the
window, at least 1) in the system's own error body: ERP ``o:errorCode``
``CONCURRENCY_LIMIT_EXCEEDED``, the others ``{"error": {"code": "rate_limited"}}``. The
window is the request log's admitted calls, in the database, so the limit holds across
the server's threads and processes; a refused call is not admitted and does not count.
Control endpoints are not limited.

Control endpoints, every system (fault knobs not applied to them)
-----------------------------------------------------------------

- ``GET/PUT /simulator/<system>/_faults``: the knobs (``faults.py``); a PUT sets the
  knobs it names, 400 ``{"message", "errors": {"<knob or reject[i].key>": [...]}}``.
- ``POST /simulator/<system>/_reset``: deletes the system's records and request log,
  restores the knobs.
- ``GET /simulator/<system>/_requests``: the system's request log, every call to its
  vendor API (not to these control endpoints), newest last: ``{"count", "total",
  "results": [{"id", "method", "path", "query", "idempotency_key", "status",
  "received_at", "admitted_at"}]}``. ``?since=<ISO 8601>`` (received at or after),
  ``?method=POST``, ``?limit=`` (the newest n; default and most 10,000). ``status`` is
  null while the call is in flight; ``admitted_at`` is null for a call refused before the
  rate limit counted it. The log keeps the newest 100,000 calls of all systems, a week at
  most.
- ``POST /simulator/<system>/_emit`` ``{"events": [...], "tower_url": optional}``:
  sends the events as one signed JSON array to ``<tower_url>/api/v1/inbound/<system>/``
  (secret ``CT_SECRET_<SYSTEM>`` or ``demo-<system>-secret``; tower URL setting/env
  ``CT_TOWER_URL``, default ``http://127.0.0.1:8000``) and answers with the tower's
  status and body (502 if the tower does not answer).

``manage.py generate_traffic`` sends realistic canonical traffic (``traffic.py``).
"""
