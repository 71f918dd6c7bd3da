"""Invariants: for any sequence of approvals, commitments, payments and adjustments,
the execution report ties to the trial balance and every trace reference re-runs to
its figure; the report's query count does not grow with the data; concurrent
year-end closes close once (PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance import selectors as fin
from finance.errors import IndicatorInsufficient
from finance.ledger import entry_post
from finance.selectors import figure_of
from reports import errors, selectors, services
from reports.models import YearEndClose
from tests.helpers import approve_lines, commit_lines, dims, pay_lines

YEAR = 2026
TUPLES = [dims(unit=u, function=f, economic=e, fund=fs)
          for u, f, e, fs in [("440300101", "2050203", "30201", "1"),
                              ("440300102", "2050204", "30217", "1"),
                              ("440300101", "2120399", "31005", "2")]]
step = st.tuples(st.sampled_from(["approve", "adjust", "commit", "pay"]),
                 st.integers(0, len(TUPLES) - 1), st.integers(1, 500_000),
                 st.integers(1, 12))


class TestExecutionInvariants:
    @settings(max_examples=15, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(steps=st.lists(step, min_size=1, max_size=12))
    def test_totals_tie_to_the_trial_balance_and_traces_rerun(self, fiscal_year, orgs, user,
                                                            steps):
        from django.db import transaction

        with transaction.atomic():
            for action, i, fen, month in steps:
                amount, d, on = Decimal(fen) / 100, TUPLES[i], dt.date(YEAR, month, 5)
                lines = {"approve": approve_lines, "adjust": approve_lines,
                         "commit": commit_lines, "pay": pay_lines}[action](amount, d)
                try:
                    with transaction.atomic():
                        entry_post(lines=lines, description=action, user=user, on=on,
                                   kind={"approve": "approval", "adjust": "adjustment",
                                         "commit": "commit", "pay": "payment"}[action])
                except IndicatorInsufficient:
                    pass  # overspending is refused; the invariant holds either way
            report = selectors.execution_report(year=YEAR, group_by=("unit", "fund_source"))
            tb = {r.account: r.balance for r in fin.trial_balance(book="indicator", year=YEAR).rows}
            t = report.total.figures
            assert t["paid"].yuan == tb.get("9301", 0)
            assert t["available"].yuan == tb.get("9101", 0)
            assert t["approved"].yuan + t["adjusted"].yuan == tb.get("9001", 0)
            assert (t["available"].fen + t["committed"].fen + t["paid"].fen
                    == t["approved"].fen + t["adjusted"].fen)
            for r in report.rows:
                for f in r.figures.values():
                    assert figure_of(f.trace) == f.fen
            transaction.set_rollback(True)

    def test_query_count_does_not_grow_with_rows(self, city, user):
        from django.test.utils import CaptureQueriesContext

        def count() -> int:
            with CaptureQueriesContext(connection) as ctx:
                selectors.execution_report(year=YEAR, group_by=("unit", "function", "economic"))
            return len(ctx.captured_queries)

        before = count()
        for economic in ("30202", "30205", "30206", "30207", "30211"):
            d = dims(economic=economic)
            entry_post(lines=approve_lines(Decimal("5.00"), d), description="批复", user=user,
                       on=dt.date(YEAR, 2, 1), kind="approval")
            entry_post(lines=commit_lines(Decimal("1.00"), d), description="c", user=user,
                       on=dt.date(YEAR, 2, 2))
        assert count() == before <= 15  # master data lookups (codes, project categories) + one GROUP BY


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestConcurrentClose:
    def test_two_concurrent_year_end_closes_close_once(self, city, user):
        for m in range(1, 12):
            services.month_close(year=YEAR, month=m, user=user)
        outcomes: list[str] = []
        barrier = threading.Barrier(2)

        def run() -> None:
            try:
                barrier.wait()
                services.year_end_close(year=YEAR, user=user)
                outcomes.append("closed")
            except errors.YearAlreadyClosed:
                outcomes.append("already")
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["already", "closed"]
        assert YearEndClose.objects.filter(year=YEAR).count() == 1
        assert fin.balance(account="7101", year=YEAR) == Decimal("0.00")
        assert fin.ledger_verify().ok
