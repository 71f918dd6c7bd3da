"""`manage.py bank_profiles_load [--reset CODE …]`: the shipped bank profiles
(payments/data/bank_profiles.json) added where missing; profiles the treasury edited are
left alone unless named with --reset. Every change is kept in the profile's history."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from finance.services import save_with_history
from payments.models import BankProfile
from payments.profiles import shipped, values


class Command(BaseCommand):
    help = "Add the shipped bank profiles that are missing (--reset CODE to restore one)."

    def add_arguments(self, parser):  # noqa: ANN001, ANN201
        parser.add_argument("--reset", nargs="*", default=[], metavar="CODE")

    def handle(self, *args, **opts):  # noqa: ANN002, ANN003, ANN201
        added = reset = 0
        for row in shipped():
            profile = BankProfile.objects.filter(code=row["code"]).first()
            if profile is not None and row["code"] not in opts["reset"]:
                continue
            profile = profile or BankProfile(code=row["code"])
            new = profile.pk is None
            for field, value in values(row).items():
                setattr(profile, field, value)
            save_with_history(profile, user=None,
                              reason="shipped profile" if new else "reset to the shipped profile")
            added, reset = added + new, reset + (not new)
        self.stdout.write(f"bank profiles: {added} added, {reset} reset, "
                          f"{BankProfile.objects.count()} in all")
