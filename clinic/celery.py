"""The Celery app: Redis broker, JSON only, late acknowledgement, explicit time limits.

Configuration comes from Django settings prefixed `CELERY_` (see clinic/settings.py). Two queues
keep long analyses from starving small jobs: "analysis" and "housekeeping"; run a worker per
queue (`celery -A clinic worker -Q analysis`), as many as the machine has cores for.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("moodline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("analysis"), Queue("housekeeping"))
app.autodiscover_tasks()

# Importing the module connects the worker heartbeat that /healthz reads.
import clinic.heartbeat  # noqa: E402, F401
