"""`manage.py seal_history`: seal the history rows written since the last run."""
import datetime as dt

from django.core.management.base import BaseCommand

from audit import services


class Command(BaseCommand):
    help = "Seal every history row older than --grace seconds (default 60) into its table's chain."

    def add_arguments(self, parser):  # noqa: ANN001
        parser.add_argument("--grace", type=int, default=60)
        parser.add_argument("--workers", type=int, default=1,
                            help="on PostgreSQL: seal this many tables at once, a process each")

    def handle(self, *args, **options):  # noqa: ANN002, ANN003
        sealed = services.history_seal(grace=dt.timedelta(seconds=options["grace"]),
                                       workers=options["workers"])
        for label, count in sealed.items():
            self.stdout.write(f"{label}: {count} rows sealed")
        self.stdout.write(f"sealed {sum(sealed.values())} rows")
