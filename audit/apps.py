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
        from config.celery import app
        from finance.ledger import register_after_posting
        from finance.selectors import register_verifier

        register_after_posting(tasks.after_posting)
        register_verifier(seals.history_verify)
        app.conf.beat_schedule = {**(app.conf.beat_schedule or {}), **BEAT_SCHEDULE}
