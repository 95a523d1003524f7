"""The Celery application shared by the worker, beat and every process that enqueues work."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("fusebox")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
