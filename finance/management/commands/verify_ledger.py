"""`manage.py verify_ledger`: recompute balances and the hash chain from the lines."""
from django.core.management.base import BaseCommand, CommandError

from finance.selectors import ledger_verify


class Command(BaseCommand):
    help = "Recompute every balance and the whole hash chain; name the first entry that fails."

    def handle(self, *args, **options):  # noqa: ANN002, ANN003
        result = ledger_verify()
        self.stdout.write(f"checked {result.entries_checked} entries, {result.lines_checked} lines, "
                          f"{result.balances_checked} balances"
                          + "".join(f", {n} {what}" for what, n in result.checked.items()))
        if result.ok:
            self.stdout.write(self.style.SUCCESS("ledger OK"))
            return
        first = result.first_broken
        self.stderr.write(f"FIRST BROKEN: {first}")
        for problem in result.problems[1:]:
            self.stderr.write(f"also: {problem}")
        raise CommandError(f"ledger verification failed: {len(result.problems)} problem(s)")
