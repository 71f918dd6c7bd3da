"""Load: many processes submit and approve payment requests against a few hot indicators
on PostgreSQL, through the real services (each request: create → submit (commits, or is
refused when the indicator is short) → unit head → treasury). Prints throughput and
latency, and checks afterwards: 0 overspends (no 9101 below zero; committed = the sum of
the accepted requests, to the cent), 0 lost requests (every attempt is in the database
with an outcome that matches what its caller saw), verify_ledger clean. Exits non-zero
on any violation. Baseline in the same run: the bare commit posting (entry_post).

    .venv/bin/python bench/reliability_load.py --requests 10000 --workers 8
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import payments_lifecycle as pl  # noqa: E402 - the lifecycle bench's database set-up

from finance import chart  # noqa: E402

pl.DB = "smart_finance_bench_reliability"
HOT = 3  # hot indicators (units 0..2, economic 30202)
AUTHORITY = Decimal("40000.00")  # per hot indicator: at 3,000 requests about a third fit


def hot(i: int):  # noqa: ANN201
    from finance.ledger import Dims

    return Dims(region="440300", unit=pl.unit(i), function="2050203", economic="30202",
                fund_source="1")


def prepare() -> None:
    pl.prepare()
    for i in range(HOT):
        pl.indicator_approve(hot(i), AUTHORITY)


def worker(w: int, count: int, start_at: Any, out: Any) -> None:
    pl.setup_django()
    from payments import errors, services

    a = pl.actors(w % HOT)
    d = hot(w % HOT)
    seen: dict[str, str] = {}
    lat: list[float] = []
    lost = 0
    start_at.wait()
    for n in range(count):
        amount = Decimal(100 + (w * 7 + n) % 50) + Decimal("0.37")
        t0 = time.perf_counter()
        try:
            req = services.payment_request_create(dims=d, year=2026, amount=amount,
                                                  payee=a["payee"], purpose=f"load {w}-{n}",
                                                  user=a["filer"])
            try:
                req = services.payment_request_submit(request=req, user=a["filer"])
                req = services.payment_request_approve(request=req, user=a["head"])
                req = services.payment_request_approve(request=req, user=a["reviewer"])
                seen[req.tracking_id] = f"approved {amount}"
            except errors.IndicatorShort:
                seen[req.tracking_id] = "refused"
        except Exception as exc:  # noqa: BLE001 - a lost request is what this bench counts
            lost += 1
            print("LOST", w, n, type(exc).__name__, exc, file=sys.stderr)
        lat.append(time.perf_counter() - t0)
    out.put((seen, lat, lost))


def baseline_worker(w: int, count: int, start_at: Any, out: Any) -> None:
    pl.setup_django()
    from finance.ledger import cr, dr, entry_post

    d = pl.dims(w)
    lat = []
    start_at.wait()
    for _ in range(count):
        t0 = time.perf_counter()
        entry_post(lines=[dr("indicator", chart.COMMITTED, Decimal("1.23"), d),
                          cr("indicator", chart.AVAILABLE, Decimal("1.23"), d)],
                   description="commit", on=dt.date(2026, 6, 2), kind="commit")
        lat.append(time.perf_counter() - t0)
    out.put(({}, lat, 0))


def drive(target: Any, workers: int, per: int) -> tuple[dict, list[float], int, float]:
    ctx = mp.get_context("spawn")
    start_at, out = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [ctx.Process(target=target, args=(w, per, start_at, out)) for w in range(workers)]
    for p in procs:
        p.start()
    start_at.wait()
    t0 = time.perf_counter()
    results = [out.get() for _ in procs]
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join()
    seen: dict[str, str] = {}
    lat: list[float] = []
    lost = 0
    for s, lt, lo in results:
        seen.update(s)
        lat += lt
        lost += lo
    return seen, lat, lost, elapsed


def p95(lat: list[float]) -> float:
    return statistics.quantiles(lat, n=20)[-1] * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args()
    per = args.requests // args.workers
    prepare()
    base_seen, base_lat, _, base_s = drive(baseline_worker, args.workers, max(per // 10, 20))
    seen, lat, lost, elapsed = drive(worker, args.workers, per)

    from finance import selectors
    from payments.models import PaymentRequest

    failures = []
    attempts = per * args.workers
    stored = {r.tracking_id: r for r in PaymentRequest.objects.filter(purpose__startswith="load ")}
    if len(stored) != attempts or lost:
        failures.append(f"lost requests: {attempts - len(stored)} not stored, {lost} errors")
    mismatch = [t for t, what in seen.items()
                if (what == "refused") != (stored[t].status in ("draft", "refused"))
                or (what != "refused" and stored[t].status != "approved")]
    if mismatch:
        failures.append(f"{len(mismatch)} requests whose stored state differs from the answer")
    for i in range(HOT):
        d = hot(i)._asdict() if hasattr(hot(i), "_asdict") else {}
        kw = {"unit": pl.unit(i), "economic": "30202"} if not d else \
            {k: v for k, v in d.items() if k in ("unit", "function", "economic", "fund_source")}
        available = selectors.balance(account=chart.AVAILABLE, year=2026, **kw)
        committed = selectors.balance(account=chart.COMMITTED, year=2026, **kw)
        accepted = sum((r.amount for r in stored.values()
                        if r.unit == pl.unit(i) and r.status == "approved"), Decimal("0.00"))
        if available < 0 or committed != accepted or available + committed != AUTHORITY:
            failures.append(f"indicator {i}: available {available}, committed {committed}, "
                            f"accepted {accepted}")
    approved = sum(1 for w in seen.values() if w != "refused")
    verify = selectors.ledger_verify()
    if not verify.ok:
        failures.append(f"verify_ledger: {verify.first_broken}")
    print(f"workers {args.workers}, hot indicators {HOT} × {AUTHORITY}")
    print(f"requests {attempts}: approved {approved}, refused (indicator short) "
          f"{attempts - approved - lost}, lost {lost}, overspends "
          f"{sum('indicator' in f for f in failures)}")
    print(f"submit+2 approvals: {attempts / elapsed:.1f} requests/s, p50 "
          f"{statistics.median(lat) * 1000:.0f} ms, p95 {p95(lat):.0f} ms ({elapsed:.1f} s)")
    print(f"baseline commit entry_post: {len(base_lat) / base_s:.1f}/s, p50 "
          f"{statistics.median(base_lat) * 1000:.0f} ms, p95 {p95(base_lat):.0f} ms")
    print(f"verify_ledger: {'OK' if verify.ok else 'FAILED'} ({verify.entries_checked} entries)")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
