"""Fixtures of the scale-out tests: a real hot standby and a real PgBouncer, each started
once per session on this machine from the primary DATABASE_URL names (PostgreSQL only:
skipped on SQLite), and a 'replica' database alias pointed at the standby's copy of the
test database for one test."""
from __future__ import annotations

import contextlib
import time

import pytest
from django.db import connection, connections

from config.routers import REPLICA, lsn_int, primary_lsn, replica_replay_lsn
from tests.scaleout import servers


def _local_postgres() -> dict:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://…); CI runs it")
    db = connections["default"].settings_dict
    if (db.get("HOST") or "") not in servers.LOCAL_HOSTS:
        pytest.skip("the primary is not on this machine")
    return db


@pytest.fixture(scope="session")
def hot_standby(django_db_setup, django_db_blocker):  # noqa: ANN001, ARG001
    """A hot standby of the whole primary cluster (so it holds the test database too),
    made after the test database was created."""
    db = _local_postgres()
    with servers.hot_standby(db) as standby:
        yield standby


@pytest.fixture(scope="session")
def pooler(django_db_setup):  # noqa: ANN001, ARG001
    db = _local_postgres()
    with servers.pgbouncer(db) as bouncer:
        yield bouncer


def wait_replayed(lsn: str, *, seconds: float = 60) -> None:
    """Until the replica has replayed the primary's WAL up to `lsn` (a wait, not an
    assertion about time: it fails only if replication is broken)."""
    deadline = time.monotonic() + seconds
    while lsn_int(replica_replay_lsn()) < lsn_int(lsn):
        if time.monotonic() > deadline:
            raise AssertionError(f"the standby has not replayed {lsn} in {seconds} s")
        time.sleep(0.02)


@pytest.fixture
def replica_db(hot_standby, transactional_db, settings):  # noqa: ANN001, ARG001
    """'replica' = the standby's copy of the test database. Under Django's test runner a
    replica alias would mirror 'default' (TEST MIRROR: the same connection); here it is
    a real second server. Rows must be committed to reach it, hence transactional_db.
    Yields the standby once it has replayed everything committed so far."""
    default = connections["default"]
    replica = {**default.settings_dict, "HOST": "127.0.0.1", "PORT": str(hot_standby.port)}
    settings.DATABASES = {**settings.DATABASES, REPLICA: replica}  # replica_configured()
    # A connection of its own, outside the handler's settings: Django's test case guards
    # the aliases it was told of at its start, and this one is added after it.
    connections[REPLICA] = type(default)(replica, alias=REPLICA)
    try:
        wait_replayed(primary_lsn())
        yield hot_standby
    finally:
        with contextlib.suppress(Exception), connections[REPLICA].cursor() as cur:
            cur.execute("SELECT pg_wal_replay_resume()")  # never leave replay paused
        with contextlib.suppress(Exception):
            connections[REPLICA].close()
        with contextlib.suppress(AttributeError):
            del connections[REPLICA]
