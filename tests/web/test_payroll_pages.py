"""工资统发 pages: the unit's payroll list with the upload, the batch page with masked
personal data for everyone but the unit's filer and the treasury, submission and one
level of approval from the page (the services are tested in tests/payments/test_payroll.py)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from budgets.models import Project
from finance import selectors as ledger
from payments import services as pay
from payments.models import Payee, PaymentRequest, PayrollBatch
from tests.helpers import YEAR, indicator_approve
from tests.payments.test_payroll import PAYROLL, PROJECT, WAGES

pytestmark = pytest.mark.django_db
# the permission matrix of these pages (tests/web/test_permissions.py's registry)
ROLES = ["anonymous", "filer", "head", "other_filer", "dept", "reviewer", "office", "auditor"]
LOGIN, A, N, M = 302, 200, 404, 405  # M: permitted, but the page takes POST only
PAGES = {
    "/web/payroll/":            [LOGIN, A, A, A, A, A, A, A],
    "/web/payroll/{p1}/":       [LOGIN, A, A, N, A, A, A, A],
    "/web/payroll/{p1}/act/":   [LOGIN, M, M, M, M, M, M, M],
}


def zh() -> Client:
    return Client(headers={"accept-language": "zh-hans"})


@pytest.fixture
def payroll_world(world, user):  # noqa: ANN001
    """U1's 人员类 project and 40,000.00 on 基本工资 (no plan control: the pages file today);
    the payroll's banks; the three collectors of the withheld amounts."""
    Project.objects.create(code=PROJECT, name="在职人员工资", unit=world.orgs["u1"],
                           category="personnel", total_amount=Decimal("480000.00"),
                           status="in_library")
    indicator_approve(Decimal("40000.00"), WAGES)
    pay.fund_source_plan_control_set(fund_source=WAGES.fund_source, enabled=False, user=user,
                                     reason="test: filed today, not in March")
    for cnaps, name in (("105584000135", "中国建设银行深圳福田支行"),
                        ("308584000013", "招商银行深圳分行营业部"),
                        ("102584000002", "中国工商银行深圳分行")):
        pay.bank_upsert(cnaps=cnaps, name=name, user=user)
    world.collect = {kind: pay.payee_save(
        name=name, account_number=acct, bank_name="中国工商银行", branch_name="深圳分行",
        cnaps="102584000002", user=user, reason="set-up") for kind, name, acct in (
        ("tax", "国家税务总局深圳市南山区税务局", "4403010000000001"),
        ("social", "深圳市社会保险基金管理局", "4403010000000002"),
        ("housing", "深圳市住房公积金管理中心", "4403010000000003"))}
    return world


def upload(c: Client) -> object:
    return c.post(f"/web/payroll/?year={YEAR}", {
        "indicator": WAGES.key(YEAR), "month": "3",
        "file": SimpleUploadedFile("工资表_202603.csv", PAYROLL, content_type="text/csv")})


def test_each_role_gets_the_expected_answer(payroll_world):  # noqa: ANN001
    c = zh()
    c.force_login(payroll_world.people.filer)
    upload(c)
    batch = PayrollBatch.objects.get()
    wrong = []
    for i, role in enumerate(ROLES):
        c = Client()
        if role != "anonymous":
            c.force_login(getattr(payroll_world.people, role))
        for template, answers in PAGES.items():
            got = c.get(template.format(p1=batch.pk)).status_code
            if got != answers[i]:
                wrong.append(f"{role} {template}: {got}, expected {answers[i]}")
    assert wrong == []


def test_upload_mask_submit_and_approve_through_the_pages(payroll_world):  # noqa: ANN001
    w = payroll_world
    c = zh()
    c.force_login(w.people.filer)
    assert "工资统发" in c.get("/web/").content.decode()  # in the filer's menu
    r = upload(c)
    batch = PayrollBatch.objects.get()
    assert r["Location"] == f"/web/payroll/{batch.pk}/"
    page = c.get(r["Location"]).content.decode()
    # the filer sees the ID number in full; 应发 30,796.17, 实发 23,566.69 (worked in
    # tests/payments/test_payroll.py)
    assert "44030619881105345X" in page and 'id="t-gross">30,796.17' in page
    assert 'id="t-net">23,566.69' in page
    head = zh()
    head.force_login(w.people.head)
    seen = head.get(r["Location"]).content.decode()
    assert "440***********345X" in seen and "6214********5566" in seen
    assert "44030619881105345X" not in seen and "6214830000555566" not in seen
    c.post(f"/web/payroll/{batch.pk}/act/", {
        "action": "submit", **{k: p.pk for k, p in w.collect.items()}})
    batch.refresh_from_db()
    assert batch.status == "submitted"
    assert ledger.balance(account="9201", year=YEAR, unit=WAGES.unit, economic="30101",
                          project=PROJECT) == Decimal("30796.17")
    # the person, now an individual payee of U1's book: masked for the head on the payee
    # book and the request page, in full for the filer
    wang = Payee.objects.get(account_number="6214830000555566")
    req = PaymentRequest.objects.get(payee=wang)
    for url in ("/web/payees/", f"/web/payees/{wang.pk}/", f"/web/requests/{req.tracking_id}/"):
        seen = head.get(url).content.decode()
        assert "6214********5566" in seen and "6214830000555566" not in seen, url
        assert "6214830000555566" in c.get(url).content.decode(), url
    head.post(f"/web/payroll/{batch.pk}/act/", {"action": "approve"})
    # 3 people + 3 withholdings, each now awaiting the treasury reviewer
    assert sorted(PaymentRequest.objects.filter(unit=WAGES.unit, economic="30101")
                  .values_list("status", flat=True)) == ["treasury_review"] * 6
