"""The Celery app: settings come from Django's (CELERY_* names), tasks from every app's tasks.py."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("weshop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _drop_inherited_connections(**_kwargs):
    # A forked worker child must not share the parent's database socket.
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.inc_thread_sharing()
        connection.close()
        connection.dec_thread_sharing()
