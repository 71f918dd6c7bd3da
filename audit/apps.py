"""App config: plugs audit into the ledger (after-posting monitoring, history-seal
verification) and into Celery beat (daily verification, nightly sweep, sealing, daily anchor)."""
from celery.schedules import crontab
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

BEAT_SCHEDULE = {
    # history is sealed as it is written (on commit); this run picks up what that left
    "audit-history-seal": {"task": "audit.tasks.history_seal_task", "schedule": crontab()},
    "audit-ledger-anchor-daily": {"task": "audit.tasks.ledger_anchor_task",
                                  "schedule": crontab(hour=0, minute=5)},
    "audit-verify-ledger-daily": {"task": "audit.tasks.verify_ledger_task",
                                  "schedule": crontab(hour=2, minute=15)},
    "audit-monitoring-sweep-nightly": {"task": "audit.tasks.monitoring_sweep_task",
                                       "schedule": crontab(hour=1, minute=30)},
}


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit")

    def ready(self) -> None:
        from simple_history.signals import post_create_historical_record

        from audit import seals, tasks
        from audit.monitoring import register_payee_resolver
        from config.celery import app
        from finance.ledger import register_after_posting
        from finance.selectors import register_verifier
        from finance.services import history_rows_written

        register_after_posting(tasks.after_posting, many=tasks.after_posting_many)
        register_payee_resolver(payments_payee, many=payments_payees)
        register_verifier(seals.history_verify)
        post_create_historical_record.connect(seals.history_row_written,
                                              dispatch_uid="audit-seal-history-on-write")
        history_rows_written.connect(seals.history_row_written,
                                     dispatch_uid="audit-seal-history-written-in-bulk")
        app.conf.beat_schedule = {**(app.conf.beat_schedule or {}), **BEAT_SCHEDULE}


def payments_payee(entry):  # noqa: ANN001, ANN201
    """Who a payment entry paid: its source is a payments Voucher or PaymentRequest
    (remembered on the entry object: the rules ask more than once)."""
    if not entry.source_type_id:
        return None
    if "_payments_payee" not in entry.__dict__:
        payments_payees([entry])
    return entry.__dict__.get("_payments_payee")


def payments_payees(entries):  # noqa: ANN001, ANN201
    """The payees of many entries, one query per kind of source document (voucher →
    request → payee, or request → payee, joined), remembered on each entry; other
    sources are left alone (no payee known to payments)."""
    from django.contrib.contenttypes.models import ContentType

    from payments.models import PaymentRequest, Voucher

    todo = [e for e in entries if e.source_type_id and "_payments_payee" not in e.__dict__]
    for model, related, path in ((Voucher, "request__payee", "request.payee"),
                                 (PaymentRequest, "payee", "payee")):
        ct = ContentType.objects.get_for_model(model)
        ids = {e.source_id for e in todo if e.source_type_id == ct.pk}
        if not ids:
            continue
        found = {str(x.pk): x for x in model.objects.filter(pk__in=ids).select_related(related)}
        for e in todo:
            if e.source_type_id == ct.pk:
                doc = found.get(e.source_id)
                payee = doc
                for part in path.split("."):
                    payee = getattr(payee, part) if payee is not None else None
                e.__dict__["_payments_payee"] = _as_payee(payee)


def _as_payee(payee):  # noqa: ANN001, ANN202
    from audit.monitoring import Payee

    if payee is None:
        return None
    return Payee(key=f"payments.payee:{payee.pk}", name=payee.name,
                 is_individual=payee.is_individual)
