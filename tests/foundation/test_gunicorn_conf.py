"""gunicorn.conf.py's worker hook: start-up objects frozen out of the garbage collector's sight and
the youngest generation collected less often (run in a fresh interpreter, as a worker would)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_freezes_its_start_up_objects_and_collects_less_often():
    script = (
        "import gc, runpy; conf = runpy.run_path('gunicorn.conf.py'); "
        "before = gc.get_threshold(); conf['post_worker_init'](None); "
        "print(before[0], gc.get_threshold()[0], gc.get_freeze_count() > 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["700", "7000", "True"]
