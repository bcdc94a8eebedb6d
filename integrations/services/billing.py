"""Following posted invoices to payment in the ERP."""

from __future__ import annotations

from django.utils import timezone

from canonical.choices import InvoiceStatus
from canonical.models import Invoice
from integrations.choices import SystemKind
from integrations.clients.erp import ErpClient
from integrations.errors import IntegrationError
from integrations.selectors.sync import sync_state_for, target_system


def invoices_poll(*, limit: int = 200) -> int:
    """Asks the ERP about posted invoices; marks the paid ones. Returns how many were paid."""
    posted = list(Invoice.objects.filter(status=InvoiceStatus.POSTED).order_by("posted_at")[:limit])
    if not posted:
        return 0
    erp_system = target_system(SystemKind.ERP)
    erp = ErpClient(erp_system)
    paid = 0
    for invoice in posted:
        state = sync_state_for(invoice, erp_system)
        if state is None:
            continue
        try:
            status = (erp.get("invoice", state.external_id).get("status") or {}).get("id")
        except IntegrationError:
            continue  # asked again at the next poll
        if status == "paidInFull":
            Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.POSTED).update(
                status=InvoiceStatus.PAID, paid_at=timezone.now()
            )
            paid += 1
    return paid
