"""`verify_ledger --year Y` (`ledger_verify(year=Y)`): one fiscal year's chain, lines,
balances and anchors, on SQLite and PostgreSQL (on PostgreSQL one partition of
finance_line: tests/scaleout/test_partitions.py shows the plan)."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from finance import selectors, services
from finance.ledger import entry_post
from finance.models import Entry
from tests.helpers import ON, approve_lines, commit_lines

D = Decimal


@pytest.fixture
def two_years(ledger, user):  # noqa: ANN001
    """2026: the fixture's 1,000.00 approval and a 120.50 commitment (2 entries, 4 lines);
    2027 (opened through the service): one 80.00 approval (1 entry, 2 lines)."""
    entry_post(lines=commit_lines(D("120.50")), description="申请", user=user, on=ON)
    services.fiscal_year_open(year=2027, user=user)
    entry_post(lines=approve_lines(D("80.00")), description="2027 批复", user=user,
               on=dt.date(2027, 1, 5))
    return user


def test_one_year_counts_only_its_entries_lines_and_balances(two_years):  # noqa: ANN001, ARG001
    r26 = selectors.ledger_verify(year=2026)
    r27 = selectors.ledger_verify(year=2027)
    everything = selectors.ledger_verify()
    assert r26.ok and r27.ok and everything.ok
    assert (r26.entries_checked, r26.lines_checked) == (2, 4)
    assert (r27.entries_checked, r27.lines_checked) == (1, 2)
    # balances: 2026 has 9001, 9101, 9201 on one tuple; 2027 has 9001, 9101
    assert (r26.balances_checked, r27.balances_checked) == (3, 2)
    assert everything.balances_checked == 5
    assert [h.year for h in r26.heads] == [2026]


def test_command_prints_the_year_only(two_years):  # noqa: ANN001, ARG001
    out = io.StringIO()
    call_command("verify_ledger", "--year", "2027", stdout=out)
    assert "checked 1 entries, 2 lines, 2 balances" in out.getvalue()
    assert "fiscal year 2027 only" in out.getvalue()
    assert "ledger OK" in out.getvalue()


@pytest.mark.postgres
def test_a_tampered_line_of_one_year_is_found_by_that_year_only(two_years):  # noqa: ANN001, ARG001
    from django.db import connection, transaction

    target = Entry.objects.get(description="2027 批复")
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("UPDATE finance_line SET project_code = 'X' WHERE entry_id = %s AND seq = 1",
                    [target.pk])
    assert selectors.ledger_verify(year=2026).ok
    broken = selectors.ledger_verify(year=2027)
    assert (broken.first_broken.fiscal_year, broken.first_broken.number) == (2027, 1)
    with pytest.raises(CommandError, match="ledger verification failed"):
        call_command("verify_ledger", "--year", "2027", stdout=io.StringIO(),
                     stderr=io.StringIO())


def test_a_line_naming_a_code_that_does_not_exist_is_reported(two_years):  # noqa: ANN001, ARG001
    """finance_line keeps no database foreign key to the account and the codes
    (finance.models.Line): verification names a line whose code id names nothing."""
    from django.db import connection, transaction

    target = Entry.objects.get(description="2027 批复")
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":  # past the immutability trigger
            cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("UPDATE finance_line SET function_id = 987654 WHERE entry_id = %s "
                    "AND seq = 1", [target.pk])
    assert selectors.ledger_verify(year=2026).ok
    broken = selectors.ledger_verify(year=2027)
    texts = [p.reason for p in broken.problems]
    assert "line 1 names function id 987654, which does not exist" in texts
    assert (broken.first_broken.fiscal_year, broken.first_broken.number) == (2027, 1)


def test_django_refuses_to_delete_a_code_a_line_names(two_years):  # noqa: ANN001, ARG001
    from django.db.models import ProtectedError

    from finance.models import Account, FunctionCode, Line

    line = Line.objects.filter(year=2027).order_by("id").first()
    with pytest.raises(ProtectedError):
        FunctionCode.objects.get(pk=line.function_id).delete()
    with pytest.raises(ProtectedError):
        Account.objects.get(pk=line.account_id).delete()
