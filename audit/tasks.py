"""Celery tasks of the audit app: thin wrappers that call one service each."""
from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task

from audit import monitoring, services
from finance.models import Entry


@shared_task(name="audit.tasks.entry_evaluate_task")
def entry_evaluate_task(*, entry_id: int, payment: bool = True, posted_at: str = "",
                        **kwargs: Any) -> int:  # noqa: ARG001
    """Run the per-posting monitoring rules on one entry (idempotent: a finding is
    raised once). `payment` False: the ledger reported that the entry debits no payment
    account, so the payment rules have nothing to look at, and with its posting time
    (`posted_at`, ISO 8601) the time rule is decided without reading the entry."""
    if not payment and posted_at:
        return len(monitoring.time_rule_evaluate(
            entry_id=entry_id, posted_at=dt.datetime.fromisoformat(posted_at)))
    entry = Entry.objects.filter(pk=entry_id).first()
    if entry is None:
        return 0
    return len(monitoring.entry_evaluate(entry, payment=payment))


@shared_task(name="audit.tasks.entries_evaluate_task")
def entries_evaluate_task(*, entry_ids: list[int], payment_ids: list[int] | None = None,
                          **kwargs: Any) -> int:  # noqa: ARG001
    """The per-posting rules on the entries of one posting batch, read together
    (idempotent like entry_evaluate_task). `payment_ids`: those that may be payments."""
    entries = list(Entry.objects.filter(pk__in=entry_ids).order_by("id"))
    if not entries:
        return 0
    return len(monitoring.entries_evaluate(
        entries, payment_ids=None if payment_ids is None else set(payment_ids)))


def _may_pay(entry: Entry) -> bool:
    debited = getattr(entry, "debited_accounts", None)
    return debited is None or monitoring.PAID in debited


def after_posting(entry: Entry) -> None:
    """The ledger's after-posting hook: in process when Celery is eager, else queued."""
    entry_evaluate_task.delay(entry_id=entry.pk, payment=_may_pay(entry),
                              posted_at=entry.posted_at.isoformat())


def after_posting_many(entries: list[Entry]) -> None:
    """The hook for a posting batch (finance.ledger.entries_post): one task for all."""
    entries_evaluate_task.delay(entry_ids=[e.pk for e in entries],
                                payment_ids=[e.pk for e in entries if _may_pay(e)])


@shared_task(name="audit.tasks.history_seal_task")
def history_seal_task(**kwargs: Any) -> dict[str, int]:  # noqa: ARG001
    return services.history_seal()


@shared_task(name="audit.tasks.history_seal_soon_task")
def history_seal_soon_task(*, labels: list[str], **kwargs: Any) -> dict[str, int]:  # noqa: ARG001
    """Seconds after a commit (with a broker): seal the new history rows of these tables
    (audit.seals._seal_soon)."""
    from audit import seals

    return seals.history_seal_soon(labels)


@shared_task(name="audit.tasks.ledger_anchor_task")
def ledger_anchor_task(**kwargs: Any) -> int:  # noqa: ARG001
    """Daily after midnight: the chain heads into the append-only anchor file."""
    from audit import anchors

    return len(anchors.ledger_anchor())


@shared_task(name="audit.tasks.verify_ledger_task")
def verify_ledger_task(**kwargs: Any) -> dict[str, Any]:  # noqa: ARG001
    """Daily: seal, verify, raise a `ledger_verify` alert when verification fails."""
    result = services.ledger_verification_run()
    return {"ok": result.ok, "entries": result.entries_checked,
            "problems": [str(p) for p in result.problems[:20]]}


@shared_task(name="audit.tasks.monitoring_sweep_task")
def monitoring_sweep_task(**kwargs: Any) -> int:  # noqa: ARG001
    return len(monitoring.monitoring_sweep())
