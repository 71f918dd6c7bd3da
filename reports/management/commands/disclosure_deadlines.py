"""disclosure_deadlines [--today YYYY-MM-DD]: list sets due soon or overdue (for cron)."""
import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reports import selectors


class Command(BaseCommand):
    help = "Alert on disclosure sets whose 20-day deadline after 批复 is near or passed."

    def add_arguments(self, parser):  # noqa: ANN001, ANN201
        parser.add_argument("--today", type=dt.date.fromisoformat, default=None)

    def handle(self, *args, **opts):  # noqa: ANN002, ANN003, ANN201
        today = opts["today"] or timezone.localdate()
        alerts = [d for d in selectors.disclosure_deadlines(today=today)
                  if d.state in ("due_soon", "overdue")]
        for d in alerts:
            ds = d.disclosure
            self.stdout.write(f"{d.state.upper()}: {ds.year} {ds.department} {ds.kind} "
                              f"({ds.status}) due {d.due}, {d.days_left} day(s) left")
        if any(d.state == "overdue" for d in alerts):
            raise CommandError("disclosure overdue")
