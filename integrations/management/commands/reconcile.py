from __future__ import annotations

from django.core.management.base import BaseCommand

from integrations.services.reconciliation import reconciliation_queue


class Command(BaseCommand):
    help = "Queues a reconciliation run (the ERP's invoices against the tower's) now."

    def handle(self, *args, **options) -> None:
        run = reconciliation_queue()
        self.stdout.write(f"Reconciliation queued as transaction {run.pk}.")
