"""Real Celery workers for the reliability tests: Redis on loopback (started if down), a
worker subprocess on the pytest-django test database, and a producer that sends to it.
Each test run has its own Redis key prefix, so parallel runs do not take each other's
messages."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port",
               "6379", "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
               "--logfile", "/var/log/redis/ci.log"]


def redis_up(url: str = "redis://127.0.0.1:6379/0") -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_redis() -> None:
    """Redis at 127.0.0.1:6379, started when it is down; skip (with the reason) if it
    cannot be started."""
    if redis_up():
        return
    try:
        subprocess.run(REDIS_START, check=True, capture_output=True, timeout=20)  # noqa: S603
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"needs Redis at 127.0.0.1:6379 and it could not be started: {exc}")
    for _ in range(50):
        if redis_up():
            return
        time.sleep(0.1)
    pytest.skip("needs Redis at 127.0.0.1:6379: started redis-server but it does not answer")


def database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    return (f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
            f"/{s['NAME']}")


class Workers:
    """Start, watch and SIGKILL `celery worker` processes of one test."""

    def __init__(self, media_root: Path, log_dir: Path, queues: str) -> None:
        run = uuid.uuid4().hex[:10]
        self.prefix = f"sf-r9-{run}:"
        self.broker = f"redis://127.0.0.1:6379/{os.getpid() % 14 + 2}"
        self.queues = queues
        self.log_dir = log_dir
        self.env = {**os.environ, "DATABASE_URL": database_url(), "MEDIA_ROOT": str(media_root),
                    "CELERY_BROKER_URL": self.broker, "CELERY_RESULT_BACKEND": self.broker,
                    "CELERY_KEY_PREFIX": self.prefix, "CELERY_VISIBILITY_TIMEOUT": "4",
                    "CELERY_RESTORE_EVERY": "1",
                    "PAYMENTS_STATEMENT_CHUNK": "500", "DB_CONN_MAX_AGE": "0"}
        self.procs: list[subprocess.Popen] = []
        self.producer = Celery("sf-r9-producer", broker=self.broker, set_as_current=False)
        self.producer.conf.broker_transport_options = {"global_keyprefix": self.prefix}
        self.producer.conf.result_backend = None

    def start(self) -> subprocess.Popen:
        n = len(self.procs) + 1
        log = self.log_dir / f"worker{n}.log"
        cmd = [str(ROOT / ".venv" / "bin" / "celery"), "-A", "config", "worker", "-Q",
               self.queues, "--pool=solo", "-n", f"r9w{n}-{self.prefix[6:-1]}@%h",
               "--without-gossip", "--without-mingle", "--loglevel=INFO"]
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out,  # noqa: S603
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"celery worker exited {proc.returncode}: {log.read_text()[-2000:]}")
            if b" ready." in log.read_bytes():
                return proc
            time.sleep(0.2)
        pytest.fail(f"celery worker not ready in 60 s: {log.read_text()[-2000:]}")
        raise AssertionError  # unreachable

    def send(self, name: str, queue: str, **kwargs: object) -> None:
        self.producer.send_task(name, kwargs=kwargs, queue=queue)

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """SIGKILL the worker and everything it started: no cleanup code runs."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc)
        # the killed workers' database sessions end with their sockets; wait for that so
        # the test database can be flushed and dropped
        with connection.cursor() as cur:
            for _ in range(100):
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND pid <> pg_backend_pid()")
                if cur.fetchone()[0] == 0:
                    break
                time.sleep(0.1)
        try:
            r = redis.Redis.from_url(self.broker)
            keys = list(r.scan_iter(f"{self.prefix}*"))
            if keys:
                r.delete(*keys)
        except redis.RedisError:
            pass
        self.producer.close()


def wait_for(check, timeout: float, what: str, every: float = 0.02):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
    return None
