"""The router's rules that need no standby (SQLite and PostgreSQL): sessions and users are
always read from the primary; a writer's mark sends that user to the primary, by WAL
position on PostgreSQL (tests/scaleout/test_replica_standby.py) or, without one, for
REPLICA_READ_YOUR_WRITES_SECONDS."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import RequestFactory

from config.routers import (
    SESSION_KEY,
    ReplicaReadsMiddleware,
    ReplicaRouter,
    lsn_int,
    replica_reads,
    write_mark,
)
from finance.models import Line

pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


@pytest.fixture
def with_replica(settings):  # noqa: ANN001
    settings.DATABASES = {**settings.DATABASES, "replica": settings.DATABASES["default"]}


class SignedIn:
    is_authenticated = True


def served_from(session: dict, method: str = "GET", path: str = "/reports/execution/") -> str:
    seen = []
    request = getattr(RequestFactory(), method.lower())(path)
    request.session, request.user = session, SignedIn()
    ReplicaReadsMiddleware(lambda r: seen.append(ReplicaRouter().db_for_read(Line)))(request)
    return seen[0]


def test_sessions_and_users_are_read_from_the_primary_even_on_report_paths(with_replica):  # noqa: ANN001, ARG001
    with replica_reads():
        assert ReplicaRouter().db_for_read(Line) == "replica"
        assert ReplicaRouter().db_for_read(Session) == "default"
        assert ReplicaRouter().db_for_read(get_user_model()) == "default"


def test_without_a_wal_position_the_writer_reads_the_primary_for_a_while(with_replica, settings):  # noqa: ANN001, ARG001
    settings.REPLICA_READ_YOUR_WRITES_SECONDS = 3600
    session = {SESSION_KEY: write_mark(lsn=None)}
    assert served_from(session) == "default"
    assert SESSION_KEY in session
    assert served_from({}) == "replica"  # someone who wrote nothing
    settings.REPLICA_READ_YOUR_WRITES_SECONDS = 0
    assert served_from(session) == "replica"
    assert SESSION_KEY not in session  # the mark is gone once it no longer holds


@pytest.mark.django_db
def test_a_signed_in_users_post_leaves_a_mark_an_anonymous_one_does_not(with_replica):  # noqa: ANN001, ARG001
    session: dict = {}
    served_from(session, "POST", "/web/requests/new/")
    assert set(session[SESSION_KEY]) == {"lsn", "at"}
    anonymous = RequestFactory().post("/web/requests/new/")
    anonymous.session = {}
    ReplicaReadsMiddleware(lambda r: None)(anonymous)  # no user at all
    assert anonymous.session == {}


def test_wal_positions_compare_as_numbers_not_as_text():
    assert lsn_int("0/A0000000") > lsn_int("0/9FFFFFFF")
    assert lsn_int("1/0") > lsn_int("0/FFFFFFFF")
    assert lsn_int("16/B374D848") == 0x16B374D848
