"""Celery tasks of the audit app: thin wrappers that call one service each."""
from __future__ import annotations

from typing import Any

from celery import shared_task

from audit import monitoring, services
from finance.models import Entry


@shared_task(name="audit.tasks.entry_evaluate_task")
def entry_evaluate_task(*, entry_id: int, payment: bool = True,
                        **kwargs: Any) -> int:  # noqa: ARG001
    """Run the per-posting monitoring rules on one entry (idempotent: a finding is
    raised once). `payment` False: the ledger reported that the entry debits no payment
    account, so the payment rules have nothing to look at."""
    entry = Entry.objects.filter(pk=entry_id).first()
    if entry is None:
        return 0
    return len(monitoring.entry_evaluate(entry, payment=payment))


def after_posting(entry: Entry) -> None:
    """The ledger's after-posting hook: in process when Celery is eager, else queued."""
    debited = getattr(entry, "debited_accounts", None)
    entry_evaluate_task.delay(entry_id=entry.pk,
                              payment=debited is None or monitoring.PAID in debited)


@shared_task(name="audit.tasks.history_seal_task")
def history_seal_task(**kwargs: Any) -> dict[str, int]:  # noqa: ARG001
    return services.history_seal()


@shared_task(name="audit.tasks.verify_ledger_task")
def verify_ledger_task(**kwargs: Any) -> dict[str, Any]:  # noqa: ARG001
    """Daily: seal, verify, raise a `ledger_verify` alert when verification fails."""
    result = services.ledger_verification_run()
    return {"ok": result.ok, "entries": result.entries_checked,
            "problems": [str(p) for p in result.problems[:20]]}


@shared_task(name="audit.tasks.monitoring_sweep_task")
def monitoring_sweep_task(**kwargs: Any) -> int:  # noqa: ARG001
    return len(monitoring.monitoring_sweep())
