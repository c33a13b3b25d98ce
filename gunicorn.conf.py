"""gunicorn settings: the one server configuration, read by every `gunicorn config.wsgi` started in
this folder (gunicorn loads ./gunicorn.conf.py by itself): the container image, docker-compose's web
service and `make bench`. Flags on the command line still win over these.

Threaded workers: a request spends much of its time waiting for PostgreSQL and Redis, and the threads
of a worker overlap those waits, while a slow client holds only one thread. Sizes come from the
environment (WEB_WORKERS, WEB_THREADS) and default to one worker per core with 4 threads each.
"""

import os

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS") or os.cpu_count() or 2)
threads = int(os.environ.get("WEB_THREADS") or 4)
backlog = 2048
