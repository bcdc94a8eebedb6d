from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from canonical.choices import (
    ContractStatus,
    InvoiceStatus,
    MilestoneStatus,
    ProjectStatus,
    TimeEntryStatus,
)
from tests.factories.canonical import (
    AssignmentFactory,
    BillingMilestoneFactory,
    ContractFactory,
    ContractVersionFactory,
    CustomerFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    LegalEntityFactory,
    ProjectFactory,
    RateCardFactory,
    RateCardLineFactory,
    ResourceFactory,
    TimeEntryFactory,
)
from tests.support.api import ReadOnlyAPITests

FAR_FUTURE = {"updated_after": "2999-01-01T00:00:00Z"}
LONG_AGO = {"updated_after": "2000-01-01T00:00:00Z"}


def two_entities():
    return LegalEntityFactory(code="US01", currency="USD"), LegalEntityFactory(
        code="DE01", country="DE", currency="EUR"
    )


class TestLegalEntitiesAPI(ReadOnlyAPITests):
    url = "/api/v1/legal-entities/"
    factory = LegalEntityFactory
    ordering = "code"
    filter_cases = [
        ({"code": "US01"}, 1),
        ({"code__icontains": "01"}, 2),
        ({"country": "DE"}, 1),
        ({"currency": "EUR"}, 1),
        ({"active": "false"}, 1),
        ({"name__icontains": "gmbh"}, 1),
        (FAR_FUTURE, 0),
        (LONG_AGO, 3),
    ]

    def create_objects(self):
        return [
            LegalEntityFactory(code="US01", name="Tower US Inc."),
            LegalEntityFactory(code="DE01", name="Tower GmbH", country="DE", currency="EUR"),
            LegalEntityFactory(code="GB02", name="Tower Ltd", country="GB", active=False),
        ]


class TestCustomersAPI(ReadOnlyAPITests):
    url = "/api/v1/customers/"
    factory = CustomerFactory
    ordering = "number"
    shows = {"legal_entity": "legal_entity.code"}
    filter_cases = [
        ({"number": "C-9001"}, 1),
        ({"number__icontains": "c-90"}, 3),
        ({"name__icontains": "acme"}, 1),
        ({"legal_entity": "US01"}, 2),
        ({"legal_entity": "XX99"}, 0),
        ({"billing_hold": "true"}, 1),
        ({"active": "false"}, 1),
        ({"source_system": "crm"}, 3),
        (FAR_FUTURE, 0),
    ]

    def create_objects(self):
        us, de = two_entities()
        return [
            CustomerFactory(number="C-9001", name="Acme Corp", legal_entity=us),
            CustomerFactory(number="C-9002", legal_entity=us, billing_hold=True),
            CustomerFactory(number="C-9003", legal_entity=de, active=False),
        ]


class TestRateCardsAPI(ReadOnlyAPITests):
    url = "/api/v1/rate-cards/"
    factory = RateCardFactory
    ordering = "code"
    shows = {"legal_entity": "legal_entity.code"}
    filter_cases = [
        ({"code": "RC-STD"}, 1),
        ({"code__icontains": "rc-"}, 3),
        ({"legal_entity": "DE01"}, 1),
        ({"role": "Architect"}, 2),
        ({"currency": "EUR"}, 1),
    ]

    def create_objects(self):
        us, de = two_entities()
        cards = [
            RateCardFactory(code="RC-STD", legal_entity=us),
            RateCardFactory(code="RC-PREMIUM", legal_entity=us),
            RateCardFactory(code="RC-EU", legal_entity=de, currency="EUR"),
        ]
        for card in cards[:2]:
            RateCardLineFactory(rate_card=card, role="Architect")
            RateCardLineFactory(rate_card=card, role="Developer")
        return cards

    def test_it_nests_the_lines_of_a_rate_card(self, objects, reader, client_for) -> None:
        response = client_for(reader).get(self.detail_url(objects[0]))

        assert [line["role"] for line in response.data["lines"]] == ["Architect", "Developer"]
        assert response.data["lines"][0]["rate"] == "150.00"


