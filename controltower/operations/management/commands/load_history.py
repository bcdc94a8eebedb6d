from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from controltower.operations.history import history_load, history_read


class Command(BaseCommand):
    help = (
        "Takes in a file of the systems' requests (generate_traffic --out) as if they had "
        "arrived over the last days: stored, processed, swept and partly resolved day by day."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The file generate_traffic --out wrote.")
        parser.add_argument(
            "--history-days", type=int, default=30, help="Days the requests are spread over (30)."
        )

    def handle(self, *args, **options) -> None:
        try:
            requests = history_read(options["path"])
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {options['path']}: {exc}") from exc
        summary = history_load(requests=requests, days=options["history_days"])
        self.stdout.write(json.dumps(summary.as_dict()))
