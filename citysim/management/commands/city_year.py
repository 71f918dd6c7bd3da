"""`manage.py city_year --units N --year Y --out DIR`: a synthetic city-year through the
real services; resumable (run it again after an interruption: done steps are skipped)."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from citysim.simulate import REALISTIC_PAYMENTS, city_year_run


class Command(BaseCommand):
    help = ("Generate a synthetic city (11 districts, departments, budget units, banks, payees) "
            "and run a fiscal year through the real services; write the outputs to --out.")

    def add_arguments(self, parser):  # noqa: ANN001, ANN201
        parser.add_argument("--units", type=int, default=120, help="budget units (default 120)")
        parser.add_argument("--year", type=int, default=2026)
        parser.add_argument("--months", type=int, default=12, help="months with payments (1-12)")
        parser.add_argument("--nontax", type=int, default=5, help="non-tax revenue units")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--out", default="var/city_year", help="output folder")
        parser.add_argument("--open-through", type=int, default=None, metavar="MONTH",
                            help="leave the year open: run months 1..MONTH (0-11) and close "
                                 "them, leave the next month's work waiting at each stage, "
                                 "no year-end close (the demo's current year)")
        parser.add_argument("--payments", type=int, default=REALISTIC_PAYMENTS, metavar="N",
                            help="payment requests per unit per month on average (default "
                                 f"{REALISTIC_PAYMENTS}, as a city's units pay; fewer in "
                                 "January, December's peak nearly twice; 1: the month's bill "
                                 "in one payment)")
        parser.add_argument("--workers", type=int, default=1,
                            help="worker processes for the per-unit steps, by department "
                                 "(PostgreSQL only; SQLite always runs in one process)")

    def handle(self, *args, **opts):  # noqa: ANN002, ANN003, ANN201
        if (not 1 <= opts["months"] <= 12 or opts["units"] < 1 or opts["workers"] < 1
                or opts["payments"] < 1):
            raise CommandError("--months must be 1..12, --units, --workers and --payments at "
                               "least 1")
        through = opts["open_through"]
        if through is not None and not (0 <= through <= 11 and opts["months"] == 12):
            raise CommandError("--open-through must be 0..11 and is not used with --months")
        out = Path(opts["out"]).resolve()
        outcome = city_year_run(units=opts["units"], year=opts["year"], out=out,
                                months=opts["months"], seed=opts["seed"], nontax=opts["nontax"],
                                stdout=self.stdout, workers=opts["workers"],
                                open_through=through, payments=opts["payments"])
        for label, value in outcome.counts.items():
            self.stdout.write(f"  {label:28s} {value:>10,}")
        self.stdout.write("Outputs:")
        for label, path in outcome.files.items():
            self.stdout.write(f"  {label:18s} {path}")
        if not outcome.verify_ok:
            raise CommandError(f"ledger verification FAILED, see {out / 'verify.txt'}")
        self.stdout.write(self.style.SUCCESS("ledger verify: OK"))
        self.stdout.write("Logins (http://127.0.0.1:8000/accounts/login/, home /web/):")
        for username, password, what in outcome.logins:
            self.stdout.write(f"  {username:22s} {password}   {what}")
            self.stdout.write(f"  {'':22s} {'':14s}   {outcome.waiting.get(username, '')}")
