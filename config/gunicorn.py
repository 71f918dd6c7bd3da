"""gunicorn settings (`gunicorn config.wsgi -c config/gunicorn.py`, as the Procfile runs
it); every figure can be set from the environment.

- WEB_CONCURRENCY: worker processes (default cores + 1).
- GUNICORN_THREADS: threads per worker (default 4: gunicorn's gthread worker, which keeps
  connections alive and lets a worker serve another request while one waits on
  PostgreSQL; 1 gives plain sync workers, which close the connection after each request).
  Each thread keeps its own database connection (DB_CONN_MAX_AGE): workers × threads ×
  hosts must stay below PostgreSQL's max_connections. On 2 cores, 3 × 4 served the HTTP
  bench 1.5× faster than 5 sync workers and 1.35× faster than runserver in the same run
  (docs/PERFORMANCE.md).
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
workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1)
threads = _int("GUNICORN_THREADS", 4)
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = 30
keepalive = 5  # seconds an idle keep-alive connection from the proxy is held
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
