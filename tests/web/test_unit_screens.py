"""Screens a unit and the treasury expect (issue 18): 用款计划 (a filer applies for a
month's plan, the treasury approves it in full or in part, and the plan then decides the
unit's requests), a refused request corrected and filed again, and the request page's
links to its voucher, bank results, ledger entries and field history. Every step goes
through the pages with the real services."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from finance.models import WorkflowStep
from payments import errors
from payments import services as pay
from payments.models import PaymentPlan, PaymentRequest
from tests.helpers import YEAR, dims
from tests.payments.conftest import payee as make_payee
from tests.web.conftest import AS_OF, U1
from tests.web.test_treasury_screens import paid  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db
# the permission matrix of these pages (tests/web/test_permissions.py's registry)
ROLES = ["anonymous", "filer", "head", "other_filer", "dept", "reviewer", "office", "auditor"]
LOGIN, A, D, M = 302, 200, 403, 405  # M: permitted, but the page takes POST only
PAGES = {
    "/web/plans/":                          [LOGIN, A, D, A, D, D, D, D],
    "/web/treasury/plans/":                 [LOGIN, D, D, D, D, A, D, D],
    "/web/treasury/plans/approve/":         [LOGIN, D, D, D, D, M, D, D],
    "/web/treasury/plans/{plan}/approve/":  [LOGIN, D, D, D, D, M, D, D],
    "/web/requests/{r1}/refile/":           [LOGIN, M, M, M, M, M, M, M],
}
PLANS = f"/web/plans/?year={YEAR}"
REVIEW = "/web/treasury/plans/"
FILE = f"/web/requests/new/?year={YEAR}"


def this_month() -> int:
    """Requests are submitted now: the plan that decides them is this month's."""
    return timezone.localdate().month


def _indicator(client) -> str:  # noqa: ANN001
    return client.get(PLANS).context["form"].fields["indicator"].choices[0][0]


def _file(client, world, amount: str, purpose: str):  # noqa: ANN001, ANN202
    indicator = client.get(FILE).context["form"].fields["indicator"].choices[0][0]
    return client.post(FILE, {"indicator": indicator, "payee": world.payee.pk, "amount": amount,
                              "purpose": purpose, "and_submit": "1"}, follow=True)


def test_every_page_for_every_role(client, world):  # noqa: ANN001
    ids = {"plan": PaymentPlan.objects.filter(unit=U1).first().pk, "r1": world.r1.tracking_id}
    wrong = []
    for role in ROLES:
        client.logout()
        if role != "anonymous":
            client.force_login(getattr(world.people, role))
        for template, answers in PAGES.items():
            got = client.get(template.format(**ids)).status_code
            if got != answers[ROLES.index(role)]:
                wrong.append(f"{role} {template}: {got}, expected {answers[ROLES.index(role)]}")
    assert wrong == []


