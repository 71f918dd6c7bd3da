"""Posting throughput on PostgreSQL with 1, 4 and 8 worker processes, against pgbench
tpcb-like with 8 clients on the same server in the same run.

Each payment posts two payment-shaped entries through the real posting service: the
commitment (Dr committed / Cr available) and the payment (control book, budget
accounting and financial accounting lines). Prints entries/s, latency and the ratio.

Then the cost of the keyed chain (issue 20): the same postings with the keyed MAC
("keyed", as shipped) and without it ("unkeyed": the same code with the MAC insert
switched off in the bench's worker processes, i.e. the posting of before the keyed
chain), interleaved A B B A … for `--chain-rounds` rounds at each worker count, with
the load average before each run; prints the median, the spread and the ratio. The
unkeyed runs leave entries without a MAC: the check at the end counts them (they must
be the only problem verify_ledger reports).

With `--batch N,M` (default 100) also 8 workers posting N payments per `entries_post`
call, as the treasury's bulk jobs post (voucher batches, result files): numbering and
chaining in batches. `--chain-variants unkeyed,keyed,sharded` adds the bound of any group
commit of single postings: each worker numbering in a sequence row of its own.
Production settings (DEBUG=0) unless BENCH_DEBUG=1.

    make bench            # or: .venv/bin/python bench/posting.py --seconds 10
    .venv/bin/python bench/posting.py --chain-only --seconds 10 --chain-rounds 5
"""
from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from finance import chart

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_DB", "smart_finance_bench")
UNITS = 64


def psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql, db], check=True)


def setup_django(url: str = "") -> None:
    os.environ["DATABASE_URL"] = url or f"{PG}/{DB}"
    from bench.production import production_settings

    production_settings()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def prepare() -> None:
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    setup_django()
    from django.core.management import call_command

    from finance import services
    from finance.ids import make_uscc
    from finance.ledger import cr, dr, entry_post

    call_command("migrate", verbosity=0)
    call_command("import_codes", str(ROOT / "finance/data/codes"), stdout=open(os.devnull, "w"))  # noqa: SIM115
    services.fiscal_year_open(year=2026, user=None)
    mk = services.organization_upsert
    mk(code="440300001", name="财政局", kind="bureau", region_code="440300",
       uscc=make_uscc("440300", 1), user=None, reason="bench")
    mk(code="440300100", name="教育局", kind="department", region_code="440300",
       uscc=make_uscc("440300", 100), parent_code="440300001", user=None, reason="bench")
    from finance.ledger import GENESIS, sha256
    from finance.models import VoucherSequence

    VoucherSequence.objects.bulk_create(  # the "sharded" variant's own numbering rows
        VoucherSequence(fiscal_year=SHARD_YEAR + w,
                        last_hash=sha256(f"{GENESIS}|smart-finance|{SHARD_YEAR + w}"))
        for w in range(64))
    for i in range(UNITS):
        code = f"440300{200 + i}"
        mk(code=code, name=f"单位{i}", kind="budget_unit", region_code="440300",
           uscc=make_uscc("440300", 200 + i), parent_code="440300100", user=None, reason="bench")
        d = _dims(i)
        entry_post(lines=[dr("indicator", chart.AVAILABLE, Decimal("100000000.00"), d),
                          cr("indicator", chart.AUTHORITY, Decimal("100000000.00"), d)],
                   description="批复", on=_on(), as_of=_as_of(), kind="approval")


def _on():
    import datetime as dt

    return dt.date(2026, 6, 1)


