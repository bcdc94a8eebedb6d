"""Sends realistic signed canonical events, good and bad, to a tower's inbound API.

    python manage.py generate_traffic --contracts 5 --days 10 --volume 4 --error-share 0.1 \\
        [--tower-url http://127.0.0.1:8000] [--seed 7] [--batch 100] [--start 2026-11-02] \\
        [--ends-days-ago 6] [--dry-run] [--out var/demo-history.json]

The events come from ``simulator.traffic`` (the same seed gives the same events); each
request is one signed JSON array from the system that owns the events (clm, psa, hris,
crm). Prints what was sent and the tower's answers by status code; the last line is one
JSON object. Exits non-zero if the tower refused a request.

``--out`` writes the requests to a file instead of sending them (system, phase and events
of each, in sending order), for the tower's ``load_history`` to take in as if over days.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from simulator.choices import ERP_SLUGS
from simulator.services import (
    TOWER_TIMEOUT,
    erp_codes_seed,
    events_send,
    system_get,
    tower_url_default,
)
from simulator.traffic import traffic_build, window_start


def _share(value: str) -> float:
    share = float(value)
    if not 0 <= share <= 1:
        raise ValueError(value)
    return share


def _wait_for(tower_url: str, *, seconds: float) -> None:
    """Waits until the tower answers, for a generator started beside it."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{tower_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise CommandError(f"The tower at {tower_url} did not answer within {seconds:.0f} s.")
        time.sleep(0.5)