class TestPaymentPlans:
    def test_apply_approve_in_part_then_the_plan_decides_the_requests(self, client, world):  # noqa: ANN001
        month = this_month()
        client.force_login(world.people.filer)
        page = client.get(PLANS)
        assert page.status_code == 200
        # the indicator is offered with its codes and names, as on the filing page
        label = page.context["form"].fields["indicator"].choices[0][1]
        assert label.startswith("2050203") and "30201" in label and "(879.50)" in label
        response = client.post(PLANS, {"indicator": _indicator(client), "month": month,
                                       "amount": "1400.00"}, follow=True)
        body = response.content.decode()
        plan = PaymentPlan.objects.get(year=YEAR, month=month, unit=U1)
        assert (plan.status, plan.applied) == ("applied", Decimal("1400.00"))
        assert "1,400.00" in body and "status-applied" in body

        client.force_login(world.people.reviewer)
        queue = client.get(REVIEW).content.decode()
        assert f'id="plan-{plan.pk}"' in queue and "1,400.00" in queue
        assert f"{U1} " in queue  # the unit with its name
        # more than applied is refused; a smaller amount is approved
        body = client.post(f"{REVIEW}{plan.pk}/approve/", {"amount": "1500.00"},
                           follow=True).content.decode()
        assert "at most the applied 1,400.00 can be approved" in body
        assert PaymentPlan.objects.get(pk=plan.pk).status == "applied"
        client.post(f"{REVIEW}{plan.pk}/approve/", {"amount": "300.00", "comment": "按进度"})
        plan.refresh_from_db()
        assert (plan.status, plan.approved) == ("approved", Decimal("300.00"))
        assert f'id="plan-{plan.pk}"' not in client.get(REVIEW).content.decode().split(
            'id="recent"')[0]

        client.force_login(world.people.filer)
        used_before = Decimal("120.50") if month == 3 else Decimal("0.00")  # world's r1
        _file(client, world, "150.00", "计划内")
        assert PaymentRequest.objects.get(purpose="计划内").status == "unit_review"
        body = _file(client, world, "200.00", "超计划").content.decode()
        remaining = Decimal("300.00") - used_before - Decimal("150.00")
        assert f"allows {remaining:,.2f} more (approved 300.00); 200.00 was requested" in body
        assert not PaymentRequest.objects.filter(purpose="超计划").exists()
        page = client.get(PLANS)
        row = next(p for p in page.context["plans"] if p.pk == plan.pk)
        assert (row.used, row.remaining) == (used_before + Decimal("150.00"), remaining)
        assert f"{remaining:,.2f}" in page.content.decode()

    def test_the_treasury_approves_several_in_full_and_the_menu_counts_them(
            self, client, world):  # noqa: ANN001
        for month in (10, 11):
            pay.plan_apply(dims=dims(unit=U1), year=YEAR, month=month,
                           amount=Decimal("2000.00"), user=world.people.filer, as_of=AS_OF)
        client.force_login(world.people.reviewer)
        home = client.get("/web/").content.decode()
        assert "Payment plans awaiting approval" in home and "Payment plan review" in home
        ids = list(PaymentPlan.objects.filter(status="applied").values_list("pk", flat=True))
        client.post(f"{REVIEW}approve/", {"ids": ids})
        assert set(PaymentPlan.objects.filter(pk__in=ids).values_list("status", "approved")) == {
            ("approved", Decimal("2000.00"))}
        assert "No payment plan is waiting for approval" in client.get(REVIEW).content.decode()
        # approving again what is approved changes nothing
        body = client.post(f"{REVIEW}{ids[0]}/approve/", {"amount": "1.00"},
                           follow=True).content.decode()
        assert "is not waiting for approval" in body
        assert PaymentPlan.objects.get(pk=ids[0]).approved == Decimal("2000.00")

    def test_who_opens_which_plan_page(self, client, world):  # noqa: ANN001
        expected = {"filer": (200, 403), "head": (403, 403), "reviewer": (403, 200),
                    "office": (403, 403), "auditor": (403, 403)}
        for name, (plans, review) in expected.items():
            client.force_login(getattr(world.people, name))
            got = (client.get(PLANS).status_code, client.get(REVIEW).status_code)
            assert got == (plans, review), name
        client.force_login(world.people.filer)
        plan = PaymentPlan.objects.filter(unit=U1).first()
        assert client.post(f"{REVIEW}{plan.pk}/approve/", {}).status_code == 403
        client.logout()
        assert client.get(PLANS).status_code == 302

    def test_the_menu_in_chinese(self, world):  # noqa: ANN001
        from django.test import Client

        zh = Client(headers={"accept-language": "zh-hans"})
        zh.force_login(world.people.filer)
        assert "用款计划" in zh.get("/web/").content.decode()
        zh.force_login(world.people.reviewer)
        assert "用款计划审核" in zh.get("/web/").content.decode()


@pytest.fixture
def refused(world, user):  # noqa: ANN001
    """A request of U1 refused by the rules (its payee is blocked), with a contract."""
    pay.fund_source_plan_control_set(fund_source="1", enabled=False, user=user, reason="test")
    pay.payee_block(payee=world.payee, blocked=True, reason="法院冻结", user=user)
    req = pay.payment_request_create(dims=dims(unit=U1), year=YEAR, amount=Decimal("88.00"),
                                     payee=world.payee, purpose="印刷费", user=world.people.filer,
                                     contract_ref="HT-2026-007",
                                     attachments=[("invoice.pdf", b"%PDF-1.4 x")], submit=True)
    req.refresh_from_db()
    assert req.status == "refused"
    return req


