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


def post_worker_init(worker):
    """Once a worker has loaded the application: the objects of its start-up (modules, URL patterns,
    templates, settings) live as long as the process, so they are moved out of the cyclic garbage
    collector's sight (gc.freeze), and the youngest generation is collected after 7,000 allocations
    instead of 700. A request allocates thousands of short-lived objects; collecting them ten times
    less often took a buy-now's CPU down by about 4% (in-process, runs with and without in turns),
    for a few hundred kilobytes more of garbage waiting at any time."""
    import gc

    gc.freeze()
    gc.set_threshold(7000, 10, 10)
