"""gunicorn settings (`gunicorn config.wsgi -c config/gunicorn.py`, as the Procfile runs
it); every figure can be set from the environment.

- WEB_CONCURRENCY: worker processes (default 2 × cores + 1). The app is synchronous and
  spends most of a request waiting on PostgreSQL, so more workers than cores pay off; each
  worker keeps its own database connection (DB_CONN_MAX_AGE), so workers × hosts must stay
  below PostgreSQL's max_connections.
- GUNICORN_THREADS: threads per worker (default 1: plain sync workers).
- PORT: the port to listen on (default 8000), on every interface; behind the TLS proxy.
- GUNICORN_TIMEOUT: seconds before a silent worker is restarted (default 60; long jobs
  run in Celery, not in a request).
- GUNICORN_MAX_REQUESTS: a worker is recycled after this many requests (default 2,000,
  with jitter), so a leak can never grow without bound.
"""
from __future__ import annotations

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


wsgi_app = "config.wsgi"
bind = [f"0.0.0.0:{_int('PORT', 8000)}"]
workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1)
threads = _int("GUNICORN_THREADS", 1)
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = 30
keepalive = 5  # seconds an idle keep-alive connection from the proxy is held
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
