"""Concurrent submissions under one contract on PostgreSQL: the contract row lock keeps
the requests under it within what is left (600.00: eight requests of 100.00 racing, six
go through, two are refused), and the ledger still balances."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection

from finance import selectors
from payments import errors, services
from tests.helpers import YEAR, dims
from tests.payments.conftest import AS_OF
from tests.payments.test_contracts import new_contract

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_requests_racing_under_a_contract_never_exceed_it(ready, user):  # noqa: ANN001
    services.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                          reason="indicator only")
    c = services.contract_sign(contract=new_contract(ready), user=ready.people.head,
                               as_of=AS_OF)
    reqs = [services.payment_request_create(
        dims=dims(), year=YEAR, amount=Decimal("100.00"), payee=ready.payee, purpose="合同付款",
        user=ready.people.filer, as_of=AS_OF, contract=c) for _ in range(8)]

    def run(req):  # noqa: ANN001, ANN202
        try:
            services.payment_request_submit(request=req, user=ready.people.filer, as_of=AS_OF)
            return "ok"
        except errors.ContractExceeded:
            return "exceeded"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(run, reqs))
    assert (outcomes.count("ok"), outcomes.count("exceeded")) == (6, 2)
    f = services.contract_figures(c)
    assert (f.committed, f.pending, f.remaining) == (Decimal("600.00"), Decimal("600.00"), 0)
    assert selectors.balance(account="9201") == Decimal("600.00")
    assert selectors.ledger_verify().ok
