"""Where the city-year's time goes: per step wall time, SQL statements and SQL time, the
statements that cost most, and (unless --no-cprofile) a cProfile dump sorted by cumulative
time. Fresh PostgreSQL database `smart_finance_profile_city`.

    .venv/bin/python bench/city_year_profile.py --units 100 --months 2 [--workers 2] [--no-cprofile]
    .venv/bin/python bench/city_year_profile.py --units 30 --months 1 --payments 20
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "smart_finance_profile_city"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--months", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--payments", type=int, default=1,
                        help="payment requests per unit per month (city_year --payments)")
    parser.add_argument("--no-cprofile", action="store_true")
    parser.add_argument("--seal-at-end", action="store_true",
                        help="history sealed at the end of the run, as with --workers 2 "
                             "(not after each commit)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--progress", action="store_true",
                        help="print the run's own progress lines (each list's time) to stderr")
    parser.add_argument("--save", metavar="FILE", help="also write the cProfile stats to FILE")
    args = parser.parse_args()
    for sql in (f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql, "postgres"],
                       check=True)
    os.environ["DATABASE_URL"] = f"{PG}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    from bench.production import production_settings

    production_settings()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from citysim import simulate

    call_command("migrate", verbosity=0)
    call_command("import_codes", str(ROOT / "finance/data/codes"), stdout=io.StringIO())

    per_step: dict[str, list] = defaultdict(lambda: [0, 0.0])
    count: Counter = Counter()
    spent: Counter = Counter()
    step = ["set-up"]

    def wrapper(execute, sql, params, many, context):  # noqa: ANN001, ANN202
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            d = time.perf_counter() - t
            per_step[step[0]][0] += 1
            per_step[step[0]][1] += d
            key = " ".join(sql.split()[:6])[:100]
            count[key] += 1
            spent[key] += d

    say = simulate.CityYear.say

    def say_step(self, text: str) -> None:  # noqa: ANN001
        if text.startswith("["):
            step[0] = text.split("] ", 1)[1][:40]
        say(self, text)

    simulate.CityYear.say = say_step
    if args.seal_at_end:
        from audit import seals

        seals.ON_WRITE = False
    prof = cProfile.Profile()
    with connection.execute_wrapper(wrapper):  # the coordinator's statements only
        t0 = time.perf_counter()
        if not args.no_cprofile:
            prof.enable()
        outcome = simulate.city_year_run(units=args.units, year=2026, months=args.months,
                                         out=ROOT / "var" / "profile_city_year",
                                         workers=args.workers, payments=args.payments,
                                         stdout=sys.stderr if args.progress else io.StringIO())
        if not args.no_cprofile:
            prof.disable()
        wall = time.perf_counter() - t0
    print(f"{args.units} units × {args.months} months, --workers {args.workers}, --payments "
          f"{args.payments}: {wall:.1f} s, "
          f"verify {'OK' if outcome.verify_ok else 'FAILED'}, load {os.getloadavg()[0]:.2f}")
    print(f"{'step':42s} {'wall s':>7s} {'SQL':>8s} {'SQL s':>7s}  (SQL of the coordinator)")
    for name, secs in outcome.seconds.items():
        n, t = per_step.get(name[:40], (0, 0.0))
        print(f"{name[:42]:42s} {secs:7.1f} {n:8d} {t:7.1f}")
    print("statements by time:")
    for key, t in spent.most_common(args.top):
        print(f"{t:7.2f} s {count[key]:7d}  {key}")
    if not args.no_cprofile:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top * 2)
        if args.save:
            prof.dump_stats(args.save)


if __name__ == "__main__":
    main()
