"""HTTP doors of the simulated ERP, PSA, CRM and CLM, and their control endpoints.

Plain Django views answering JSON, ``csrf_exempt``: they mimic machine APIs, ask for
credentials only as a system's ``auth`` knob says, and are meant for loopback (the demo
and the tests). They serve only while ``simulator_enabled()`` (``CT_DEMO=1`` unless
``CT_SIMULATOR_ENABLED`` says otherwise); elsewhere every URL answers 404. Every vendor door is logged and admitted
by ``admission`` before its view runs; the logic is in ``services``, ``selectors`` and
``faults``; ``urls.py`` has the URL map, and the package docstring
(``simulator/__init__.py``) the API each system speaks and its fields.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from simulator import admission, credentials, idempotency, selectors, services
from simulator.choices import REST_COLLECTIONS, AuthMode
from simulator.errors import SimulatorError
from simulator.faults import KnobsInvalid
from simulator.idempotency import StoredAnswer
from simulator.models import SimulatedSystem

NETSUITE_TITLES = {
    400: ("Bad Request", "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1"),
    401: ("Unauthorized", "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2"),
    404: ("Not Found", "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.5"),
    405: ("Method Not Allowed", "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.6"),
    429: ("Too Many Requests", "https://www.rfc-editor.org/rfc/rfc6585.html#section-4"),
    500: ("Internal Server Error", "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.1"),
    503: ("Service Unavailable", "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.4"),
}
# Salesforce's errorCode by status (and for the simulator's own codes), and its words
# for any missing, unknown or expired token.
SALESFORCE_CODES = {
    405: "METHOD_NOT_ALLOWED",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "UNKNOWN_EXCEPTION",
    503: "SERVER_UNAVAILABLE",
}
SALESFORCE_BODY_ERROR = "JSON_PARSER_ERROR"  # for the simulator's USER_ERROR (a bad body)
SALESFORCE_INVALID_SESSION = "Session expired or invalid"
# Salesforce's token endpoint words its refusals so (HTTP 400 for each).
SALESFORCE_TOKEN_REFUSALS = {
    "invalid_client": "invalid client credentials",
    "unsupported_grant_type": "grant type not supported",
}
ERP_LIST_LIMIT = 1000
REQUEST_LOG_LIMIT = 10_000
# Query parameters of a PSA, CRM or CLM list that are not field filters.
REST_LIST_PARAMETERS = {"changed_since", "external_id", "limit", "offset"}
REST_LIST_MAX_LIMIT = 1000


def _control_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not services.simulator_enabled():
            raise Http404("The system simulator is not enabled.")
        return view(request, *args, **kwargs)

    return wrapper


def _no_content() -> HttpResponse:
    response = HttpResponse(status=204)
    del response["Content-Type"]
    return response


def _json_body(request: HttpRequest) -> Any:
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SimulatorError(
            400, "USER_ERROR", "The request body is not valid JSON.", rest_code="invalid_body"
        ) from None


def _idempotency_key(request: HttpRequest) -> str:
    return request.headers.get("X-NetSuite-Idempotency-Key") or request.headers.get(
        "Idempotency-Key", ""
    )


def _stored_response(answer: StoredAnswer) -> HttpResponse:
    if answer.status == 204:
        response = _no_content()
    else:
        response = HttpResponse(answer.body, status=answer.status, content_type="application/json")
    if answer.location:
        response["Location"] = answer.location
    return response


def _not_allowed(request: HttpRequest) -> SimulatorError:
    return SimulatorError(
        405,
        "METHOD_NOT_ALLOWED",
        f"{request.method} is not allowed here.",
        rest_code="method_not_allowed",
    )


def _with_headers(response: HttpResponse, error: SimulatorError) -> HttpResponse:
    if error.retry_after_seconds is not None:
        response["Retry-After"] = str(error.retry_after_seconds)
    for name, value in error.headers.items():
        response[name] = value
    return response


def netsuite_error(error: SimulatorError) -> JsonResponse:
    title, link = NETSUITE_TITLES.get(error.status, ("Error", NETSUITE_TITLES[500][1]))
    detail: dict[str, Any] = {"detail": error.message, "o:errorCode": error.code}
    if error.field:
        detail["o:errorPath"] = error.field
    body = {"type": link, "title": title, "status": error.status, "o:errorDetails": [detail]}
    return _with_headers(JsonResponse(body, status=error.status), error)


def rest_error(error: SimulatorError) -> JsonResponse:
    body: dict[str, Any] = {"code": error.rest_code, "message": error.message}
    if error.field:
        body["field"] = error.field
    return _with_headers(JsonResponse({"error": body}, status=error.status), error)


def control_error(error: SimulatorError) -> JsonResponse:
    """The control endpoints answer in the tower's own error shape."""
    errors = {error.field: [error.message]} if error.field else {}
    return JsonResponse({"message": error.message, "errors": errors}, status=error.status)