def _as_of():
    """Postings inside office hours on a weekday, as in production: audit's monitoring
    hook runs after every posting (in process when Celery is eager) and would raise an
    'outside working hours' alert for each posting of an evening bench run."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    return dt.datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _dims(i: int):
    from finance.ledger import Dims

    return Dims(region="440300", unit=f"440300{200 + i}", function="2050203", economic="30201",
                fund_source="1")


def _commitment(amount: Decimal, d):  # noqa: ANN001, ANN202
    """The commitment entry of one payment (Dr committed / Cr available)."""
    from finance.ledger import cr, dr

    return [dr("indicator", chart.COMMITTED, amount, d), cr("indicator", chart.AVAILABLE, amount, d)]


def _payment(amount: Decimal, d):  # noqa: ANN001, ANN202
    """The payment entry: the control book, budget and financial accounting (6 lines)."""
    from finance.ledger import cr, dr

    return [dr("indicator", chart.EXPENDED, amount, d), cr("indicator", chart.COMMITTED, amount, d),
            dr("budget", chart.ADMINISTRATIVE_EXPENDITURE, amount, d),
            cr("budget", chart.FISCAL_APPROPRIATION_REVENUE, amount, d),
            dr("financial", chart.OPERATING_EXPENSE, amount, d),
            cr("financial", chart.FISCAL_APPROPRIATION_INCOME, amount, d)]


def worker(worker_id: int, seconds: float, ready: mp.Queue, go, out: mp.Queue,  # noqa: ANN001
           hooks: bool, chain: str = "keyed", port: int = 0, batch: int = 0) -> None:
    if port:  # through PgBouncer in transaction mode on that port (--pooled)
        os.environ["DATABASE_POOLER"] = "pgbouncer-transaction"
    setup_django(f"postgres://postgres@127.0.0.1:{port}/{DB}" if port else "")
    from django.db import connection

    from finance import ledger
    from finance.ledger import EntryInput, entries_post, entry_post

    if not hooks:  # measure the posting service alone (monitoring runs on Celery workers)
        ledger._after_posting.clear()
    _chain_variant(ledger, chain, worker_id)

    import random

    rng = random.Random(f"{seconds}:{time.time()}:{worker_id}")  # noqa: S311 - bench data
    latencies: list[float] = []
    n = 0
    with connection.cursor() as cur:  # connected before the clock starts
        cur.execute("SELECT 1")
    ready.put(worker_id)
    go.wait()  # every worker starts together, once all have imported Django and connected
    end = time.time() + seconds
    i = worker_id
    while batch and time.time() < end:  # --batch: treasury bulk work, entries_post
        t0 = time.perf_counter()
        inputs = []
        for _ in range(batch):
            d = _dims(i % UNITS)
            i += 7
            amount = Decimal(rng.randrange(10_000, 5_000_000)) / 100
            inputs += [EntryInput(lines=_commitment(amount, d), description="支付申请",
                                  on=_on(), kind="commit"),
                       EntryInput(lines=_payment(amount, d), description="国库集中支付",
                                  on=_on(), kind="payment")]
        entries_post(entries=inputs, as_of=_as_of())
        latencies.append(time.perf_counter() - t0)
        n += 2 * batch
    while not batch and time.time() < end:
        d = _dims(i % UNITS)
        i += 7
        # distinct amounts: identical ones would (rightly) raise duplicate-payment alerts
        amount = Decimal(rng.randrange(10_000, 5_000_000)) / 100
        t0 = time.perf_counter()
        entry_post(lines=_commitment(amount, d), description="支付申请", on=_on(),
                   as_of=_as_of(), kind="commit")
        t1 = time.perf_counter()
        entry_post(lines=_payment(amount, d), description="国库集中支付", on=_on(),
                   as_of=_as_of(), kind="payment")
        t2 = time.perf_counter()
        latencies += [t1 - t0, t2 - t1]
        n += 2
    out.put((n, latencies))


SHARD_YEAR = 3000  # "sharded": worker w numbers in the sequence row of year 3000 + w


def _chain_variant(ledger, chain: str, worker_id: int = 0) -> None:  # noqa: ANN001
    """In a bench worker process only: "keyed" is the shipped code; "unkeyed" skips the
    MAC insert (the posting of before issue 20); "keyed-separate" writes the MAC as its
    own statement before the COMMIT (the first keyed version, for comparison);
    "sharded" is the shipped code with each worker numbering in a sequence row of its
    own (entries of a made-up year 3000 + worker, lines and balances of 2026): no two
    postings ever wait for one numbering row, the upper bound of any group commit or
    batch numbering of single postings (issue 19). Its entries fail verify_ledger (their
    lines are filed under 2026), so the check at the end counts them apart."""
    shipped = ledger._insert_macs
    if chain == "sharded":
        number = ledger._number_and_insert_pg

        def own_row(cur, entry, line_values, user_id, as_of):  # noqa: ANN001, ANN202
            entry.fiscal_year = SHARD_YEAR + worker_id
            number(cur, entry, line_values, user_id, as_of)

        ledger._number_and_insert_pg = own_row
    elif chain == "unkeyed":
        ledger._insert_macs = lambda cur, entries, commit=False: False
    elif chain == "keyed-separate":
        ledger._insert_macs = lambda cur, entries, commit=False: shipped(cur, entries)
    elif chain != "keyed":
        raise ValueError(chain)


def run_posting(workers: int, seconds: float, hooks: bool = False, chain: str = "keyed",
                port: int = 0, batch: int = 0) -> dict:
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    ready: mp.Queue = ctx.Queue()
    go = ctx.Event()
    procs = [ctx.Process(target=worker, args=(w, seconds, ready, go, q, hooks, chain, port, batch))
             for w in range(workers)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get()
    go.set()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    total = sum(r[0] for r in results)
    lat = sorted(x for r in results for x in r[1])
    return {
        "workers": workers, "hooks": hooks, "chain": chain, "batch": batch, "entries": total,
        "eps": total / seconds,
        "p50_ms": 1000 * statistics.median(lat) if lat else float("nan"),
        "p95_ms": 1000 * lat[int(0.95 * (len(lat) - 1))] if lat else float("nan"),
    }


def run_pgbench(seconds: float, clients: int = 8) -> float:
    db = "smart_finance_pgbench"
    psql(f"DROP DATABASE IF EXISTS {db}")
    psql(f"CREATE DATABASE {db}")
    subprocess.run(["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-i", "-s", "1", "-q", db],
                   check=True, capture_output=True)
    res = subprocess.run(["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-b", "tpcb-like",
                          "-c", str(clients), "-j", "2", "-T", str(int(seconds)), db],
                         check=True, capture_output=True, text=True)
    psql(f"DROP DATABASE IF EXISTS {db}")
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", res.stdout)
    if not m:
        raise RuntimeError(f"could not read pgbench output:\n{res.stdout}")
    return float(m.group(1))


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def pooled_cost(pools: list[int], seconds: float, rounds: int, clients: int = 8) -> dict:
    """`clients` posting processes straight to PostgreSQL against the same through
    PgBouncer (transaction mode) with each of `pools` server connections: the pooler queues
    the clients beyond its pool, so at most that many postings run in the server at once
    and fewer lock holders wait for a CPU. Interleaved like chain_cost. {variant: [runs]}."""
    sys.path.insert(0, str(ROOT))
    from tests.scaleout.servers import pgbouncer

    runs: dict[str, list[dict]] = {"direct": [], **{f"pool {n}": [] for n in pools}}
    with contextlib.ExitStack() as stack:
        ports = {f"pool {n}": stack.enter_context(pgbouncer({}, pool_size=n)).port
                 for n in pools}
        for r in range(rounds):
            names = list(runs) if r % 2 == 0 else list(reversed(runs))
            for name in names:
                load = _load()
                row = run_posting(clients, seconds, port=ports.get(name, 0))
                row["load"] = load
                runs[name].append(row)
                print(f"  round {r + 1} {clients} workers {name:>8}: {row['eps']:8.1f} "
                      f"entries/s (p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms, "
                      f"load {load})", flush=True)
    print(f"\n{clients} posting workers, direct or through PgBouncer (transaction mode), "
          f"{seconds:.0f}s per run, {rounds} rounds interleaved, monitoring off")
    base = statistics.median(r["eps"] for r in runs["direct"])
    for name, rows in runs.items():
        eps = [r["eps"] for r in rows]
        print(f"{name:>8}: median {statistics.median(eps):8.1f} entries/s "
              f"({min(eps):.0f}-{max(eps):.0f}), p95 median "
              f"{statistics.median(r['p95_ms'] for r in rows):.1f} ms, "
              f"{statistics.median(eps) / base:.3f} x direct")
    return runs


def chain_cost(workers: list[int], seconds: float, rounds: int,
               variants: tuple[str, ...] = ("unkeyed", "keyed")) -> dict:
    """Keyed against unkeyed posting, interleaved: in round r at each worker count the
    variants run in turn, their order reversed every other round (A B, B A, …) so a
    drift of the machine's load falls on both. Returns {workers: {variant: [runs]}}."""
    runs: dict[int, dict[str, list[dict]]] = {w: {v: [] for v in variants} for w in workers}
    for r in range(rounds):
        for w in workers:
            order = variants if r % 2 == 0 else tuple(reversed(variants))
            for v in order:
                load = _load()
                row = run_posting(w, seconds, chain=v)
                row["load"] = load
                runs[w][v].append(row)
                print(f"  round {r + 1} workers {w} {v:>14}: {row['eps']:8.1f} entries/s "
                      f"(p50 {row['p50_ms']:.1f} ms, load {load})", flush=True)
    return runs


