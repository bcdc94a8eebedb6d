from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from integrations.supervisor import Supervisor, beat_argv


class Command(BaseCommand):
    help = (
        "Runs Celery beat under a supervisor that starts it again when it exits. Beat records "
        "its own heartbeat and runs the sweep (integrations.scheduler). Options after -- go "
        "to `celery beat`. Run one beat per tower."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stop-grace", type=float, default=None)
        parser.add_argument("celery_args", nargs=argparse.REMAINDER)

    def handle(self, *args: Any, **options: Any) -> None:
        celery_args = list(options["celery_args"] or [])
        if celery_args[:1] == ["--"]:
            celery_args = celery_args[1:]
        Supervisor(
            name="beat", argv=beat_argv(celery_args=celery_args), stop_grace=options["stop_grace"]
        ).run()
