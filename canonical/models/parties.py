from __future__ import annotations

from typing import ClassVar

from django.db import models

from canonical.choices import AcceptedCodeKind
from canonical.classification import DataClass, Spec
from canonical.models.base import CanonicalRecord, currency_field


class LegalEntity(CanonicalRecord):
    """A company of the group that signs contracts, employs people and sends invoices."""

    code = models.CharField(max_length=20, unique=True, help_text="Business key, e.g. US01.")
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166 alpha-2 code, e.g. US.")
    currency = currency_field()
    active = models.BooleanField(default=True, help_text="Inactive entities take no new records.")

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "legal entities"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Customer(CanonicalRecord):
    """A client the group bills, as mastered in the CRM."""

    number = models.CharField(max_length=40, unique=True, help_text="Business key, e.g. C-1001.")
    name = models.CharField(max_length=200)
    legal_entity = models.ForeignKey(
        LegalEntity,
        on_delete=models.PROTECT,
        related_name="customers",
        help_text="The group company that contracts with and bills this customer.",
    )
    currency = currency_field()
    active = models.BooleanField(default=True)
    billing_hold = models.BooleanField(
        default=False, help_text="While set, no invoice is sent to this customer."
    )
    tax_code = models.CharField(
        max_length=40,
        blank=True,
        help_text="Tax code its invoices carry, one its legal entity's ERP accepts.",
    )
    payment_terms = models.CharField(
        max_length=40,
        blank=True,
        help_text="Payment terms its invoices carry, e.g. NET30; a contract may name others.",
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        help_text="The bill-to account: its invoices are addressed to the parent, if set.",
    )

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class Resource(CanonicalRecord):
    """A consultant who can be staffed on projects, as mastered in the HRIS."""

    employee_number = models.CharField(
        max_length=40, unique=True, help_text="Business key from the HRIS, e.g. E-2001."
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=100, help_text="Role used to look up rate-card rates.")
    legal_entity = models.ForeignKey(
        LegalEntity,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resources",
        help_text="The employing group company.",
    )
    cost_rate = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="Hourly cost."
    )
    skills = models.JSONField(
        default=list,
        blank=True,
        help_text="What the person can do, from the HRIS (lower case, each once).",
    )
    active = models.BooleanField(default=True)

    data_classes: ClassVar[Spec] = {
        "name": DataClass.PERSONAL,
        "email": DataClass.PERSONAL,
        "cost_rate": DataClass.PRICING,
    }

    class Meta:
        ordering = ["employee_number"]
        permissions = [
            ("see_personal", "Can see personal data: people's names and e-mails"),
        ]

    def __str__(self) -> str:
        # By the business key alone: a person's name is personal data, and a record's name
        # travels wherever it is printed (messages, exceptions, the audit log).
        return self.employee_number


class AcceptedCode(CanonicalRecord):
    """A tax code or payment terms a legal entity's ERP accepts on an invoice.

    Synced from the ERP that owns the legal entity (``manage.py accepted_codes_sync``) or
    kept by hand in the admin. A legal entity with no code of a kind has no list of that
    kind: the tower leaves the code's check to the ERP.
    """

    legal_entity = models.ForeignKey(
        LegalEntity, on_delete=models.CASCADE, related_name="accepted_codes"
    )
    kind = models.CharField(max_length=20, choices=AcceptedCodeKind.choices)
    code = models.CharField(max_length=40, help_text="As customers and contracts name it.")
    name = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(
        default=True, help_text="An inactive code is refused on new invoices."
    )

    class Meta:
        ordering = ["legal_entity__code", "kind", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "kind", "code"], name="canonical_acceptedcode_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.legal_entity.code} {self.get_kind_display()} {self.code}"
