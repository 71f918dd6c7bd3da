"""Read replicas: reports and the public portal read from the 'replica' database when
DATABASE_REPLICA_URL is set; every write, and every other read, goes to 'default'.

Report figures are sums of finance.Line, the same table the posting service reads
under locks, so the router cannot decide by app label. It decides by context: a
request to a reporting path (see REPLICA_PATHS), or code inside `replica_reads()`
(a Celery report task), reads from the replica; everything else from the primary."""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings

REPLICA = "replica"
REPLICA_PATHS = ("/reports/", "/api/reports/execution/", "/api/reports/trace/", "/web/public/")
_reads = contextvars.ContextVar("replica_reads", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


@contextlib.contextmanager
def replica_reads() -> Iterator[None]:
    """Reads inside the block go to the replica (when one is configured)."""
    token = _reads.set(True)
    try:
        yield
    finally:
        _reads.reset(token)


def wants_replica(method: str, path: str) -> bool:
    """Only safe requests of the reporting and public paths; a form POST on a report page
    (approve, publish, close) must read what it is about to change from the primary."""
    return method in ("GET", "HEAD") and path.startswith(REPLICA_PATHS)


class ReplicaRouter:
    """DATABASE_ROUTERS entry: reads → replica inside a replica context, else default."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:  # noqa: ARG002
        if _reads.get() and replica_configured():
            return REPLICA
        return "default"

    def db_for_write(self, model: Any, **hints: Any) -> str:  # noqa: ARG002
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:  # noqa: ARG002
        return True  # the replica is a copy of the same database

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:  # noqa: ARG002
        return db == "default"  # the replica follows by streaming replication


class ReplicaReadsMiddleware:
    """Puts GET requests of the reporting and public paths into a replica context."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        if wants_replica(request.method, request.path):
            with replica_reads():
                return self.get_response(request)
        return self.get_response(request)
