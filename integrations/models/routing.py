from __future__ import annotations

from django.db import models

from integrations.choices import SystemKind


class ErpRoute(models.Model):
    """Which ERP instance owns a legal entity's books: its customers, projects and invoices
    are written there and nowhere else.

    A firm with one ERP routes nothing: every legal entity goes to it. A firm that runs
    one ERP per region routes each legal entity to its instance.
    """

    legal_entity = models.OneToOneField(
        "canonical.LegalEntity",
        on_delete=models.CASCADE,
        related_name="erp_route",
        help_text="The legal entity whose books the ERP keeps.",
    )
    system = models.ForeignKey(
        "integrations.ConnectedSystem",
        on_delete=models.PROTECT,
        related_name="erp_routes",
        limit_choices_to={"kind": SystemKind.ERP},
        help_text="The ERP instance that owns the legal entity.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["legal_entity__code"]
        verbose_name = "ERP route"

    def __str__(self) -> str:
        return f"{self.legal_entity.code} → {self.system.slug}"
