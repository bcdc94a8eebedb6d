from __future__ import annotations

import argparse
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from integrations.supervisor import Supervisor, WorkerWatch, worker_argv, worker_node


class Command(BaseCommand):
    help = (
        "Runs a Celery worker under a supervisor that sends it heartbeats on its own queue and "
        "replaces it when it exits or stops running them. Options after -- go to "
        "`celery worker` (e.g. -- --concurrency=2 --loglevel=INFO)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--node",
            default="worker@%h",
            help="The worker's node name; %%h is this host (default worker@%%h).",
        )
        parser.add_argument(
            "--queues",
            default=",".join(settings.CELERY_TASK_QUEUES_NAMES),
            help="Comma-separated queues besides its own (default: every flow's and default).",
        )
        parser.add_argument("--heartbeat-seconds", type=float, default=None)
        parser.add_argument("--stall-seconds", type=float, default=None)
        parser.add_argument("--stop-grace", type=float, default=None)
        parser.add_argument("celery_args", nargs=argparse.REMAINDER)

    def handle(self, *args: Any, **options: Any) -> None:
        node = worker_node(options["node"])
        queues = [name for name in options["queues"].split(",") if name]
        supervisor = Supervisor(
            name=node,
            argv=worker_argv(node=node, queues=queues, celery_args=_passed(options)),
            watch=WorkerWatch(
                node=node,
                heartbeat_seconds=options["heartbeat_seconds"],
                stall_seconds=options["stall_seconds"],
            ),
            stop_grace=options["stop_grace"],
        )
        supervisor.run()


def _passed(options: dict[str, Any]) -> list[str]:
    celery_args = list(options["celery_args"] or [])
    return celery_args[1:] if celery_args[:1] == ["--"] else celery_args