class TestContractsAPI(ReadOnlyAPITests):
    url = "/api/v1/contracts/"
    factory = ContractFactory
    ordering = "start_date"
    shows = {"customer": "customer.number", "legal_entity": "legal_entity.code"}
    filter_cases = [
        ({"number": "K-1"}, 1),
        ({"number__icontains": "k-"}, 3),
        ({"customer": "C-9001"}, 2),
        ({"legal_entity": "DE01"}, 1),
        ({"status": "signed"}, 2),
        ({"status": ["draft", "signed"]}, 3),
        ({"billing_model": "fixed_fee"}, 1),
        ({"start_date_after": "2025-02-01"}, 2),
        ({"start_date_before": "2025-02-01"}, 1),
        ({"correlation_id": "abc123"}, 1),
    ]

    def create_objects(self):
        us, de = two_entities()
        acme = CustomerFactory(number="C-9001", legal_entity=us)
        return [
            ContractFactory(number="K-1", customer=acme, start_date=dt.date(2025, 1, 1)),
            ContractFactory(
                number="K-2",
                customer=acme,
                start_date=dt.date(2025, 3, 1),
                status=ContractStatus.DRAFT,
                correlation_id="abc123",
            ),
            ContractFactory(
                number="K-3",
                customer=CustomerFactory(legal_entity=de),
                start_date=dt.date(2025, 6, 1),
                billing_model="fixed_fee",
            ),
        ]

    def test_it_nests_versions_and_milestones(self, objects, reader, client_for) -> None:
        contract = objects[0]
        ContractVersionFactory(contract=contract, version=1, terms={"cap": "1000.00"})
        ContractVersionFactory(contract=contract, version=2, terms={"cap": "2000.00"})
        BillingMilestoneFactory(contract=contract, code="M1")

        data = client_for(reader).get(self.detail_url(contract)).data

        assert [v["version"] for v in data["versions"]] == [1, 2]
        assert data["versions"][1]["terms"] == {"cap": "2000.00"}
        assert [m["code"] for m in data["milestones"]] == ["M1"]


class TestProjectsAPI(ReadOnlyAPITests):
    url = "/api/v1/projects/"
    factory = ProjectFactory
    ordering = "code"
    shows = {
        "contract": "contract.number",
        "customer": "customer.number",
        "legal_entity": "legal_entity.code",
    }
    filter_cases = [
        ({"code": "P-1042"}, 1),
        ({"code__icontains": "p-10"}, 3),
        ({"customer": "C-9001"}, 2),
        ({"contract": "K-1"}, 1),
        ({"legal_entity": "US01"}, 2),
        ({"status": "active"}, 2),
        ({"status": ["closed", "planned"]}, 1),
        ({"billing_hold": "true"}, 1),
        ({"start_date_after": "2025-03-01", "start_date_before": "2025-12-31"}, 1),
    ]

    def create_objects(self):
        us, de = two_entities()
        acme = CustomerFactory(number="C-9001", legal_entity=us)
        return [
            ProjectFactory(code="P-1042", contract=ContractFactory(number="K-1", customer=acme)),
            ProjectFactory(
                code="P-1043",
                contract=ContractFactory(customer=acme),
                billing_hold=True,
                start_date=dt.date(2025, 4, 1),
            ),
            ProjectFactory(
                code="P-1044",
                contract=ContractFactory(customer=CustomerFactory(legal_entity=de)),
                status=ProjectStatus.CLOSED,
            ),
        ]


class TestResourcesAPI(ReadOnlyAPITests):
    url = "/api/v1/resources/"
    factory = ResourceFactory
    ordering = "employee_number"
    shows = {"legal_entity": "legal_entity.code"}
    filter_cases = [
        ({"employee_number": "E-1"}, 1),
        ({"employee_number__icontains": "e-"}, 3),
        ({"name__icontains": "ada"}, 1),
        ({"email": "E-1@EXAMPLE.COM"}, 1),
        ({"role": "Architect"}, 2),
        ({"legal_entity": "DE01"}, 1),
        ({"active": "false"}, 1),
    ]

    def create_objects(self):
        us, de = two_entities()
        return [
            ResourceFactory(employee_number="E-1", name="Ada Lovelace", role="Architect"),
            ResourceFactory(employee_number="E-2", role="Architect", legal_entity=us),
            ResourceFactory(employee_number="E-3", legal_entity=de, active=False),
        ]


class TestAssignmentsAPI(ReadOnlyAPITests):
    url = "/api/v1/assignments/"
    factory = AssignmentFactory
    ordering = "number"
    shows = {"project": "project.code", "resource": "resource.employee_number"}
    filter_cases = [
        ({"number": "A-1"}, 1),
        ({"number__icontains": "a-"}, 3),
        ({"project": "P-1042"}, 2),
        ({"resource": "E-1"}, 1),
        ({"role": "Architect"}, 1),
        ({"start_date_after": "2025-02-01"}, 1),
    ]

    def create_objects(self):
        project = ProjectFactory(code="P-1042")
        return [
            AssignmentFactory(
                number="A-1",
                project=project,
                resource=ResourceFactory(employee_number="E-1"),
                role="Architect",
            ),
            AssignmentFactory(number="A-2", project=project),
            AssignmentFactory(number="A-3", start_date=dt.date(2025, 3, 1)),
        ]


