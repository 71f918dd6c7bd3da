"""`manage.py ledger_anchor`: append each year's chain head to the anchor file."""
import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand

from audit import anchors


class Command(BaseCommand):
    help = ("Append each fiscal year's ledger chain head (number, hash, keyed MAC) to the "
            "append-only anchor file (default MEDIA_ROOT/anchors/ledger-anchors.jsonl).")

    def add_arguments(self, parser):  # noqa: ANN001
        parser.add_argument("--day", type=dt.date.fromisoformat, default=None,
                            help="the day being closed (default today)")
        parser.add_argument("--file", type=Path, default=None)

    def handle(self, *args, **options):  # noqa: ANN002, ANN003
        written = anchors.ledger_anchor(day=options["day"], path=options["file"])
        for a in written:
            self.stdout.write(a.line())
        self.stdout.write(f"anchored {len(written)} chain head(s)")
