"""Who may do what: roles, tokens, the login page, and every API route walked by role."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from controltower.operations.models import ApiToken

pytestmark = pytest.mark.django_db


ROLES = ("anonymous", "nobody", "viewer", "operator", "approver", "admin")
# The least role an endpoint admits; every role after it in ROLES is admitted too.
PUBLIC, SIGNED_IN, VIEWER, OPERATOR, APPROVER, ADMIN = (
    "anonymous",
    "nobody",
    "viewer",
    "operator",
    "approver",
    "admin",
)

READ = {"GET": VIEWER}
CONFIG_LIST = {"GET": VIEWER, "POST": ADMIN}
CONFIG_DETAIL = {"GET": VIEWER, "PUT": ADMIN, "PATCH": ADMIN, "DELETE": ADMIN}

# Every route under /api/v1/ and each of its methods, with the least role it admits.
# A route or method missing here fails the walk: a new endpoint must say who may call it.
EXPECTED: dict[str, dict[str, str]] = {
    "api-root": {"GET": SIGNED_IN},
    # Signed by the sending system, not by a user: every caller gets the same answer.
    "inbound": {"POST": PUBLIC},
    # Canonical records: read-only; invoice candidates are prepared, then approved.
    **{
        f"{model}-{kind}": READ
        for model in (
            "legalentity",
            "customer",
            "ratecard",
            "contract",
            "project",
            "resource",
            "assignment",
            "timeentry",
            "billingmilestone",
            "invoice",
        )
        for kind in ("list", "detail")
    },
    "contract-lineage": READ,
    # Revenue, cost and margin are prices: for the roles that may see them.
    "project-margin": {"GET": APPROVER},
    "resource-link": {"POST": OPERATOR},
    "project-link": {"POST": OPERATOR},
    "customer-link": {"POST": OPERATOR},
    "contract-repush": {"POST": OPERATOR},
    "project-repush": {"POST": OPERATOR},
    "invoice-prepare": {"POST": OPERATOR},
    "invoice-approve": {"POST": APPROVER},
    "invoice-approve-many": {"POST": APPROVER},
    "invoice-reject": {"POST": APPROVER},
    # Integration engine.
    "transaction-list": READ,
    "transaction-detail": READ,
    "transaction-retry": {"POST": OPERATOR},
    "transaction-replay": {"POST": OPERATOR},
    "transaction-cancel": {"POST": OPERATOR},
    "transaction-bulk-retry": {"POST": OPERATOR},
    "reconciliation-run": {"POST": OPERATOR},
    "reconciliation-drift-act": {"POST": OPERATOR},
    "system-list": READ,
    "system-detail": READ,
    "system-schema-versions": READ,
    "schema-list": READ,
    "schema-detail": READ,
    "system-breaker": {"POST": OPERATOR},
    # The secret is never read back; who may read the rest is who may read the system.
    "system-connection": {"GET": VIEWER, "PUT": ADMIN},
    "system-test-connection": {"POST": OPERATOR},
    # Which ERP keeps each legal entity's books: read by viewers, routed by admins.
    "erp-route-list": CONFIG_LIST,
    "erp-route-detail": {"GET": VIEWER, "DELETE": ADMIN},
    # Field mappings: read by whoever reads the system; drafted, tried, published by an admin.
    "system-mappings": READ,
    "system-mapping": READ,
    "system-mapping-draft": {"PUT": ADMIN},
    "system-mapping-publish": {"POST": ADMIN},
    "system-mapping-preview": {"POST": ADMIN},
    # The new secret is answered once, to the admin who rotated it.
    "system-rotate-signing-secret": {"POST": ADMIN},
    "system-end-signing-grace": {"POST": ADMIN},
    # Everyone signed in makes and revokes their own tokens; an admin anyone's.
    "api-token-list": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "api-token-revoke": {"POST": SIGNED_IN},
    "flow-list": READ,
    "flow-detail": READ,
    "flow-pause": {"POST": ADMIN},
    "flow-resume": {"POST": ADMIN},
    # Pollers: changed by an admin, run now by an operator.
    "poller-list": READ,
    "poller-detail": {"GET": VIEWER, "PATCH": ADMIN},
    "poller-run": {"POST": OPERATOR},
    "sync-state-list": READ,
    "sync-state-detail": READ,
    # Compensations: an operator executes one; one that moves money a second person approves.
    "compensation-list": READ,
    "compensation-detail": READ,
    "compensation-execute": {"POST": OPERATOR},
    "compensation-approve": {"POST": APPROVER},
    "compensation-reject": {"POST": OPERATOR},
    # The audit log: read by all, written by nobody through the API.
    "audit-event-list": READ,
    "audit-event-detail": READ,
    "audit-event-export": READ,
    # Exceptions: operators work them, approvers also approve.
    "exception-list": READ,
    "exception-detail": READ,
    "exception-assign": {"POST": OPERATOR},
    "exception-comments": {"GET": VIEWER, "POST": OPERATOR},
    "exception-snooze": {"POST": OPERATOR},
    "exception-resolve": {"POST": OPERATOR},
    "exception-dismiss": {"POST": OPERATOR},
    "exception-reopen": {"POST": OPERATOR},
    "exception-approve": {"POST": APPROVER},
    "exception-reject": {"POST": APPROVER},
    # Rates and invoice codes are finance's; checking a record again is an operator's.
    "exception-fix-rate": {"POST": APPROVER},
    "exception-fix-code": {"POST": APPROVER},
    "exception-recheck": {"POST": OPERATOR},
    "bulk-operation-list": {"GET": VIEWER, "POST": OPERATOR},
    "bulk-operation-detail": READ,
    # Batch imports write history in bulk: an admin's; their refused rows quote the file.
    "import-list": CONFIG_LIST,
    "import-detail": READ,
    "import-rows": READ,
    "import-refused": {"GET": ADMIN},
    "import-resume": {"POST": ADMIN},
    # Configuration: admins.
    "team-list": CONFIG_LIST,
    "team-detail": CONFIG_DETAIL,
    "ownership-rule-list": CONFIG_LIST,
    "ownership-rule-detail": CONFIG_DETAIL,
    "ownership-rule-preview": READ,
    "ownership-rule-preview-draft": {"POST": VIEWER},  # a what-if: it changes nothing
    "ownership-rule-reroute": {"POST": ADMIN},
    "business-calendar-list": CONFIG_LIST,
    "business-calendar-detail": CONFIG_DETAIL,
    "holiday-list": CONFIG_LIST,
    "holiday-detail": CONFIG_DETAIL,
    "sla-policy-list": CONFIG_LIST,
    "sla-policy-detail": CONFIG_DETAIL,
    "maintenance-window-list": CONFIG_LIST,
    "maintenance-window-detail": CONFIG_DETAIL,
    "period-close-list": CONFIG_LIST,
    "period-close-detail": CONFIG_DETAIL,
    # Service levels: written by the sweep, read by all.
    "sla-breach-list": READ,
    "sla-breach-detail": READ,
    "notification-list": READ,
    "notification-detail": READ,
    # Event subscriptions: registered by admins, their log read by all, replayed by operators.
    "subscription-list": CONFIG_LIST,
    "subscription-detail": CONFIG_DETAIL,
    "subscription-switch": {"POST": ADMIN},
    "subscription-rotate-secret": {"POST": ADMIN},
    "subscription-replay": {"POST": OPERATOR},
    "delivery-list": READ,
    "delivery-detail": READ,
    "delivery-replay": {"POST": OPERATOR},
}
# URL parameters that are not a viewset's lookup of its own records. A token no role owns:
# each signed-in role is let in and told there is no such token (404).
PARAMS = {
    "system_slug": "crm",
    "record_type": "contract",
    "prefix": "0123456789abcde",
    "event_type": "time_entry.approved",
}


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    view: type
    handler: str  # the viewset action or view method that answers
    params: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.method} {self.name}"


def api_endpoints() -> list[Endpoint]:
    """Every (route, method) under /api/v1/, read from the URL configuration."""
    found: dict[tuple[str, str], Endpoint] = {}

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                add(entry, prefix + str(entry.pattern))

    def add(entry: URLPattern, route: str) -> None:
        if not route.startswith("api/v1/") or "<drf_format_suffix" in route or "format" in route:
            return
        view = entry.callback.cls
        actions = getattr(entry.callback, "actions", None)
        handlers = actions or {
            m: m
            for m in view.http_method_names
            if m not in ("options", "head") and hasattr(view, m)
        }
        params = tuple(entry.pattern.regex.groupindex)
        for method, handler in handlers.items():
            endpoint = Endpoint(entry.name or route, method.upper(), view, handler, params)
            found.setdefault((endpoint.name, endpoint.method), endpoint)

    walk(get_resolver().url_patterns, "")
    return sorted(found.values(), key=str)


ENDPOINTS = api_endpoints()


def expected_level(endpoint: Endpoint) -> str | None:
    return EXPECTED.get(endpoint.name, {}).get(endpoint.method)


@pytest.fixture
def world(db):
    """One record of every kind an endpoint shows, so each is walked with a real record."""
    from django.contrib.contenttypes.models import ContentType

    from canonical.models import Project
    from controltower.operations.services import audit_record
    from integrations.choices import FlowKind, TransactionState
    from integrations.models import (
        Compensation,
        ConnectedSystem,
        Delivery,
        ErpRoute,
        ImportJob,
        OutboxEvent,
        Subscription,
        SyncState,
    )
    from tests.factories import canonical as c
    from tests.factories import operations as f

    for slug, kind in (("crm", "crm"), ("erp", "erp")):
        ConnectedSystem.objects.create(slug=slug, name=slug.upper(), kind=kind)
    exc = f.BusinessExceptionFactory()
    f.FlowTransactionFactory(
        kind=FlowKind.TIME_TO_BILLING, state=TransactionState.BLOCKED, exception=exc
    )
    f.ExceptionCommentFactory(exception=exc)
    f.BulkOperationFactory()
    rule = f.OwnershipRuleFactory()
    f.HolidayFactory()
    f.MaintenanceWindowFactory(team=rule.team)
    f.PeriodCloseFactory()
    f.NotificationAttemptFactory(notification__breach__exception=exc)
    c.RateCardLineFactory()
    c.AssignmentFactory()
    c.TimeEntryFactory()
    c.BillingMilestoneFactory()
    c.InvoiceLineFactory()
    project = Project.objects.first()
    SyncState.objects.create(
        content_type=ContentType.objects.get_for_model(Project),
        object_id=project.pk,
        system=ConnectedSystem.objects.get(slug="erp"),
        external_id="PRJ-1",
    )
    ConnectedSystem.objects.get(slug="erp").pollers.create(record_type="time_entry")
    ImportJob.objects.create(
        kind="customers",
        format="csv",
        content="number,name,legal_entity,currency\nC-1,A,US01,USD\n",
        system=ConnectedSystem.objects.get(slug="erp"),
        rows_total=1,
        state="interrupted",
    )
    ErpRoute.objects.create(
        legal_entity=project.legal_entity, system=ConnectedSystem.objects.get(slug="erp")
    )
    audit_record(actor=None, action="demo.load", object_type="demo", object_id=1)
    Compensation.objects.create(
        key="time_to_billing.posted_time_reduced:T-1:v2",
        step="time_to_billing.posted_time_reduced",
        action="credit_note",
        system=ConnectedSystem.objects.get(slug="erp"),
        record_kind="invoice",
        external_id="41",
        business_key="INV-1",
        reason="Fewer hours.",
        amount="300.00",
        rate="300.00",
        currency="USD",
    )
    subscription = Subscription.objects.create(
        name="warehouse", url="https://dw.example.com/", event_types=["contract.signed"], secret="s"
    )
    event = OutboxEvent.objects.create(
        event_type="contract.signed",
        record_key="contract:K-1",
        sequence=1,
        dedupe_key="contract.signed|contract:K-1|1",
        occurred_at=timezone.now(),
    )
    Delivery.objects.create(
        subscription=subscription, event=event, record_key=event.record_key, sequence=1
    )


def url_for(endpoint: Endpoint) -> str:
    kwargs = {}
    lookup = getattr(endpoint.view, "lookup_url_kwarg", None) or getattr(
        endpoint.view, "lookup_field", "pk"
    )
    for param in endpoint.params:
        if param in PARAMS:
            kwargs[param] = PARAMS[param]
            continue
        assert param == lookup, (
            f"{endpoint}: no value for the URL parameter {param!r}; add it to PARAMS"
        )
        model = endpoint.view.queryset.model
        sample = model.objects.order_by("pk").first()
        if sample is None:
            pytest.fail(f"{endpoint}: the world fixture has no {model.__name__}; add one")
        kwargs[param] = getattr(sample, endpoint.view.lookup_field)
    return reverse(endpoint.name, kwargs=kwargs)


def test_the_walk_finds_every_route_of_the_operations_layer():
    names = {endpoint.name for endpoint in ENDPOINTS}
    assert {
        "team-list",
        "ownership-rule-preview-draft",
        "ownership-rule-reroute",
        "business-calendar-detail",
        "holiday-list",
        "sla-policy-detail",
        "maintenance-window-list",
        "period-close-list",
        "sla-breach-list",
        "notification-detail",
        "exception-assign",
        "exception-comments",
        "exception-approve",
        "bulk-operation-list",
        "audit-event-export",
        "invoice-prepare",
        "transaction-retry",
    } <= names
    assert {str(e) for e in ENDPOINTS} >= {"POST exception-comments", "GET exception-comments"}


def test_every_declared_expectation_names_a_route_that_exists():
    walked = {(e.name, e.method) for e in ENDPOINTS}
    declared = {(name, method) for name, methods in EXPECTED.items() for method in methods}
    assert declared - walked == set(), "stale entries in EXPECTED"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_each_role_gets_what_the_endpoint_declares(endpoint, world, user_with_role, api_client_for):
    level = expected_level(endpoint)
    assert level is not None, (
        f"{endpoint} has no declared expectation: add it to EXPECTED in {__name__}"
    )
    users = {role: user_with_role(None if role == "nobody" else role) for role in ROLES[1:]}
    url = url_for(endpoint)
    answers = {}
    for role in ROLES:
        client = api_client_for(users.get(role))
        call = getattr(client, endpoint.method.lower())
        with transaction.atomic():  # each role meets the same records
            response = call(url) if endpoint.method == "GET" else call(url, {}, format="json")
            if response.streaming:  # read as a client does, while its cursor is open
                b"".join(response.streaming_content)
            transaction.set_rollback(True)
        answers[role] = response.status_code

    if level == PUBLIC:
        assert len(set(answers.values())) == 1 and max(answers.values()) < 500, answers
        return
    wrong = {}
    for role, code in answers.items():
        admitted = ROLES.index(role) >= ROLES.index(level)
        if admitted:
            ok = code < 500 and code not in (401, 403, 405)
        else:
            ok = code == (401 if role == "anonymous" else 403)
        if not ok:
            wrong[role] = code
    assert not wrong, f"{endpoint} {url} admits {level} and up; got {answers}"


def test_the_declared_levels_agree_with_the_roles_permissions():
    """Each endpoint's declared least role is the least role holding the permission it checks."""
    from controltower.operations.roles import VIEW_APPS, role_permissions
    from controltower.web.api.permissions import RolePermissions

    held = role_permissions()
    disagree = {}
    for endpoint in ENDPOINTS:
        handler = getattr(endpoint.view, endpoint.handler, None)
        required = getattr(handler, "required_permission", None) or getattr(
            endpoint.view, "required_permission", None
        )
        queryset = getattr(endpoint.view, "queryset", None)
        if not required and queryset is not None:
            opts = queryset.model._meta
            [required] = [
                perm % {"app_label": opts.app_label, "model_name": opts.model_name}
                for perm in RolePermissions.perms_map[endpoint.method]
            ]
        if not required:
            continue
        app_label, codename = required.split(".")
        if codename.startswith("view_") and app_label in VIEW_APPS:
            least = VIEWER
        else:
            least = next((role for role in ROLES[3:] if required in held[role]), "nobody")
        if expected_level(endpoint) != least:
            disagree[str(endpoint)] = (required, least, expected_level(endpoint))
    assert not disagree