def salesforce_error(error: SimulatorError) -> JsonResponse:
    """Salesforce's REST error body, a list: ``[{"message", "errorCode", "fields"?}]``."""
    if error.status == 401:
        item: dict[str, Any] = {
            "message": SALESFORCE_INVALID_SESSION,
            "errorCode": "INVALID_SESSION_ID",
        }
    else:
        code = SALESFORCE_CODES.get(error.status) or (
            SALESFORCE_BODY_ERROR if error.code == "USER_ERROR" else error.code
        )
        item = {"message": error.message, "errorCode": code}
        if error.field:
            item["fields"] = [error.field]
    return _with_headers(JsonResponse([item], status=error.status, safe=False), error)


def _vendor_endpoint(
    render_error: Callable[[SimulatorError], HttpResponse],
    *,
    system: str | None = None,
    takes_credentials: bool = True,
    demand: str | None = None,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A door of a simulated vendor API, as opposed to a control endpoint.

    The call is logged, goes through ``admission.call_admit`` (the knobs, and the
    credentials unless the door ``takes_credentials=False``; ``demand``: the credentials
    the door wants whatever the ``auth`` knob says), and a refusal is answered in the
    vendor's dialect (``render_error``). The view gets the ``SimulatedSystem`` after the
    request: ``system`` names it, or the URL does.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not services.simulator_enabled():
                raise Http404("The system simulator is not enabled.")
            simulated = services.system_get(slug=system or kwargs.pop("system"))
            call = admission.call_open(
                system=simulated,
                method=request.method or "",
                path=request.path,
                query=request.META.get("QUERY_STRING", ""),
                idempotency_key=_idempotency_key(request),
            )
            status = 500
            try:
                try:
                    presented = (
                        credentials.presented_from_headers(
                            authorization=request.headers.get("Authorization", ""),
                            api_key=request.headers.get(credentials.API_KEY_HEADER, ""),
                            account_id=request.headers.get(credentials.HARVEST_ACCOUNT_HEADER, ""),
                        )
                        if takes_credentials
                        else None
                    )
                    admission.call_admit(
                        system=simulated, call=call, presented=presented, demand=demand
                    )
                    response = view(request, simulated, *args, **kwargs)
                except SimulatorError as error:
                    response = render_error(error)
                status = response.status_code
                return response
            finally:
                admission.call_close(call=call, status=status)

        return wrapper

    return decorate


# --- ERP (NetSuite REST record API) ---------------------------------------------------


def _token_issued(request: HttpRequest, system: SimulatedSystem) -> tuple[str, int]:
    """A token for the client credentials the token request carries (HTTP Basic or form
    fields); ``credentials.TokenRefused`` otherwise."""
    return credentials.token_issue(
        system=system,
        grant_type=request.POST.get("grant_type"),
        basic=credentials.basic_credentials(request.headers.get("Authorization", "")),
        client_id=request.POST.get("client_id"),
        client_secret=request.POST.get("client_secret"),
    )


@_vendor_endpoint(netsuite_error, takes_credentials=False)
def erp_token(request: HttpRequest, system: SimulatedSystem) -> HttpResponse:
    """OAuth 2.0 token endpoint, client credentials grant (RFC 6749, section 4.4)."""
    if request.method != "POST":
        raise _not_allowed(request)
    try:
        token, ttl = _token_issued(request, system)
    except credentials.TokenRefused as refused:
        response = JsonResponse(
            {"error": refused.error, "error_description": refused.description},
            status=refused.status,
        )
        if refused.basic:
            response["WWW-Authenticate"] = f'Basic realm="simulated {system.slug}"'
    else:
        response = JsonResponse({"access_token": token, "token_type": "bearer", "expires_in": ttl})
    # A token answer is never to be cached (RFC 6749, section 5.1).
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def _erp_location(request: HttpRequest, system: SimulatedSystem, kind: str, record_id: int) -> str:
    return request.build_absolute_uri(
        reverse(
            "simulator:erp-record",
            kwargs={"system": system.slug, "kind": kind, "record_id": record_id},
        )
    )


@_vendor_endpoint(netsuite_error)
def erp_collection(request: HttpRequest, system: SimulatedSystem, kind: str) -> HttpResponse:
    services.erp_kind_check(kind)
    if request.method == "POST":
        key = _idempotency_key(request)

        def create() -> StoredAnswer:
            record = services.record_create(
                system=system, kind=kind, data=_json_body(request), idempotency_key=key
            )
            return StoredAnswer(
                status=204, location=_erp_location(request, system, kind, record.pk)
            )

        answer = idempotency.answer_once(system=system, key=key, answer=create) if key else create()
        return _stored_response(answer)
    if request.method == "GET":
        query = request.GET.get("q")
        external_id = selectors.erp_query_external_id(query) if query else None
        records = selectors.records_list(system=system, kind=kind, external_id=external_id)
        limit = min(_int_param(request, "limit", ERP_LIST_LIMIT), ERP_LIST_LIMIT)
        offset = _int_param(request, "offset", 0)
        total = records.count()
        items = [
            selectors.erp_record_json(record, system=system)
            for record in records[offset : offset + limit]
        ]
        return JsonResponse(
            {
                "links": [],
                "count": len(items),
                "hasMore": offset + len(items) < total,
                "items": items,
                "offset": offset,
                "totalResults": total,
            }
        )
    raise _not_allowed(request)


@_vendor_endpoint(netsuite_error)
def erp_record(
    request: HttpRequest, system: SimulatedSystem, kind: str, record_id: str
) -> HttpResponse:
    services.erp_kind_check(kind)
    if request.method == "PUT":
        if not record_id.startswith(selectors.EXTERNAL_ID_PREFIX):
            raise SimulatorError(
                405,
                "METHOD_NOT_ALLOWED",
                "PUT upserts by external id only: .../{kind}/eid:<externalId>.",
                rest_code="method_not_allowed",
            )
        record, _ = services.record_upsert(
            system=system,
            kind=kind,
            external_id=record_id.removeprefix(selectors.EXTERNAL_ID_PREFIX),
            data=_json_body(request),
        )
        response = _no_content()
        response["Location"] = _erp_location(request, system, kind, record.pk)
        return response
    record = selectors.erp_record_get(system=system, kind=kind, reference=record_id)
    if request.method == "GET":
        return JsonResponse(selectors.erp_record_json(record, system=system))
    if request.method == "PATCH":
        services.record_update(record=record, changes=_json_body(request))
        return _no_content()
    if request.method == "DELETE":
        services.record_delete(record=record)
        return _no_content()
    raise _not_allowed(request)


def _int_param(request: HttpRequest, name: str, default: int) -> int:
    value = request.GET.get(name)
    if value is None:
        return default
    if not value.isdigit():
        raise SimulatorError(
            400,
            "USER_ERROR",
            f"{name} must be a whole number.",
            field=name,
            rest_code="invalid_parameter",
        )
    return int(value)


# --- PSA, CRM, CLM (plain REST) ---------------------------------------------------------


def _rest_kind(system: str, collection: str) -> str:
    kind = REST_COLLECTIONS.get(system, {}).get(collection)
    if kind is None:
        known = ", ".join(REST_COLLECTIONS.get(system, {}))
        raise SimulatorError(
            404, "NOT_FOUND", f"No collection {collection!r} here; known: {known}."
        )
    return kind


@_vendor_endpoint(rest_error)
def rest_collection(request: HttpRequest, system: SimulatedSystem, collection: str) -> HttpResponse:
    kind = _rest_kind(system.slug, collection)
    if request.method == "POST":
        record = services.record_create(
            system=system,
            kind=kind,
            data=_json_body(request),
            idempotency_key=_idempotency_key(request),
        )
        response = JsonResponse(selectors.rest_record_json(record), status=201)
        response["Location"] = request.build_absolute_uri(
            reverse(
                "simulator:rest-record",
                kwargs={"system": system.slug, "collection": collection, "record_id": record.pk},
            )
        )
        return response
    if request.method == "GET":
        return _rest_list(request, system=system, kind=kind)
    raise _not_allowed(request)


def _rest_list(request: HttpRequest, *, system: SimulatedSystem, kind: str) -> JsonResponse:
    fields = {
        name: value for name, value in request.GET.items() if name not in REST_LIST_PARAMETERS
    }
    if "" in fields:
        raise SimulatorError(
            400, "USER_ERROR", "A filter needs a field name.", rest_code="invalid_parameter"
        )
    changed_since = request.GET.get("changed_since")
    records = selectors.records_list(
        system=system,
        kind=kind,
        external_id=request.GET.get("external_id"),
        changed_since=selectors.changed_since_parse(changed_since) if changed_since else None,
        fields=fields,
    )
    if "limit" not in request.GET and "offset" not in request.GET:
        # Without limit/offset the whole list, as before paging existed: a caller that
        # does not page must not lose the records past a default page size.
        results = [selectors.rest_record_json(record) for record in records]
        return JsonResponse({"count": len(results), "results": results})
    limit = _int_param(request, "limit", REST_LIST_MAX_LIMIT)
    if not 1 <= limit <= REST_LIST_MAX_LIMIT:
        raise SimulatorError(
            400,
            "USER_ERROR",
            f"limit must be from 1 to {REST_LIST_MAX_LIMIT}.",
            field="limit",
            rest_code="invalid_parameter",
        )
    offset = _int_param(request, "offset", 0)
    total = records.count()
    page = [selectors.rest_record_json(record) for record in records[offset : offset + limit]]
    return JsonResponse(
        {
            "count": total,
            "next": _page_url(request, offset + limit) if offset + limit < total else None,
            "previous": _page_url(request, max(offset - limit, 0)) if offset else None,
            "results": page,
        }
    )


def _page_url(request: HttpRequest, offset: int) -> str:
    query = request.GET.copy()
    query["offset"] = str(offset)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


@_vendor_endpoint(rest_error)
def rest_record(
    request: HttpRequest, system: SimulatedSystem, collection: str, record_id: str
) -> HttpResponse:
    kind = _rest_kind(system.slug, collection)
    record = selectors.record_get(system=system, kind=kind, record_id=record_id)
    if request.method == "GET":
        return JsonResponse(selectors.rest_record_json(record))
    if request.method == "PATCH":
        record = services.record_update(record=record, changes=_json_body(request))
        return JsonResponse(selectors.rest_record_json(record))
    if request.method == "DELETE":
        services.record_delete(record=record)
        return _no_content()
    raise _not_allowed(request)


# --- Harvest (API v2) ---------------------------------------------------------------------


def harvest_error(error: SimulatorError) -> JsonResponse:
    """Harvest's error body: ``{"error": ..., "error_description": ...}``."""
    body = {"error": error.rest_code, "error_description": error.message}
    return _with_headers(JsonResponse(body, status=error.status), error)


@_vendor_endpoint(harvest_error, system="harvest")
def harvest_record(
    request: HttpRequest, system: SimulatedSystem, collection: str, record_id: str
) -> HttpResponse:
    """``GET /v2/users/<id>`` and ``GET /v2/projects/<id>``, as Harvest answers them."""
    if request.method != "GET":
        raise _not_allowed(request)
    kind = REST_COLLECTIONS[system.slug][collection]
    record = selectors.record_get(system=system, kind=kind, record_id=record_id)
    return JsonResponse(selectors.harvest_record_json(record))


@_vendor_endpoint(harvest_error, system="harvest")
def harvest_company(request: HttpRequest, system: SimulatedSystem) -> HttpResponse:
    """``GET /v2/company``: the account the token is for (a read that touches no record)."""
    if request.method != "GET":
        raise _not_allowed(request)
    return JsonResponse(selectors.HARVEST_COMPANY)


# --- HRIS (BambooHR API) ------------------------------------------------------------------


@_vendor_endpoint(rest_error, system="hris")
def hris_employee(
    request: HttpRequest, system: SimulatedSystem, company: str, record_id: str
) -> HttpResponse:
    if request.method != "GET":
        raise _not_allowed(request)
    record = selectors.record_get(system=system, kind="employee", record_id=record_id)
    return JsonResponse(selectors.bamboohr_employee_json(record, fields=request.GET.get("fields")))


@_vendor_endpoint(rest_error, system="hris")
def hris_changed_employees(
    request: HttpRequest, system: SimulatedSystem, company: str
) -> HttpResponse:
    """BambooHR's "Get Changed Employee IDs": ``?since=`` (required) and ``?type=``."""
    if request.method != "GET":
        raise _not_allowed(request)
    since = request.GET.get("since")
    if not since:
        raise SimulatorError(
            400,
            "USER_ERROR",
            "since is required: an ISO 8601 date-time, e.g. 2026-11-02T09:30:00Z.",
            field="since",
            rest_code="invalid_parameter",
        )
    change_type = request.GET.get("type") or None
    if change_type is not None and change_type not in selectors.BAMBOOHR_CHANGE_TYPES:
        raise SimulatorError(
            400,
            "USER_ERROR",
            f"type must be one of {', '.join(selectors.BAMBOOHR_CHANGE_TYPES)}.",
            field="type",
            rest_code="invalid_parameter",
        )
    return JsonResponse(
        selectors.bamboohr_changed_json(
            system=system,
            since=selectors.changed_since_parse(since, name="since"),
            change_type=change_type,
        )
    )


@_vendor_endpoint(rest_error, system="hris")
def hris_fields(request: HttpRequest, system: SimulatedSystem, company: str) -> HttpResponse:
    if request.method != "GET":
        raise _not_allowed(request)
    return JsonResponse(selectors.BAMBOOHR_FIELDS, safe=False)


# --- CRM (Salesforce REST API) --------------------------------------------------------


@_vendor_endpoint(salesforce_error, system="crm", takes_credentials=False)
def salesforce_token(request: HttpRequest, system: SimulatedSystem) -> HttpResponse:
    """OAuth 2.0 client credentials flow, as Salesforce's ``/services/oauth2/token`` answers
    it: no ``expires_in`` (a session lasts until the org's timeout); refusals are 400."""
    if request.method != "POST":
        raise _not_allowed(request)
    try:
        token, _ttl = _token_issued(request, system)
    except credentials.TokenRefused as refused:
        description = SALESFORCE_TOKEN_REFUSALS.get(refused.error, refused.description)
        response = JsonResponse(
            {"error": refused.error, "error_description": description}, status=400
        )
    else:
        instance = request.build_absolute_uri(request.path.rstrip("/")).removesuffix(
            "/services/oauth2/token"
        )
        identity = f"{instance}/id/00D000000000001AAA/005000000000001AAA"
        issued_at = str(int(time.time() * 1000))
        secret = credentials.credentials_expected(system.slug).client_secret or ""
        signature = hmac.new(
            secret.encode(), (identity + issued_at).encode(), hashlib.sha256
        ).digest()
        response = JsonResponse(
            {
                "access_token": token,
                "instance_url": instance,
                "id": identity,
                "token_type": "Bearer",
                "issued_at": issued_at,
                "signature": base64.b64encode(signature).decode(),
            }
        )
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@_vendor_endpoint(salesforce_error, system="crm", takes_credentials=False)
def salesforce_versions(request: HttpRequest, system: SimulatedSystem) -> HttpResponse:
    """ "Versions": the REST API versions, a read that needs no session (as Salesforce's)."""
    if request.method != "GET":
        raise _not_allowed(request)
    versions = [
        {"label": label, "url": f"/services/data/v{number}", "version": number}
        for number, label in selectors.SALESFORCE_VERSIONS
    ]
    return JsonResponse(versions, safe=False)


@_vendor_endpoint(salesforce_error, system="crm", demand=AuthMode.OAUTH2)
def salesforce_resources(
    request: HttpRequest, system: SimulatedSystem, version: str
) -> HttpResponse:
    """ "Resources by Version": what the version offers; needs a session, reads no record."""
    if request.method != "GET":
        raise _not_allowed(request)
    selectors.salesforce_version_check(version)
    base = f"/services/data/v{version}"
    return JsonResponse(
        {name: f"{base}/{name}" for name in ("limits", "query", "sobjects", "composite")}
    )


@_vendor_endpoint(salesforce_error, system="crm", demand=AuthMode.OAUTH2)
def salesforce_sobject(
    request: HttpRequest, system: SimulatedSystem, version: str, sobject: str
) -> HttpResponse:
    """Creates a record (``POST``): 201 ``{"id", "success": true, "errors": []}``."""
    selectors.salesforce_version_check(version)
    kind = selectors.salesforce_sobject_check(sobject)
    if request.method != "POST":
        raise _not_allowed(request)
    fields = services.salesforce_fields_check(_json_body(request))
    record = services.record_create(system=system, kind=kind, data=fields)
    record_id = selectors.salesforce_id(record, sobject)
    response = JsonResponse({"id": record_id, "success": True, "errors": []}, status=201)
    response["Location"] = f"/services/data/v{version}/sobjects/{sobject}/{record_id}"
    return response


@_vendor_endpoint(salesforce_error, system="crm", demand=AuthMode.OAUTH2)
def salesforce_row(
    request: HttpRequest, system: SimulatedSystem, version: str, sobject: str, record_id: str
) -> HttpResponse:
    """ "sObject Rows": ``GET`` (``?fields=``), ``PATCH`` (204), ``DELETE`` (204)."""
    selectors.salesforce_version_check(version)
    record = selectors.salesforce_record_get(system=system, sobject=sobject, record_id=record_id)
    if request.method == "GET":
        return JsonResponse(
            selectors.salesforce_record_json(
                record, sobject=sobject, version=version, fields=request.GET.get("fields")
            )
        )
    if request.method == "PATCH":
        changes = services.salesforce_fields_check(_json_body(request))
        services.record_update(record=record, changes=changes)
        return _no_content()
    if request.method == "DELETE":
        services.record_delete(record=record)
        return _no_content()
    raise _not_allowed(request)


# --- Control endpoints (no fault knobs applied) ------------------------------------------


@_control_endpoint
def faults(request: HttpRequest, system: str) -> HttpResponse:
    simulated = services.system_get(slug=system)
    if request.method in ("PUT", "PATCH"):
        try:
            payload = _json_body(request)
        except SimulatorError as error:
            return control_error(SimulatorError(400, error.code, error.message, field="(body)"))
        try:
            services.system_faults_update(system=simulated, payload=payload)
        except KnobsInvalid as exc:
            first = next(iter(exc.errors))
            return JsonResponse(
                {"message": f"Invalid knob {first}: {exc.errors[first][0]}", "errors": exc.errors},
                status=400,
            )
    elif request.method != "GET":
        return control_error(_not_allowed(request))
    return JsonResponse(simulated.knobs())


@_control_endpoint
def reset(request: HttpRequest, system: str) -> HttpResponse:
    if request.method != "POST":
        return control_error(_not_allowed(request))
    simulated = services.system_get(slug=system)
    deleted = services.system_reset(system=simulated)
    return JsonResponse({"deleted": deleted, "knobs": simulated.knobs()})


@_control_endpoint
def requests_log(request: HttpRequest, system: str) -> HttpResponse:
    """The system's request log, oldest first: the newest ``limit`` calls that match."""
    if request.method != "GET":
        return control_error(_not_allowed(request))
    simulated = services.system_get(slug=system)
    try:
        since = request.GET.get("since")
        calls = selectors.requests_list(
            system=simulated,
            since=selectors.changed_since_parse(since, name="since") if since else None,
            method=request.GET.get("method") or None,
        )
        limit = _int_param(request, "limit", REQUEST_LOG_LIMIT)
    except SimulatorError as error:
        return control_error(error)
    total = calls.count()
    newest = list(calls.order_by("-id")[: min(limit, REQUEST_LOG_LIMIT)])
    return JsonResponse(
        {
            "count": len(newest),
            "total": total,
            "results": [selectors.request_json(call) for call in reversed(newest)],
        }
    )


@_control_endpoint
def emit(request: HttpRequest, system: str) -> HttpResponse:
    if request.method != "POST":
        return control_error(_not_allowed(request))
    try:
        answer = services.events_emit(system=system, payload=_json_body(request))
    except SimulatorError as error:
        return control_error(error)
    return HttpResponse(
        answer.content,
        status=answer.status_code,
        content_type=answer.headers.get("Content-Type", "application/json"),
    )
