"""Factories of the canonical records: one per model, with readable business keys."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from canonical.choices import (
    BillingModel,
    ContractStatus,
    InvoiceStatus,
    MilestoneStatus,
    ProjectStatus,
    TimeEntryStatus,
)
from canonical.models import (
    Assignment,
    BillingMilestone,
    Contract,
    ContractVersion,
    Customer,
    Invoice,
    InvoiceLine,
    LegalEntity,
    Project,
    RateCard,
    RateCardLine,
    Resource,
    TimeEntry,
)

START = dt.date(2025, 1, 1)


class LegalEntityFactory(DjangoModelFactory):
    class Meta:
        model = LegalEntity

    code = factory.Sequence(lambda n: f"L{n:03}")
    name = factory.Sequence(lambda n: f"Group Company {n}")
    country = "US"
    currency = "USD"
    source_system = "erp"


class CustomerFactory(DjangoModelFactory):
    class Meta:
        model = Customer

    # Apart from the demo's numbers (C-1001 ...) and those tests name.
    number = factory.Sequence(lambda n: f"C-F{n:05d}")
    name = factory.Faker("company")
    legal_entity = factory.SubFactory(LegalEntityFactory)
    currency = factory.SelfAttribute("legal_entity.currency")
    # Codes a factory legal entity's ERP takes: it keeps no list of them.
    tax_code = "TX-STD"
    payment_terms = "NET30"
    source_system = "crm"


class RateCardFactory(DjangoModelFactory):
    class Meta:
        model = RateCard

    code = factory.Sequence(lambda n: f"RC-{n:03}")
    name = factory.Sequence(lambda n: f"Standard rates {n}")
    currency = "USD"
    legal_entity = factory.SubFactory(LegalEntityFactory)


class RateCardLineFactory(DjangoModelFactory):
    class Meta:
        model = RateCardLine

    rate_card = factory.SubFactory(RateCardFactory)
    role = factory.Sequence(lambda n: f"Consultant {n}")
    rate = Decimal("150.00")


class ContractFactory(DjangoModelFactory):
    class Meta:
        model = Contract

    number = factory.Sequence(lambda n: f"K-{5000 + n}")
    customer = factory.SubFactory(CustomerFactory)
    legal_entity = factory.SelfAttribute("customer.legal_entity")
    rate_card = None
    billing_model = BillingModel.TIME_AND_MATERIALS
    currency = factory.SelfAttribute("customer.currency")
    start_date = START
    end_date = None
    status = ContractStatus.SIGNED
    source_system = "clm"


class ContractVersionFactory(DjangoModelFactory):
    class Meta:
        model = ContractVersion

    contract = factory.SubFactory(ContractFactory)
    version = factory.Sequence(lambda n: n + 1)
    terms = factory.LazyAttribute(
        lambda o: {"billing_model": o.contract.billing_model, "currency": o.contract.currency}
    )
    effective_date = factory.SelfAttribute("contract.start_date")


class ProjectFactory(DjangoModelFactory):
    class Meta:
        model = Project

    # Apart from the codes tests name (P-1042): a sequence never runs into them.
    code = factory.Sequence(lambda n: f"P-F{n:05d}")
    name = factory.Sequence(lambda n: f"Project {n}")
    contract = factory.SubFactory(ContractFactory)
    customer = factory.SelfAttribute("contract.customer")
    legal_entity = factory.SelfAttribute("contract.legal_entity")
    status = ProjectStatus.ACTIVE
    start_date = START
    source_system = "psa"


class ResourceFactory(DjangoModelFactory):
    class Meta:
        model = Resource

    employee_number = factory.Sequence(lambda n: f"E-{2000 + n}")
    name = factory.Faker("name")
    email = factory.LazyAttribute(lambda o: f"{o.employee_number.lower()}@example.com")
    role = "Consultant"
    legal_entity = factory.SubFactory(LegalEntityFactory)
    cost_rate = Decimal("80.00")
    source_system = "hris"


class AssignmentFactory(DjangoModelFactory):
    class Meta:
        model = Assignment

    number = factory.Sequence(lambda n: f"A-{3000 + n}")
    project = factory.SubFactory(ProjectFactory)
    resource = factory.SubFactory(ResourceFactory)
    role = factory.SelfAttribute("resource.role")
    start_date = factory.SelfAttribute("project.start_date")
    allocation_percent = 100
    source_system = "psa"


class TimeEntryFactory(DjangoModelFactory):
    class Meta:
        model = TimeEntry

    number = factory.Sequence(lambda n: f"T-{4000 + n}")
    assignment = factory.SubFactory(AssignmentFactory)
    project = factory.SelfAttribute("assignment.project")
    resource = factory.SelfAttribute("assignment.resource")
    work_date = START
    hours = Decimal("8.00")
    status = TimeEntryStatus.SUBMITTED
    source_system = "time"


class BillingMilestoneFactory(DjangoModelFactory):
    class Meta:
        model = BillingMilestone

    contract = factory.SubFactory(ContractFactory, billing_model=BillingModel.MILESTONE)
    project = None
    code = factory.Sequence(lambda n: f"M{n}")
    name = factory.Sequence(lambda n: f"Milestone {n}")
    due_date = factory.LazyAttribute(lambda o: o.contract.start_date + dt.timedelta(days=30))
    amount = Decimal("10000.00")
    status = MilestoneStatus.PLANNED
    source_system = "clm"


class InvoiceFactory(DjangoModelFactory):
    class Meta:
        model = Invoice

    number = factory.Sequence(lambda n: f"INV-{6000 + n}")
    project = factory.SubFactory(ProjectFactory)
    customer = factory.SelfAttribute("project.customer")
    legal_entity = factory.SelfAttribute("project.legal_entity")
    period_start = START
    period_end = dt.date(2025, 1, 31)
    currency = factory.SelfAttribute("customer.currency")
    amount = Decimal("1200.00")
    status = InvoiceStatus.CANDIDATE


class InvoiceLineFactory(DjangoModelFactory):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    description = "Consulting"
    quantity = Decimal("8.00")
    rate = Decimal("150.00")
    amount = factory.LazyAttribute(lambda o: o.quantity * o.rate)
