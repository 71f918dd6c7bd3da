"""The whole city-year on PostgreSQL: wall time, rows written, peak memory per size.
Each size runs in its own process on a fresh database (`smart_finance_bench_city`).
Baseline in the same run: INSERT … SELECT of the run's ledger lines into a scratch table
(the bound for writing that many rows on this server).

Peak memory is the peak of the SUM of the resident set sizes of the run's process tree
(the coordinator and its worker processes), sampled every 0.2 s from /proc; the
coordinator's own ru_maxrss is printed too. The load average before and after the run is
printed next to the figures (the machine may be shared).

    .venv/bin/python bench/city_year.py --units 300 3000 --workers 2
    make bench-city          # exactly the 3,000-unit measurement of docs/PERFORMANCE.md
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
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_CITY_DB", "smart_finance_bench_city")


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql, "postgres"],
                   check=True)


def tree_rss_kib(root: int) -> int:
    """Sum of VmRSS over `root` and all its descendants (scan of /proc)."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/status") as f:
                text = f.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        parent[int(d)] = int(fields.get("PPid", "0").strip())
        rss[int(d)] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, pp in parent.items() if pp in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(rss.get(pid, 0) for pid in tree)


def one(units: int, months: int, workers: int, payments: int) -> dict:
    """Runs in a child process: fresh database, migrate, codes, then the timed city-year."""
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    os.environ["DATABASE_URL"] = f"{PG}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    from bench.production import production_settings

    production_settings()
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
    outcome = city_year_run(units=units, year=2026, out=out, months=months, workers=workers,
                            payments=payments, stdout=sys.stderr)  # progress goes to stderr (the log)
    wall = time.perf_counter() - t0
    time.sleep(1)  # the statistics collector reports inserts with a short delay
    rows = inserted() - rows0
    with connection.cursor() as c:
        c.execute("CREATE TEMP TABLE scratch (LIKE finance_line)")
        t1 = time.perf_counter()
        c.execute("INSERT INTO scratch SELECT * FROM finance_line")
        bound = time.perf_counter() - t1
    return {"units": units, "months": months, "workers": workers, "payments": payments,
            "wall_s": round(wall, 1),
            "rows_written": rows, "steps_s": outcome.seconds,
            "ledger_lines": outcome.counts["ledger lines"], "entries": outcome.counts["entries"],
            "requests": outcome.counts["payment requests"], "verify_ok": outcome.verify_ok,
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "line_insert_bound_s": round(bound, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, nargs="+", default=[300, 3000])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes for the per-unit steps (default 2 = the cores)")
    parser.add_argument("--payments", type=int, default=1,
                        help="requests per unit per month (city_year --payments; a city's "
                             "units pay about 20 times a month)")
    parser.add_argument("--log", default="var/bench_city_year.log",
                        help="progress of each run (per-step times), appended")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.months, args.workers, args.payments)))
        return
    print(f"# {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC {platform.node()} {os.cpu_count()} "
          f"cores, Python {platform.python_version()}, PostgreSQL at {PG}, "
          f"--workers {args.workers}, --payments {args.payments} per unit per month; "
          f"progress in {args.log}")
    print("| units | months | workers | wall s | rows written | ledger lines | entries | requests | "
          "rows/s | peak RSS MiB (tree sum / coordinator) | verify | load avg before → after | "
          "INSERT…SELECT of the lines s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    log_path = ROOT / args.log
    log_path.parent.mkdir(parents=True, exist_ok=True)
    for n in args.units:
        load0 = os.getloadavg()
        with open(log_path, "a") as log:
            log.write(f"\n# {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC: {n} units × "
                      f"{args.months} months, --workers {args.workers}, --payments "
                      f"{args.payments}, load {load0}\n")
            log.flush()
            proc = subprocess.Popen([sys.executable, __file__, "--one", str(n), "--months",
                                     str(args.months), "--workers", str(args.workers),
                                     "--payments", str(args.payments)],
                                    stdout=subprocess.PIPE, stderr=log, text=True)
            peak, stop = [0], threading.Event()

            def sample(pid: int = proc.pid, peak: list = peak, stop: threading.Event = stop) -> None:
                while not stop.wait(0.2):
                    peak[0] = max(peak[0], tree_rss_kib(pid))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            stdout, _ = proc.communicate()
            stop.set()
            sampler.join()
        load1 = os.getloadavg()
        if proc.returncode:
            sys.exit(f"size {n} failed, see {log_path}")
        r = json.loads(stdout.strip().splitlines()[-1])
        print(f"| {r['units']:,} | {r['months']} | {r['workers']} | {r['wall_s']} | "
              f"{r['rows_written']:,} | {r['ledger_lines']:,} | {r['entries']:,} | "
              f"{r['requests']:,} | {r['rows_written'] / r['wall_s']:,.0f} | "
              f"{peak[0] / 1024:,.0f} / {r['peak_rss_mib']} | "
              f"{'OK' if r['verify_ok'] else 'FAILED'} | {load0[0]:.2f} → {load1[0]:.2f} | "
              f"{r['line_insert_bound_s']} |", flush=True)
        print("  steps (s): " + ", ".join(f"{k}: {v}" for k, v in r["steps_s"].items()),
              flush=True)


if __name__ == "__main__":
    main()