class TestTimeEntriesAPI(ReadOnlyAPITests):
    url = "/api/v1/time-entries/"
    factory = TimeEntryFactory
    ordering = "work_date"
    shows = {
        "project": "project.code",
        "resource": "resource.employee_number",
        "assignment": "assignment.number",
    }
    filter_cases = [
        ({"number": "T-1"}, 1),
        ({"number__icontains": "t-"}, 3),
        ({"project": "P-1042"}, 2),
        ({"resource": "E-1"}, 2),
        ({"assignment": "A-1"}, 2),
        ({"status": "approved"}, 1),
        ({"status": ["approved", "invoiced"]}, 2),
        ({"billable": "false"}, 1),
        ({"invoice": "INV-1"}, 1),
        ({"work_date_after": "2025-01-02"}, 2),
        ({"work_date_before": "2025-01-02"}, 2),
        ({"work_date_after": "2025-01-02", "work_date_before": "2025-01-02"}, 1),
    ]

    def create_objects(self):
        assignment = AssignmentFactory(
            number="A-1",
            project=ProjectFactory(code="P-1042"),
            resource=ResourceFactory(employee_number="E-1"),
        )
        invoice = InvoiceFactory(number="INV-1")
        return [
            TimeEntryFactory(number="T-1", assignment=assignment, work_date=dt.date(2025, 1, 1)),
            TimeEntryFactory(
                number="T-2",
                assignment=assignment,
                work_date=dt.date(2025, 1, 2),
                status=TimeEntryStatus.APPROVED,
                billable=False,
            ),
            TimeEntryFactory(
                number="T-3",
                work_date=dt.date(2025, 1, 3),
                status=TimeEntryStatus.INVOICED,
                invoice=invoice,
            ),
        ]


class TestBillingMilestonesAPI(ReadOnlyAPITests):
    url = "/api/v1/billing-milestones/"
    factory = BillingMilestoneFactory
    ordering = "due_date"
    shows = {"contract": "contract.number"}
    filter_cases = [
        ({"code": "M1"}, 2),
        ({"code__icontains": "m"}, 3),
        ({"contract": "K-1"}, 2),
        ({"project": "P-1042"}, 1),
        ({"status": "reached"}, 1),
        ({"due_date_after": "2025-03-01"}, 1),
    ]

    def create_objects(self):
        contract = ContractFactory(number="K-1")
        return [
            BillingMilestoneFactory(
                contract=contract,
                code="M1",
                due_date=dt.date(2025, 1, 31),
                project=ProjectFactory(code="P-1042", contract=contract),
            ),
            BillingMilestoneFactory(
                contract=contract,
                code="M2",
                due_date=dt.date(2025, 2, 28),
                status=MilestoneStatus.REACHED,
            ),
            BillingMilestoneFactory(code="M1", due_date=dt.date(2025, 6, 30)),
        ]


class TestInvoicesAPI(ReadOnlyAPITests):
    url = "/api/v1/invoices/"
    factory = InvoiceFactory
    ordering = "amount"
    shows = {
        "project": "project.code",
        "customer": "customer.number",
        "legal_entity": "legal_entity.code",
    }
    filter_cases = [
        ({"number": "INV-1"}, 1),
        ({"number__icontains": "inv-"}, 3),
        ({"project": "P-1042"}, 2),
        ({"customer": "C-9001"}, 2),
        ({"legal_entity": "DE01"}, 1),
        ({"status": "posted"}, 1),
        ({"status": ["candidate", "awaiting_approval"]}, 2),
        ({"erp_number": "ERP-77"}, 1),
        ({"period_start_after": "2025-02-01"}, 1),
        ({"period_end_before": "2025-01-31"}, 2),
    ]

    def create_objects(self):
        us, de = two_entities()
        acme = CustomerFactory(number="C-9001", legal_entity=us)
        project = ProjectFactory(code="P-1042", contract=ContractFactory(customer=acme))
        return [
            InvoiceFactory(number="INV-1", project=project, amount=Decimal("100.00")),
            InvoiceFactory(
                number="INV-2",
                project=project,
                period_start=dt.date(2025, 2, 1),
                period_end=dt.date(2025, 2, 28),
                amount=Decimal("200.00"),
                status=InvoiceStatus.POSTED,
                erp_number="ERP-77",
            ),
            InvoiceFactory(
                number="INV-3",
                project=ProjectFactory(
                    contract=ContractFactory(customer=CustomerFactory(legal_entity=de))
                ),
                amount=Decimal("50.00"),
                status=InvoiceStatus.AWAITING_APPROVAL,
            ),
        ]

    def test_it_nests_the_lines_of_an_invoice(self, objects, reader, client_for) -> None:
        entry = TimeEntryFactory(number="T-1", project=objects[0].project)
        InvoiceLineFactory(invoice=objects[0], time_entry=entry, description="Design")

        data = client_for(reader).get(self.detail_url(objects[0])).data

        assert data["lines"] == [
            {
                "description": "Design",
                "time_entry": "T-1",
                "milestone": None,
                "quantity": "8.00",
                "rate": "150.00",
                "amount": "1200.00",
            }
        ]


