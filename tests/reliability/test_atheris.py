"""The coverage-guided harness of every importer (bench/fuzz_atheris.py) runs a few hundred
inputs, seeded from the samples and the generators, without a crash. The long campaigns
and their figures are in docs/RELIABILITY.md."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris is in the dev extra (pip install -e '.[dev]')")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("importer", ["camt053", "mt940", "bank_csv", "project_json",
                                      "code_csv", "excel"])
def test_the_harness_finds_no_crash(importer, tmp_path):
    runs = 100 if importer == "excel" else 400
    proc = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "bench" / "fuzz_atheris.py"), importer, f"-runs={runs}",
         "-seed=9", f"--out={tmp_path}"], cwd=ROOT, capture_output=True, text=True,
        timeout=300, errors="replace")
    assert f"{importer}: runs {runs}, crashes 0" in proc.stdout, proc.stdout[-1000:] + \
        proc.stderr[-3000:]
    assert "CRASH" not in proc.stderr
    assert proc.returncode == 0
