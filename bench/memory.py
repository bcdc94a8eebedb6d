"""The worker processes' memory at the end of a run, read from ``/proc`` (Linux).

A Celery worker is a main process and its pool processes (prefork); each one's peak
resident set (``VmHWM``) and present one (``VmRSS``) are read, so that "memory after N
events" is printed with every ingest run and a growth per event shows as a rising peak.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.tower import ChildProcess

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessMemory:
    pid: int
    peak_mb: float
    now_mb: float


def _status_kb(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        text = (PROC / str(pid) / "status").read_text()
    except OSError:
        return values
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            values[name] = int(rest.split()[0])
    return values


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in brackets may hold spaces: the parent pid follows the last ")".
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def process_tree_memory(pid: int) -> list[ProcessMemory]:
    """The process and every descendant still running, first the process itself."""
    memory = []
    pending = [pid]
    while pending:
        current = pending.pop(0)
        status = _status_kb(current)
        if status:
            memory.append(
                ProcessMemory(
                    pid=current,
                    peak_mb=status.get("VmHWM", 0) / 1024,
                    now_mb=status.get("VmRSS", 0) / 1024,
                )
            )
        pending.extend(_children_of(current))
    return memory


def worker_memory_notes(children: list[ChildProcess], *, events: int) -> list[str]:
    """One line per worker the bench started: its processes' peak and present RSS."""
    if not PROC.is_dir():
        return ["worker memory not measured: no /proc on this system"]
    notes = []
    for child in children:
        if not child.name.startswith("worker") or not child.alive():
            continue
        tree = process_tree_memory(child.process.pid)
        if not tree:
            continue
        main, pool = tree[0], tree[1:]
        # `python -m celery` runs celery in the spawned process itself: the main process is it.
        line = f"{child.name} RSS after {events:,} events: main {main.peak_mb:,.0f} MB peak"
        if pool:
            line += (
                f", {len(pool)} pool processes {max(p.peak_mb for p in pool):,.0f} MB peak "
                f"the largest ({', '.join(f'{p.now_mb:,.0f}' for p in pool)} MB now)"
            )
        line += f"; {sum(p.now_mb for p in tree):,.0f} MB in all now"
        notes.append(line)
    return notes