def test_the_openapi_schema_of_the_canonical_api_is_valid_and_warning_free() -> None:
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(
        patterns=[path("api/v1/", include("controltower.web.api.canonical.urls"))]
    )

    schema = generator.get_schema(request=None, public=True)

    validate_schema(schema)
    assert not GENERATOR_STATS, "drf-spectacular warned about the canonical API"
    assert {"/api/v1/customers/", "/api/v1/time-entries/{id}/"} <= set(schema["paths"])
    parameters = schema["paths"]["/api/v1/time-entries/"]["get"]["parameters"]
    assert {"work_date_after", "work_date_before", "updated_after", "project"} <= {
        p["name"] for p in parameters
    }


# --- Data by role -----------------------------------------------------------------------


def test_nested_rates_and_amounts_are_null_for_a_viewer_and_shown_to_an_approver(
    user_with_role, api_client_for
):
    card = RateCardFactory()
    RateCardLineFactory(rate_card=card, role="Architect", rate=Decimal("210.00"))
    contract = ContractFactory(rate_card=card, cap_amount=Decimal("50000.00"))
    ContractVersionFactory(
        contract=contract,
        terms={"rates": {"Architect": "210.00"}, "cap_amount": "50000.00", "currency": "USD"},
    )
    BillingMilestoneFactory(contract=contract, amount=Decimal("7000.00"))
    line = InvoiceLineFactory(rate=Decimal("150.00"))
    viewer = api_client_for(user_with_role("viewer"))
    operator = api_client_for(user_with_role("operator"))
    approver = api_client_for(user_with_role("approver"))

    for client, hidden in ((viewer, True), (operator, True), (approver, False)):
        card_lines = client.get(f"/api/v1/rate-cards/{card.pk}/").data["lines"]
        found = client.get(f"/api/v1/contracts/{contract.pk}/").data
        invoice = client.get(f"/api/v1/invoices/{line.invoice_id}/").data

        assert card_lines[0]["role"] == "Architect"
        assert (card_lines[0]["rate"] is None) is hidden
        assert (found["cap_amount"] is None) is hidden
        assert (found["milestones"][0]["amount"] is None) is hidden
        terms = found["versions"][0]["terms"]
        assert terms["currency"] == "USD"
        assert terms["rates"] == ({"Architect": None} if hidden else {"Architect": "210.00"})
        assert (terms["cap_amount"] is None) is hidden
        assert (invoice["amount"] is None) is hidden
        assert (invoice["lines"][0]["rate"] is None) is hidden
        assert (invoice["lines"][0]["amount"] is None) is hidden
        assert invoice["lines"][0]["quantity"] == "8.00"


def test_a_viewer_can_neither_find_a_person_by_e_mail_nor_sort_invoices_by_amount(
    user_with_role, api_client_for
):
    ResourceFactory(employee_number="E-1", email="ada@example.com")
    ResourceFactory(employee_number="E-2", email="bob@example.com")
    for number, amount in (("INV-1", "300.00"), ("INV-2", "100.00"), ("INV-3", "200.00")):
        InvoiceFactory(number=number, amount=Decimal(amount))
    viewer = api_client_for(user_with_role("viewer"))
    approver = api_client_for(user_with_role("approver"))

    def emails(client):
        return client.get("/api/v1/resources/", {"email": "ada@example.com"}).data["count"]

    def by_amount(client):
        rows = client.get("/api/v1/invoices/", {"ordering": "amount"}).data["results"]
        return [row["number"] for row in rows]

    assert emails(approver) == 1
    assert emails(viewer) == 2  # the filter is not offered: every resource, masked
    assert by_amount(approver) == ["INV-2", "INV-3", "INV-1"]
    assert by_amount(viewer) == ["INV-1", "INV-2", "INV-3"]  # by number, as by default


def test_the_published_schema_says_a_masked_field_may_be_null(api_client_for, user_with_role):
    schema = api_client_for(user_with_role("viewer")).get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]

    def may_be_null(field: dict) -> bool:  # OpenAPI 3.1: "null" among the types
        return "null" in (field["type"] if isinstance(field.get("type"), list) else [])

    assert may_be_null(components["Resource"]["properties"]["email"])
    assert may_be_null(components["Invoice"]["properties"]["amount"])
    assert may_be_null(components["RateCardLine"]["properties"]["rate"])
    assert not may_be_null(components["Resource"]["properties"]["role"])
