"""Read replicas: reports, the trace and the public pages read from the 'replica' database
when DATABASE_REPLICA_URL is set; every write, and every other read, goes to 'default'.

Report figures are sums of finance.Line, the same table the posting service reads
under locks, so the router cannot decide by app label. It decides by context: a
request to a reporting path (see REPLICA_PATHS), or code inside `replica_reads()`
(a Celery report task), reads from the replica; everything else from the primary.

Read-your-writes (issue 23): a user who has just written reads from the primary until
the replica has replayed that write. After an unsafe request (POST, PUT, PATCH, DELETE)
by a signed-in user, ReplicaReadsMiddleware keeps the primary's WAL position
(`pg_current_wal_lsn()`, taken after the request's transactions committed) in the user's
session; the user's next replica-path request asks the replica how far it has replayed
(`pg_last_wal_replay_lsn()`) and reads from the primary while that is behind the kept
position, from the replica (dropping the mark) once it has passed it. Other users read
from the replica all along. Where either database is not PostgreSQL the mark is a time
instead: the primary for REPLICA_READ_YOUR_WRITES_SECONDS after the write. Sessions,
users and login records are always read from the primary (a session written at login
must be found at the next request, whichever path it asks for)."""
from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections

REPLICA = "replica"
REPLICA_PATHS = ("/reports/", "/api/reports/execution/", "/api/reports/trace/", "/web/public/",
                 "/audit/trace/", "/api/audit/trace/")
# apps whose rows a request needs fresh whatever its path: its session and user, tokens,
# login throttling, content types
PRIMARY_APPS = frozenset({"sessions", "auth", "authtoken", "axes", "contenttypes"})
SESSION_KEY = "_replica_after"  # {"lsn": "0/3000148" or None, "at": epoch seconds}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
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


def lsn_int(lsn: str) -> int:
    """PostgreSQL's 'X/Y' WAL position (two hex halves) as one comparable number."""
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def _pg(alias: str) -> bool:
    return connections[alias].vendor == "postgresql"


def primary_lsn() -> str | None:
    """The primary's WAL write position now: every transaction committed before this call
    ends at or before it. None where 'default' is not PostgreSQL."""
    if not _pg("default"):
        return None
    with connections["default"].cursor() as cur:
        cur.execute("SELECT pg_current_wal_lsn()::text")
        return cur.fetchone()[0]


def replica_replay_lsn() -> str | None:
    """How far the replica has replayed the primary's WAL; None when it is not in
    recovery (a promoted standby, or a 'replica' that is the primary itself)."""
    with connections[REPLICA].cursor() as cur:
        cur.execute("SELECT pg_last_wal_replay_lsn()::text")
        return cur.fetchone()[0]


def write_mark(*, lsn: str | None, at: float | None = None) -> dict:
    return {"lsn": lsn, "at": time.time() if at is None else at}


def replica_has_caught_up(mark: dict) -> bool:
    """Has the replica replayed the write this mark records? (Its own decision, kept
    apart from any request: bench/ and the tests call it too.)"""
    if mark.get("lsn") and _pg(REPLICA):
        replayed = replica_replay_lsn()
        return replayed is None or lsn_int(replayed) >= lsn_int(mark["lsn"])
    seconds = float(getattr(settings, "REPLICA_READ_YOUR_WRITES_SECONDS", 10))
    return time.time() - float(mark.get("at") or 0) >= seconds


class ReplicaRouter:
    """DATABASE_ROUTERS entry: reads → replica inside a replica context, else default."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:  # noqa: ARG002
        if (_reads.get() and replica_configured()
                and model._meta.app_label not in PRIMARY_APPS):
            return REPLICA
        return "default"

    def db_for_write(self, model: Any, **hints: Any) -> str:  # noqa: ARG002
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:  # noqa: ARG002
        return True  # the replica is a copy of the same database

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:  # noqa: ARG002
        return db == "default"  # the replica follows by streaming replication


class ReplicaReadsMiddleware:
    """Puts GET requests of the reporting and public paths into a replica context, unless
    the user has written something the replica has not replayed yet; after a user's
    unsafe request, marks the session with the primary's WAL position. Does nothing
    without a 'replica' database (it is always in MIDDLEWARE)."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        if not replica_configured():
            return self.get_response(request)
        if wants_replica(request.method, request.path) and not self._own_write_pending(request):
            with replica_reads():
                return self.get_response(request)
        response = self.get_response(request)
        if request.method not in SAFE_METHODS:
            self._mark_write(request)
        return response

    @staticmethod
    def _own_write_pending(request: Any) -> bool:
        session = getattr(request, "session", None)
        mark = session.get(SESSION_KEY) if session is not None else None
        if not mark:
            return False
        try:
            caught_up = replica_has_caught_up(mark)
        except DatabaseError:  # the replica does not answer: read from the primary
            return True
        if caught_up:
            del session[SESSION_KEY]
        return not caught_up

    @staticmethod
    def _mark_write(request: Any) -> None:
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if session is None or not getattr(user, "is_authenticated", False):
            return  # anonymous: nothing of theirs to read back (and no session to keep)
        session[SESSION_KEY] = write_mark(lsn=primary_lsn())
