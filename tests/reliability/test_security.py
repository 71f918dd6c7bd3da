"""Attacks through the existing API: another unit's objects by id (IDOR), odd filter
parameters, CSRF on session-authenticated writes, session fixation, the filer approving
their own request, an oversized upload. Every one is refused, changes nothing, and the
refusal is logged. (The role × page matrix is the web app's test, not repeated here.)"""
from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.test import APIClient

from payments import errors as payment_errors
from payments.models import PaymentRequest
from tests.payments.conftest import file_request

pytestmark = pytest.mark.django_db

REQUESTS = "/api/payments/requests/"


def api(user) -> APIClient:  # noqa: ANN001
    c = APIClient()
    c.force_authenticate(user)
    return c


@pytest.fixture
def submitted(ready):  # noqa: ANN001
    return file_request(ready.people, ready.payee, "300.00")


class TestAnotherUnitsObjectsById:
    def test_a_head_of_another_unit_cannot_approve_a_request_by_its_id(self, ready, submitted,
                                                                       caplog):
        with caplog.at_level(logging.WARNING, logger="smart_finance.security"):
            resp = api(ready.people.other_head).post(f"{REQUESTS}{submitted.pk}/approve/",
                                                     {"comment": "ok"}, format="json")
        assert resp.status_code == 403
        assert str(payment_errors.MSG_OTHER_UNIT) in resp.json()["detail"]
        assert PaymentRequest.objects.get(pk=submitted.pk).status == "unit_review"
        assert any("other_head" in r.getMessage() and str(submitted.pk) in r.getMessage()
                   for r in caplog.records)

    def test_a_head_of_another_unit_cannot_reject_a_request_by_its_id(self, ready, submitted):
        resp = api(ready.people.other_head).post(f"{REQUESTS}{submitted.pk}/reject/",
                                                 {"comment": "no"}, format="json")
        assert resp.status_code == 403
        assert PaymentRequest.objects.get(pk=submitted.pk).status == "unit_review"

    def test_another_units_requests_are_not_listed_even_when_asked_for_by_unit(self, ready,
                                                                               submitted):
        resp = api(ready.people.other_head).get(REQUESTS, {"unit": "440300101"})
        assert resp.status_code == 200
        assert resp.json()["count"] == 0
        own = api(ready.people.head).get(REQUESTS, {"unit": "440300101"})
        assert [r["id"] for r in own.json()["results"]] == [submitted.pk]

    def test_a_filer_cannot_submit_another_units_request(self, ready, django_user_model):
        from django.contrib.auth.models import Group

        from payments import services

        draft = file_request(ready.people, ready.payee, "50.00", submit=False)
        stranger = django_user_model.objects.create_user(username="filer2", password="x-Secret-123")
        stranger.groups.add(Group.objects.get_or_create(name=services.FILER)[0])
        from finance.models import Organization
        services.membership_set(member=stranger, organization=Organization.objects.get(
            code="440300102"), user=ready.people.head)
        resp = api(stranger).post(f"{REQUESTS}{draft.pk}/submit/", format="json")
        assert resp.status_code == 403
        assert PaymentRequest.objects.get(pk=draft.pk).status == "draft"


class TestFilerApprovesOwnRequest:
    def test_the_filer_approving_through_the_api_is_refused_and_logged(self, ready, submitted,
                                                                       caplog):
        with caplog.at_level(logging.WARNING, logger="smart_finance.security"):
            resp = api(ready.people.filer).post(f"{REQUESTS}{submitted.pk}/approve/",
                                                {"comment": "mine"}, format="json")
        assert resp.status_code == 403
        assert str(payment_errors.MSG_FILER_CANNOT_APPROVE) in resp.json()["detail"]
        assert PaymentRequest.objects.get(pk=submitted.pk).status == "unit_review"
        assert any("filer" in r.getMessage() for r in caplog.records)


