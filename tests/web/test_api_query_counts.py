"""The SQL statements of each API call of the interactive path (issue 19): create → submit
→ approve (unit head) → approve (treasury), token auth and an Idempotency-Key on each, as
bench/reliability_http_load.py sends them. The bounds are the counts measured after the
redundant reads were removed (bench/api_call_profile.py, docs/PERFORMANCE.md), so a
statement added to the path fails here; the named reads pin what was removed (the request
read again after its lock, its rule hits read back, the tracking id's existence query,
the history sealing's empty second page).

Under a test the call runs inside the test's transaction: the idempotency claim and the
view's transaction are savepoints (SAVEPOINT / RELEASE) where the server has one INSERT
and BEGIN / COMMIT, and the on-commit work (history sealing) is counted apart."""
from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from audit import seals
from payments import services as pay
from payments.models import PaymentRequest
from tests.helpers import YEAR

REQUESTS = "/api/payments/requests/"
# statements per call (the view and middleware; sealing apart), per database vendor.
# Before issue 19's cuts: PostgreSQL 18, 31, 18, 17 (SQLite 18, 34, 18, 17) and 7 (6) to
# seal. SQLite's submit has 3 more: the ledger numbers and inserts an entry on SQLite in
# more statements than PostgreSQL's one (finance.ledger); its sealing takes no advisory lock.
BOUND = {
    "postgresql": {"create": 16, "submit": 29, "approve head": 17, "approve treasury": 16},
    "sqlite": {"create": 16, "submit": 32, "approve head": 17, "approve treasury": 16},
}
SEALING = {"postgresql": 6, "sqlite": 5}  # sealing the call's history row after its commit


@pytest.fixture
def api_world(world, user):  # noqa: ANN001
    # The API files on today's date, outside the month plans of the fixture.
    pay.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                     reason="the API runs on today's date")
    return world


def _tables(ctx: CaptureQueriesContext, table: str, verb: str = "SELECT") -> int:
    return sum(q["sql"].lstrip().startswith(verb) and f'"{table}"' in q["sql"]
               for q in ctx.captured_queries)


def _call(client, django_capture_on_commit_callbacks, user, path: str,  # noqa: ANN001
          data: dict, key: str) -> tuple[int, dict, CaptureQueriesContext,
                                         CaptureQueriesContext]:
    token = Token.objects.get_or_create(user=user)[0].key
    seals._seal_pending()  # noqa: SLF001 - history written before the call (the fixtures)
    with django_capture_on_commit_callbacks(), CaptureQueriesContext(connection) as ctx:
        resp = client.post(path, data=json.dumps(data), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Token {token}", HTTP_IDEMPOTENCY_KEY=key)
    # what the call's commit runs for its history rows (the test's transaction never
    # commits; the tasks queued on commit are not run)
    with CaptureQueriesContext(connection) as sealing:
        seals._seal_pending()  # noqa: SLF001
    return resp.status_code, resp.json(), ctx, sealing


@pytest.mark.django_db
def test_each_call_of_the_interactive_path_within_its_statement_bound(
        client, api_world, django_capture_on_commit_callbacks):  # noqa: ANN001
    bound, sealing_bound = BOUND[connection.vendor], SEALING[connection.vendor]
    people = api_world.people
    body = {"year": YEAR, "region": "440300", "unit": "440300101", "function": "2050203",
            "economic": "30201", "fund_source": "1", "amount": "30.00",
            "payee": api_world.payee.pk, "purpose": "计数"}
    counted = {}

    def call(kind: str, user, path: str, data: dict) -> dict:  # noqa: ANN001
        status, answer, ctx, sealing = _call(client, django_capture_on_commit_callbacks,
                                             user, path, data, f"count:{kind}")
        assert status in (200, 201), answer
        counted[kind] = ctx
        assert len(sealing.captured_queries) <= sealing_bound, (
            kind, [q["sql"][:120] for q in sealing.captured_queries])
        return answer

    made = call("create", people.filer, REQUESTS, body)
    base = f"{REQUESTS}{made['id']}"
    submitted = call("submit", people.filer, f"{base}/submit/", {})
    call("approve head", people.head, f"{base}/approve/", {"comment": "ok"})
    done = call("approve treasury", people.reviewer, f"{base}/approve/", {"comment": "ok"})

    # the answers are those of before: the request as stored, its rule hits included
    req = PaymentRequest.objects.get(pk=made["id"])
    assert (made["status"], submitted["status"], done["status"]) == (
        "draft", "unit_review", "approved")
    assert made["hits"] == [] and done["tracking_id"] == req.tracking_id
    assert submitted["hits"] == [{"rule_code": h.rule_code, "action": h.action,
                                  "reason": h.reason} for h in req.hits.all()]

    for kind, ctx in counted.items():
        assert len(ctx.captured_queries) <= bound[kind], (
            kind, len(ctx.captured_queries), [q["sql"][:120] for q in ctx.captured_queries])
    # what was removed stays removed: no existence query for the new tracking id, the
    # request read once (locked) by submit and approve, its hits not read back after
    # create and submit (approve reads them once, for the answer)
    create = counted["create"].captured_queries
    assert not any("tracking_id" in q["sql"] and q["sql"].startswith("SELECT 1 AS")
                   for q in create)
    for kind in ("submit", "approve head", "approve treasury"):
        reads = [q["sql"] for q in counted[kind].captured_queries
                 if q["sql"].startswith('SELECT "payments_paymentrequest"."id"')
                 and 'WHERE "payments_paymentrequest"."id" = ' in q["sql"]]
        assert len(reads) == 1, (kind, reads)
    assert _tables(counted["create"], "payments_rulehit") == 0
    assert _tables(counted["submit"], "payments_rulehit") == 0
    assert _tables(counted["approve head"], "payments_rulehit") == 1


@pytest.mark.django_db
def test_a_missing_request_is_still_a_404_for_submit_and_approve(
        client, api_world, django_capture_on_commit_callbacks):  # noqa: ANN001
    """submit and approve no longer read the request before the service locks it: a
    request that does not exist is answered as before."""
    for action, user in (("submit", api_world.people.filer), ("approve", api_world.people.head)):
        status, answer, _ctx, _sealing = _call(
            client, django_capture_on_commit_callbacks, user, f"{REQUESTS}999999/{action}/",
            {"comment": "ok"}, f"missing:{action}")
        assert (status, answer) == (404, {"detail": "No PaymentRequest matches the given query."})


@pytest.mark.django_db
def test_the_tracking_id_is_still_unique(api_world):  # noqa: ANN001
    """The draft's tracking id is no longer looked up before the INSERT: the unique index
    refuses a clash (the id is 16 random hex digits, so a clash is not expected)."""
    from django.db import IntegrityError, transaction

    req = api_world.r1
    clone = PaymentRequest(**{f.attname: getattr(req, f.attname)
                              for f in PaymentRequest._meta.concrete_fields
                              if not f.primary_key})
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()
    assert PaymentRequest.objects.filter(tracking_id=req.tracking_id).count() == 1