def test_createtoken_prints_a_token_that_authenticates(user_with_role, capsys):
    user = user_with_role("viewer", "robot")
    call_command("createtoken", "robot")
    key = capsys.readouterr().out.strip()
    [token] = ApiToken.objects.filter(user=user)
    assert key.startswith(token.token_key) and key not in token.digest
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/transactions/").status_code == 200


def test_createtoken_names_an_unknown_user(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="nobody"):
        call_command("createtoken", "nobody")


def test_the_login_page_signs_a_user_in_and_shows_the_overview(client, user_with_role, demo):
    user_with_role("operator", "opal")
    assert client.get("/").status_code == 302
    page = client.get("/login/")
    assert b"Sign in" in page.content
    response = client.post(
        "/login/", {"username": "opal", "password": "pw-for-tests-9"}, follow=True
    )
    assert response.status_code == 200
    assert b"<h1>Overview</h1>" in response.content
    assert b"/api/v1/inbound/crm/" in response.content  # the empty state says where to send


def test_a_wrong_password_is_refused_with_a_message(client, user_with_role):
    user_with_role("viewer", "vera")
    response = client.post("/login/", {"username": "vera", "password": "wrong"})
    assert response.status_code == 200
    assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content


def test_the_roles_hold_exactly_their_permissions(db):
    from django.contrib.auth.models import Group

    perms = {
        g.name: {f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.all()}
        for g in Group.objects.all()
    }
    assert "integrations.view_transaction" in perms["viewer"]
    assert "integrations.retry_transaction" not in perms["viewer"]
    assert "integrations.retry_transaction" in perms["operator"]
    assert "integrations.pause_flow" not in perms["approver"]
    assert "integrations.pause_flow" in perms["admin"]
    for sensitive in ("canonical.see_pricing", "canonical.see_personal"):
        assert sensitive not in perms["viewer"] and sensitive not in perms["operator"]
        assert sensitive in perms["approver"] and sensitive in perms["admin"]
    assert perms["viewer"] < perms["operator"] <= perms["approver"] < perms["admin"]


