"""A province-shaped ledger on PostgreSQL (issue 23): 20 cities and 100 counties, 30,000
budget units, 5 fiscal years and 10,000,000 ledger lines loaded with COPY, then the
trial balance, the execution report, one department's disclosure set and an auditor's
trace measured with the app's own code, each beside a plain `SELECT sum()` of the same
lines — once without partitions and once with them (LEDGER_PARTITIONS=0 / 1 at
`migrate` time).

Per arm: a fresh database, `manage.py migrate`, `manage.py import_codes`, the years opened
by `fiscal_year_open`; then organizations, entries, lines and balances by COPY (psycopg
`cursor.copy`, not the ORM) in chunks, so memory is bounded by one year's payment plan.

The lines have the shapes the services post (finance/ledger.py through budgets/ and
payments/): per unit and year four indicator tuples (year|region|unit|function|economic|
fund source|project), each approved (approval: Dr 9101 / Cr 9001), then payments, each a
commitment (commit: Dr 9201 / Cr 9101) and a treasury payment (payment: Dr 9301 / Cr 9201,
Dr 7101 / Cr 6001, Dr 5001 / Cr 4001) of the same tuple. Every entry balances per book;
a tuple is approved for more than it pays, so no 9101 balance goes negative. Balances are
the sums of the lines per account and tuple (computed while generating; the test checks
them against a GROUP BY of the lines). Hashes: the chain links use the real formula
(finance.ledger.chain_hash) and the voucher sequence is left at the chain's head, but the
content hashes are a cheap stand-in (sha256 of year|number|kind|amount), not of the
entry's canonical content, so verify_ledger reports content mismatches; no entry MACs.
FK triggers are off during the load (session_replication_role = replica; every id
written exists), the indexes stay in place.

    .venv/bin/python bench/province.py                      # the issue's size (both arms)
    .venv/bin/python bench/province.py --lines 200000 --units 3000   # under a minute
    options: --lines N --units N --years N --arms plain,partitioned --keep --json
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_PREFIX = "sf_province_"
ARMS = {"plain": "0", "partitioned": "1"}  # arm -> LEDGER_PARTITIONS at migrate time
PY = sys.executable

CITIES, COUNTIES_PER_CITY = 20, 5
UNITS_PER_DEPARTMENT = 10
TUPLES_PER_UNIT = 4  # per unit and year: two basic (人员/运转), two project tuples
APPROVAL_LINES = 2  # Dr 9101 / Cr 9001
PAYMENT_LINES = 8  # commit (2) + payment (6)
FUNCTIONS = ["2010101", "2010301", "2050101", "2050202", "2050203", "2100201", "2120399",
             "2140104", "2080505", "2210201"]
ECONOMICS = ["30101", "30102", "30201", "30211", "30217", "30231", "30299", "31002",
             "30108", "30113"]
BOOKS = ("indicator", "budget", "financial")
RESULT = "PROVINCE-RESULT "


# ------------------------------------------------------------------ generation
@dataclass
class Generated:
    regions: int = 0
    organizations: int = 0
    units: int = 0
    departments: int = 0
    entries: int = 0
    lines: int = 0
    balances: int = 0
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return self.organizations + self.entries + self.lines + self.balances


def planned_payments(*, lines: int, units: int, years: int) -> int:
    """Payments (8 lines each) so that approvals plus payments reach `lines`."""
    approval_lines = APPROVAL_LINES * TUPLES_PER_UNIT * units * years
    return max(0, math.ceil((lines - approval_lines) / PAYMENT_LINES))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _next_id(cur: Any, table: str) -> int:
    cur.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
    return cur.fetchone()[0]


def _setval(cur: Any, table: str) -> None:
    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))")


def _copy(cur: Any, sql: str, buf: io.StringIO) -> None:
    if buf.tell():
        with cur.copy(sql) as cp:
            cp.write(buf.getvalue())
    buf.seek(0)
    buf.truncate()


_ENTRY_COPY = ("COPY finance_entry (id, fiscal_year, number, date, month, description, kind, "
               "source_type_id, source_id, tracking_id, idempotency_key, reverses_id, "
               "content_hash, prev_hash, hash, posted_by_id, posted_at) FROM STDIN")
_LINE_COPY = ("COPY finance_line (id, entry_id, seq, book, account_id, year, region_id, unit_id, "
              "function_id, economic_id, fund_source_id, project_code, debit_fen, credit_fen) "
              "FROM STDIN")
_BALANCE_COPY = ("COPY finance_balance (account_id, dim_key, year, region_id, unit_id, "
                 "function_id, economic_id, fund_source_id, project_code, debit_fen, "
                 "credit_fen) FROM STDIN")


def generate(conn: Any, *, units: int, years: list[int], lines: int, seed: int = 23,
             chunk_lines: int = 200_000, log: Callable[[str], None] = print) -> Generated:
    """Write the province into the database of `conn` (a psycopg connection; the code
    tables imported, the fiscal years opened). Returns what was written."""
    import numpy as np

    from finance import chart
    from finance.ids import make_uscc

    t0 = time.perf_counter()
    out = Generated()
    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    cur = conn.cursor()
    cur.execute("SELECT code, id FROM finance_account")
    acc = dict(cur.fetchall())
    cur.execute("SELECT code, id FROM finance_functioncode WHERE code = ANY(%s)", [FUNCTIONS])
    fn = dict(cur.fetchall())
    cur.execute("SELECT code, id FROM finance_economiccode WHERE code = ANY(%s)", [ECONOMICS])
    ec = dict(cur.fetchall())
    cur.execute("SELECT code, id FROM finance_fundsource")
    fs = dict(cur.fetchall())

    # regions: 20 cities, 5 counties each (codes 45cc00 / 45cc2k, apart from the imported city)
    regions: list[tuple[int, str]] = []
    for c in range(1, CITIES + 1):
        city = f"45{c:02d}00"
        cur.execute("INSERT INTO finance_region (code, name, level, parent_id, active) "
                    "VALUES (%s, %s, 'city', NULL, true) RETURNING id", [city, f"第{c}市"])
        city_id = cur.fetchone()[0]
        regions.append((city_id, city))
        for k in range(1, COUNTIES_PER_CITY + 1):
            code = f"45{c:02d}{20 + k:02d}"
            cur.execute("INSERT INTO finance_region (code, name, level, parent_id, active) "
                        "VALUES (%s, %s, 'district', %s, true) RETURNING id",
                        [code, f"第{c}市第{k}县", city_id])
            regions.append((cur.fetchone()[0], code))
    out.regions = len(regions)

    # organizations: a finance bureau per region, departments of 10 units each
    org_id = _next_id(cur, "finance_organization")
    serial = 0
    buf = io.StringIO()
    bureaus: dict[int, int] = {}
    depts: dict[tuple[int, int], int] = {}
    unit_rows: list[tuple[int, int, str, int]] = []  # unit id, region id, code, region index
    per_region = math.ceil(units / len(regions))

    def org(code: str, name: str, kind: str, parent: int | None, region: tuple[int, str]) -> int:
        nonlocal org_id, serial
        serial += 1
        pk, org_id = org_id, org_id + 1
        buf.write(f"{pk}\t{code}\t{name}\t{kind}\t{parent if parent else chr(92) + 'N'}\t"
                  f"{region[0]}\t{make_uscc(region[1], serial)}\tt\n")
        return pk

    for i in range(units):
        ri, j = i % len(regions), i // len(regions)
        region = regions[ri]
        if ri not in bureaus:
            bureaus[ri] = org(f"{region[1]}000", f"{region[1]}财政局", "bureau", None, region)
        d = j // UNITS_PER_DEPARTMENT
        if (ri, d) not in depts:
            depts[(ri, d)] = org(f"{region[1]}{d + 1:04d}", f"{region[1]}部门{d + 1}",
                                 "department", bureaus[ri], region)
        code = f"{region[1]}{d + 1:04d}{j % UNITS_PER_DEPARTMENT + 1:03d}"
        unit_rows.append((org(code, f"单位{code}", "budget_unit", depts[(ri, d)], region),
                          region[0], code, ri))
    _copy(cur, "COPY finance_organization (id, code, name, kind, parent_id, region_id, uscc, "
               "active) FROM STDIN", buf)
    _setval(cur, "finance_organization")
    out.organizations, out.units, out.departments = serial, units, len(depts)
    log(f"  {out.regions} regions, {units:,} units in {len(depts):,} departments "
        f"(at most {per_region} units a region)")

    # the tuples: line text of the dimension columns, and the balance key's codes
    fund_codes = {v: k for k, v in fs.items()}
    tuple_cols: list[str] = []
    tuple_keys: list[str] = []
    for uid, rid, ucode, ri in unit_rows:
        f_code = rnd.choice(FUNCTIONS)
        for k in range(TUPLES_PER_UNIT):
            e_code = ECONOMICS[(uid + k) % len(ECONOMICS)]
            fund = fs["2"] if k == 3 and rnd.random() < 0.3 else fs["1"]
            project = f"P{ucode}-{k}" if k >= 2 else ""
            tuple_cols.append(f"{rid}\t{uid}\t{fn[f_code]}\t{ec[e_code]}\t{fund}\t{project}")
            tuple_keys.append(f"{regions[ri][1]}|{ucode}|{f_code}|{e_code}|"
                              f"{fund_codes[fund]}|{project}")
    n_tuples = len(tuple_cols)

    a = {name: acc[code] for name, code in [
        ("authority", chart.AUTHORITY), ("available", chart.AVAILABLE),
        ("committed", chart.COMMITTED), ("expended", chart.EXPENDED),
        ("expenditure", chart.ADMINISTRATIVE_EXPENDITURE),
        ("revenue", chart.FISCAL_APPROPRIATION_REVENUE),
        ("expense", chart.OPERATING_EXPENSE), ("income", chart.FISCAL_APPROPRIATION_INCOME)]}
    payment_shape = [(1, "indicator", a["expended"], True), (2, "indicator", a["committed"], False),
                     (3, "budget", a["expenditure"], True), (4, "budget", a["revenue"], False),
                     (5, "financial", a["expense"], True), (6, "financial", a["income"], False)]

    total_payments = planned_payments(lines=lines, units=units, years=len(years))
    entry_id = _next_id(cur, "finance_entry")
    line_id = _next_id(cur, "finance_line")
    ebuf, lbuf, bbuf = io.StringIO(), io.StringIO(), io.StringIO()
    pending = 0

    def flush() -> None:
        nonlocal pending
        _copy(cur, _ENTRY_COPY, ebuf)
        _copy(cur, _LINE_COPY, lbuf)
        pending = 0

    for y_index, year in enumerate(years):
        cur.execute("SELECT last_number, last_hash FROM finance_vouchersequence "
                    "WHERE fiscal_year = %s", [year])
        row = cur.fetchone()
        if row is None or row[0]:
            raise RuntimeError(f"fiscal year {year} not opened, or it already has entries")
        number, head, prev = 0, row[1], row[1]
        n_pay = (total_payments * (y_index + 1) // len(years)
                 - total_payments * y_index // len(years))
        pay_tuple = rng.integers(0, n_tuples, n_pay)
        pay_month = rng.integers(1, 13, n_pay)
        pay_day = rng.integers(1, 29, n_pay)
        pay_amount = rng.integers(100, 5_000_000, n_pay, dtype=np.int64)  # 1 to 50,000 yuan
        order = np.lexsort((pay_day, pay_month))
        paid = np.zeros(n_tuples, dtype=np.int64)
        np.add.at(paid, pay_tuple, pay_amount)
        # approved: 105%-130% of what the tuple pays, at least 1,000 yuan (integer fen)
        approved = np.maximum(paid * rng.integers(105, 131, n_tuples) // 100, 100_000)

        def entry(kind: str, date: str, month: int, desc: str, amount: int,
                  year: int = year) -> int:
            nonlocal entry_id, number, head, prev
            number += 1
            pk, entry_id = entry_id, entry_id + 1
            content = _sha(f"province|{year}|{number}|{kind}|{amount}")
            stamp = f"{date}T02:00:00+00:00"  # 10:00 in China
            prev, head = head, _sha(f"{head}|{number}|{content}||{stamp}")
            ebuf.write(f"{pk}\t{year}\t{number}\t{date}\t{month}\t{desc}\t{kind}\t\\N\t\t\t\\N"
                       f"\t\\N\t{content}\t{prev}\t{head}\t\\N\t{stamp}\n")
            return pk

        approval_date = f"{year}-01-05"
        for t in range(n_tuples):
            amt = int(approved[t])
            eid = entry("approval", approval_date, 1, "指标批复", amt)
            cols = tuple_cols[t]
            lbuf.write(f"{line_id}\t{eid}\t1\tindicator\t{a['available']}\t{year}\t{cols}\t{amt}\t0\n"
                       f"{line_id + 1}\t{eid}\t2\tindicator\t{a['authority']}\t{year}\t{cols}\t0\t{amt}\n")
            line_id += 2
            pending += 2
            if pending >= chunk_lines:
                flush()
        for p in order.tolist():
            t = int(pay_tuple[p])
            month = int(pay_month[p])
            amt = int(pay_amount[p])
            date = f"{year}-{month:02d}-{int(pay_day[p]):02d}"
            cols = tuple_cols[t]
            eid = entry("commit", date, month, "支付申请冻结", amt)
            lbuf.write(f"{line_id}\t{eid}\t1\tindicator\t{a['committed']}\t{year}\t{cols}\t{amt}\t0\n"
                       f"{line_id + 1}\t{eid}\t2\tindicator\t{a['available']}\t{year}\t{cols}\t0\t{amt}\n")
            line_id += 2
            eid = entry("payment", date, month, "国库集中支付", amt)
            for seq, book, account, debit in payment_shape:
                lbuf.write(f"{line_id}\t{eid}\t{seq}\t{book}\t{account}\t{year}\t{cols}\t"
                           f"{amt if debit else 0}\t{0 if debit else amt}\n")
                line_id += 1
            pending += PAYMENT_LINES
            if pending >= chunk_lines:
                flush()
        flush()
        cur.execute("UPDATE finance_vouchersequence SET last_number = %s, last_hash = %s, "
                    "prev_hash = %s WHERE fiscal_year = %s", [number, head, prev, year])
        out.entries += number
        out.lines += APPROVAL_LINES * n_tuples + PAYMENT_LINES * n_pay

        # balances: per account and tuple, the sums of the lines just written
        n_bal = 0
        for t in range(n_tuples):
            cols, key = tuple_cols[t], f"{year}|{tuple_keys[t]}"
            appr, p = int(approved[t]), int(paid[t])
            rows = [(a["available"], appr, p), (a["authority"], 0, appr)]
            if p:
                rows += [(a["committed"], p, p), (a["expended"], p, 0), (a["expenditure"], p, 0),
                         (a["revenue"], 0, p), (a["expense"], p, 0), (a["income"], 0, p)]
            for account, d, c in rows:
                bbuf.write(f"{account}\t{key}\t{year}\t{cols}\t{d}\t{c}\n")
            n_bal += len(rows)
            if bbuf.tell() > 32 * 2**20:
                _copy(cur, _BALANCE_COPY, bbuf)
        _copy(cur, _BALANCE_COPY, bbuf)
        out.balances += n_bal
        log(f"  {year}: {number:,} entries, {APPROVAL_LINES * n_tuples + PAYMENT_LINES * n_pay:,} "
            f"lines, {n_bal:,} balances ({time.perf_counter() - t0:.0f} s so far)")
    for table in ("finance_entry", "finance_line", "finance_balance"):
        _setval(cur, table)
    out.seconds = time.perf_counter() - t0
    return out


# ------------------------------------------------------------- database helpers
def psql(sql: str, db: str = "postgres") -> str:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atqc", sql, db],
                          check=True, capture_output=True, text=True).stdout.strip()


def setup_django(db: str) -> None:
    os.environ["DATABASE_URL"] = f"{PG}/{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def raw_connection() -> Any:
    from django.db import connection

    connection.ensure_connection()
    return connection.connection


def relation_bytes(cur: Any, table: str) -> int:
    """Bytes of a table with its indexes and TOAST, summed over its partitions if any."""
    cur.execute("SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) "
                "FROM pg_partition_tree(%s)), pg_total_relation_size(%s))", [table, table])
    return int(cur.fetchone()[0])


def partitioned(cur: Any, table: str) -> tuple[bool, int]:
    cur.execute("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass), "
                "(SELECT count(*) FROM pg_partition_tree(%s) WHERE isleaf)", [table, table])
    is_part, leaves = cur.fetchone()
    return bool(is_part), int(leaves)


# ------------------------------------------------------------------- phases
def phase_load(args: argparse.Namespace) -> dict:
    setup_django(args.db)
    from finance import services

    years = list(range(args.first_year, args.first_year + args.years))
    for y in years:
        services.fiscal_year_open(year=y, user=None)
    conn = raw_connection()
    cur = conn.cursor()
    cur.execute("SET session_replication_role = replica")  # FK triggers off for the load
    gen = generate(conn, units=args.units, years=years, lines=args.lines,
                   log=lambda s: print(s, flush=True))
    cur.execute("SET session_replication_role = DEFAULT")
    out: dict[str, Any] = {"generated": gen.__dict__ | {"rows": gen.rows}}
    print(f"  loaded {gen.rows:,} rows ({gen.lines:,} lines, {gen.entries:,} entries, "
          f"{gen.balances:,} balances, {gen.organizations:,} organizations) in "
          f"{gen.seconds:.1f} s: {gen.rows / gen.seconds:,.0f} rows/s, "
          f"{gen.lines / gen.seconds:,.0f} lines/s (Python generation + COPY)", flush=True)

    # baseline: the server copying the same lines into a table with the same indexes
    n = min(gen.lines, args.baseline_rows)
    cur.execute("DROP TABLE IF EXISTS province_baseline")
    cur.execute("CREATE TABLE province_baseline (LIKE finance_line INCLUDING DEFAULTS "
                "INCLUDING CONSTRAINTS INCLUDING INDEXES)")
    cur.execute("SELECT min(id) FROM finance_line")
    first = cur.fetchone()[0]
    t0 = time.perf_counter()
    cur.execute("INSERT INTO province_baseline SELECT * FROM finance_line WHERE id < %s",
                [first + n])
    b_sec = time.perf_counter() - t0
    cur.execute("DROP TABLE province_baseline")
    out["baseline_insert_select"] = {"rows": n, "seconds": b_sec}
    print(f"  baseline INSERT … SELECT of the first {n:,} of those lines into a plain table "
          f"with the same indexes: {b_sec:.1f} s, {n / b_sec:,.0f} lines/s", flush=True)

    t0 = time.perf_counter()
    for table in ("finance_line", "finance_entry", "finance_balance", "finance_organization"):
        cur.execute(f"VACUUM ANALYZE {table}")
    out["vacuum_analyze_seconds"] = time.perf_counter() - t0
    print(f"  VACUUM ANALYZE of the loaded tables: {out['vacuum_analyze_seconds']:.1f} s",
          flush=True)
    out["bytes"] = {t: relation_bytes(cur, t) for t in
                    ("finance_line", "finance_entry", "finance_balance")}
    cur.execute("SELECT pg_database_size(current_database())")
    out["bytes"]["database"] = int(cur.fetchone()[0])
    out["partitioned"] = {t: partitioned(cur, t) for t in ("finance_line", "finance_entry")}
    return out


def _median_run(fn: Callable[[], Any], repeat: int) -> tuple[float, Any, list[float]]:
    times, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value, times


def phase_measure(args: argparse.Namespace) -> dict:
    setup_django(args.db)
    from django.db import connection

    from audit.trace import trace_resolve
    from finance import chart
    from finance.models import Account, Organization
    from finance.selectors import chain_heads, trial_balance
    from reports.checks import tables_check
    from reports.models import DisclosureSet
    from reports.selectors import Scope, execution_report
    from reports.services import disclosure_files, disclosure_tables, ledger_head, manifest_build

    def to_fen(yuan: Any) -> int:
        return int(yuan * 100)

    year = args.first_year + args.years - 1
    dept = (Organization.objects.filter(kind="department", code__startswith="45")
            .order_by("code").first())
    dept_units = list(Organization.objects.filter(parent=dept).values_list("id", flat=True))
    expended = Account.objects.get(code=chart.EXPENDED).pk
    dept_report = execution_report(year=year, group_by=("unit",),
                                   scope=Scope("department", dept.code))
    paid_ref = dept_report.total.figures["paid"].trace

    def plain(where: str, params: list) -> Callable[[], tuple]:
        def run() -> tuple:
            with connection.cursor() as cur:
                cur.execute(f"SELECT sum(debit_fen), sum(credit_fen), count(*) FROM finance_line "
                            f"WHERE {where}", params)
                return cur.fetchone()
        return run

    def tb(y: int | None) -> Callable[[], tuple]:
        def run() -> tuple:
            tbs = [trial_balance(book=b, year=y) for b in BOOKS]
            return (to_fen(sum(t.total_debit for t in tbs)),
                    to_fen(sum(t.total_credit for t in tbs)), all(t.balanced for t in tbs))
        return run

    def disclosure() -> tuple[int, int]:
        ds = DisclosureSet(department=dept, year=year, kind=DisclosureSet.Kind.FINAL)
        tables = disclosure_tables(disclosure=ds, upto=ledger_head(year))
        failures = tables_check(tables)
        files = disclosure_files(tables=tables, department=dept.code, name=dept.name,
                                 year=year, kind=ds.kind)
        manifest_build(files=files, tables=tables, meta={
            "department": dept.code, "ledger_anchors": [a.as_dict() for a in chain_heads()]})
        return len(failures), sum(len(b) for b in files.values())

    def trace() -> tuple:
        result = trace_resolve(paid_ref)
        return to_fen(result.total), result.line_count

    ops = [
        ("trial balance, last year (3 books)", tb(year),
         plain("year = %s", [year])),
        ("trial balance, all years (3 books)", tb(None), plain("TRUE", [])),
        ("execution report by department, last year",
         lambda: len(execution_report(year=year, group_by=("department",)).rows),
         plain("year = %s", [year])),
        (f"disclosure set of one department ({len(dept_units)} units; final: "
         "tables, checks, files, manifest)", disclosure,
         plain("year = %s AND unit_id = ANY(%s)", [year, dept_units])),
        ("trace of one figure (that department's paid, 500 lines listed)", trace,
         plain("year = %s AND account_id = %s AND unit_id = ANY(%s)",
               [year, expended, dept_units])),
    ]
    def facts_sql() -> int:
        """The execution report's one GROUP BY (reports.selectors.ledger_facts, by month),
        rows fetched, without the pandas labelling and pivot."""
        from django.db.models import Sum
        from django.db.models.functions import Coalesce

        from finance.models import Line

        keys = ["account_id", "kind", "region_id", "unit_id", "function_id", "economic_id",
                "fund_source_id", "project_code", "entry__month"]
        qs = (Line.objects.filter(year=year)
              .annotate(kind=Coalesce("entry__reverses__kind", "entry__kind"))
              .values(*keys).annotate(d=Sum("debit_fen"), c=Sum("credit_fen")).order_by()
              .values_list(*keys, "d", "c"))
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return len(cur.fetchall())

    # last, so that the rows above keep their places in older result files
    ops.append(("  of which the report's GROUP BY alone (ledger_facts SQL, rows fetched)",
                facts_sql, plain("year = %s", [year])))
    rows = []
    for name, app, base in ops:
        load = os.getloadavg()[0]
        app()  # warm the cache the same way for both
        base()
        sec, value, times = _median_run(app, args.repeat)
        b_sec, b_value, b_times = _median_run(base, args.repeat)
        rows.append({"operation": name, "seconds": sec, "runs": times, "baseline_seconds": b_sec,
                     "baseline_runs": b_times, "ratio": sec / b_sec if b_sec else None,
                     "load1": load, "value": str(value), "baseline_value": str(b_value)})
        print(f"  {name}: {sec:.4f} s (baseline {b_sec:.4f} s, {sec / b_sec:.1f}x), "
              f"load {load:.2f}; app {value}, SQL (debit, credit, lines) {b_value}", flush=True)
    return {"year": year, "department": dept.code, "operations": rows}


# ------------------------------------------------------------------- driver
def _child(phase: str, args: argparse.Namespace, db: str) -> dict:
    cmd = [PY, str(Path(__file__).resolve()), "--phase", phase, "--db", db,
           "--lines", str(args.lines), "--units", str(args.units), "--years", str(args.years),
           "--first-year", str(args.first_year), "--repeat", str(args.repeat),
           "--baseline-rows", str(args.baseline_rows)]
    result = None
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "DATABASE_URL": f"{PG}/{db}"}) as proc:
        for line in proc.stdout:
            if line.startswith(RESULT):
                result = json.loads(line[len(RESULT):])
            elif not args.json:
                print(line, end="", flush=True)
    if proc.returncode or result is None:
        raise SystemExit(f"phase {phase} failed in {db} (exit {proc.returncode})")
    return result


def run_arm(arm: str, args: argparse.Namespace) -> dict:
    db = f"{args.db_prefix}{arm}"
    env = {**os.environ, "DATABASE_URL": f"{PG}/{db}", "LEDGER_PARTITIONS": ARMS[arm]}
    say = (lambda s: None) if args.json else (lambda s: print(s, flush=True))
    say(f"== arm '{arm}' (LEDGER_PARTITIONS={ARMS[arm]}), database {db}")
    psql(f"DROP DATABASE IF EXISTS {db}")
    psql(f"CREATE DATABASE {db}")
    t0 = time.perf_counter()
    for cmd in (["migrate", "--noinput", "-v0"], ["import_codes", "finance/data/codes"]):
        subprocess.run([PY, "manage.py", *cmd], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    say(f"  migrate + import_codes: {time.perf_counter() - t0:.0f} s")
    try:
        out = {"arm": arm, "database": db, "LEDGER_PARTITIONS": ARMS[arm],
               "load": _child("load", args, db)}
        part = out["load"]["partitioned"]["finance_line"]
        say(f"  finance_line partitioned: {'yes' if part[0] else 'no'} ({part[1]} leaf tables)")
        out["measure"] = _child("measure", args, db)
    finally:
        if not args.keep:
            psql(f"DROP DATABASE IF EXISTS {db}")
    return out


def print_table(results: list[dict]) -> None:
    print("\n== figures (seconds: median of runs; baseline: plain SELECT sum() of the same lines)")
    for r in results:
        g = r["load"]["generated"]
        b = r["load"]["baseline_insert_select"]
        part = r["load"]["partitioned"]["finance_line"]
        sizes = ", ".join(f"{k} {v / 2**30:.2f} GiB" for k, v in r["load"]["bytes"].items())
        print(f"[{r['arm']}] finance_line partitioned: {'yes' if part[0] else 'no'} "
              f"({part[1]} leaf tables); {g['lines']:,} lines, {g['entries']:,} entries, "
              f"{g['balances']:,} balances, {g['units']:,} units / {g['departments']:,} "
              f"departments / {g['regions']} regions")
        print(f"[{r['arm']}] load {g['seconds']:.0f} s = {g['rows'] / g['seconds']:,.0f} rows/s "
              f"({g['lines'] / g['seconds']:,.0f} lines/s); baseline INSERT…SELECT "
              f"{b['rows'] / b['seconds']:,.0f} lines/s ({b['rows']:,} lines); VACUUM ANALYZE "
              f"{r['load']['vacuum_analyze_seconds']:.0f} s; {sizes}")
    names = [o["operation"] for o in results[0]["measure"]["operations"]]
    head = f"{'operation':<72}"
    for r in results:
        head += f" | {r['arm'][:11]:>11} s  base s  ratio  load"
    print(head)
    for i, name in enumerate(names):
        row = f"{name[:72]:<72}"
        for r in results:
            o = r["measure"]["operations"][i]
            row += (f" | {o['seconds']:>13.3f} {o['baseline_seconds']:>7.4f} "
                    f"{o['ratio']:>6.1f} {o['load1']:>5.2f}")
        print(row)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--units", type=int, default=30_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--first-year", type=int, default=None,
                        help="default: the current year minus years - 1")
    parser.add_argument("--arms", default="plain,partitioned")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-rows", type=int, default=2_000_000,
                        help="lines copied by the INSERT … SELECT baseline")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--db-prefix", default=DB_PREFIX, help="database names: PREFIX<arm>")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--phase", choices=["load", "measure"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.first_year is None:
        args.first_year = datetime.now(UTC).year - args.years + 1
    if args.phase:
        result = phase_load(args) if args.phase == "load" else phase_measure(args)
        print(RESULT + json.dumps(result, default=str), flush=True)
        return
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    for arm in arms:
        if arm not in ARMS:
            parser.error(f"unknown arm {arm!r} (choose from {', '.join(ARMS)})")
    started = datetime.now(UTC)
    results = [run_arm(arm, args) for arm in arms]
    summary = {"started": started.isoformat(), "finished": datetime.now(UTC).isoformat(),
               "command": " ".join(sys.argv), "lines": args.lines, "units": args.units,
               "years": args.years, "cpus": os.cpu_count(), "arms": results}
    if args.json:
        print(json.dumps(summary, indent=1, default=str))
    else:
        print_table(results)
        print(f"load average at the end: {os.getloadavg()}; {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
