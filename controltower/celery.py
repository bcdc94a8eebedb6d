"""The Celery app. Tasks are thin doors onto services; the database is the source of truth."""

from __future__ import annotations

import os

from celery import Celery
from django.conf import settings
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controltower.settings")

app = Celery("controltower")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.on_configure.connect
def _configure(sender: Celery, **kwargs: object) -> None:
    # The file-system broker needs its folder before the first message.
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        settings.BROKER_DIR.mkdir(parents=True, exist_ok=True)
    # One queue per flow, so a flood in one flow never starves another.
    sender.conf.task_queues = [Queue(name) for name in settings.CELERY_TASK_QUEUES_NAMES]


app.autodiscover_tasks()
