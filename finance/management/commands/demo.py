"""`manage.py demo`: a small synthetic city run through the real services (resumable:
every posting carries a deterministic idempotency key, so a rerun adds nothing)."""
from __future__ import annotations

import datetime as dt
import random
import sys
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from finance import errors, selectors, services
from finance.ids import make_uscc
from finance.ledger import Dims, cr, dr, entry_post, entry_reverse
from finance.models import Book, Entry, Period, Region

DEPARTMENTS = [
    ("教育局", "2050203", "205"), ("卫生健康委员会", "2100101", "210"),
    ("交通运输局", "2140101", "214"), ("财政局", "2010601", "201"),
    ("审计局", "2010801", "201"), ("住房和建设局", "2120101", "212"),
]
ECONOMIC = ["30101", "30201", "30211", "30213", "31002"]
DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - printed for the local demo only


class Command(BaseCommand):
    help = "Generate a small city (regions, departments, units) and post a year through the ledger."

    def add_arguments(self, parser):  # noqa: ANN001
        parser.add_argument("--units", type=int, default=60, help="budget units (default 60)")
        parser.add_argument("--year", type=int, default=2026)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, units: int, year: int, seed: int, **options):  # noqa: ANN002, ANN003
        rng = random.Random(seed)  # noqa: S311 - reproducible demo data
        user_model = get_user_model()
        admin, created = user_model.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True})
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        services.fiscal_year_open(year=year, user=admin)
        unit_rows = self._organizations(units, admin)
        self._post_year(unit_rows, year, rng, admin)
        for book in Book.values:
            tb = selectors.trial_balance(book=book, year=year)
            self.stdout.write(f"{book:10s} debit {tb.total_debit:>18,} credit {tb.total_credit:>18,}"
                              f"  {'balanced' if tb.balanced else 'NOT BALANCED'}")
        self.stdout.write(f"entries posted: {Entry.objects.filter(fiscal_year=year).count()}")
        self.stdout.write(self.style.SUCCESS(
            f"login at http://127.0.0.1:8000/admin/ as admin / {DEMO_PASSWORD}"))

    def _organizations(self, units: int, admin) -> list[tuple[str, str, str]]:  # noqa: ANN001
        """(unit code, region code, function code) for each budget unit."""
        mk = services.organization_upsert
        districts = list(Region.objects.filter(level="district").order_by("code"))
        bureau = mk(code="440300001", name="深圳市财政局", kind="bureau", region_code="440300",
                    uscc=make_uscc("440300", 1), user=admin, reason="demo")
        rows = []
        with transaction.atomic():
            for i in range(units):
                dept_no = i % len(DEPARTMENTS)
                dname, function, _ = DEPARTMENTS[dept_no]
                region = "440300" if i % 3 == 0 else districts[i % len(districts)].code
                dept_code = f"{region}{100 + dept_no * 100:03d}"[:9]
                rname = "深圳市" if region == "440300" else Region.objects.get(code=region).name
                mk(code=dept_code, name=f"{rname}{dname}", kind="department", region_code=region,
                   uscc=make_uscc(region, int(dept_code[-3:])), parent_code=bureau.code,
                   user=admin, reason="demo")
                code = f"{region}{int(dept_code[-3:]) + 1 + i // len(DEPARTMENTS):03d}"
                mk(code=code, name=f"{rname}{dname}下属单位{i + 1}", kind="budget_unit",
                   region_code=region, uscc=make_uscc(region, int(code[-3:]) + 1000 * i),
                   parent_code=dept_code, user=admin, reason="demo")
                rows.append((code, region, function))
                self._progress("organizations", i + 1, units)
        return rows

    def _post_year(self, unit_rows, year: int, rng: random.Random, admin) -> None:  # noqa: ANN001
        total = len(unit_rows)
        for n, (unit, region, function) in enumerate(unit_rows, start=1):
            for economic in rng.sample(ECONOMIC, 2):
                d = Dims(region=region, unit=unit, function=function, economic=economic,
                         fund_source="1")
                amount = Decimal(rng.randrange(200_000, 5_000_000)) / 100 * 100
                key = f"demo:{year}:{unit}:{economic}"
                entry_post(lines=[dr("indicator", "9101", amount, d), cr("indicator", "9001", amount, d)],
                           description=f"预算批复 {unit}", user=admin, on=dt.date(year, 1, 5),
                           kind="approval", idempotency_key=f"{key}:approve")
                for month in range(1, 13):
                    pay = (amount / 14).quantize(Decimal("0.01"))
                    self._pay(d, pay, year, month, f"{key}:{month}", admin,
                              reject=rng.random() < 0.05)
            self._progress("postings", n, total)
        for month in range(1, 12):
            if Period.objects.get(fiscal_year__year=year, month=month).status == "open":
                services.period_close(year=year, month=month, user=admin, reason="demo month close")

    def _pay(self, d: Dims, amount: Decimal, year: int, month: int, key: str, admin,  # noqa: ANN001
             reject: bool) -> None:
        on = dt.date(year, month, 10)
        if Period.objects.get(fiscal_year__year=year, month=month).status != "open":
            return  # already done in an earlier run
        try:
            commit = entry_post(
                lines=[dr("indicator", "9201", amount, d), cr("indicator", "9101", amount, d)],
                description="支付申请 commit", user=admin, on=on, kind="commit",
                tracking_id=key, idempotency_key=f"{key}:commit")
        except errors.IndicatorInsufficient:
            return
        if reject:
            if not Entry.objects.filter(reverses=commit).exists():
                entry_reverse(entry=commit, user=admin, reason="国库退回 rejected", on=on,
                              idempotency_key=f"{key}:reject")
            return
        entry_post(
            lines=[dr("indicator", "9301", amount, d), cr("indicator", "9201", amount, d),
                   dr("budget", "7101", amount, d), cr("budget", "6001", amount, d),
                   dr("financial", "5001", amount, d), cr("financial", "4001", amount, d)],
            description="国库集中支付 paid", user=admin, on=on.replace(day=15), kind="payment",
            tracking_id=key, idempotency_key=f"{key}:pay")

    def _progress(self, label: str, done: int, total: int) -> None:
        if sys.stdout.isatty() or done == total:
            width = 30
            filled = width * done // max(total, 1)
            end = "\n" if done == total else "\r"
            self.stdout.write(f"{label:14s} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
                              ending=end)
