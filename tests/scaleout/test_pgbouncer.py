"""The posting service and a report through a REAL PgBouncer in transaction mode (started
by the fixture on a free port), with the options DATABASE_POOLER=pgbouncer-transaction
sets: no server-side cursors, no prepared statements. Figures worked out by hand."""
from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from django.db import connections

from config.pooling import pooled
from finance import services
from finance.models import Line
from reports import selectors
from tests.helpers import ON, YEAR, approve_lines, commit_lines, pay_lines

pytestmark = pytest.mark.postgres
D = Decimal


@pytest.fixture
def through_pgbouncer(pooler, transactional_db, codes, fiscal_year, orgs):  # noqa: ANN001, ARG001
    """'default' swapped for a connection to the same test database through PgBouncer,
    with the pooler's options; the direct one is put back after the test."""
    direct = connections["default"]
    # two server connections in the pool (two clients in a transaction at once), so
    # that one Django connection's transactions alternate between them
    with psycopg.connect(_dsn(pooler.port, direct.settings_dict["NAME"])) as a, \
            psycopg.connect(_dsn(pooler.port, direct.settings_dict["NAME"])) as b:
        a.execute("SELECT 1")
        b.execute("SELECT 1")
    db = pooled({**direct.settings_dict, "HOST": "127.0.0.1", "PORT": str(pooler.port)},
                "pgbouncer-transaction")
    connections["default"] = type(direct)(db, alias="default")
    try:
        yield pooler
    finally:
        connections["default"].close()
        connections["default"] = direct


def _dsn(port: int, dbname: str) -> str:
    return f"host=127.0.0.1 port={port} user=postgres dbname={dbname}"


def pgbouncer_clients(port: int, dbname: str) -> int:
    with psycopg.connect(_dsn(port, "pgbouncer"), autocommit=True) as admin:
        cur = admin.execute("SHOW CLIENTS")
        cols = [c.name for c in cur.description]
        return sum(1 for row in cur.fetchall() if dict(zip(cols, row, strict=True))["database"] == dbname)


def test_posting_and_the_execution_report_through_pgbouncer(through_pgbouncer, user):  # noqa: ANN001
    conn = connections["default"]
    assert conn.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True
    services.entry_post(lines=approve_lines(D("1000.00")), description="批复", user=user,
                        on=ON, kind="approval")
    for _ in range(6):  # psycopg would prepare a statement run 5 times; here it must not
        services.entry_post(lines=commit_lines(D("100.00")), description="冻结", user=user,
                            on=ON, kind="commit")
        services.entry_post(lines=pay_lines(D("100.00")), description="支付", user=user,
                            on=ON, kind="payment")
    assert conn.connection.prepare_threshold is None
    assert conn.connection.execute("SELECT count(*) FROM pg_prepared_statements"
                                   ).fetchone()[0] == 0
    assert pgbouncer_clients(through_pgbouncer.port, conn.settings_dict["NAME"]) == 1

    total = selectors.execution_report(year=YEAR, group_by=("unit",)).total.figures
    assert total["approved"].yuan == D("1000.00")
    assert total["paid"].yuan == D("600.00")
    assert total["committed"].yuan == D("0.00")  # each commitment paid in full
    assert total["available"].yuan == D("400.00")
    # a queryset iterated in chunks outside a transaction: with a server-side cursor
    # (DECLARE … WITH HOLD, then a FETCH per chunk, each its own transaction) the second
    # chunk would be fetched on the other server connection, where no such cursor exists
    paid = sum(line.debit_fen for line in Line.objects.filter(
        entry__kind="payment", account__code="9301").iterator(chunk_size=2))
    assert paid == 60000