# --- Data by role: the walk over every canonical route, with what each role sees ---------

SEES_SENSITIVE = {"viewer": False, "operator": False, "approver": True, "admin": True}


def canonical_detail_endpoints() -> list[Endpoint]:
    from controltower.web.api.canonical.serializers import MaskedModelSerializer

    return [
        e
        for e in ENDPOINTS
        if e.method == "GET"
        and e.name.endswith("-detail")
        and issubclass(getattr(e.view, "serializer_class", object), MaskedModelSerializer)
    ]


def test_every_canonical_route_masks_through_the_one_serializer_base():
    names = {e.name for e in canonical_detail_endpoints()}
    assert {"resource-detail", "invoice-detail", "ratecard-detail", "contract-detail"} <= names
    assert len(names) == 11  # the ten canonical records, and a compensation's amount


@pytest.mark.parametrize("role", SEES_SENSITIVE)
@pytest.mark.parametrize("endpoint", canonical_detail_endpoints(), ids=str)
def test_each_role_sees_pricing_and_personal_data_as_its_role_allows(
    endpoint, role, world, user_with_role, api_client_for
):
    from canonical.classification import data_classes

    model = endpoint.view.queryset.model
    record = model.objects.order_by("pk").first()
    answer = api_client_for(user_with_role(role)).get(url_for(endpoint)).data
    for name in data_classes(model):
        if name not in answer:
            continue
        value = getattr(record, name)
        if SEES_SENSITIVE[role]:
            assert (answer[name] is None) == (value in (None, "")), (endpoint, name)
        else:
            assert answer[name] is None, (endpoint, role, name)


