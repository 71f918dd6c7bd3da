"""Bank file formats (issue 17): for each format the city's agent banks send, a file of
realistic size written by citysim/banks.py (as the bank writes it), measured in one run on
PostgreSQL, in lines/s:

  parse     our parser alone (payments.importers.parse with every active bank profile,
            as the importer calls it; no database)
  baseline  a bare read of the same bytes: lxml iterparse (XML), Python's csv module
            (CSV), openpyxl read-only iteration (XLSX), the mt-940 library alone (MT94x)
  COPY      the parsed rows COPYed (psycopg) into a plain temporary table: the database's
            own speed limit for storing them
  import    the full import (payments.services.bank_file_import): parse, store, apply or
            reconcile
  parse+COPY  parse and COPY of the same file one after the other: lines / (parse s + COPY s);
            import/(parse+COPY) is issue 19's measure (goal for statements: ≥ 0.5)

Result files apply to real issued vouchers: the setup files, submits, approves and
vouchers requests through the payments services (with an approved budget), then keeps
that database as a template; every format is imported into a fresh copy of it, so each
import starts from the same issued vouchers. Result lines: 95% paid, 4% returned (退票),
1% still pending (counted, not applied). Statement lines name vouchers that do not exist
(every line also becomes an open exception, the heaviest reconciliation path, as in
bench/payments_camt.py).

    .venv/bin/python bench/payments_formats.py                 # 10,000 result / 20,000 statement lines
    .venv/bin/python bench/payments_formats.py --lines 50000   # statement lines (results: lines / 2)
    .venv/bin/python bench/payments_formats.py --quick
    .venv/bin/python bench/payments_formats.py --formats camt,ccb --results 100 --profile 30

Run with production settings (DEBUG=0; BENCH_DEBUG=1 for the development ones).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import io
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "smart_finance_bench_formats"
RUN = f"{DB}_run"  # the copy each format is imported into
UNITS = 4
VOUCHER_DAY = dt.date(2026, 6, 12)
STATEMENT_DAY = dt.date(2026, 6, 15)


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql, "postgres"],
                   check=True)


def drop_all() -> None:
    for name in (RUN, DB):
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def use_db(name: str) -> None:
    """Point Django's connection at another database (the next query reconnects)."""
    from django.db import connections

    for conn in connections.all():
        conn.close()
    connections["default"].settings_dict["NAME"] = name


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    from django.utils import timezone

    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))  # noqa: DTZ001


def unit(i: int) -> str:
    return f"440300{300 + i}"


