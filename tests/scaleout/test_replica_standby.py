"""Report, trace and public pages read from a REAL hot standby (started by the fixture
from the primary with pg_basebackup), with read-your-writes for the user who just wrote.

The proof that a page came from the standby is a row the standby does not have yet:
replay is paused on the standby, a user writes on the primary, and another user's page
does not show the row while the writer's does (read from the primary because the
standby is behind the writer's commit). Once replay resumes and passes the writer's WAL
position, the writer reads from the standby again and sees the row there."""
from __future__ import annotations

import pytest
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config.routers import REPLICA, SESSION_KEY, lsn_int, primary_lsn, replica_replay_lsn
from reports.models import DisclosureSet
from tests.helpers import YEAR
from tests.scaleout.conftest import wait_replayed

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")]

LIST = "/reports/disclosure/"


def get(client: Client, path: str, **query: object) -> tuple[str, list[str], list[str]]:
    """The page, and the SQL its request ran on the standby ('replica') and on the
    primary ('default')."""
    with CaptureQueriesContext(connections[REPLICA]) as rep, \
            CaptureQueriesContext(connections["default"]) as pri:
        response = client.get(path, query)
    assert response.status_code == 200
    return (response.content.decode(), [q["sql"] for q in rep.captured_queries],
            [q["sql"] for q in pri.captured_queries])


def signed_in(user) -> Client:  # noqa: ANN001
    c = Client()
    c.force_login(user)
    return c


def on_standby(sql: str) -> object:
    with connections[REPLICA].cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def test_pages_read_the_standby_and_the_writer_reads_own_write(
        replica_db, orgs, user, django_user_model):  # noqa: ANN001
    reader = django_user_model.objects.create_user(username="reader", password="x-Secret-123")
    writer, other = signed_in(user), signed_in(reader)
    wait_replayed(primary_lsn())  # the users and their sessions are on the standby too
    assert on_standby("SELECT pg_is_in_recovery()") is True

    # a report page and the trace page, GET: every query of the ledger on the standby
    _, rep, pri = get(other, "/reports/execution/", year=YEAR)
    assert any("finance_line" in q for q in rep)
    assert not any("finance_line" in q for q in pri)
    _, rep, pri = get(other, "/audit/trace/", measure="paid", year=YEAR)
    assert any("finance_line" in q for q in rep)
    assert not any("finance_line" in q for q in pri)

    on_standby("SELECT pg_wal_replay_pause()")
    try:
        # the writer creates a draft set (POST, primary) and lands on the list (GET)
        response = writer.post(f"{LIST}create/", {
            "department": orgs["dept"].code, "year": YEAR, "kind": "final",
            "approved_on": f"{YEAR}-03-01"})
        assert response.status_code == 302 and response["Location"] == LIST
        ds = DisclosureSet.objects.get(department=orgs["dept"], year=YEAR, kind="final")
        mark = writer.session[SESSION_KEY]
        assert lsn_int(mark["lsn"]) > lsn_int(replica_replay_lsn())  # standby is behind

        page, rep, pri = get(writer, LIST)
        assert f"?set={ds.pk}" in page  # read-your-writes: from the primary
        assert any("reports_disclosureset" in q for q in pri)
        assert not any("reports_disclosureset" in q for q in rep)
        assert [q for q in rep if "pg_last_wal_replay_lsn" in q]  # it asked the standby

        # another user reads from the standby, which has not replayed the set yet
        page, rep, pri = get(other, LIST)
        assert any("reports_disclosureset" in q for q in rep)
        assert not any("reports_disclosureset" in q for q in pri)
        assert f"?set={ds.pk}" not in page
    finally:
        on_standby("SELECT pg_wal_replay_resume()")

    wait_replayed(mark["lsn"])
    # the standby has passed the writer's commit: the writer reads from it again, and
    # the mark is gone from the session
    page, rep, pri = get(writer, LIST)
    assert any("reports_disclosureset" in q for q in rep)
    assert not any("reports_disclosureset" in q for q in pri)
    assert SESSION_KEY not in writer.session
    assert f"?set={ds.pk}" in page
    assert f"?set={ds.pk}" in get(other, LIST)[0]
