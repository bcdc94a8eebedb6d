"""A real Celery worker process for integration tests, and waiting for its work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def worker_environment(settings_dict: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    if "postgresql" in settings_dict["ENGINE"]:
        user = settings_dict.get("USER") or ""
        password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        env["DATABASE_URL"] = f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"
    else:
        env.pop("DATABASE_URL", None)
        env["CT_SQLITE_PATH"] = str(settings_dict["NAME"])
    return env


class WorkerProcess:
    def __init__(self, env: dict[str, str], *, concurrency: int = 2) -> None:
        self.env = env
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix="ct-worker-", suffix=".log")[1])

    def start(self, *, purge: bool = True) -> None:
        """Starts the worker; ``purge`` drops messages left by earlier tests first."""
        from controltower.celery import app

        if purge:
            app.control.purge()
        self.log.write_text("")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "controltower",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={self.concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname=test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(
            lambda: " ready." in self.log.read_text(),
            timeout=60,
            what="the worker to start",
            on_timeout=self.tail,
        )

    def kill(self) -> None:
        """SIGKILL the worker and its pool: nothing gets to clean up."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # Cold shutdown: the database, not the worker, holds what is unfinished.
        os.killpg(self.process.pid, signal.SIGQUIT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def wait_for(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
    on_timeout: Callable[[], str] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    detail = f"\n{on_timeout()}" if on_timeout else ""
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.{detail}")