class TestRefile:
    def test_a_refused_request_is_corrected_and_filed_again_with_the_link(
            self, client, world, user, refused):  # noqa: ANN001
        other = make_payee(user, name="深圳市印刷有限公司", account="6222020200998877665")
        client.force_login(world.people.filer)
        page = client.get(f"/web/requests/{refused.tracking_id}/").content.decode()
        assert 'id="refile-submit"' in page
        response = client.post(f"/web/requests/{refused.tracking_id}/refile/", {
            "payee": other.pk, "amount": "90.00", "purpose": "印刷费（更正收款人）"})
        new = PaymentRequest.objects.exclude(pk=refused.pk).get(purpose="印刷费（更正收款人）")
        assert response["Location"] == f"/web/requests/{new.tracking_id}/"
        assert (new.status, new.payee, new.amount) == ("draft", other, Decimal("90.00"))
        assert (new.dims, new.year, new.contract_ref) == (refused.dims, refused.year, "HT-2026-007")
        assert [a.name for a in new.attachments.all()] == ["invoice.pdf"]
        comments = set(WorkflowStep.objects.filter(action="refile").values_list("doc_id",
                                                                                 "comment"))
        assert comments == {(str(new.pk), f"重新提交自 {refused.tracking_id}"),
                            (str(refused.pk), f"重新提交为 {new.tracking_id}")}
        refused.refresh_from_db()
        assert refused.status == "refused"  # kept, with its history
        new_page = client.get(response["Location"]).content.decode()
        assert f'href="/web/requests/{refused.tracking_id}/"' in new_page
        assert 'id="submit"' in new_page
        old_page = client.get(f"/web/requests/{refused.tracking_id}/").content.decode()
        assert f'href="/web/requests/{new.tracking_id}/"' in old_page
        assert 'id="refile-submit"' not in old_page and 'id="submit"' not in old_page
        # the old one is filed again, or submitted again, no more
        body = client.post(f"/web/requests/{refused.tracking_id}/refile/", {
            "payee": other.pk, "amount": "90.00", "purpose": "再来"}, follow=True).content.decode()
        assert f"was already filed again as {new.tracking_id}" in body
        with pytest.raises(errors.AlreadyRefiled):
            pay.payment_request_submit(request=refused, user=world.people.filer)
        # the new draft submits
        client.post(f"/web/requests/{new.tracking_id}/submit/")
        assert PaymentRequest.objects.get(pk=new.pk).status == "unit_review"

    def test_only_a_refused_or_returned_request_and_only_by_a_filer_of_its_unit(
            self, client, world, refused):  # noqa: ANN001
        with pytest.raises(errors.WrongState):  # r1 is under review
            pay.payment_request_refile(request=world.r1, user=world.people.filer)
        with pytest.raises(errors.NotAllowed):
            pay.payment_request_refile(request=refused, user=world.people.other_filer)
        client.force_login(world.people.head)
        assert 'id="refile-submit"' not in client.get(
            f"/web/requests/{refused.tracking_id}/").content.decode()
        before = PaymentRequest.objects.count()
        client.post(f"/web/requests/{refused.tracking_id}/refile/", {
            "payee": refused.payee_id, "amount": "1.00", "purpose": "x"})
        assert PaymentRequest.objects.count() == before


class TestRequestLinks:
    def test_every_link_of_a_paid_request_opens(self, client, world, paid):  # noqa: ANN001, F811
        req = PaymentRequest.objects.get(pk=world.r1.pk)
        assert req.status == "paid"
        for person, audit in ((world.people.auditor, True), (world.people.reviewer, False),
                              (world.people.filer, False)):
            client.force_login(person)
            page = client.get(f"/web/requests/{req.tracking_id}/")
            assert page.status_code == 200
            body = page.content.decode()
            assert page.context["voucher"].number in body
            assert page.context["results"] and page.context["entries"]
            links = set(__import__("re").findall(r'href="(/(?:audit|payments|web/treasury)/[^"]+)"',
                                                 body))
            assert any("/payments/trace/" in u for u in links)
            assert any("/audit/entries/" in u for u in links) == audit
            assert any("/audit/history/payments.paymentrequest/" in u for u in links) == audit
            for url in links:
                assert client.get(url).status_code == 200, (person, url)


def _chromium() -> bool:
    from tests.web.test_browser import CHROMIUM

    return CHROMIUM.exists()


@pytest.mark.skipif(not _chromium(), reason="browser tests need Debian's Chromium")
@pytest.mark.django_db(transaction=True)
def test_the_plan_pages_fit_a_phone_and_are_shot(live_server, world, monkeypatch):  # noqa: ANN001
    """The filer's plan page and the treasury's queue in Chromium at 390 and 1440 px
    (screenshots in $TEST_ARTIFACTS/layout), nothing wider than the phone."""
    import os
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    pay.plan_apply(dims=dims(unit=U1), year=YEAR, month=this_month(),
                   amount=Decimal("1234567.89"), user=world.people.filer, as_of=AS_OF)
    shots = Path(os.environ.get("LAYOUT_SHOTS", ARTIFACTS / "layout"))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        for who, url in (("filer", PLANS), ("reviewer", REVIEW)):
            ctx = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
            page = ctx.new_page()
            page.goto(f"{live_server.url}/accounts/login/?next=/web/")
            page.fill("input[name=username]", who)
            page.fill("input[name=password]", "x-Secret-123")
            page.click("button[type=submit]:has-text('登录')")
            page.wait_for_url("**/web/")
            page.goto(f"{live_server.url}{url}")
            assert "1,234,567.89" in page.inner_text("main")
            page.screenshot(path=str(shots / f"plans-{who}-1440.png"), full_page=True)
            page.set_viewport_size({"width": 390, "height": 844})
            page.reload()
            page.screenshot(path=str(shots / f"plans-{who}-390.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, url
            ctx.close()
        browser.close()
