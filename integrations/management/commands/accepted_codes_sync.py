from __future__ import annotations

from django.core.management.base import BaseCommand

from integrations.services.accepted_codes import accepted_codes_sync


class Command(BaseCommand):
    help = (
        "Refreshes the tax codes and payment terms each legal entity's ERP accepts, "
        "from the ERP that owns it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "legal_entities", nargs="*", help="Legal entity codes; all active ones if none."
        )

    def handle(self, *args, **options) -> None:
        result = accepted_codes_sync(legal_entity_codes=options["legal_entities"] or None)
        for key, change in sorted(result.changed.items()):
            self.stdout.write(
                f"{key}: {change.added} added, {change.changed} changed, "
                f"{change.deactivated} made inactive."
            )
        for code, failure in sorted(result.failed.items()):
            self.stderr.write(f"{code}: not synced: {failure}")
        self.stdout.write(f"{result.released} parked invoice(s) sent to try again.")
