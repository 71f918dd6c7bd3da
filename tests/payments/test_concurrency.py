"""Concurrent submissions on PostgreSQL: neither the indicator nor the month's plan is
ever overspent."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection

from finance import selectors
from payments import errors, services
from payments.models import PaymentRequest
from tests.helpers import YEAR, dims
from tests.payments.conftest import AS_OF, file_request

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(people, requests) -> list[str]:  # noqa: ANN001
    def run(req):  # noqa: ANN001, ANN202
        try:
            services.payment_request_submit(request=req, user=people.filer, as_of=AS_OF)
            return "ok"
        except errors.IndicatorShort:
            return "short"
        except errors.PlanExceeded:
            return "plan"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(run, requests))


class TestConcurrentSubmissions:
    def test_40_requests_of_75_against_1000_commit_exactly_13(self, ready, user):
        services.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                              reason="indicator only")
        reqs = [file_request(ready.people, ready.payee, "75.00", submit=False) for _ in range(40)]
        outcomes = _race(ready.people, reqs)
        assert (outcomes.count("ok"), outcomes.count("short")) == (13, 27)
        assert selectors.balance(account="9201") == Decimal("975.00")
        assert selectors.balance(account="9101") == Decimal("25.00")
        assert selectors.ledger_verify().ok

    def test_the_months_plan_holds_under_concurrent_submissions(self, ready, user):
        services.plan_approve(plan=ready.plan, amount=Decimal("500.00"), user=user)
        reqs = [file_request(ready.people, ready.payee, "75.00", submit=False) for _ in range(40)]
        outcomes = _race(ready.people, reqs)
        assert (outcomes.count("ok"), outcomes.count("plan")) == (6, 34)
        assert selectors.balance(account="9201") == Decimal("450.00")


class TestBatchesBesideOneByOne:
    """Batch filing (payment_requests_file) racing one-by-one submissions on the same
    indicator: 4 threads file lists of 5 requests of 75.00, 4 threads submit 5 drafts of
    75.00 each, against 1,000.00. By hand: 1,000.00 / 75.00 = 13 (975.00); every other of
    the 40 is refused short (a list's item is reported with its position, the rest of
    the list goes on); no deadlock reaches anyone; 25.00 stays available."""

    def test_lists_and_single_submissions_never_overspend(self, ready, user):
        services.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                              reason="indicator only")
        people = ready.people
        drafts = [file_request(people, ready.payee, "75.00", submit=False) for _ in range(20)]
        lists = [[services.RequestInput(dims=dims(), amount=Decimal("75.00"),
                                        payee=ready.payee, purpose=f"办公费 {k}-{i}")
                  for i in range(5)] for k in range(4)]

        def one_by_one(reqs) -> list[str]:  # noqa: ANN001
            out = []
            try:
                for req in reqs:
                    try:
                        services.payment_request_submit(request=req, user=people.filer,
                                                        as_of=AS_OF)
                        out.append("ok")
                    except errors.IndicatorShort:
                        out.append("short")
            finally:
                connection.close()
            return out

        def as_list(items) -> list[str]:  # noqa: ANN001
            try:
                filed = services.payment_requests_file(items=items, year=YEAR, user=people.filer,
                                                       as_of=AS_OF)
            finally:
                connection.close()
            short = {n for n, exc in filed.refused if isinstance(exc, errors.IndicatorShort)}
            assert len(short) == len(filed.refused)  # nothing else refused them
            assert all(r.status == "unit_review" for r in filed.filed)
            return ["ok"] * len(filed.filed) + ["short"] * len(short)

        jobs = [lambda r=drafts[i:i + 5]: one_by_one(r) for i in range(0, 20, 5)]
        jobs += [lambda x=x: as_list(x) for x in lists]
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = [o for part in pool.map(lambda job: job(), jobs) for o in part]
        assert (outcomes.count("ok"), outcomes.count("short")) == (13, 27)
        assert selectors.balance(account="9201") == Decimal("975.00")
        assert selectors.balance(account="9101") == Decimal("25.00")
        committed = PaymentRequest.objects.filter(status="unit_review")
        assert committed.count() == 13
        assert sum(r.amount for r in committed) == Decimal("975.00")
        assert selectors.ledger_verify().ok
