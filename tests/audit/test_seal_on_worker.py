"""Issue 19/20: with a broker, history rows are sealed by a real Celery worker seconds
after the writing transaction commits (audit.seals._seal_soon), not in the request that
wrote them; a burst of commits sends one task per table and process, and every row of
the burst is sealed by it. A real worker (Redis on loopback, the test database)."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit import seals
from audit.models import HistorySeal
from finance import selectors
from payments import services
from payments.models import PaymentRequest
from tests.payments.conftest import (  # noqa: F401 - the payments fixtures, by name
    acme,
    agent,
    banks,
    file_request,
    ledger,
    people,
    plan,
    ready,
)
from tests.reliability.workers import Workers, ensure_redis, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
TABLE = PaymentRequest.history.model._meta.db_table
LABEL = PaymentRequest.history.model._meta.label_lower


@pytest.fixture
def worker(transactional_db, media_root, tmp_path, settings, monkeypatch):  # noqa: ANN001, ARG001
    ensure_redis()
    w = Workers(media_root=media_root, log_dir=tmp_path, queues="monitoring")
    w.start()
    settings.AUDIT_SEAL_ON_COMMIT = "worker"
    settings.AUDIT_SEAL_SOON_SECONDS = 5
    sent: list[tuple[list[str], float]] = []

    def send(labels: list[str], countdown: float) -> None:
        # what the project's app does with a broker, through the worker's own broker
        sent.append((labels, countdown))
        w.producer.send_task("audit.tasks.history_seal_soon_task", kwargs={"labels": labels},
                             queue="monitoring", countdown=countdown)

    monkeypatch.setattr(seals, "_send", send)
    seals._soon.clear()
    w.sent = sent
    yield w
    seals._soon.clear()
    w.stop_all()


def sealed_and_rows() -> tuple[int, int]:
    return HistorySeal.objects.filter(table=TABLE).count(), PaymentRequest.history.count()


def test_a_burst_of_commits_is_sealed_by_one_task_on_the_worker(worker, ready):  # noqa: F811
    with CaptureQueriesContext(connection) as ctx:
        first = file_request(ready.people, ready.payee, "100.00")  # create, submit: 2 commits
    # the request did not seal: no statement of the request touched the seals
    assert not [q for q in ctx.captured_queries if "audit_historyseal" in q["sql"]
                or "pg_advisory_xact_lock" in q["sql"]]
    second = file_request(ready.people, ready.payee, "50.00")
    services.payment_request_approve(request=first, user=ready.people.head, comment="同意")
    sealed, rows = sealed_and_rows()
    assert rows == 5 and sealed == 0  # created ×2, submitted ×2, approved: none sealed yet
    # one task for the payment requests' history, sent by the first commit (the burst
    # takes well under the 5 s); each task waits the 5 s
    assert sum(LABEL in labels for labels, _ in worker.sent) == 1
    assert worker.sent and all(countdown == 5 for _, countdown in worker.sent)
    wait_for(lambda: sealed_and_rows() == (5, 5), 30, "the worker to seal the 5 rows")
    assert {first.pk, second.pk} == set(PaymentRequest.history.values_list("id", flat=True))
    result = selectors.ledger_verify()
    assert result.ok, result.problems


def test_inline_without_a_broker_as_before(ready, settings):  # noqa: F811
    settings.AUDIT_SEAL_ON_COMMIT = "auto"  # tests run Celery eagerly: no broker
    assert settings.CELERY_TASK_ALWAYS_EAGER and not seals.seal_on_worker()
    file_request(ready.people, ready.payee, "100.00")
    assert sealed_and_rows() == (2, 2)  # sealed by the request itself
