"""A real HTTP receiver on loopback that records every post, for chat-webhook and event
subscription tests.

It can be told to fail its next N posts (with a status and headers), to be down (503 to
everything until it is up again) or to answer slowly, so retries and concurrent senders
are tested over real HTTP. Each post keeps its raw body, so a signature can be checked.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: dict
    status: int
    raw: bytes = b""

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Receiver:
    posts: list[Post] = field(default_factory=list)
    delay_seconds: float = 0.0
    down: bool = False
    _failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook") -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def fail_next(self, count: int, *, status: int = 500, headers: dict | None = None) -> None:
        with self._lock:
            self._failures.extend([(status, headers or {})] * count)

    def accepted(self, path: str | None = None) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if p.accepted and (path is None or p.path == path)]

    def _answer(self) -> tuple[int, dict[str, str]]:
        with self._lock:
            if self.down:
                return 503, {}
            return self._failures.pop(0) if self._failures else (200, {})

    def _record(self, post: Post) -> None:
        with self._lock:
            self.posts.append(post)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                status, headers = receiver._answer()
                receiver._record(
                    Post(self.path, dict(self.headers), json.loads(raw or b"{}"), status, raw)
                )
                body = b'{"ok": true}' if status < 300 else b'{"error": "try later"}'
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll: stopping the receiver (at each test's end) waits for one poll.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def running_receiver() -> Iterator[Receiver]:
    """For a fixture: ``yield from running_receiver()``."""
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (just released by the kernel)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
