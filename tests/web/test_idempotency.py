"""Idempotency-Key on every API write (finance.idempotency): a retry replays the stored
answer without running the action again, a reused key with another body is refused, and
on PostgreSQL concurrent requests with one key run the action once."""
from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from finance.idempotency import IN_PROGRESS, KEY_REUSED
from finance.models import IdempotentRequest, Job, WorkflowStep
from payments import services as pay
from payments.models import PaymentRequest
from tests.helpers import YEAR, dims

REQUESTS = "/api/payments/requests/"


def token_client(user) -> APIClient:  # noqa: ANN001
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def payload(world, amount: str = "30.00", purpose: str = "办公用品",  # noqa: ANN001
            unit: str = "440300101") -> dict:
    d = dims(unit=unit)
    return {"year": YEAR, "region": d.region, "unit": d.unit, "function": d.function,
            "economic": d.economic, "fund_source": d.fund_source, "amount": amount,
            "payee": world.payee.pk, "purpose": purpose}


@pytest.fixture
def api_world(world, user):  # noqa: ANN001
    # The API files on today's date, outside the month plans of the fixture.
    pay.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                     reason="the API runs on today's date")
    return world


@pytest.mark.django_db
class TestIdempotencyKey:
    def test_a_retry_with_the_same_key_replays_the_answer_without_filing_again(self, api_world):
        client = token_client(api_world.people.filer)
        before = PaymentRequest.objects.count()
        first = client.post(REQUESTS, payload(api_world), format="json",
                            HTTP_IDEMPOTENCY_KEY="k-1")
        again = client.post(REQUESTS, payload(api_world), format="json",
                            HTTP_IDEMPOTENCY_KEY="k-1")
        assert first.status_code == 201, first.content
        assert (again.status_code, again.content) == (201, first.content)
        assert again["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first
        assert PaymentRequest.objects.count() == before + 1
        row = IdempotentRequest.objects.get(key="k-1")
        assert (row.status, row.response_status, row.method) == ("done", 201, "POST")

    def test_the_same_key_with_another_body_is_refused_with_422(self, api_world):
        client = token_client(api_world.people.filer)
        client.post(REQUESTS, payload(api_world), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
        before = PaymentRequest.objects.count()
        other = client.post(REQUESTS, payload(api_world, amount="31.00"), format="json",
                            HTTP_IDEMPOTENCY_KEY="k-2")
        assert other.status_code == 422
        assert other.json()["code"] == KEY_REUSED
        assert "already used for a different request" in other.json()["detail"]
        assert PaymentRequest.objects.count() == before

    def test_the_refusal_is_in_chinese_by_default(self, api_world):
        client = token_client(api_world.people.filer)
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
        client.post(REQUESTS, payload(api_world), format="json", HTTP_IDEMPOTENCY_KEY="k-zh")
        other = client.post(REQUESTS, payload(api_world, amount="32.00"), format="json",
                            HTTP_IDEMPOTENCY_KEY="k-zh")
        assert other.status_code == 422
        assert other.json()["detail"].startswith("该 Idempotency-Key 已用于另一个请求")

    def test_keys_are_per_user_and_requests_without_a_key_always_run(self, api_world):
        filer, other = api_world.people.filer, api_world.people.other_filer
        before = PaymentRequest.objects.count()
        a = token_client(filer).post(REQUESTS, payload(api_world), format="json",
                                     HTTP_IDEMPOTENCY_KEY="shared")
        b = token_client(other).post(REQUESTS, payload(api_world, unit="440300102"),
                                     format="json", HTTP_IDEMPOTENCY_KEY="shared")
        c = token_client(filer).post(REQUESTS, payload(api_world), format="json")
        d = token_client(filer).post(REQUESTS, payload(api_world), format="json")
        assert [r.status_code for r in (a, b, c, d)] == [201, 201, 201, 201]
        assert len({r.json()["id"] for r in (a, b, c, d)}) == 4
        assert PaymentRequest.objects.count() == before + 4

    def test_an_action_retried_with_its_key_is_not_run_twice(self, api_world):
        client = token_client(api_world.people.filer)
        pk = client.post(REQUESTS, payload(api_world), format="json").json()["id"]
        url = f"{REQUESTS}{pk}/submit/"
        first = client.post(url, HTTP_IDEMPOTENCY_KEY="submit-1")
        again = client.post(url, HTTP_IDEMPOTENCY_KEY="submit-1")
        plain = client.post(url)  # without a key the action runs and is refused: not a draft
        assert (first.status_code, again.status_code) == (200, 200)
        assert again.json() == first.json() and first.json()["status"] == "unit_review"
        assert plain.status_code == 400
        steps = WorkflowStep.objects.filter(doc_id=str(pk), to_state="unit_review")
        assert steps.count() == 1

    def test_a_refused_answer_is_replayed_too(self, api_world):
        client = token_client(api_world.people.filer)
        first = client.post(REQUESTS, {**payload(api_world), "amount": "-5"}, format="json",
                            HTTP_IDEMPOTENCY_KEY="bad-1")
        again = client.post(REQUESTS, {**payload(api_world), "amount": "-5"}, format="json",
                            HTTP_IDEMPOTENCY_KEY="bad-1")
        assert first.status_code == 400
        assert (again.status_code, again.content) == (400, first.content)

    def test_an_upload_retried_with_a_new_multipart_boundary_is_replayed(self, api_world):
        client = token_client(api_world.people.reviewer)
        body = "日期,金额\n2026-03-10,1.00\n".encode("gb18030")
        answers = []
        for boundary in ("AAAboundary", "BBBboundary"):
            content = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                       f"filename=\"bank.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode()
            content += body + f"\r\n--{boundary}--\r\n".encode()
            answers.append(client.generic(
                "POST", "/api/payments/bank-files/", content,
                content_type=f"multipart/form-data; boundary={boundary}",
                HTTP_IDEMPOTENCY_KEY="upload-1"))
        assert answers[0].status_code == 202, answers[0].content
        assert (answers[1].status_code, answers[1].content) == (202, answers[0].content)
        assert Job.objects.filter(kind="payments.import_bank").count() == 1

    def test_a_request_still_running_answers_409_and_a_stale_claim_is_retaken(self, api_world):
        filer = api_world.people.filer
        client = token_client(filer)
        # A claim as the middleware leaves it while the first request runs.
        probe = client.post(REQUESTS, payload(api_world), format="json",
                            HTTP_IDEMPOTENCY_KEY="probe")
        row = IdempotentRequest.objects.get(key="probe")
        IdempotentRequest.objects.create(user=filer, key="busy", method="POST", path=REQUESTS,
                                         fingerprint=row.fingerprint, created_at=timezone.now())
        busy = client.post(REQUESTS, payload(api_world), format="json",
                           HTTP_IDEMPOTENCY_KEY="busy")
        assert probe.status_code == 201
        assert (busy.status_code, busy.json()["code"]) == (409, IN_PROGRESS)
        assert busy["Retry-After"] == "1"
        IdempotentRequest.objects.filter(key="busy").update(
            created_at=timezone.now() - dt.timedelta(minutes=10))
        before = PaymentRequest.objects.count()
        retaken = client.post(REQUESTS, payload(api_world), format="json",
                              HTTP_IDEMPOTENCY_KEY="busy")
        assert retaken.status_code == 201
        assert PaymentRequest.objects.count() == before + 1
        assert IdempotentRequest.objects.get(key="busy").status == "done"

    def test_an_anonymous_post_with_a_key_is_refused_and_stores_nothing(self, api_world):
        resp = APIClient().post(REQUESTS, payload(api_world), format="json",
                                HTTP_IDEMPOTENCY_KEY="anon")
        assert resp.status_code == 401
        assert not IdempotentRequest.objects.filter(key="anon").exists()

    def test_a_key_that_is_too_long_is_refused(self, api_world):
        resp = token_client(api_world.people.filer).post(
            REQUESTS, payload(api_world), format="json", HTTP_IDEMPOTENCY_KEY="x" * 256)
        assert resp.status_code == 400


@pytest.mark.django_db
def test_every_post_operation_of_the_schema_documents_the_idempotency_key(client):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user("schema", password="x-Secret-1"))
    schema = client.get("/api/schema/?format=json").json()
    posts = [(path, op) for path, ops in schema["paths"].items()
             for method, op in ops.items() if method == "post"]
    assert len(posts) >= 15
    missing = [path for path, op in posts
               if not any(p["name"] == "Idempotency-Key" and p["in"] == "header"
                          for p in op.get("parameters", []))]
    assert missing == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_file_one_request_only(api_world):
    """8 threads post the same request with the same key at the same moment: one filing."""
    filer = api_world.people.filer
    token, _ = Token.objects.get_or_create(user=filer)
    before = PaymentRequest.objects.count()
    start = threading.Barrier(8)

    def post(_: int) -> tuple[int, bytes]:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            start.wait()
            r = client.post(REQUESTS, payload(api_world, purpose="并发"), format="json",
                            HTTP_IDEMPOTENCY_KEY="race-1")
            return r.status_code, r.content
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(post, range(8)))
    statuses = [s for s, _ in answers]
    assert PaymentRequest.objects.count() == before + 1
    assert PaymentRequest.objects.filter(purpose="并发").count() == 1
    assert set(statuses) <= {201, 409} and statuses.count(201) >= 1
    assert len({body for s, body in answers if s == 201}) == 1
    # Once the first has finished, every retry gets its answer.
    retry = APIClient()
    retry.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    again = retry.post(REQUESTS, payload(api_world, purpose="并发"), format="json",
                       HTTP_IDEMPOTENCY_KEY="race-1")
    assert again.status_code == 201
    assert again.content == next(body for s, body in answers if s == 201)
