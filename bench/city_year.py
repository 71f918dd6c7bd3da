"""The whole city-year on PostgreSQL: wall time, rows written, peak memory per size.
Each size runs in its own process on a fresh database (`smart_finance_bench_city`).
Baseline in the same run: INSERT … SELECT of the run's ledger lines into a scratch table
(the bound for writing that many rows on this server).

    .venv/bin/python bench/city_year.py --units 300 3000
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "smart_finance_bench_city"


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql, "postgres"],
                   check=True)


def one(units: int, months: int) -> dict:
    """Runs in a child process: fresh database, migrate, codes, then the timed city-year."""
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    os.environ["DATABASE_URL"] = f"{PG}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from citysim.simulate import city_year_run

    call_command("migrate", verbosity=0)
    call_command("import_codes", str(ROOT / "finance/data/codes"), stdout=io.StringIO())

    def inserted() -> int:
        with connection.cursor() as c:
            c.execute("SELECT pg_stat_clear_snapshot()")
            c.execute("SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables")
            return int(c.fetchone()[0])

    rows0 = inserted()
    out = ROOT / "var" / f"bench_city_year_{units}"
    t0 = time.perf_counter()
    outcome = city_year_run(units=units, year=2026, out=out, months=months,
                            stdout=open(os.devnull, "w"))  # noqa: SIM115
    wall = time.perf_counter() - t0
    time.sleep(1)  # the statistics collector reports inserts with a short delay
    rows = inserted() - rows0
    with connection.cursor() as c:
        c.execute("CREATE TEMP TABLE scratch (LIKE finance_line)")
        t1 = time.perf_counter()
        c.execute("INSERT INTO scratch SELECT * FROM finance_line")
        bound = time.perf_counter() - t1
    return {"units": units, "months": months, "wall_s": round(wall, 1), "rows_written": rows,
            "ledger_lines": outcome.counts["ledger lines"], "entries": outcome.counts["entries"],
            "requests": outcome.counts["payment requests"], "verify_ok": outcome.verify_ok,
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "line_insert_bound_s": round(bound, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, nargs="+", default=[300, 3000])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.months)))
        return
    print(f"# {dt.datetime.now(dt.UTC):%Y-%m-%d} {platform.node()} {os.cpu_count()} cores, "
          f"{platform.python_version()}, PostgreSQL at {PG}")
    print("| units | months | wall s | rows written | ledger lines | entries | requests | "
          "rows/s | peak RSS MiB | verify | INSERT…SELECT of the lines s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in args.units:
        proc = subprocess.run([sys.executable, __file__, "--one", str(n), "--months",
                               str(args.months)], capture_output=True, text=True, check=False)
        if proc.returncode:
            sys.exit(f"size {n} failed:\n{proc.stderr[-3000:]}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"| {r['units']:,} | {r['months']} | {r['wall_s']} | {r['rows_written']:,} | "
              f"{r['ledger_lines']:,} | {r['entries']:,} | {r['requests']:,} | "
              f"{r['rows_written'] / r['wall_s']:,.0f} | {r['peak_rss_mib']} | "
              f"{'OK' if r['verify_ok'] else 'FAILED'} | {r['line_insert_bound_s']} |", flush=True)


if __name__ == "__main__":
    main()