def chain_cost_report(runs: dict, seconds: float, rounds: int) -> None:
    from django.core.management import call_command

    from finance.models import Entry
    from finance.selectors import ledger_verify

    print(f"\nkeyed chain cost — {time.strftime('%Y-%m-%d %H:%M')} on {platform.node()} "
          f"({os.cpu_count()} cores), PostgreSQL, {seconds:.0f}s per run, {rounds} rounds "
          "interleaved, monitoring off")
    variants = list(next(iter(runs.values())))
    head = "".join(f" {v + ' median':>22} {'(min-max)':>15}" for v in variants)
    print(f"{'workers':>7}{head} {'ratio of medians':>17} {'median of round ratios':>23}")
    for w, by in runs.items():
        cells = ""
        med = {}
        for v in variants:
            eps = [r["eps"] for r in by[v]]
            med[v] = statistics.median(eps)
            cells += f" {med[v]:>22.1f} {f'({min(eps):.0f}-{max(eps):.0f})':>15}"
        base = by[variants[0]]
        for v in variants[1:]:
            ratios = [k["eps"] / u["eps"] for k, u in zip(by[v], base, strict=True)]
            print(f"{w:>7}{cells} {med[v] / med[variants[0]]:>17.3f} "
                  f"{statistics.median(ratios):>23.3f}  ({v} / {variants[0]})")
            cells = " " * len(cells)
    loads = [r["load"] for by in runs.values() for rows in by.values() for r in rows]
    print(f"load average (1/5/15 min) before each run: first {loads[0]}, last {loads[-1]}, "
          f"1-min range {min(float(x.split('/')[0]) for x in loads):.2f}-"
          f"{max(float(x.split('/')[0]) for x in loads):.2f}")
    unkeyed = sum(r["entries"] for by in runs.values() for r in by.get("unkeyed", []))
    sharded = Entry.objects.filter(fiscal_year__gte=SHARD_YEAR).count()
    call_command("seal_history", "--grace", "0", stdout=open(os.devnull, "w"))  # noqa: SIM115
    check = ledger_verify(year=2026, limit=10 ** 9)  # the sharded runs' years apart
    no_mac = [p for p in check.problems if "has no keyed MAC" in str(p)]
    other = [p for p in check.problems if "has no keyed MAC" not in str(p)]
    if sharded:
        print(f"sharded runs: {sharded} entries in the made-up years {SHARD_YEAR}+ (not "
              "verified: their lines are under 2026, so the 2026 balances hold them too)")
    print(f"check: {Entry.objects.count()} entries; {len(no_mac)} without a MAC, "
          f"{unkeyed} posted by the unkeyed runs — "
          f"{'as expected' if len(no_mac) == unkeyed and not other else 'MISMATCH'}; "
          f"other problems: {len(other)}" + (f" (first: {other[0]})" if other else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", default="1,4,8")
    parser.add_argument("--chain-rounds", type=int, default=3,
                        help="rounds of the keyed/unkeyed comparison (0: skip it)")
    parser.add_argument("--pooled", default="", metavar="N,M",
                        help="only: 8 workers direct against 8 through PgBouncer with N, M "
                             "server connections (rounds: --chain-rounds)")
    parser.add_argument("--batch", default="100", metavar="N,M",
                        help="also 8 workers posting N payments per entries_post call, as "
                             "the treasury's bulk jobs do (voucher batches, result files); "
                             "'' for none")
    parser.add_argument("--chain-only", action="store_true",
                        help="only the keyed/unkeyed comparison")
    parser.add_argument("--chain-variants", default="unkeyed,keyed",
                        help=argparse.SUPPRESS)  # add keyed-separate for the first version
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    prepare()
    if args.pooled:
        pooled_cost([int(n) for n in args.pooled.split(",")], args.seconds,
                    max(args.chain_rounds, 1))
        from finance.selectors import ledger_verify

        check = ledger_verify()
        print(f"verify_ledger after the run: {'OK' if check.ok else check.first_broken} "
              f"({check.entries_checked} entries)")
        return
    if args.chain_only:
        runs = chain_cost(workers, args.seconds, args.chain_rounds,
                          tuple(args.chain_variants.split(",")))
        chain_cost_report(runs, args.seconds, args.chain_rounds)
        return
    rows = [run_posting(int(w), args.seconds) for w in args.workers.split(",")]
    # the same with audit's after-posting monitoring run inline, as with eager Celery
    rows.append(run_posting(8, args.seconds, hooks=True))
    rows += [run_posting(8, args.seconds, batch=int(b)) for b in args.batch.split(",") if b]
    tps = run_pgbench(args.seconds)
    from finance.selectors import ledger_verify

    check = ledger_verify()
    print(f"\nposting bench — {time.strftime('%Y-%m-%d')} on {platform.node()} "
          f"({os.cpu_count()} cores), PostgreSQL, {args.seconds:.0f}s per run")
    print(f"{'workers':>7} {'monitoring':>10} {'posted as':>22} {'entries':>8} {'entries/s':>10} "
          f"{'p50 ms':>7} {'p95 ms':>7} {'ratio to pgbench':>17}")
    for r in rows:
        mon = "inline" if r["hooks"] else "off"
        how = (f"entries_post of {r['batch']} pay." if r["batch"] else "entry_post, one by one")
        print(f"{r['workers']:>7} {mon:>10} {how:>22} {r['entries']:>8} {r['eps']:>10.1f} "
              f"{r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} {r['eps'] / tps:>17.3f}")
    print(f"pgbench tpcb-like, 8 clients, scale 1: {tps:.1f} TPS (p50/p95: per posting call; "
          "a batch call posts 2 entries per payment)")
    for r in rows:
        if r["batch"]:
            print(f"8 workers in batches of {r['batch']} payments: {r['eps'] / tps:.3f} x pgbench")
    eight = next((r for r in rows if r["workers"] == 8 and not r["hooks"] and not r["batch"]),
                 rows[0])
    ratio = eight["eps"] / tps
    print(f"ratio at {eight['workers']} workers: {ratio:.3f} (goal >= 0.25: "
          f"{'met' if ratio >= 0.25 else 'NOT met'})")
    from audit.models import Alert

    print(f"monitoring alerts raised during the run: {Alert.objects.count()}")
    print(f"verify_ledger after the run: {'OK' if check.ok else check.first_broken} "
          f"({check.entries_checked} entries)")
    if args.chain_rounds > 0:
        print("\nkeyed chain cost (issue 20):", flush=True)
        runs = chain_cost(workers, args.seconds, args.chain_rounds,
                          tuple(args.chain_variants.split(",")))
        chain_cost_report(runs, args.seconds, args.chain_rounds)


if __name__ == "__main__":
    main()
