"""Fuzz campaign over every importer: generated and damaged files (bank result CSV in
GBK/UTF-8/BOM with odd line endings, camt.053, MT940, project JSON, code CSV, Excel
template), arbitrary bytes, a zip bomb and a 100 MB file. Prints, per importer, the files
tried and how each ended: clean, issues (each with a reason), domain error, crash,
partial (a file refused as a whole that still handed rows on). Exits non-zero on any
crash or partial.

    .venv/bin/python bench/reliability_fuzz.py --files 10000
"""
from __future__ import annotations

import argparse
import collections
import csv
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")


def main() -> int:
    import django

    django.setup()
    import logging

    logging.disable(logging.WARNING)  # the mt-940 library logs every line it cannot match
    from budgets import spreadsheets
    from budgets.errors import BudgetError
    from budgets.importers.projects import parse_projects
    from finance.importers import codes as code_importer
    from payments.importers import detect, parse
    from tests.reliability import fuzzing as fz

    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="fuzz_codes_"))

    def bank(content: bytes) -> fz.Verdict:
        if detect(content) is None:  # bank_file_import answers MSG_UNKNOWN_FORMAT, stores nothing
            return fz.Verdict("error", "unknown format")

        def run() -> object:
            rows = parse(content, "f", detect(content))
            if rows is not None and rows.fatal and rows.total:
                raise AssertionError("partial: fatal file still carries rows")
            return rows
        return fz.judge(run, issues_of=lambda r: r.issues if r else [])

    def projects(content: bytes) -> fz.Verdict:
        def run() -> object:
            records, issues = parse_projects(content, "p.json")
            bad = {(i.record) for i in issues}
            if any(r.record in bad for r in records):
                raise AssertionError("partial: a record both stored and refused")
            return issues
        return fz.judge(run, issues_of=lambda r: r)

    def code_list(name: str, content: bytes) -> fz.Verdict:
        path = tmp / name
        path.write_bytes(content)
        spec = next(s for s in code_importer.FILES if s.filename == name)

        def run() -> object:
            _h, rows = code_importer.read_csv(path)
            good, issues, _m = code_importer._parse_rows(spec, rows, set(), set())
            bad_lines = {i.line for i in issues}
            if any(line in bad_lines for line, _ in good):
                raise AssertionError("partial: a line both good and bad")
            return issues
        return fz.judge(run, domain=(UnicodeDecodeError, csv.Error), issues_of=lambda r: r)

    def template(content: bytes) -> fz.Verdict:
        return fz.judge(lambda: spreadsheets.plan_template_read(plan=fz.FAKE_PLAN, content=content),
                        domain=(BudgetError,))

    kinds = {
        "bank result CSV": lambda: bank(fz.results_csv(rnd)),
        "camt.053": lambda: bank(fz.camt053(rnd)),
        "MT940": lambda: bank(fz.mt940(rnd)),
        "bank: random bytes": lambda: bank(fz.mutate(rnd.randbytes(rnd.randint(0, 3000)), rnd)),
        "project JSON": lambda: projects(fz.project_json(rnd)),
        "code CSV": lambda: code_list(*fz.code_csv(rnd)),
        "Excel template": lambda: template(fz.template_xlsx(rnd)),
    }
    weights = {"Excel template": 0.5}  # openpyxl is the slow one; fewer of them
    names = list(kinds)
    counts: dict[str, collections.Counter] = {k: collections.Counter() for k in names}
    crashes: list[tuple[str, str]] = []
    t0 = time.perf_counter()
    for _ in range(args.files):
        kind = rnd.choices(names, weights=[weights.get(k, 1.0) for k in names])[0]
        v = kinds[kind]()
        outcome = "partial" if v.outcome == "crash" and v.detail.startswith("AssertionError: partial") \
            else v.outcome
        counts[kind][outcome] += 1
        if outcome in ("crash", "partial"):
            crashes.append((kind, v.detail))
    elapsed = time.perf_counter() - t0

    # the two big ones, once each
    t1 = time.perf_counter()
    bomb = template(fz.zip_bomb(200 * 1024 * 1024))
    bomb_s = time.perf_counter() - t1
    big = b"\xef\xbb\xbf" + fz.RESULT_HEADER.encode() + b"\n" + (b"x," * 10 + b"\n") * (100 * 1024 * 1024 // 21)
    t2 = time.perf_counter()
    big_v = bank(big)
    big_s = time.perf_counter() - t2
    for label, v in (("zip bomb (200 MB inflated)", bomb), ("100 MB result CSV", big_v)):
        counts.setdefault(label, collections.Counter())[v.outcome] += 1
        if v.outcome == "crash":
            crashes.append((label, v.detail))

    cols = ["clean", "issues", "error", "crash", "partial"]
    print(f"{'importer':28} {'files':>6} " + " ".join(f"{c:>7}" for c in cols))
    total = collections.Counter()
    for k, c in counts.items():
        total.update(c)
        print(f"{k:28} {sum(c.values()):>6} " + " ".join(f"{c[x]:>7}" for x in cols))
    print(f"{'TOTAL':28} {sum(total.values()):>6} " + " ".join(f"{total[x]:>7}" for x in cols))
    print(f"\n{args.files} generated files in {elapsed:.1f} s ({args.files / elapsed:.0f} files/s); "
          f"zip bomb refused in {bomb_s * 1000:.0f} ms ({bomb.detail[:80]}); "
          f"100 MB CSV read in {big_s:.1f} s ({big_v.outcome})")
    for kind, detail in crashes[:20]:
        print("CRASH", kind, detail[:300])
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
