"""Celery queues split by kind of work (issue 23): imports, exports and monitoring each go
to their own queue, so worker machines take `-Q imports`, `-Q exports`, `-Q monitoring`.
The queue is the one Celery's own router picks for the task's name, as a producer
publishing to a broker would; the expected names are written out by hand."""
from __future__ import annotations

import pytest

from config.celery import app

EXPECTED = {
    "budgets.project_import_run": "imports",
    "payments.tasks.bank_file_import_task": "imports",
    "reports.tasks.disclosure_export_task": "exports",
    "audit.tasks.entry_evaluate_task": "monitoring",
    "audit.tasks.entries_evaluate_task": "monitoring",
    "audit.tasks.history_seal_task": "monitoring",
    "audit.tasks.history_seal_soon_task": "monitoring",
    "audit.tasks.ledger_anchor_task": "monitoring",
    "audit.tasks.verify_ledger_task": "monitoring",
    "audit.tasks.monitoring_sweep_task": "monitoring",
}


def queue_of(name: str) -> str:
    return app.amqp.router.route({}, name, (), {})["queue"].name


def project_tasks() -> set[str]:
    app.loader.import_default_modules()  # what a worker loads at start (autodiscover)
    return {n for n in app.tasks if not n.startswith("celery.")}


def test_each_task_goes_to_the_queue_of_its_kind():
    assert {name: queue_of(name) for name in sorted(EXPECTED)} == EXPECTED


def test_every_task_of_the_project_is_routed_none_left_on_the_default_queue():
    """A new task must be given a queue here and in settings (else it would wait on
    "celery", which only the catch-all worker of the Procfile takes)."""
    assert project_tasks() == set(EXPECTED)


@pytest.mark.django_db
def test_without_a_broker_tasks_still_run_in_process(settings):  # noqa: ANN001
    """Eager mode (no CELERY_BROKER_URL, as in tests and the demo) ignores the routes: the
    task runs at once and its result is there."""
    assert settings.CELERY_TASK_ALWAYS_EAGER and app.conf.task_always_eager
    result = app.tasks["audit.tasks.verify_ledger_task"].delay()
    assert result.successful()
    assert result.get() == {"ok": True, "entries": 0, "problems": []}
