"""A tower for a run: the database made ready (migrated, the demo loaded) for either case, and
for the ingest case an ASGI server and a Celery worker started beside the bench on the same
database and broker, and stopped after it whatever happens.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from django.conf import settings
from django.core.management import call_command
from psycopg import sql

from bench.base import BenchError, Report
from controltower.celery import app as celery_app

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


def prepare_database(report: Report) -> None:
    """Creates the PostgreSQL database when missing, then migrates and loads the demo."""
    if settings.DATABASE_VENDOR == "postgresql":
        _create_postgres_database(report)
    report("Migrating and loading the demo configuration ...")
    call_command("migrate", interactive=False, verbosity=0)
    call_command("load_demo", stdout=io.StringIO())


def _create_postgres_database(report: Report) -> None:
    db = settings.DATABASES["default"]
    params = {
        "dbname": "postgres",
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone()
        if not exists:
            report(f"Creating the PostgreSQL database {db['NAME']!r} ...")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ChildProcess:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- last lines of the {self.name} log ({self.log}) ---\n" + "\n".join(
            text.splitlines()[-lines:]
        )

    def stop(self) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except ProcessLookupError:
            pass


def _spawn(name: str, args: list[str], log_dir: Path) -> ChildProcess:
    log = log_dir / f"{name}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ChildProcess(name=name, process=process, log=log)


def _wait_ready(child: ChildProcess, ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if ready():
            return
        if not child.alive():
            raise BenchError(f"The {child.name} exited while starting.\n{child.tail()}")
        time.sleep(0.2)
    raise BenchError(f"Timed out waiting for {what}.\n{child.tail()}")


def healthz(base_url: str) -> dict[str, Any] | None:
    try:
        response = httpx.get(f"{base_url}/healthz", timeout=2)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def purge_broker() -> int:
    """Drops the messages waiting in the tower's queues (a run measures only its own)."""
    # kombu warns that a filesystem:// URL names no host; nothing is wrong.
    kombu_log = logging.getLogger("kombu.connection")
    level = kombu_log.level
    kombu_log.setLevel(logging.ERROR)
    try:
        return celery_app.control.purge() or 0
    finally:
        kombu_log.setLevel(level)


@contextmanager
def local_tower(
    *, concurrency: int, report: Report, workers: int = 1
) -> Iterator[tuple[str, list[ChildProcess]]]:
    """An ASGI server and ``workers`` Celery workers for the run, each under its own node name
    as on a machine of its own; stopped on the way out, whatever happens."""
    purged = purge_broker()
    if purged:
        report(f"Purged {purged:,} messages left in the broker queues.")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    children: list[ChildProcess] = []
    with tempfile.TemporaryDirectory(prefix="ct-bench-") as folder:
        log_dir = Path(folder)
        try:
            report(
                f"Starting {workers} worker{'s' if workers > 1 else ''} (concurrency "
                f"{concurrency} each) and a server on port {port} ..."
            )
            for number in range(1, workers + 1):
                name = "worker" if workers == 1 else f"worker{number}"
                worker = _spawn(
                    name,
                    [
                        "celery", "-A", "controltower", "worker",
                        f"--concurrency={concurrency}",
                        # " ready." is logged at INFO: at WARNING nothing tells that the worker is up.
                        "--loglevel=INFO",
                        "--without-gossip", "--without-mingle", "--without-heartbeat",
                        f"--hostname=bench-{os.getpid()}-{name}@%h",
                    ],
                    log_dir,
                )  # fmt: skip
                children.append(worker)
            server = _spawn(
                "server",
                [
                    "uvicorn", "controltower.asgi:application",
                    "--host", "127.0.0.1", "--port", str(port),
                    "--no-access-log", "--log-level", "warning",
                ],
                log_dir,
            )  # fmt: skip
            children.append(server)
            _wait_ready(server, lambda: healthz(base_url) is not None, "the server to answer")
            for worker in children[:-1]:
                _wait_ready(
                    worker,
                    lambda worker=worker: " ready." in worker.log.read_text(errors="replace"),
                    f"the {worker.name}",
                )
            yield base_url, children
        finally:
            for child in reversed(children):
                child.stop()
