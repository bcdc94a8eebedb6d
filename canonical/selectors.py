"""Reads of the canonical records."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from canonical.models import (
    Assignment,
    BillingMilestone,
    Contract,
    Customer,
    Invoice,
    InvoiceLine,
    LegalEntity,
    Project,
    RateCard,
    Resource,
    TimeEntry,
)


def legal_entity_get(*, code: str) -> LegalEntity | None:
    return LegalEntity.objects.filter(code=code.strip().upper()).first()


def customer_get(*, number: str) -> Customer | None:
    return (
        Customer.objects.select_related("legal_entity")
        .filter(number=number.strip().upper())
        .first()
    )


def legal_entity_list() -> QuerySet[LegalEntity]:
    return LegalEntity.objects.all()


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.select_related("legal_entity")


def rate_card_list() -> QuerySet[RateCard]:
    return RateCard.objects.select_related("legal_entity").prefetch_related("lines")


def contract_list() -> QuerySet[Contract]:
    return Contract.objects.select_related(
        "customer", "legal_entity", "rate_card"
    ).prefetch_related("versions", "milestones")


def project_list() -> QuerySet[Project]:
    return Project.objects.select_related("contract", "customer", "legal_entity")


def resource_list() -> QuerySet[Resource]:
    return Resource.objects.select_related("legal_entity")


def assignment_list() -> QuerySet[Assignment]:
    return Assignment.objects.select_related("project", "resource")


def time_entry_list() -> QuerySet[TimeEntry]:
    return TimeEntry.objects.select_related("project", "resource", "assignment", "invoice")


def billing_milestone_list() -> QuerySet[BillingMilestone]:
    return BillingMilestone.objects.select_related("contract", "project")


def invoice_list() -> QuerySet[Invoice]:
    lines = InvoiceLine.objects.select_related("time_entry", "milestone")
    return Invoice.objects.select_related(
        "project", "customer", "legal_entity", "prepared_by", "approved_by"
    ).prefetch_related(Prefetch("lines", queryset=lines))
