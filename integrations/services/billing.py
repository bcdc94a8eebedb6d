"""Following posted invoices to payment in the ERP."""

from __future__ import annotations

from django.utils import timezone

from canonical.choices import InvoiceStatus
from canonical.models import Invoice
from integrations.clients.erp import ErpClient
from integrations.errors import IntegrationError
from integrations.selectors.routing import erp_for_or_none
from integrations.selectors.sync import sync_state_for


def invoices_poll(*, limit: int = 200) -> int:
    """Asks each invoice's ERP (the instance that owns its legal entity) about posted
    invoices; marks the paid ones. Returns how many were paid."""
    posted = list(
        Invoice.objects.filter(status=InvoiceStatus.POSTED)
        .select_related("legal_entity")
        .order_by("posted_at")[:limit]
    )
    if not posted:
        return 0
    clients: dict[str, ErpClient | None] = {}
    paid = 0
    for invoice in posted:
        code = invoice.legal_entity.code
        if code not in clients:
            system = erp_for_or_none(code)
            clients[code] = ErpClient(system) if system is not None else None
        erp = clients[code]
        if erp is None:
            continue  # asked again once the legal entity has its ERP
        state = sync_state_for(invoice, erp.system)
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