class Command(BaseCommand):
    help = (
        "Sends realistic signed canonical events (a share of them bad) to the tower's inbound API."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contracts", type=int, default=5, help="Contracts signed (5).")
        parser.add_argument(
            "--days", type=int, default=5, help="Working days of approved time (5)."
        )
        parser.add_argument(
            "--volume", type=int, default=4, help="Time entries per contract and day (4)."
        )
        parser.add_argument(
            "--error-share",
            type=_share,
            default=0.1,
            help="Bad scenarios as a share of the good events, 0 to 1 (0.1).",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            help="Seconds to wait for the tower to answer /healthz before sending (0).",
        )
        parser.add_argument(
            "--tower-url",
            default=None,
            help="The tower (CT_TOWER_URL, else http://127.0.0.1:8000).",
        )
        parser.add_argument(
            "--phase-pause",
            type=float,
            default=1.0,
            help="Seconds between phases (1), so that the tower has applied one before the next "
            "arrives: a project is closed before time on it comes in, as it would be in the PSA. "
            "Raise it with the volume.",
        )
        parser.add_argument("--seed", type=int, default=None, help="Random seed (a new one).")
        parser.add_argument("--batch", type=int, default=100, help="Events per request (100).")
        parser.add_argument(
            "--start",
            type=date.fromisoformat,
            default=None,
            help="First working day of the time (default: so that the last one is before today).",
        )
        parser.add_argument(
            "--ends-days-ago",
            type=int,
            default=0,
            help="Without --start: the time ends this many days before today, so that what "
            "follows it (approvals, late and repeated events) has happened by today too (0).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Build and count; send nothing.")
        parser.add_argument(
            "--out",
            default=None,
            help="Write the requests to this JSON file instead of sending them (the ERP's "
            "accepted codes are seeded as for a send).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["contracts"] < 0 or options["volume"] < 0 or options["days"] < 1:
            raise CommandError("--contracts and --volume must be 0 or more, --days 1 or more.")
        if not 1 <= options["batch"] <= 1000:
            raise CommandError("--batch must be from 1 to 1000.")
        seed = (
            options["seed"]
            if options["seed"] is not None
            else random.SystemRandom().randrange(10**6)
        )
        if options["ends_days_ago"] < 0:
            raise CommandError("--ends-days-ago must be 0 or more.")
        end = timezone.localdate() - timedelta(days=options["ends_days_ago"])
        start = options["start"] or window_start(end=end, days=options["days"])
        plan = traffic_build(
            contracts=options["contracts"],
            days=options["days"],
            volume=options["volume"],
            error_share=options["error_share"],
            seed=seed,
            start=start,
        )
        requests = plan.requests(batch_size=options["batch"])
        tower_url = (options["tower_url"] or tower_url_default()).rstrip("/")

        statuses: Counter[str] = Counter()
        accepted = duplicates = 0
        refusals: list[str] = []
        began = time.monotonic()
        if options["wait"] and not options["dry_run"]:
            _wait_for(tower_url, seconds=options["wait"])
        if options["out"]:
            for slug in ERP_SLUGS:
                erp_codes_seed(system=system_get(slug=slug))
            Path(options["out"]).write_text(
                json.dumps(
                    {
                        "seed": seed,
                        "start": start.isoformat(),
                        "requests": [
                            {"system": r.system, "phase": r.phase, "events": r.events}
                            for r in requests
                        ],
                    }
                )
            )
            self.stdout.write(
                f"Wrote {len(plan.events)} events in {len(requests)} requests to "
                f"{options['out']}; seed {seed}, time from {start.isoformat()}."
            )
            return
        if not options["dry_run"]:
            # The codes the demo customers' invoices carry, as the ERP instances accept them.
            for slug in ERP_SLUGS:
                erp_codes_seed(system=system_get(slug=slug))
            with httpx.Client(timeout=TOWER_TIMEOUT) as client:
                for previous, request in zip([None, *requests], requests, strict=False):
                    if previous is not None and previous.phase != request.phase:
                        time.sleep(max(options["phase_pause"], 0))
                    try:
                        answer = events_send(
                            system_slug=request.system,
                            events=request.events,
                            tower_url=tower_url,
                            client=client,
                        )
                    except httpx.HTTPError as exc:
                        raise CommandError(
                            f"The tower at {tower_url} did not answer: {exc!r}"
                        ) from exc
                    statuses[str(answer.status_code)] += 1
                    body = _json(answer)
                    if answer.status_code in (200, 202):
                        accepted += int(body.get("accepted", 0))
                        duplicates += int(body.get("duplicates", 0))
                    else:
                        refusals.append(
                            f"{request.system} {answer.status_code}: "
                            f"{body.get('message') or body.get('reason') or answer.text[:200]}"
                        )
        elapsed = time.monotonic() - began

        by_type = dict(sorted(plan.count_by_type().items()))
        by_scenario = dict(sorted(plan.count_by_scenario().items()))
        self.stdout.write(
            f"{'Built' if options['dry_run'] else 'Sent'} {len(plan.events)} events "
            f"({plan.unique_event_count} unique) in {len(requests)} requests"
            f"{'' if options['dry_run'] else f' to {tower_url}'}; seed {seed}, "
            f"time from {start.isoformat()}."
        )
        self.stdout.write("  by type:     " + ", ".join(f"{k} {v}" for k, v in by_type.items()))
        self.stdout.write("  by scenario: " + ", ".join(f"{k} {v}" for k, v in by_scenario.items()))
        if not options["dry_run"]:
            self.stdout.write(
                "  answers:     "
                + ", ".join(f"{code} x{n}" for code, n in sorted(statuses.items()))
                + f"; accepted {accepted}, duplicates {duplicates}, in {elapsed:.1f} s"
            )
            for refusal in refusals[:10]:
                self.stdout.write(self.style.ERROR(f"  refused: {refusal}"))
        self.stdout.write(
            json.dumps(
                {
                    "seed": seed,
                    "start": start.isoformat(),
                    "tower_url": tower_url,
                    "events": len(plan.events),
                    "unique_events": plan.unique_event_count,
                    "requests": len(requests),
                    "by_type": by_type,
                    "by_scenario": by_scenario,
                    "status_counts": dict(sorted(statuses.items())),
                    "accepted": accepted,
                    "duplicates": duplicates,
                    "refused": len(refusals),
                    "dry_run": options["dry_run"],
                },
                sort_keys=False,
            )
        )
        if refusals:
            raise CommandError(f"The tower refused {len(refusals)} request(s).")


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
