"""gunicorn settings: the server configuration `make bench` measures, used by the container image, docker
compose's web service and every gunicorn started in this folder (gunicorn loads ./gunicorn.conf.py by
itself). Flags on the command line win over these.

Threaded workers: a request spends much of its time waiting for PostgreSQL and Redis, and the threads
of a worker overlap those waits, while a slow client holds only one thread. Two processes per core
with 2 threads each beat one per core with 4 (fewer threads queue for each process's GIL; measured
with `make bench`'s checkout on 2 cores). Sizes come from the environment (WEB_WORKERS, WEB_THREADS).
"""

import os

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS") or 2 * (os.cpu_count() or 1))
threads = int(os.environ.get("WEB_THREADS") or 2)
# Open connections one worker takes at most (gunicorn's default, 1000, unless set). `make bench` sets
# it to its connections over the workers: see tests/load/bench.py for why.
worker_connections = int(os.environ.get("WEB_WORKER_CONNECTIONS") or 1000)
backlog = 2048
