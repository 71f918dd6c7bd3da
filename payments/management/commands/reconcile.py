"""`manage.py reconcile --date YYYY-MM-DD [--account A] [--user U]`: reconcile a day again."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from payments import services


class Command(BaseCommand):
    help = ("Reconcile a day's statement lines again (every account with lines that day, or "
            "the one named): exceptions a later file explains close themselves, ones due "
            "again reopen; exceptions resolved by hand stay resolved.")

    def add_arguments(self, parser):  # noqa: ANN001
        parser.add_argument("--date", required=True, help="the booking day, YYYY-MM-DD")
        parser.add_argument("--account", default="", help="one account number (default: all)")
        parser.add_argument("--user", default="", help="username recorded in the history")

    def handle(self, *args, **opts):  # noqa: ANN002, ANN003
        try:
            day = dt.date.fromisoformat(opts["date"])
        except ValueError:
            raise CommandError(f"not a date (YYYY-MM-DD): {opts['date']}") from None
        user = None
        if opts["user"]:
            user = get_user_model().objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"unknown user {opts['user']}")
        counts = services.reconcile(day=day, account=opts["account"] or None, user=user,
                                    cause=f"manage.py reconcile --date {day}")
        self.stdout.write(
            f"{day}: accounts {counts['accounts']}, lines matched {counts['matched']}, "
            f"exceptions opened {counts['opened']}, still open {counts['open']}")
