"""Coverage-guided fuzzing (atheris / libFuzzer) of one importer at a time, judged by the
same oracle as the hypothesis tests and bench/reliability_fuzz.py: every input ends as
clean rows, rows with issues (each with a reason), or a domain error with a message —
anything else is a crash. Crashing inputs are kept under var/fuzz/crashes/<importer>/
(add each as a regression test in tests/reliability/test_fuzz_regressions.py); the
growing corpus is under var/fuzz/corpus/<importer>/, seeded from the repo's samples and
generators. Ends with one line "<importer>: runs N, crashes C" and exits 1 on a crash.

    .venv/bin/python bench/fuzz_atheris.py camt053 -runs=20000
    importers: camt053 mt940 bank_csv project_json code_csv excel
    (any other -flag=value is passed to libFuzzer, e.g. -max_total_time=60;
     --out=DIR puts corpus/ and crashes/ under DIR instead of var/fuzz)
"""
from __future__ import annotations

import atexit
import csv
import hashlib
import logging
import os
import random
import sys
import tempfile
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
IMPORTERS = ("camt053", "mt940", "bank_csv", "project_json", "code_csv", "excel")

with atheris.instrument_imports(include=["payments", "budgets", "finance", "mt940"]):
    import django

    django.setup()
    from budgets import spreadsheets
    from budgets.errors import BudgetError
    from budgets.importers.projects import parse_projects
    from finance.importers import codes as code_importer
    from payments.importers import CAMT053, MT940, RESULTS, detect, parse

from tests.reliability import fuzzing as fz  # noqa: E402 - the generators and the oracle

logging.disable(logging.WARNING)  # the mt-940 library logs every line it cannot match
TMP = Path(tempfile.mkdtemp(prefix="atheris_codes_"))
STATE = {"runs": 0, "crashes": 0, "crash_dir": Path(), "target": -1}


def bank(content: bytes, forced: str | None = None) -> fz.Verdict:
    """The import's own path (detect, then parse); with `forced`, the parser of that format
    is also run on whatever the input is (the fuzzer then reaches deep into one parser
    instead of stopping at detection)."""
    if forced:
        verdict = bank_parse(content, forced)
        if verdict.outcome == "crash":
            return verdict
    fmt = detect(content)
    if fmt is None:  # bank_file_import answers "unknown format" and stores nothing
        return fz.Verdict("error", "unknown format")
    return bank_parse(content, fmt)


def bank_parse(content: bytes, fmt: str) -> fz.Verdict:
    def run() -> object:
        rows = parse(content, "f", fmt)
        if rows is not None and rows.fatal and rows.total:
            raise AssertionError("partial: a fatal file still carries rows")
        return rows
    return fz.judge(run, issues_of=lambda r: r.issues if r else [])


def projects(content: bytes) -> fz.Verdict:
    def run() -> object:
        records, issues = parse_projects(content, "p.json")
        bad = {i.record for i in issues}
        if any(r.record in bad for r in records):
            raise AssertionError("partial: a record both stored and refused")
        return issues
    return fz.judge(run, issues_of=lambda r: r)


def code_list(content: bytes) -> fz.Verdict:
    # the first byte picks which code list the rest is read as
    spec = code_importer.FILES[content[0] % len(code_importer.FILES)] if content else \
        code_importer.FILES[0]
    path = TMP / spec.filename
    path.write_bytes(content[1:])

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


JUDGE = {"camt053": lambda d: bank(d, CAMT053), "mt940": lambda d: bank(d, MT940),
         "bank_csv": lambda d: bank(d, RESULTS), "project_json": projects,
         "code_csv": code_list, "excel": template}


def seeds(name: str) -> list[bytes]:
    rnd = random.Random(9)
    if name == "camt053":
        return [fz.sample("bank", "statement_20261015.camt053.xml"), *(fz.camt053(rnd) for _ in range(20))]
    if name == "mt940":
        return [fz.sample("bank", "statement_20261015.mt940"), *(fz.mt940(rnd) for _ in range(10))]
    if name == "bank_csv":
        return [fz.sample("bank", "payment_results_20261015_gbk.csv"), *(fz.results_csv(rnd) for _ in range(20))]
    if name == "project_json":
        return [fz.sample("projects", "investment_projects_20260301.json"),
                *(fz.project_json(rnd) for _ in range(10))]
    if name == "code_csv":
        return [bytes([i]) + (fz.CODES_DIR / s.filename).read_bytes()[:4000]
                for i, s in enumerate(code_importer.FILES)]
    return [fz.template_xlsx(rnd) for _ in range(10)]


def one_input(data: bytes) -> None:
    STATE["runs"] += 1
    verdict = JUDGE[STATE["name"]](data)
    if verdict.outcome == "crash":
        STATE["crashes"] += 1
        digest = hashlib.sha1(data).hexdigest()  # noqa: S324 - a file name, not security
        path = STATE["crash_dir"] / f"crash-{digest}"
        if not path.exists():
            path.write_bytes(data)
            path.with_suffix(".txt").write_text(verdict.detail + "\n", encoding="utf-8")
            print(f"CRASH {STATE['name']}: {verdict.detail[:300]} -> {path}", file=sys.stderr)
    if STATE["runs"] == STATE["target"]:  # libFuzzer leaves without running atexit hooks
        report()


def report() -> None:
    print(f"{STATE['name']}: runs {STATE['runs']}, crashes {STATE['crashes']}", flush=True)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in IMPORTERS:
        raise SystemExit(__doc__)
    name = sys.argv[1]
    STATE["name"] = name
    outs = [a.split("=", 1)[1] for a in sys.argv[2:] if a.startswith("--out=")]
    base = Path(outs[-1]) if outs else ROOT / "var" / "fuzz"
    corpus = base / "corpus" / name
    STATE["crash_dir"] = base / "crashes" / name
    corpus.mkdir(parents=True, exist_ok=True)
    STATE["crash_dir"].mkdir(parents=True, exist_ok=True)
    for data in seeds(name):
        (corpus / f"seed-{hashlib.sha1(data).hexdigest()}").write_bytes(data)  # noqa: S324
    flags = [a for a in sys.argv[2:] if a.startswith("-") and not a.startswith("--")]
    max_len = 200_000 if name in ("camt053", "excel") else 20_000
    args = [sys.argv[0], f"-max_len={max_len}", "-rss_limit_mb=4096", *flags, str(corpus)]
    atexit.register(report)
    runs = [int(a.split("=", 1)[1]) for a in flags if a.startswith("-runs=")]
    STATE["target"] = runs[-1] if runs else -1
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
