"""The demo configuration: systems, flows, master data and users to try the tower with.

Idempotent: running it again changes nothing that is already there.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from canonical.choices import AcceptedCodeKind
from canonical.models import (
    AcceptedCode,
    Customer,
    LegalEntity,
    RateCard,
    RateCardLine,
    Resource,
)
from controltower.operations.models import (
    BusinessCalendar,
    OwnershipRule,
    PeriodClose,
    SlaPolicy,
    Team,
)
from controltower.operations.roles import roles_sync
from integrations.choices import Adapter, AuthKind, Domain, FlowKind, PollerRecordType, SystemKind
from integrations.flows.catalog import flows_ensure
from integrations.models import ConnectedSystem, Flow, OutboundAuth, Poller, SystemOfRecord

# slug, name, kind, adapter (the payload dialect the system speaks)
SYSTEMS = [
    ("crm", "CRM", SystemKind.CRM, Adapter.CANONICAL),
    ("clm", "Contract lifecycle", SystemKind.CLM, Adapter.CANONICAL),
    ("psa", "PSA", SystemKind.PSA, Adapter.CANONICAL),
    ("erp", "ERP", SystemKind.ERP, Adapter.CANONICAL),
    ("hris", "HRIS", SystemKind.HRIS, Adapter.CANONICAL),
    ("salesforce", "Salesforce", SystemKind.CRM, Adapter.SALESFORCE),
    ("docusign", "DocuSign", SystemKind.CLM, Adapter.DOCUSIGN),
    ("harvest", "Harvest", SystemKind.TIME, Adapter.HARVEST),
    ("bamboohr", "BambooHR", SystemKind.HRIS, Adapter.BAMBOOHR),
    ("workday", "Workday", SystemKind.HRIS, Adapter.WORKDAY),
]
# Systems of record: company codes live in the ERP, customers in the CRM.
OWNERS = {Domain.LEGAL_ENTITY: "erp", Domain.CUSTOMER: "crm"}
LEGAL_ENTITIES = [
    ("US01", "Northwind Consulting Inc.", "US", "USD"),
    ("GB01", "Northwind Consulting Ltd", "GB", "GBP"),
    ("DE01", "Northwind Beratung GmbH", "DE", "EUR"),
]
CUSTOMERS = [
    ("C-1001", "Acme Corporation", "US01", "USD"),
    ("C-1002", "Globex Ltd", "GB01", "GBP"),
    ("C-1003", "Initech GmbH", "DE01", "EUR"),
    ("C-1004", "Umbrella Health", "US01", "USD"),
    ("C-1005", "Stark Industries", "US01", "USD"),
]
# number: (tax code, payment terms); each one its legal entity's ERP accepts (below).
CUSTOMER_TERMS = {
    "C-1001": ("US-EXEMPT", "NET30"),
    "C-1002": ("GB-S20", "NET30"),
    "C-1003": ("DE-S19", "NET30"),
    "C-1004": ("US-EXEMPT", "NET45"),
    "C-1005": ("US-EXEMPT", "NET60"),
}
# What each legal entity's ERP accepts: (legal entity, kind, code, name). The simulated ERP
# holds the same (simulator/demo_firm.py); ``manage.py accepted_codes_sync`` refreshes them.
ACCEPTED_CODES = [
    ("US01", AcceptedCodeKind.PAYMENT_TERMS, "NET30", "Net 30"),
    ("US01", AcceptedCodeKind.PAYMENT_TERMS, "NET45", "Net 45"),
    ("US01", AcceptedCodeKind.PAYMENT_TERMS, "NET60", "Net 60"),
    ("GB01", AcceptedCodeKind.PAYMENT_TERMS, "NET30", "Net 30"),
    ("GB01", AcceptedCodeKind.PAYMENT_TERMS, "NET60", "Net 60"),
    ("DE01", AcceptedCodeKind.PAYMENT_TERMS, "NET14", "Net 14"),
    ("DE01", AcceptedCodeKind.PAYMENT_TERMS, "NET30", "Net 30"),
    ("US01", AcceptedCodeKind.TAX_CODE, "US-EXEMPT", "Professional services, not taxed"),
    ("GB01", AcceptedCodeKind.TAX_CODE, "GB-S20", "UK VAT standard rate"),
    ("GB01", AcceptedCodeKind.TAX_CODE, "GB-Z", "UK VAT zero rate"),
    ("DE01", AcceptedCodeKind.TAX_CODE, "DE-S19", "USt. Regelsatz"),
    ("DE01", AcceptedCodeKind.TAX_CODE, "DE-RC", "Reverse charge"),
]
RATE_CARDS = [
    (
        "RC-US-STD",
        "US standard",
        "USD",
        "US01",
        {"Partner": 450, "Manager": 300, "Consultant": 190, "Analyst": 120},
    ),
    (
        "RC-GB-STD",
        "UK standard",
        "GBP",
        "GB01",
        {"Partner": 380, "Manager": 250, "Consultant": 160},
    ),
    (
        "RC-DE-STD",
        "DE standard",
        "EUR",
        "DE01",
        {"Partner": 420, "Manager": 280, "Consultant": 175},
    ),
]
RESOURCES = [
    ("E-0001", "Ada Byron", "Partner", "US01"),
    ("E-0002", "Grace Hopper", "Manager", "US01"),
    ("E-0003", "Alan Turing", "Consultant", "GB01"),
    ("E-0004", "Emmy Noether", "Consultant", "DE01"),
    ("E-0005", "Katherine Johnson", "Analyst", "US01"),
]
# username, password, role; the demo's people, one per role.
USERS = [
    ("admin", "admin", "admin"),
    ("operator", "operator", "operator"),
    ("approver", "approver", "approver"),
    ("viewer", "viewer", "viewer"),
]
SOURCE = "demo"


@dataclass
class DemoSummary:
    systems: int
    legal_entities: int
    customers: int
    users: list[str]


# The simulated ERP, PSA, HRIS, Harvest and Salesforce demand credentials as their vendors
# do; these are the demo's (the simulator's own defaults in demo mode, never valid outside
# it). BambooHR takes its API key as the HTTP Basic user name, with any password; Harvest a
# personal access token and the account id; Salesforce a connected app's OAuth 2.0 client
# credentials (its consumer key and secret).
DEMO_CREDENTIALS = {
    "erp": {
        "kind": AuthKind.OAUTH2_CLIENT_CREDENTIALS,
        "username": "demo-erp-client",
        "secret": "demo-erp-client-secret",
        "token_url": "/services/rest/auth/oauth2/v1/token",
    },
    "psa": {"kind": AuthKind.API_KEY, "header_name": "X-Api-Key", "secret": "demo-psa-api-key"},
    "bamboohr": {"kind": AuthKind.BASIC, "username": "demo-hris-api-key", "secret": "x"},
    # Harvest: a personal access token, and the account id in its own header.
    "harvest": {"kind": AuthKind.HARVEST, "username": "100001", "secret": "demo-harvest-api-key"},
    "salesforce": {
        "kind": AuthKind.OAUTH2_CLIENT_CREDENTIALS,
        "username": "demo-crm-client",
        "secret": "demo-crm-client-secret",
        "token_url": "/services/oauth2/token",
    },
}
# Where the tower calls each system in the demo: the simulated one standing for it. BambooHR's
# base URL is its API gateway for the company (``/api/gateway.php/<company domain>``),
# Salesforce's the org's instance (the simulated CRM, where its REST API lives).
DEMO_BASE_PATHS = {
    "erp": "/erp",
    "psa": "/psa",
    "bamboohr": "/hris/api/gateway.php/northwind",
    "harvest": "/harvest",
    "salesforce": "/crm",
}


@transaction.atomic
def demo_load() -> DemoSummary:
    # Roles and flows come with the migrations; a flushed database gets them back here.
    roles_sync(django_apps)
    flows_ensure(Flow)
    for slug, name, kind, adapter in SYSTEMS:
        # The tower writes to the ERP and the PSA, reads the records of thin BambooHR and
        # Salesforce events, and Harvest users it has not linked yet: in the demo, from the
        # simulated systems.
        path = DEMO_BASE_PATHS.get(slug)
        base_url = f"{settings.CT_SIMULATOR_URL}{path}" if path else ""
        ConnectedSystem.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "kind": kind, "adapter": adapter, "base_url": base_url},
        )
    for slug, defaults in DEMO_CREDENTIALS.items():
        OutboundAuth.objects.get_or_create(
            system=ConnectedSystem.objects.get(slug=slug), defaults=defaults
        )
    # The demo PSA sends its time entries as webhooks; the poller that would read them from
    # its API instead is there to look at and run by hand, disabled.
    Poller.objects.get_or_create(
        system=ConnectedSystem.objects.get(slug="psa"),
        record_type=PollerRecordType.TIME_ENTRY,
        defaults={"enabled": False},
    )
    # BambooHR sends event-based webhooks, which the tower takes; its workers poller is the
    # way for an account without them (or to catch up on missed ones), there to look at and
    # run by hand, disabled like the PSA's. Enabled, it would re-read every employee of the
    # simulated HRIS on a fresh demo and keep calling it every interval for nothing new.
    Poller.objects.get_or_create(
        system=ConnectedSystem.objects.get(slug="bamboohr"),
        record_type=PollerRecordType.WORKER,
        defaults={"enabled": False},
    )
    for domain, slug in OWNERS.items():
        SystemOfRecord.objects.get_or_create(
            domain=domain, defaults={"system": ConnectedSystem.objects.get(slug=slug)}
        )
    entities = {}
    for code, name, country, currency in LEGAL_ENTITIES:
        entities[code], _ = LegalEntity.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "country": country,
                "currency": currency,
                "source_system": SOURCE,
            },
        )
    for number, name, entity, currency in CUSTOMERS:
        tax_code, payment_terms = CUSTOMER_TERMS[number]
        Customer.objects.get_or_create(
            number=number,
            defaults={
                "name": name,
                "legal_entity": entities[entity],
                "currency": currency,
                "tax_code": tax_code,
                "payment_terms": payment_terms,
                "source_system": SOURCE,
            },
        )
    for entity, kind, code, name in ACCEPTED_CODES:
        AcceptedCode.objects.get_or_create(
            legal_entity=entities[entity],
            kind=kind,
            code=code,
            defaults={"name": name, "source_system": SOURCE},
        )
    for code, name, currency, entity, lines in RATE_CARDS:
        card, _ = RateCard.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "currency": currency,
                "legal_entity": entities[entity],
                "source_system": SOURCE,
            },
        )
        for role, rate in lines.items():
            RateCardLine.objects.get_or_create(
                rate_card=card, role=role, defaults={"rate": Decimal(rate)}
            )
    bill_rates = {entity: lines for _, _, _, entity, lines in RATE_CARDS}
    for number, name, role, entity in RESOURCES:
        Resource.objects.get_or_create(
            employee_number=number,
            defaults={
                "name": name,
                "email": f"{number.lower()}@example.com",
                "role": role,
                "legal_entity": entities[entity],
                # The cost the demo HRIS gives (45 % of the role's bill rate), so that the
                # demo's time is costed and its projects show a margin.
                "cost_rate": (
                    Decimal(bill_rates[entity].get(role, 150)) * Decimal("0.45")
                ).quantize(Decimal("0.01")),
                "source_system": SOURCE,
            },
        )
    User = get_user_model()
    for username, password, role in USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"is_staff": role == "admin", "is_superuser": role == "admin"},
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=role))
    return DemoSummary(
        systems=ConnectedSystem.objects.count(),
        legal_entities=LegalEntity.objects.count(),
        customers=Customer.objects.count(),
        users=[f"{u} / {p} ({r})" for u, p, r in USERS],
    )


@transaction.atomic
def demo_operations_load() -> int:
    """Teams, ownership rules, a business calendar and SLA policies for the demo; returns teams.

    Kept apart from ``demo_load`` (which tests use as their base) so that tests set
    up the ownership they are about.
    """

    london, _ = BusinessCalendar.objects.get_or_create(
        name="London office", defaults={"time_zone": "Europe/London"}
    )
    User = get_user_model()
    teams = {}
    for name, default, members, email in (
        ("Integration support", True, ["operator", "admin"], "support@example.com"),
        ("Finance operations", False, ["approver", "operator"], "finance-ops@example.com"),
        ("Master data", False, ["operator"], "master-data@example.com"),
        ("Resource management", False, ["operator"], "resourcing@example.com"),
    ):
        team, created = Team.objects.get_or_create(
            name=name,
            defaults={
                "is_default": default and not Team.objects.filter(is_default=True).exists(),
                "email": email,
                "escalation_email": "pmo-lead@example.com",
                "calendar": london,
            },
        )
        if created:
            team.members.set(User.objects.filter(username__in=members))
        teams[name] = team
    for team, criteria in (
        ("Finance operations", {"flow": FlowKind.TIME_TO_BILLING}),
        ("Finance operations", {"flow": FlowKind.RECONCILIATION}),
        ("Finance operations", {"exception_type": "amendment_conflict"}),
        ("Finance operations", {"exception_type": "contract_nearing_end"}),
        ("Master data", {"flow": FlowKind.MASTER_DATA_SYNC}),
        ("Master data", {"exception_type": "invalid_legal_entity"}),
        ("Master data", {"exception_type": "unknown_customer"}),
        # Staffing is the resource managers' call: who is on which project, when, how much.
        ("Resource management", {"exception_type": "resource_over_allocated"}),
        ("Resource management", {"exception_type": "resource_unavailable"}),
        ("Resource management", {"exception_type": "assignment_outside_project"}),
        ("Resource management", {"exception_type": "resource_lacks_skills"}),
    ):
        OwnershipRule.objects.get_or_create(team=teams[team], **criteria)
    for name, values in (
        (
            "Contract signed → project in ERP",
            {
                "kind": "flow",
                "flow": FlowKind.CONTRACT_TO_PROJECT,
                "event_type": "contract.signed",
                "target_minutes": 4 * 60,
                "business_hours": True,
            },
        ),
        (
            "Approved time → invoice candidate",
            {
                "kind": "flow",
                "flow": FlowKind.TIME_TO_BILLING,
                "event_type": "time_entry.approved",
                "target_minutes": 24 * 60,
            },
        ),
        (
            "High-severity exceptions resolved",
            {
                "kind": "exception",
                "severity": "high",
                "target_minutes": 8 * 60,
                "business_hours": True,
            },
        ),
        (
            "Critical exceptions resolved",
            {"kind": "exception", "severity": "critical", "target_minutes": 2 * 60},
        ),
    ):
        SlaPolicy.objects.get_or_create(name=name, defaults=values)
    today = timezone.localdate()
    month_end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    PeriodClose.objects.get_or_create(
        closes_on=month_end, defaults={"name": f"{month_end:%B %Y} close", "lead_days": 3}
    )
    return len(teams)
