"""Concurrent submissions on PostgreSQL: neither the indicator nor the month's plan is
ever overspent."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection

from finance import selectors
from payments import errors, services
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
