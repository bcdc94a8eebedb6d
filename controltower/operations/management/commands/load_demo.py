from __future__ import annotations

from django.core.management.base import BaseCommand

from controltower.operations.demo import demo_load, demo_operations_load


class Command(BaseCommand):
    help = "Loads the demo configuration (systems, flows, master data, users, teams, SLAs). Safe to run again."

    def handle(self, *args, **options) -> None:
        summary = demo_load()
        teams = demo_operations_load()
        self.stdout.write(
            f"Demo ready: {summary.systems} systems, {summary.legal_entities} legal entities, "
            f"{summary.customers} customers, {teams} teams. Users: {', '.join(summary.users)}"
        )
