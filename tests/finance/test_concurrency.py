"""Concurrent postings on PostgreSQL: an indicator is never overspent, no deadlock
reaches the caller, numbers stay gap-free."""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection

from finance import errors, selectors
from finance.ledger import cr, dr, entry_post
from finance.models import Entry
from tests.helpers import ON, approve_lines, commit_lines, dims

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(jobs, workers: int = 8) -> list[str]:
    def run(job):
        try:
            job()
            return "ok"
        except errors.IndicatorInsufficient:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, jobs))


class TestConcurrentCommitments:
    def test_100_commitments_of_15_against_1000_exactly_66_succeed(self, ledger, user):
        jobs = [lambda i=i: entry_post(lines=commit_lines(Decimal("15.00")), description=f"申请{i}",
                                       user=user, on=ON) for i in range(100)]
        outcomes = _race(jobs)
        assert outcomes.count("ok") == 66
        assert outcomes.count("refused") == 34
        assert selectors.balance(account="9101") == Decimal("10.00")
        assert selectors.balance(account="9201") == Decimal("990.00")
        assert list(Entry.objects.values_list("number", flat=True)) == list(range(1, 68))
        assert selectors.ledger_verify().ok

    def test_entries_touching_several_indicators_in_any_order_do_not_deadlock(self, ledger, user):
        tuples = [dims(), dims(unit="440300102"), dims(economic="30211")]
        for t in tuples[1:]:
            entry_post(lines=approve_lines(Decimal("1000.00"), t), description="批复", user=user, on=ON)
        rng = random.Random(7)

        def job(i: int):
            a, b = rng.sample(tuples, 2)
            amount = Decimal("7.00")
            lines = [dr("indicator", "9201", amount, a), cr("indicator", "9101", amount, a),
                     dr("indicator", "9201", amount, b), cr("indicator", "9101", amount, b)]
            return lambda: entry_post(lines=lines, description=f"双指标{i}", user=user, on=ON)

        outcomes = _race([job(i) for i in range(120)])
        assert set(outcomes) <= {"ok", "refused"}
        committed = sum((selectors.balance(account="9201", unit=t.unit, economic=t.economic)
                         for t in tuples), Decimal(0))
        assert committed == Decimal("14.00") * outcomes.count("ok")
        for t in tuples:
            assert selectors.balance(account="9101", unit=t.unit, economic=t.economic) >= 0
        assert selectors.ledger_verify().ok