# ------------------------------------------------------------------ setup (template DB)
def setup(n_vouchers: int) -> tuple[str, float]:
    """Master data, an approved budget per unit and `n_vouchers` issued vouchers on one
    agent account (at the ICBC branch), all through the services; returns the agent
    account number and the seconds the requests took."""
    from django.contrib.auth.models import User

    from bench.payments_lifecycle import treasury_base
    from finance import services as fin
    from finance.ids import make_uscc
    from finance.ledger import Dims
    from payments import services
    from payments.models import PaymentRequest

    admin, groups, reviewer, icbc = treasury_base()
    mk = fin.organization_upsert
    agent = services.agent_account_upsert(number="44030100040000001", name="零余额账户",
                                          bank=icbc, user=admin)
    filers, heads, payees, dims = [], [], [], []
    for i in range(UNITS):
        org = mk(code=unit(i), name=f"单位{i}", kind="budget_unit", region_code="440300",
                 uscc=make_uscc("440300", 300 + i), parent_code="440300001", user=None,
                 reason="bench")
        people = []
        for role in (services.FILER, services.UNIT_HEAD):
            u = User.objects.create_user(f"{role}-{i}")
            u.groups.add(groups[role])
            services.membership_set(member=u, organization=org, user=admin)
            people.append(u)
        filers.append(people[0])
        heads.append(people[1])
        payees.append(services.payee_save(
            name=f"收款人{i}", account_number=f"62220202{i:011d}", bank_name="中国工商银行",
            branch_name="深圳南山支行", cnaps="102584002015", user=admin, reason="bench"))
        d = Dims(region="440300", unit=unit(i), function="2050203", economic="30201",
                 fund_source="1")
        dims.append(d)
        indicator_approve(d, Decimal("500000000.00"))
    services.users_prefetch([*filers, *heads, reviewer])
    t0 = time.perf_counter()
    filed_at = local(VOUCHER_DAY - dt.timedelta(days=2), 10)
    for k in range(n_vouchers):
        i = k % UNITS
        # distinct amounts (the duplicate-payment rule), far below the director's threshold
        amount = Decimal(100_000 + 37 * k) / 100
        services.payment_request_create(dims=dims[i], year=2026, amount=amount,
                                        payee=payees[i], purpose="办公费", user=filers[i],
                                        as_of=filed_at, submit=True)
        if (k + 1) % 1000 == 0:
            print(f"  setup: {k + 1:,} requests filed and submitted "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    S = PaymentRequest.Status  # noqa: N806
    for i in range(UNITS):
        reqs = list(PaymentRequest.objects.filter(unit=unit(i), status=S.UNIT_REVIEW))
        services.payment_requests_approve(requests=reqs, user=heads[i],
                                          as_of=local(VOUCHER_DAY - dt.timedelta(days=1), 10))
    reqs = list(PaymentRequest.objects.filter(status=S.TREASURY_REVIEW).order_by("id"))
    out = services.payment_requests_approve(requests=reqs, user=reviewer,
                                            as_of=local(VOUCHER_DAY, 9))
    assert not out.refused and len(out.approved) == n_vouchers, out.refused[:1]
    services.voucher_batch_create(agent_account=agent, user=reviewer, requests=out.approved,
                                  as_of=local(VOUCHER_DAY, 10))
    return agent.number, time.perf_counter() - t0


def indicator_approve(d: Any, amount: Decimal) -> None:
    """An approved indicator (an increase filed and approved by two budget officers), as
    bench/payments_lifecycle.py makes it."""
    from django.contrib.auth.models import User

    from budgets import services as budgets
    from finance import roles
    from finance import services as fin

    officers = []
    for name in ("budget-office-1", "budget-office-2"):
        officer, created = User.objects.get_or_create(username=name)
        if created:
            fin.role_grant(member=officer, role=roles.BUDGET_OFFICE)
        officers.append(officer)
    on = dt.date(2026, 6, 1)
    adjustment = budgets.adjustment_file(kind="increase", year=2026, amount=amount,
                                         batch_no="bench", doc_no="bench", date=on,
                                         reason="批复 bench", target=d, user=officers[0])
    budgets.adjustment_approve(adjustment=adjustment, user=officers[1], on=on)


# ------------------------------------------------------------------ the files
@dataclass
class Case:
    label: str
    kind: str  # results / statement
    content: bytes
    filename: str
    baseline: Callable[[bytes], int]
    baseline_name: str


def result_rows(n: int) -> list[Any]:
    from citysim import banks
    from payments.models import Voucher

    rows = []
    vouchers = list(Voucher.objects.select_related("request__payee", "batch__agent_account")
                    .order_by("number")[:n])
    assert len(vouchers) == n, (len(vouchers), n)
    for k, v in enumerate(vouchers):
        outcome = "pending" if k % 100 == 99 else "rejected" if k % 25 == 7 else "paid"
        at = dt.datetime.combine(VOUCHER_DAY, dt.time(11 + k % 5, k % 60, (7 * k) % 60))  # noqa: DTZ001 - the bank's local time
        p = v.request.payee
        rows.append(banks.Res(v.number, v.batch.agent_account.number, p.account_number, p.name,
                              v.amount, outcome, f"BK{VOUCHER_DAY:%Y%m%d}{k:07d}", at,
                              "账户已销户" if outcome == "rejected" else ""))
    return rows


def statement_lines(n: int) -> list[Any]:
    import random

    from citysim import banks

    rng = random.Random(2026)
    return [banks.Line(f"ST{STATEMENT_DAY:%Y%m%d}{k:08d}",
                       Decimal(rng.randint(1, 10**9)) / 100, False, f"ZX{k:010d}",
                       f"6222{rng.randint(10**14, 10**15 - 1)}", f"收款人{k % 997}", "办公费")
            for k in range(n)]


def base_csv(encoding: str, sep: str) -> Callable[[bytes], int]:
    def run(content: bytes) -> int:
        text = content.decode(encoding)
        return sum(1 for _ in csv.reader(io.StringIO(text, newline=""), delimiter=sep))
    return run


def base_xlsx(content: bytes) -> int:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        return sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
    finally:
        wb.close()


def base_xml(tag: str) -> Callable[[bytes], int]:
    def run(content: bytes) -> int:
        from lxml import etree

        count = 0
        for _ev, el in etree.iterparse(io.BytesIO(content), events=("end",),
                                       tag=f"{{*}}{tag}", huge_tree=True):
            count += 1
            el.clear(keep_tail=True)
        return count
    return run


def base_mt940(content: bytes) -> int:
    import mt940 as mt940_lib

    text = content.decode("utf-8").replace("\r\n", "\n")
    stmts = mt940_lib.models.Transactions()
    stmts.parse(text)
    return len(stmts.transactions)


def cases(account: str, n_results: int, n_lines: int) -> list[Case]:
    from citysim import banks

    rows = result_rows(n_results)
    lines = statement_lines(n_lines)
    out = []
    for cnaps, label, enc, sep in ((banks.ICBC, "result CSV ICBC (GBK, ',')", "gb18030", ","),
                                   (banks.ABC, "result CSV ABC (GBK, '|', title)", "gb18030", "|"),
                                   (banks.CITIC, "result CSV CITIC (UTF-8, ';')", "utf-8", ";")):
        name, content = banks.results(cnaps, rows)
        out.append(Case(label, "results", content, name, base_csv(enc, sep), "csv module"))
    name, content = banks.results(banks.BOC, rows)
    out.append(Case("result XLSX BOC", "results", content, name, base_xlsx, "openpyxl r/o"))
    out.append(Case("pain.002.001.10", "results", banks.pain002(rows), "pain002.xml",
                    base_xml("TxInfAndSts"), "lxml iterparse"))
    out.append(Case("camt.053.001.08", "statement", banks.camt(account, STATEMENT_DAY, lines),
                    "camt053.xml", base_xml("TxDtls"), "lxml iterparse"))
    out.append(Case("camt.053.001.08 bulk entry", "statement",
                    banks.camt(account, STATEMENT_DAY, lines, batch=True), "camt053b.xml",
                    base_xml("TxDtls"), "lxml iterparse"))
    out.append(Case("camt.054.001.08", "statement",
                    banks.camt(account, STATEMENT_DAY, lines, message="054"), "camt054.xml",
                    base_xml("TxDtls"), "lxml iterparse"))
    out.append(Case("MT940", "statement", banks.mt94x(account, STATEMENT_DAY, lines),
                    "stmt.mt940", base_mt940, "mt-940 lib"))
    out.append(Case("MT942", "statement",
                    banks.mt94x(account, STATEMENT_DAY, lines, interim=True), "stmt.mt942",
                    base_mt940, "mt-940 lib"))
    name, content = banks.statement_csv(banks.CCB, account, STATEMENT_DAY, lines)
    out.append(Case("CSV statement CCB (UTF-8 BOM, ',')", "statement", content, name,
                    base_csv("utf-8-sig", ","), "csv module"))
    return out


# ------------------------------------------------------------------ measuring
RESULT_TABLE = ("line int, voucher_number text, payer_account text, payee_account text, "
                "payee_name text, amount numeric(18,2), outcome text, bank_ref text, "
                "traded_at timestamptz, reason text, status_word text")
STATEMENT_TABLE = ("line int, account text, bank_ref text, booking_date date, "
                   "amount numeric(18,2), credit boolean, end_to_end_id text, "
                   "payee_account text, payee_name text, info text, currency text, "
                   "batch_ref text")


def copy_rows(parsed: Any, kind: str) -> float:
    """Seconds to COPY the parsed rows into a plain temporary table (and commit)."""
    import psycopg

    if kind == "results":
        cols, values = RESULT_TABLE, [
            (r.line, r.voucher_number, r.payer_account, r.payee_account, r.payee_name,
             r.amount, r.outcome, r.bank_ref, r.traded_at, r.reason, r.status_word)
            for r in parsed.results]
    else:
        cols, values = STATEMENT_TABLE, [
            (r.line, r.account, r.bank_ref, r.booking_date, r.amount, r.credit,
             r.end_to_end_id, r.payee_account, r.payee_name, r.info, r.currency, r.batch_ref)
            for r in parsed.statement]
    with psycopg.connect(f"{PG}/{RUN}") as conn:
        conn.execute(f"CREATE TEMP TABLE bench_rows ({cols})")
        conn.commit()
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY bench_rows FROM STDIN") as cp:
            for v in values:
                cp.write_row(v)
        conn.commit()
        secs = time.perf_counter() - t0
        (count,) = conn.execute("SELECT count(*) FROM bench_rows").fetchone()  # type: ignore[misc]
        assert count == len(values)
    return secs


@contextlib.contextmanager
def deferred_monitoring(queued: list[dict]) -> Iterator[None]:
    """The ledger's after-posting hook queues audit monitoring as a Celery task; without a
    broker (this bench) Celery runs it in process, inside the import. In production a
    worker runs it after the import: here the tasks are recorded, not run, so the import
    is timed as the treasury waits for it."""
    from audit import tasks

    def record(**kwargs: Any) -> None:
        queued.append(kwargs)

    with (mock.patch.object(tasks.entries_evaluate_task, "delay", record),
          mock.patch.object(tasks.entry_evaluate_task, "delay", record)):
        yield


@contextlib.contextmanager
def deferred_sealing(labels: set[str]) -> Iterator[None]:
    """History written by the import is sealed right after each commit: in the writing
    process without a broker (this bench), by a Celery worker a few seconds later with one
    (`AUDIT_SEAL_ON_COMMIT=auto`, production). Here it is queued as with a broker — the
    tables recorded, not sealed — so the import is timed as the treasury waits for it;
    `measure` then seals them as the worker would and times that on its own."""
    from audit import seals

    def send(names: list[str], countdown: float) -> None:  # noqa: ARG001
        labels.update(names)

    seals._soon.clear()
    with (mock.patch.object(seals, "seal_on_worker", lambda: True),
          mock.patch.object(seals, "_send", send)):
        yield


@contextlib.contextmanager
def profiled(top: int, label: str) -> Iterator[None]:
    """With --profile N: the import under cProfile (the N functions with the most own
    time, and by cumulative time) and the SQL statements it sent, counted by their
    first words. Profiling slows the import: its figures are not the bench's."""
    if not top:
        yield
        return
    import cProfile
    import pstats
    from collections import Counter

    from django.db import connection

    statements: Counter[str] = Counter()

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements[" ".join(str(sql).split()[:4])[:90]] += 1
        return execute(sql, params, many, context)

    prof = cProfile.Profile()
    with connection.execute_wrapper(count):
        prof.enable()
        try:
            yield
        finally:
            prof.disable()
    print(f"--- profile of the import: {label}")
    print(f"SQL statements: {sum(statements.values()):,}")
    for sql, n in statements.most_common(top):
        print(f"  {n:>7,}  {sql}")
    stats = pstats.Stats(prof).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def measure(case: Case, reviewer_pk: int, profile: int = 0) -> dict[str, Any]:
    from django.contrib.auth.models import User

    from payments import services
    from payments.importers import detect, parse
    from payments.services.bankfiles import _dialects

    psql(f"DROP DATABASE IF EXISTS {RUN}")
    use_db("postgres")
    psql(f"CREATE DATABASE {RUN} TEMPLATE {DB}")
    use_db(RUN)
    dialects = _dialects(None)  # what the importer reads tables with (loaded once here)
    fmt = detect(case.content)
    assert fmt, case.label
    t0 = time.perf_counter()
    parsed = parse(case.content, case.filename, fmt, dialects=dialects)
    t_parse = time.perf_counter() - t0
    assert not parsed.issues and not parsed.fatal, (case.label, parsed.issues[:3])
    n = parsed.total
    t0 = time.perf_counter()
    counted = case.baseline(case.content)
    t_base = time.perf_counter() - t0
    assert counted >= n, (case.label, counted, n)
    t_copy = copy_rows(parsed, case.kind)
    reviewer = User.objects.get(pk=reviewer_pk)
    as_of = local(VOUCHER_DAY if case.kind == "results" else STATEMENT_DAY, 18)
    queued: list[dict] = []
    to_seal: set[str] = set()
    with deferred_monitoring(queued), deferred_sealing(to_seal), profiled(profile, case.label):
        t0 = time.perf_counter()
        report = services.bank_file_import(content=case.content, filename=case.filename,
                                           user=reviewer, as_of=as_of)
        t_import = time.perf_counter() - t0
    # the worker's half: the history rows the import wrote, sealed (in id order, up to
    # the first gap) — timed on its own, and checked to leave nothing unsealed
    from audit.seals import history_seal_soon
    t0 = time.perf_counter()
    sealed = sum(history_seal_soon(sorted(to_seal)).values()) if to_seal else 0
    t_seal = time.perf_counter() - t0
    assert not report.issues, (case.label, report.issues[:3])
    assert report.stored + report.pending == n, (case.label, report.as_dict() | {"issues": 0})
    use_db("postgres")
    psql(f"DROP DATABASE IF EXISTS {RUN}")
    return {"label": case.label, "n": n, "mb": len(case.content) / 1e6, "parse": n / t_parse,
            "base": n / t_base, "base_name": case.baseline_name, "copy": n / t_copy,
            "import": n / t_import, "ratio": t_copy / t_import, "secs": t_import,
            "parse_copy": n / (t_parse + t_copy), "goal": (t_parse + t_copy) / t_import,
            "seal": t_seal, "sealed": sealed,
            "goal_sealed": (t_parse + t_copy) / (t_import + t_seal),
            "format": report.format, "profile": report.profile, "matched": report.matched,
            "exceptions": report.exceptions, "pending": report.pending}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=20_000,
                        help="statement lines (default 20,000); result files get half")
    parser.add_argument("--results", type=int, default=None,
                        help="result-file lines, i.e. issued vouchers (default: lines / 2)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes: 500 result lines, 2,000 statement lines")
    parser.add_argument("--formats", default="",
                        help="only the formats whose label contains one of these "
                             "comma-separated words (case-insensitive), e.g. camt,mt940")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile each import (cProfile top N, SQL statement counts); "
                             "the timings are then not the bench's")
    args = parser.parse_args()
    n_lines = 2_000 if args.quick else args.lines
    n_results = args.results or (500 if args.quick else n_lines // 2)
    load_before = os.getloadavg()
    drop_all()
    psql(f"CREATE DATABASE {DB}")
    os.environ["DATABASE_URL"] = f"{PG}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from bench.production import production_settings

    production_settings()
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection

    try:
        print(f"setup: {n_results:,} issued vouchers through the payments services …",
              flush=True)
        t0 = time.perf_counter()
        with deferred_monitoring([]):  # setup is not measured
            account, t_requests = setup(n_results)
        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            pg_version = cur.fetchone()[0]
        reviewer_pk = User.objects.get(username="reviewer").pk
        from payments.models import Voucher
        assert Voucher.objects.filter(status=Voucher.Status.ISSUED).count() == n_results
        t_setup = time.perf_counter() - t0
        print(f"setup done in {t_setup:.0f} s ({n_results / t_requests:.1f} requests/s "
              "filed → submitted → approved ×2 → vouchered)", flush=True)
        all_cases = cases(account, n_results, n_lines)
        if words := [w.strip().lower() for w in args.formats.split(",") if w.strip()]:
            all_cases = [c for c in all_cases if any(w in c.label.lower() for w in words)]
        use_db("postgres")
        out = []
        for case in all_cases:
            print(f"  {case.label} ({len(case.content) / 1e6:.1f} MB) …", flush=True)
            out.append(measure(case, reviewer_pk, args.profile))
    finally:
        use_db("postgres")
        drop_all()
    load_after = os.getloadavg()
    print(f"\nbank file formats bench — {time.strftime('%Y-%m-%d %H:%M')} on {platform.node()}, "
          f"{os.cpu_count()} CPUs, PostgreSQL {pg_version}")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    print(f"result files: {n_results:,} lines on {n_results:,} issued vouchers (95% paid, 4% "
          "退票, 1% pending); statements: "
          f"{n_lines:,} lines naming no voucher (each an open exception)")
    head = (f"{'format':<36} {'lines':>7} {'MB':>5} {'parse/s':>9} {'baseline/s':>10} "
            f"{'(baseline)':<15} {'COPY/s':>9} {'parse+COPY/s':>12} {'import/s':>9} "
            f"{'import/COPY':>11} {'import/(parse+COPY)':>19} {'sealed':>7} {'seal s':>6} "
            f"{'with seal':>9}")
    print(head)
    print("-" * len(head))
    for r in out:
        print(f"{r['label']:<36} {r['n']:>7,} {r['mb']:>5.1f} {r['parse']:>9,.0f} "
              f"{r['base']:>10,.0f} {r['base_name']:<15} {r['copy']:>9,.0f} "
              f"{r['parse_copy']:>12,.0f} {r['import']:>9,.0f} {r['ratio']:>11.3f} "
              f"{r['goal']:>19.2f} {r['sealed']:>7,} {r['seal']:>6.2f} {r['goal_sealed']:>9.2f}")
    print("import: audit monitoring of the postings queued, not run (a Celery worker runs it "
          "in production; run in process, as Celery does without a broker, it dominated: "
          "see docs/PERFORMANCE.md)")
    print("import: history sealing queued as with a broker (a worker seals a few seconds "
          "later); 'sealed' rows were then sealed here in 'seal s'; 'with seal' = "
          "(parse + COPY) / (import + seal), the measure if the seal were part of the import")
    print("import/COPY = COPY seconds / import seconds (1.0: the import stores as fast as a "
          "bare COPY of its rows)")
    print("parse+COPY = lines / (parse seconds + COPY seconds), what parsing the file and "
          "COPYing its rows takes; import/(parse+COPY) = (parse + COPY seconds) / import "
          "seconds (issue 19's goal for statements: at least 0.5)")


if __name__ == "__main__":
    main()
