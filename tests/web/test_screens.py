"""What each role sees and does on its screens; sign-in with throttling."""
from __future__ import annotations

from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessLog
from django.contrib.auth.models import Group

from finance import selectors as ledger
from payments import services as pay
from payments.models import PaymentRequest
from tests.helpers import YEAR

pytestmark = pytest.mark.django_db


def available(unit: str = "440300101") -> Decimal:
    return ledger.balance(account="9101", year=YEAR, unit=unit)


class TestSignIn:
    def test_a_good_password_signs_in_to_my_work_and_is_recorded(self, client, world):  # noqa: ANN001
        response = client.post("/accounts/login/", {"username": "filer",
                                                    "password": "x-Secret-123"})
        assert response.status_code == 302
        assert response["Location"] == "/web/"
        assert AccessLog.objects.filter(username="filer").count() == 1

    def test_wrong_passwords_are_recorded_and_lock_the_account_after_five(self, client, world):  # noqa: ANN001
        for _ in range(4):
            response = client.post("/accounts/login/", {"username": "filer", "password": "bad"})
            assert response.status_code == 200
            assert "The user name or password is wrong" in response.content.decode()
        assert AccessAttempt.objects.get(username="filer").failures_since_start == 4
        response = client.post("/accounts/login/", {"username": "filer",
                                                    "password": "x-Secret-123"})
        assert response.status_code == 302  # the fifth is right: allowed, counter reset
        client.logout()
        for _ in range(5):
            response = client.post("/accounts/login/", {"username": "filer", "password": "bad"})
        assert response.status_code == 429
        assert "Too many failed sign-ins" in response.content.decode()
        response = client.post("/accounts/login/", {"username": "filer",
                                                    "password": "x-Secret-123"})
        assert response.status_code == 429  # locked even with the right password

    def test_the_sign_in_page_is_chinese_by_default_and_english_on_request(self, client, world):  # noqa: ANN001
        from django.test import Client
        from django.utils import translation

        with translation.override(None):
            zh = Client().get("/accounts/login/").content.decode()
            en = client.get("/accounts/login/").content.decode()
        assert "登录" in zh
        assert "Sign in" in en


@pytest.fixture
def no_plan_control(world, user):  # noqa: ANN001
    """Submissions happen today, not in the planned month: fund 1 without plan control."""
    pay.fund_source_plan_control_set(fund_source="1", enabled=False, user=user, reason="test")


class TestUnitScreens:
    def test_the_filer_sees_available_amounts_with_separators_and_the_request(
            self, client, world):  # noqa: ANN001
        client.force_login(world.people.filer)
        body = client.get(f"/web/?year={YEAR}").content.decode()
        assert available() == Decimal("879.50")
        assert "879.50" in body and "1,000.00" in body
        assert world.r1.tracking_id in body and "awaiting unit head" in body

    def test_a_rejection_and_its_reason_are_shown_to_the_unit(self, client, world):  # noqa: ANN001
        pay.payment_request_reject(request=world.r1, user=world.people.head,
                                   comment="合同未附")
        client.force_login(world.people.filer)
        body = client.get(f"/web/?year={YEAR}").content.decode()
        assert "Rejected: 合同未附" in body
        assert available() == Decimal("1000.00")

    @pytest.mark.usefixtures("no_plan_control")
    def test_a_filer_files_a_draft_and_submits_it_from_the_screens(self, client, world):  # noqa: ANN001
        client.force_login(world.people.filer)
        form = client.get(f"/web/requests/new/?year={YEAR}").context["form"]
        indicator = form.fields["indicator"].choices[0][0]
        response = client.post(f"/web/requests/new/?year={YEAR}", {
            "indicator": indicator, "payee": world.payee.pk, "amount": "234.56", "purpose": "办公用品"})
        req = PaymentRequest.objects.get(purpose="办公用品")
        assert response["Location"] == f"/web/requests/{req.tracking_id}/"
        assert req.status == "draft" and req.amount == Decimal("234.56")
        response = client.post(f"/web/requests/{req.tracking_id}/submit/", follow=True)
        assert "awaiting unit head" in response.content.decode()
        assert available() == Decimal("644.94")

    @pytest.mark.usefixtures("no_plan_control")
    def test_save_and_submit_sends_it_for_review_at_once(self, client, world):  # noqa: ANN001
        client.force_login(world.people.filer)
        page = client.get(f"/web/requests/new/?year={YEAR}")
        assert 'name="and_submit"' in page.content.decode()
        indicator = page.context["form"].fields["indicator"].choices[0][0]
        response = client.post(f"/web/requests/new/?year={YEAR}", {
            "indicator": indicator, "payee": world.payee.pk, "amount": "234.56",
            "purpose": "送审", "and_submit": "1"}, follow=True)
        req = PaymentRequest.objects.get(purpose="送审")
        assert req.status == "unit_review"
        assert "awaiting unit head" in response.content.decode()
        assert available() == Decimal("644.94")
        body = client.post(f"/web/requests/new/?year={YEAR}", {
            "indicator": indicator, "payee": world.payee.pk, "amount": "900.00",
            "purpose": "超额送审", "and_submit": "1"}).content.decode()
        assert "The indicator has 644.94 available; 900.00 was requested." in body
        assert not PaymentRequest.objects.filter(purpose="超额送审").exists()

    @pytest.mark.usefixtures("no_plan_control")
    def test_too_large_an_amount_is_refused_with_the_figures(self, client, world):  # noqa: ANN001
        client.force_login(world.people.filer)
        form = client.get(f"/web/requests/new/?year={YEAR}").context["form"]
        client.post(f"/web/requests/new/?year={YEAR}", {
            "indicator": form.fields["indicator"].choices[0][0], "payee": world.payee.pk,
            "amount": "900.00", "purpose": "超额"})
        req = PaymentRequest.objects.get(purpose="超额")
        body = client.post(f"/web/requests/{req.tracking_id}/submit/",
                           follow=True).content.decode()
        assert "The indicator has 879.50 available; 900.00 was requested." in body
        assert PaymentRequest.objects.get(pk=req.pk).status == "draft"


