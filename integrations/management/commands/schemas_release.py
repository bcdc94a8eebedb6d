from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from integrations.schemas.compat import BreakingChange, schemas_release
from integrations.schemas.registry import RELEASED_DIR


class Command(BaseCommand):
    help = (
        "Copies the canonical schema files to integrations/schemas/released/, the copy the "
        "contract tests compare them with; refuses while a released version is changed in a "
        "way that refuses events it accepted."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--released",
            type=Path,
            default=RELEASED_DIR,
            help="The directory of the released copy (integrations/schemas/released/).",
        )

    def handle(self, *args, **options) -> None:
        try:
            names = schemas_release(released=options["released"])
        except BreakingChange as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Released {len(names)} schema files to {options['released']}.")