def test_every_price_and_every_persons_name_and_e_mail_is_classified():
    """A new rate, amount or cost on a canonical model, or a person's contact, must say so."""
    from django.apps import apps
    from django.db import models

    from canonical.classification import DataClass, data_class

    missing = []
    for model in apps.get_app_config("canonical").get_models():
        for field in model._meta.concrete_fields:
            price = isinstance(field, models.DecimalField) and any(
                word in field.name for word in ("rate", "amount", "cost", "price")
            )
            if price and data_class(model, field.name) != DataClass.PRICING:
                missing.append(f"{model.__name__}.{field.name}")
    from canonical.models import Resource

    for name in ("name", "email"):
        if data_class(Resource, name) != DataClass.PERSONAL:
            missing.append(f"Resource.{name}")
    assert not missing


# --- Pages that are an admin's --------------------------------------------------------


@pytest.mark.parametrize("role", ROLES[1:])
def test_the_configuration_pages_open_for_admins_only(role, world, user_with_role, client):
    from controltower.operations.models import Team

    client.force_login(user_with_role(None if role == "nobody" else role))
    team = Team.objects.order_by("pk").first()
    pages = ["/config/", "/config/teams/", f"/config/teams/{team.pk}/", "/config/rules/"]

    answers = {page: client.get(page).status_code for page in pages}

    assert set(answers.values()) == ({200} if role == "admin" else {403}), answers
