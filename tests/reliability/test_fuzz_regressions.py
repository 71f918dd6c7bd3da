"""Inputs that crashed an importer under atheris (bench/fuzz_atheris.py), kept as files in
tests/reliability/crashes/<importer>/: each must now end in a clear domain error."""
from __future__ import annotations

from pathlib import Path

import pytest

from budgets import spreadsheets
from budgets.errors import TemplateUnreadable
from tests.reliability import fuzzing as fz

CRASHES = Path(__file__).resolve().parent / "crashes"


@pytest.mark.parametrize("path", sorted((CRASHES / "excel").glob("*.xlsx")), ids=lambda p: p.stem)
def test_an_excel_template_zipfile_cannot_open_is_refused_with_the_reason(path):
    # zipfile raised NotImplementedError (unsupported compression method, zip version,
    # compressed patched data): a crash of the budget-template upload before the fix
    with pytest.raises(TemplateUnreadable) as caught:
        spreadsheets.plan_template_read(plan=fz.FAKE_PLAN, content=path.read_bytes())
    assert str(caught.value).strip()
    verdict = fz.judge(lambda: spreadsheets.plan_template_read(plan=fz.FAKE_PLAN,
                                                              content=path.read_bytes()),
                       domain=(TemplateUnreadable,))
    assert verdict.outcome == "error", verdict


def test_there_is_a_regression_file_per_kind_of_crash_found():
    assert len(list((CRASHES / "excel").glob("*.xlsx"))) == 4
