"""Generated statement files (random amounts, references, encodings, line endings)
reconcile exactly against the vouchers they were generated from."""
from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance.services import entry_post
from payments import services
from payments.importers.common import ResultRow
from payments.models import BankFile, ReconException, StatementLine
from tests.helpers import YEAR, approve_lines, dims
from tests.payments.conftest import SH, approve_all, payee
from tests.payments.statement_files import Booked, camt053, mt940

DAY = dt.date(2026, 11, 20)
AT = dt.datetime(2026, 11, 20, 9, 0, tzinfo=SH)
counter = itertools.count(1)

refs = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=6, max_size=14)
example = st.fixed_dictionaries({
    "amounts": st.lists(st.integers(min_value=1, max_value=99_999_999), min_size=1, max_size=5),
    "refs": st.lists(refs, min_size=6, max_size=6, unique=True),
    "fmt": st.sampled_from(["camt053", "mt940"]),
    "encoding": st.sampled_from(["UTF-8", "GBK"]),
    "newline": st.sampled_from(["\n", "\r\n"]),
    "with_e2e": st.booleans(),
})


@pytest.fixture
def rich(ready, user):  # noqa: ANN001
    entry_post(lines=approve_lines(Decimal("900000000.00")), description="批复", user=user,
               on=dt.date(2026, 11, 1))
    services.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                          reason="generated files")
    return ready


class TestGeneratedStatements:
    @settings(max_examples=12, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(ex=example)
    def test_reconcile_exactly_against_their_vouchers(self, rich, user, banks, ex):
        n = next(counter)
        people = rich.people
        agent = services.agent_account_upsert(number=f"4403019{n:010d}", name="零余额账户",
                                              bank=banks["102584000002"], user=user)
        amounts = [Decimal(fen) / 100 for fen in ex["amounts"]]
        reqs = []
        for i, amount in enumerate(amounts):
            p = payee(user, name=f"收款人{n}-{i}", account=f"62220{n:06d}{i:04d}")
            req = services.payment_request_create(dims=dims(), year=YEAR, amount=amount,
                                                  payee=p, purpose="生成", user=people.filer,
                                                  as_of=AT)
            req = services.payment_request_submit(request=req, user=people.filer, as_of=AT)
            reqs.append(approve_all(people, req, AT))
        batch = services.voucher_batch_create(agent_account=agent, user=people.reviewer,
                                              requests=reqs, as_of=AT)
        vouchers = list(batch.vouchers.select_related("request__payee"))
        bank_file = BankFile.objects.create(filename="results", sha256="-", format="results_csv",
                                            imported_at=AT)
        booked = []
        for v, ref in zip(vouchers, ex["refs"], strict=False):
            services.bank_result_apply(row=ResultRow(
                line=1, voucher_number=v.number, payer_account=agent.number,
                payee_account=v.request.payee.account_number, payee_name="", amount=v.amount,
                outcome="paid", bank_ref=f"{ref}{n}", traded_at=AT, reason=""),
                bank_file=bank_file, user=user, as_of=AT)
            booked.append(Booked(bank_ref=f"{ref}{n}", amount=v.amount, credit=False,
                                 end_to_end_id=v.number if ex["with_e2e"] else "",
                                 payee_name=v.request.payee.name,
                                 payee_account=v.request.payee.account_number, info="办公费"))
        booked.append(Booked(bank_ref=f"QS{ex['refs'][-1]}{n}", amount=sum(amounts), credit=True,
                             info="清算"))
        if ex["fmt"] == "camt053":
            content = camt053(agent.number, DAY, booked, encoding=ex["encoding"],
                              newline=ex["newline"])
        else:
            if not ex["with_e2e"]:  # MT940 carries no payee account: the reference is the key
                booked = [Booked(b.bank_ref, b.amount, b.credit, v.number) if not b.credit else b
                          for b, v in zip(booked, [*vouchers, None], strict=True)]
            content = mt940(agent.number, DAY, booked, newline=ex["newline"])
        report = services.bank_file_import(content=content, filename="gen", user=user)
        assert report.issues == []
        assert (report.stored, report.matched, report.exceptions) == (
            len(booked), len(booked), 0)
        lines = StatementLine.objects.filter(account=agent.number)
        assert {ln.voucher.number for ln in lines if ln.voucher} == {v.number for v in vouchers}
        assert sum(ln.amount for ln in lines if not ln.credit) == sum(amounts)
        assert not ReconException.objects.filter(account=agent.number).exists()