class TestReviewQueues:
    def test_the_unit_head_approves_from_the_queue_then_the_treasury(self, client, world):  # noqa: ANN001
        client.force_login(world.people.head)
        body = client.get("/web/").content.decode()
        assert "Review queue" in body and world.r1.tracking_id in body
        client.post("/web/requests/decide/", {"ids": [world.r1.tracking_id],
                                              "action": "approve", "comment": "ok"})
        assert PaymentRequest.objects.get(pk=world.r1.pk).status == "treasury_review"
        client.force_login(world.people.reviewer)
        client.post("/web/requests/decide/", {"ids": [world.r1.tracking_id],
                                              "action": "approve"})
        assert PaymentRequest.objects.get(pk=world.r1.pk).status == "approved"

    def test_many_are_decided_each_on_its_own_checks(self, client, world):  # noqa: ANN001
        pay.payment_request_approve(request=world.r1, user=world.people.head)
        client.force_login(world.people.reviewer)
        body = client.get("/web/").content.decode()
        assert world.r1.tracking_id in body and world.r2.tracking_id not in body  # r2 not ready
        response = client.post("/web/requests/decide/", {
            "ids": [world.r1.tracking_id, world.r2.tracking_id], "action": "approve"},
            follow=True)
        text = response.content.decode()
        assert f"Approved: {world.r1.tracking_id}" in text
        assert (f"{world.r2.tracking_id}: reviewer may not approve this request: the role "
                "unit_head is required.") in text
        assert PaymentRequest.objects.get(pk=world.r2.pk).status == "unit_review"

    def test_many_are_rejected_each_on_its_own_checks(self, client, world):  # noqa: ANN001
        pay.payment_request_approve(request=world.r1, user=world.people.head)
        client.force_login(world.people.reviewer)
        text = client.post("/web/requests/decide/", {
            "ids": [world.r1.tracking_id, world.r2.tracking_id], "action": "reject",
            "comment": "附件不全"}, follow=True).content.decode()
        assert f"Rejected: {world.r1.tracking_id}" in text
        assert (f"{world.r2.tracking_id}: reviewer may not reject this request: the role "
                "unit_head is required.") in text
        assert PaymentRequest.objects.get(pk=world.r1.pk).status == "rejected"
        assert PaymentRequest.objects.get(pk=world.r2.pk).status == "unit_review"

    def test_a_rejection_without_a_comment_is_refused(self, client, world):  # noqa: ANN001
        client.force_login(world.people.head)
        text = client.post("/web/requests/decide/", {"ids": [world.r1.tracking_id],
                                                     "action": "reject"},
                           follow=True).content.decode()
        assert "A reason is required." in text
        assert PaymentRequest.objects.get(pk=world.r1.pk).status == "unit_review"

    def test_a_unit_head_cannot_decide_another_units_request(self, client, world):  # noqa: ANN001
        client.force_login(world.people.head)
        client.post("/web/requests/decide/", {"ids": [world.r2.tracking_id], "action": "approve"})
        assert PaymentRequest.objects.get(pk=world.r2.pk).status == "unit_review"


class TestOtherRoles:
    def test_budget_office_and_auditor_find_their_links(self, client, world, django_user_model):  # noqa: ANN001
        client.force_login(world.people.office)
        body = client.get("/web/").content.decode()
        assert "Budget plans not yet approved" in body and "/reports/execution/" in body
        client.force_login(world.people.auditor)
        body = client.get("/web/").content.decode()
        assert "/audit/alerts/" in body and "/audit/" in body

    def test_a_user_without_role_is_told_what_to_do(self, client, world, django_user_model):  # noqa: ANN001
        nobody = django_user_model.objects.create_user(username="nobody", password="x")
        Group.objects.get_or_create(name="unused")
        client.force_login(nobody)
        assert "ask your administrator" in client.get("/web/").content.decode()

    def test_error_pages_say_what_to_do(self, client, world):  # noqa: ANN001
        client.force_login(world.people.filer)
        assert "Check the address" in client.get("/web/requests/NOPE/").content.decode()
        forbidden = client.get("/audit/")
        assert forbidden.status_code == 403
        assert "ask your unit's administrator" in forbidden.content.decode()
