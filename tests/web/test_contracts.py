"""合同 pages (issue 21 item 2): the register, a new contract with its schedule, sign and
close early, and the request form's contract choice — through the pages with the real
services. U1's indicator is 1,000.00 with r1 (120.50) committed: 879.50 available."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from finance import chart
from finance import selectors as ledger
from payments.models import Contract, PaymentRequest
from tests.helpers import YEAR, dims
from tests.web.conftest import U1

pytestmark = pytest.mark.django_db
D = Decimal
# the permission matrix of these pages (tests/web/test_permissions.py's registry)
ROLES = ["anonymous", "filer", "head", "other_filer", "dept", "reviewer", "office", "auditor"]
LOGIN, A, F, N, M = 302, 200, 403, 404, 405  # M: permitted, but the page takes POST only
PAGES = {
    "/web/contracts/":              [LOGIN, A, A, A, A, A, A, A],
    "/web/contracts/new/":          [LOGIN, A, F, A, F, F, F, F],
    "/web/contracts/{c1}/":         [LOGIN, A, A, N, A, A, A, A],
    "/web/contracts/{c1}/sign/":    [LOGIN, M, M, M, M, M, M, M],
    "/web/contracts/{c1}/close/":   [LOGIN, M, M, M, M, M, M, M],
}


def zh() -> Client:
    return Client(headers={"accept-language": "zh-hans"})


def bal(account: str) -> Decimal:
    d = dims(unit=U1)
    return ledger.balance(account=account, year=YEAR, region=d.region, unit=d.unit,
                          function=d.function, economic=d.economic,
                          fund_source=d.fund_source, project=d.project)


def register(c: Client, world, number: str = "HT-001", schedule: str = "2026-04-15 250.00\n"  # noqa: ANN001
             "2026-09-15 350.00") -> object:
    return c.post(f"/web/contracts/new/?year={YEAR}", {
        "number": number, "title": "教学楼维修", "counterparty": world.payee.pk,
        "indicator": dims(unit=U1).key(YEAR), "amount": "600.00", "start": f"{YEAR}-03-01",
        "end": f"{YEAR}-12-31", "schedule": schedule})


@pytest.fixture
def signed(world):  # noqa: ANN001
    c = zh()
    c.force_login(world.people.filer)
    assert register(c, world).status_code == 302
    contract = Contract.objects.get(number="HT-001")
    c.force_login(world.people.head)
    c.post(f"/web/contracts/{contract.pk}/sign/")
    contract.refresh_from_db()
    return contract


def test_the_filer_registers_and_the_head_signs(world):  # noqa: ANN001
    c = zh()
    c.force_login(world.people.filer)
    page = c.get("/web/contracts/new/").content.decode()
    assert "付款计划" in page and "合同号" in page
    bad = register(c, world, schedule="2026-04-15 250.00")
    assert bad.status_code == 200 and "250.00" in bad.content.decode()
    assert "合同金额" in bad.content.decode()
    r = register(c, world)
    contract = Contract.objects.get(number="HT-001")
    assert r["Location"] == f"/web/contracts/{contract.pk}/"
    page = c.get(r["Location"]).content.decode()
    assert "草拟" in page and 'id="sign-submit"' not in page  # the filer does not sign
    c.post(f"/web/contracts/{contract.pk}/sign/")
    contract.refresh_from_db()
    assert contract.status == "draft"
    c.force_login(world.people.head)
    assert 'id="sign-submit"' in c.get(r["Location"]).content.decode()
    page = c.post(f"/web/contracts/{contract.pk}/sign/", follow=True).content.decode()
    contract.refresh_from_db()
    assert contract.status == "signed" and "已签订" in page
    assert (bal(chart.AVAILABLE), bal(chart.COMMITTED)) == (D("279.50"), D("720.50"))
    assert 'id="f-remaining">600.00' in page
    assert "合同 指标占用 HT-001" in page  # its entry


def test_a_request_under_the_contract_is_filed_from_the_request_form(world, signed, user):  # noqa: ANN001
    from payments import services as pay
    # filed today, not in March: the month's plan is not what is tested here
    pay.fund_source_plan_control_set(fund_source=dims().fund_source, enabled=False, user=user,
                                     reason="test")
    c = zh()
    c.force_login(world.people.filer)
    form = c.get(f"/web/requests/new/?year={YEAR}").content.decode()
    assert 'name="contract"' in form and "HT-001" in form
    data = {"indicator": dims(unit=U1).key(YEAR), "payee": world.payee.pk, "purpose": "首期",
            "contract": signed.pk, "contract_ref": ""}
    r = c.post(f"/web/requests/new/?year={YEAR}", {**data, "amount": "250.00",
                                                   "and_submit": "1"})
    assert r.status_code == 302, re.findall(r'msg-error[^>]*>(.*?)</', r.content.decode(), re.S)
    req = PaymentRequest.objects.get(contract=signed)
    assert (req.status, req.contract_ref, req.commit_entry) == ("unit_review", "HT-001", None)
    assert (bal(chart.AVAILABLE), bal(chart.COMMITTED)) == (D("279.50"), D("720.50"))
    over = c.post(f"/web/requests/new/?year={YEAR}", {**data, "amount": "400.00",
                                                      "and_submit": "1"})
    text = over.content.decode()
    assert over.status_code == 200 and "350.00" in text and "合同 HT-001" in text
    page = c.get(f"/web/contracts/{signed.pk}/").content.decode()
    assert req.tracking_id in page and 'id="f-remaining">350.00' in page


def test_the_head_closes_early_with_a_reason(world, signed):  # noqa: ANN001
    c = zh()
    c.force_login(world.people.head)
    page = c.post(f"/web/contracts/{signed.pk}/close/", {"reason": ""}, follow=True)
    assert "原因" in page.content.decode()
    c.post(f"/web/contracts/{signed.pk}/close/", {"reason": "项目取消"})
    signed.refresh_from_db()
    assert signed.status == "closed"
    assert (bal(chart.AVAILABLE), bal(chart.COMMITTED)) == (D("879.50"), D("120.50"))
    page = c.get(f"/web/contracts/{signed.pk}/").content.decode()
    assert "项目取消" in page and 'id="f-released">600.00' in page


def test_who_sees_the_register(world, signed):  # noqa: ANN001
    c = zh()
    c.force_login(world.people.other_filer)
    assert c.get(f"/web/contracts/{signed.pk}/").status_code == 404
    assert "HT-001" not in c.get("/web/contracts/").content.decode()
    c.force_login(world.people.reviewer)
    assert c.get(f"/web/contracts/{signed.pk}/").status_code == 200
    listing = c.get("/web/contracts/?q=HT").content.decode()
    assert "HT-001" in listing and "合同" in listing
    assert c.get("/web/contracts/new/").status_code == 403
    c.force_login(world.people.head)
    assert c.get("/web/contracts/new/").status_code == 403
    assert "HT-001" in c.get("/web/contracts/?status=signed").content.decode()
    assert "HT-001" not in c.get("/web/contracts/?status=closed").content.decode()


def test_every_page_for_every_role(client, world, signed):  # noqa: ANN001
    wrong = []
    for role in ROLES:
        client.logout()
        if role != "anonymous":
            client.force_login(getattr(world.people, role))
        for template, answers in PAGES.items():
            response = client.get(template.format(c1=signed.pk))
            if response.status_code != answers[ROLES.index(role)]:
                wrong.append(f"{role} {template}: {response.status_code}, "
                             f"expected {answers[ROLES.index(role)]}")
    assert wrong == []
