"""The day of the sample bank files (2026-10-15), built through the real services:
four approved requests on vouchers ZF2026100001..4 for the agent bank."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

from finance.services import entry_post
from payments import services
from tests.helpers import YEAR, approve_lines, dims
from tests.payments.conftest import SH, approve_all, payee

OCT14 = dt.datetime(2026, 10, 14, 16, 0, tzinfo=SH)
OCT15 = dt.datetime(2026, 10, 15, 9, 0, tzinfo=SH)
AUTHORITY = Decimal("2000000.00")
PAYEES = [  # name, account, cnaps, bank, branch, amount, purpose
    ("深圳市南山某科技有限公司", "6222020200112233445", "102584002015", "中国工商银行",
     "深圳南山支行", "12500.00", "办公费"),
    ("深圳市福田某印务有限公司", "6217000010012345678", "105584000135", "中国建设银行",
     "深圳福田支行", "3280.50", "印刷费"),
    ("张某某", "6228480010099887766", "103584003018", "中国农业银行", "深圳罗湖支行",
     "860.00", "劳务费"),
    ("深圳市某建设工程有限公司", "755912345610901", "308584000013", "招商银行",
     "深圳分行营业部", "1250000.00", "道路改造工程进度款"),
]


def build(people: SimpleNamespace, agent: object, user: object) -> SimpleNamespace:
    entry_post(lines=approve_lines(AUTHORITY), description="批复", user=user,
               on=dt.date(2026, 10, 1))
    plan = services.plan_apply(dims=dims(), year=YEAR, month=10, amount=Decimal("1300000.00"),
                               user=people.filer, as_of=OCT14)
    services.plan_approve(plan=plan, user=user, as_of=OCT14)
    requests = []
    for name, account, cnaps, bank, branch, amount, purpose in PAYEES:
        p = payee(user, name=name, account=account, cnaps=cnaps, bank=bank, branch=branch)
        req = services.payment_request_create(dims=dims(), year=YEAR, amount=Decimal(amount),
                                              payee=p, purpose=purpose, user=people.filer,
                                              as_of=OCT14)
        req = services.payment_request_submit(request=req, user=people.filer, as_of=OCT14)
        requests.append(approve_all(people, req, OCT14))
    batch = services.voucher_batch_create(agent_account=agent, user=people.reviewer,
                                          as_of=OCT15)
    return SimpleNamespace(requests=requests, batch=batch)
