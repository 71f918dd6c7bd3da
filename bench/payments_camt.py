"""Importing a generated 100,000-line camt.053 statement on PostgreSQL, in lines/s,
beside the parse-only rate of the same file with lxml (the bound) and our parser alone.
The lines name vouchers that do not exist, so the import's reconciliation takes its
heaviest path: every line becomes an exception (with history).

    .venv/bin/python bench/payments_camt.py --lines 100000
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "smart_finance_bench_camt"
ACCOUNT = "44030100040012345"


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql, "postgres"],
                   check=True)


def generate(n: int) -> bytes:
    from tests.payments.statement_files import Booked, camt053

    rng = random.Random(2026)
    entries = [Booked(bank_ref=f"BK{i:012d}", amount=Decimal(rng.randint(1, 10**9)) / 100,
                      credit=False, end_to_end_id=f"ZX{i:010d}", payee_name=f"收款人{i % 997}",
                      payee_account=f"6222{rng.randint(10**14, 10**15 - 1)}", info="办公费")
               for i in range(n)]
    return camt053(ACCOUNT, dt.date(2026, 10, 15), entries, newline="\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    os.environ["DATABASE_URL"] = f"{PG}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from lxml import etree

    from payments import services
    from payments.importers.camt053 import parse_camt053
    from payments.models import ReconException, StatementLine

    call_command("migrate", verbosity=0)
    content = generate(args.lines)
    n = args.lines

    t0 = time.perf_counter()
    root = etree.fromstring(content, parser=etree.XMLParser(huge_tree=True))
    amounts = [el.text for el in root.iter("{*}Amt")]
    t_lxml = time.perf_counter() - t0
    assert len(amounts) == 2 * n

    t0 = time.perf_counter()
    rows = parse_camt053(content, "bench.xml")
    t_parse = time.perf_counter() - t0
    assert len(rows.statement) == n and not rows.issues

    t0 = time.perf_counter()
    report = services.bank_file_import(content=content, filename="bench.xml", user=None)
    t_import = time.perf_counter() - t0
    assert report.stored == n and report.exceptions == n, report.as_dict()

    t0 = time.perf_counter()
    again = services.bank_file_import(content=content, filename="bench.xml", user=None)
    t_again = time.perf_counter() - t0
    assert again.stored == 0 and again.skipped == n
    assert StatementLine.objects.count() == n and ReconException.objects.count() == n

    print(f"\ncamt.053 import bench — {time.strftime('%Y-%m-%d')} on {platform.node()} "
          f"({os.cpu_count()} cores), PostgreSQL, {n:,} lines, {len(content) / 1e6:.1f} MB")
    print(f"{'step':<52} {'seconds':>8} {'lines/s':>10}")
    for label, secs in [("lxml parse only (fromstring + walk Amt): the bound", t_lxml),
                        ("our parser to dataclasses (parse_camt053)", t_parse),
                        ("full import: parse + store + reconcile (+exceptions)", t_import),
                        ("same file again (nothing stored)", t_again)]:
        print(f"{label:<52} {secs:>8.2f} {n / secs:>10.0f}")
    print(f"full import / lxml bound: {t_lxml / t_import:.3f}")


if __name__ == "__main__":
    main()