class TestFilterInjection:
    @pytest.mark.parametrize("params", [
        {"status": "' OR 1=1 --"}, {"unit": "440300101' OR '1'='1"}, {"unit": "\x00"},
        {"status": "unit_review", "status__in": "x"}, {"unit__startswith": "4"},
        {"ordering": "-amount;DROP TABLE x"}, {"page": "-1"}, {"page": "999999"},
        {"page_size": "100000000"}, {"unit": "4" * 5000},
    ])
    def test_odd_query_parameters_never_widen_the_list_or_fail(self, ready, submitted, params):
        resp = api(ready.people.other_head).get(REQUESTS, params)
        assert resp.status_code in (200, 400, 404)
        if resp.status_code == 200:
            assert resp.json()["count"] == 0

    @pytest.mark.parametrize("url", [
        "/api/budgets/units/440300101'--/indicators/?year=2026",
        "/api/budgets/units/440300101/indicators/?year=2026%27%20OR%201=1",
        "/api/budgets/indicators/history/?unit=%00&year=x",
        "/api/audit/trace/?account=9101' OR 1=1&year=x",
        "/api/reports/execution/?year=2026;DROP&unit=' OR 1=1",
        "/api/reports/trace/?year=-1&account=%27",
    ])
    def test_odd_parameters_on_report_and_budget_endpoints_are_answered_not_crashed(
            self, ready, url):
        resp = api(ready.people.reviewer).get(url)
        assert resp.status_code < 500


class TestCsrf:
    def test_a_session_authenticated_approval_without_the_csrf_token_is_refused(self, ready,
                                                                                submitted):
        c = Client(enforce_csrf_checks=True)
        c.force_login(ready.people.head)
        resp = c.post(f"{REQUESTS}{submitted.pk}/approve/", {"comment": "ok"},
                      content_type="application/json")
        assert resp.status_code == 403
        assert "CSRF" in resp.json()["detail"]
        assert PaymentRequest.objects.get(pk=submitted.pk).status == "unit_review"

    def test_with_the_token_the_same_approval_goes_through(self, ready, submitted):
        c = Client(enforce_csrf_checks=True)
        c.force_login(ready.people.head)
        token = "A" * 32  # the secret as the cookie holds it; the header repeats it
        c.cookies["csrftoken"] = token
        resp = c.post(f"{REQUESTS}{submitted.pk}/approve/", {"comment": "ok"},
                      content_type="application/json", HTTP_X_CSRFTOKEN=token)
        assert resp.status_code == 200, resp.content
        assert PaymentRequest.objects.get(pk=submitted.pk).status == "treasury_review"

    @pytest.mark.parametrize("url", ["/api/payments/bank-files/", "/api/payments/batches/",
                                     "/api/budgets/project-imports/",
                                     "/api/reports/close/month/"])
    def test_every_session_authenticated_write_endpoint_wants_the_token(self, ready, url):
        c = Client(enforce_csrf_checks=True)
        c.force_login(ready.people.reviewer)
        resp = c.post(url, {})
        assert resp.status_code == 403
        assert "CSRF" in resp.json()["detail"]


class TestSessionFixation:
    def test_the_session_key_changes_at_login(self, ready):
        c = Client()
        c.get("/accounts/login/")
        session = c.session
        session["planted"] = "by attacker"
        session.save()
        before = session.session_key
        c.cookies["sessionid"] = before
        resp = c.post("/accounts/login/", {"username": "head", "password": "x-Secret-123"})
        assert resp.status_code == 302
        after = c.cookies["sessionid"].value
        assert after and after != before


class TestUploadLimit:
    def test_an_upload_over_the_limit_is_refused_with_a_clear_error_before_it_is_read(
            self, ready, settings, caplog):
        settings.UPLOAD_MAX_BYTES = 1024 * 1024
        from django.core.files.uploadedfile import SimpleUploadedFile

        big = SimpleUploadedFile("big.csv", b"x" * (2 * 1024 * 1024))
        with caplog.at_level(logging.WARNING, logger="smart_finance.security"):
            resp = api(ready.people.reviewer).post("/api/payments/bank-files/", {"file": big},
                                                   format="multipart")
        assert resp.status_code == 413
        assert resp.json()["code"] == "upload_too_large"
        assert "the limit is 1,048,576 bytes" in resp.json()["detail"]
        from finance.models import Job
        assert Job.objects.count() == 0
        assert any("upload refused" in r.getMessage() for r in caplog.records)

    def test_settings_bound_every_request_body(self, settings):
        assert settings.UPLOAD_MAX_BYTES <= 100 * 1024 * 1024
        assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 10 * 1024 * 1024
        assert Decimal(settings.UPLOAD_MAX_BYTES) > 0
