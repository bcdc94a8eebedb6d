from __future__ import annotations

from django.apps import AppConfig


class BenchConfig(AppConfig):
    """An app only so that Django finds ``manage.py bench``; it has no models."""

    name = "bench"
    verbose_name = "Benchmark"
