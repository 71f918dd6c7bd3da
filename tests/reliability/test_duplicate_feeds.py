"""The same bank file delivered twice, and two different statements overlapping in period
(and in format): each bank line is counted once — stored once, posted once, reconciled once."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from finance import selectors as ledger
from finance.models import Entry
from payments import services
from payments.models import BankResult, ReconException, StatementLine
from tests.helpers import YEAR
from tests.payments.sample_day import build
from tests.payments.statement_files import Booked, camt053, mt940
from tests.payments.test_bank import CAMT, MT940, PAID, RESULTS

pytestmark = pytest.mark.django_db
ACCOUNT = "44030100040012345"


def imp(content: bytes, name: str, user: object) -> object:
    return services.bank_file_import(content=content, filename=name, user=user)


def snapshot() -> tuple:
    return (Entry.objects.count(), BankResult.objects.count(), StatementLine.objects.count(),
            ReconException.objects.count(), ledger.balance(account="9301", year=YEAR))


@pytest.fixture
def paid(ledger, people, agent, user):  # noqa: ANN001, ARG001
    build(people, agent, user)
    assert imp(RESULTS.read_bytes(), RESULTS.name, user).issues == []
    return user


class TestSameFileTwice:
    def test_the_result_file_again_under_another_name_posts_nothing(self, paid, user):
        before = snapshot()
        report = imp(RESULTS.read_bytes(), "resent_" + RESULTS.name, user)
        assert (report.stored, report.skipped) == (0, 4)
        assert snapshot() == before
        assert ledger.balance(account="9301", year=YEAR) == PAID


class TestOverlappingStatements:
    def test_two_statements_overlapping_in_period_store_each_line_once(self, paid, user):
        a = [Booked(f"OV{i:04d}", Decimal(f"{100 + i}.00"), credit=False, info=f"a{i}")
             for i in range(6)]
        day1, day2 = dt.date(2026, 10, 16), dt.date(2026, 10, 17)
        first = camt053(ACCOUNT, day1, a[:4])
        # the second file repeats lines 2–3 of the first and adds 4–5 (a re-cut period)
        second = camt053(ACCOUNT, day2, a[2:])
        r1, r2 = imp(first, "s1.xml", user), imp(second, "s2.xml", user)
        assert (r1.stored, r2.stored, r2.skipped) == (4, 2, 2)
        refs = list(StatementLine.objects.filter(bank_ref__startswith="OV")
                    .values_list("bank_ref", flat=True))
        assert sorted(refs) == [f"OV{i:04d}" for i in range(6)]
        # each unknown line is one exception, not one per delivery
        assert ReconException.objects.filter(statement_line__bank_ref__startswith="OV").count() == 6

    def test_the_same_day_in_camt053_then_mt940_adds_no_line(self, paid, user):
        imp(CAMT.read_bytes(), CAMT.name, user)
        before = snapshot()
        report = imp(MT940.read_bytes(), MT940.name, user)
        assert report.stored == 0 and report.skipped > 0
        assert snapshot() == before

    def test_a_mixed_file_in_mt940_overlapping_a_camt053_counts_each_line_once(self, paid, user):
        lines = [Booked(f"MX{i:04d}", Decimal(f"{200 + i}.50"), credit=False) for i in range(5)]
        imp(camt053(ACCOUNT, dt.date(2026, 10, 18), lines[:3]), "c.xml", user)
        report = imp(mt940(ACCOUNT, dt.date(2026, 10, 18), lines[1:]), "m.sta", user)
        assert (report.stored, report.skipped) == (2, 2)
        assert StatementLine.objects.filter(bank_ref__startswith="MX").count() == 5
