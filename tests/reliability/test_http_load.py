"""The HTTP load bench at a small size, in the suite: gunicorn on loopback with its own
PostgreSQL database, a real Celery worker on Redis, 4 client processes filing, submitting
and approving payment requests against 3 hot indicators with too little authority for
all of them. 0 lost, 0 overspent, every answer matching the database, verify_ledger OK."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.workers import ensure_redis

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


def test_a_small_http_load_loses_nothing_and_overspends_nothing():
    ensure_redis()
    db = f"sf_r9_http_t{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "bench" / "reliability_http_load.py"), "--requests", "160",
         "--clients", "4", "--gunicorn-workers", "2", "--authority", "2500.00", "--db", db,
         "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, proc.stdout[-2000:] + proc.stderr[-3000:]
    f = json.loads(lines[-1])
    assert f["failures"] == [], f
    assert proc.returncode == 0
    assert f["sent"] == 160 and f["answered"] + f["unanswered_but_stored"] == 160
    assert (f["lost"], f["overspends"], f["mismatch"], f["unexpected"]) == (0, 0, 0, 0)
    # the indicators ran short: both outcomes happened, and they add up
    assert f["approved"] > 0 and f["refused_short"] > 0
    assert f["approved"] + f["refused_short"] == 160
    assert f["verify_ledger"] == "OK"
    assert f["monitoring_tasks_succeeded"] >= f["approved"]  # the worker did its part
