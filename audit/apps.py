"""App config: plugs audit into the ledger (after-posting monitoring, history-seal
verification) and into Celery beat (daily verification, nightly sweep, hourly seal)."""
from celery.schedules import crontab
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

BEAT_SCHEDULE = {
    "audit-history-seal": {"task": "audit.tasks.history_seal_task", "schedule": crontab(minute=7)},
    "audit-verify-ledger-daily": {"task": "audit.tasks.verify_ledger_task",
                                  "schedule": crontab(hour=2, minute=15)},
    "audit-monitoring-sweep-nightly": {"task": "audit.tasks.monitoring_sweep_task",
                                       "schedule": crontab(hour=1, minute=30)},
}


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit")

    def ready(self) -> None:
        from audit import seals, tasks
        from audit.monitoring import register_payee_resolver
        from config.celery import app
        from finance.ledger import register_after_posting
        from finance.selectors import register_verifier

        register_after_posting(tasks.after_posting)
        register_payee_resolver(payments_payee)
        register_verifier(seals.history_verify)
        app.conf.beat_schedule = {**(app.conf.beat_schedule or {}), **BEAT_SCHEDULE}


def payments_payee(entry):  # noqa: ANN001, ANN201
    """Who a payment entry paid: its source is a payments Voucher or PaymentRequest."""
    from audit.monitoring import Payee
    from payments.models import PaymentRequest, Voucher

    source = entry.source if entry.source_type_id else None
    if isinstance(source, Voucher):
        payee = source.request.payee
    elif isinstance(source, PaymentRequest):
        payee = source.payee
    else:
        return None
    if payee is None:
        return None
    return Payee(key=f"payments.payee:{payee.pk}", name=payee.name,
                 is_individual=payee.is_individual)
