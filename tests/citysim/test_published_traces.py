"""Every figure the city publishes can be followed by the auditor: a city-year is run,
every CSV of every published disclosure set is read back as the public downloads it,
and every trace reference in it is resolved through the auditor's trace (Python, and
samples through the API and the page). The traced total and the sum of the traced lines
must both equal the published amount: 0 refused, 0 different."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from audit import selectors as audit_selectors
from audit.errors import AuditError
from reports.models import DisclosureSet

YEAR = 2026


@pytest.fixture
def published(codes, tmp_path):  # noqa: ANN001, ARG001
    out = tmp_path / "out"
    call_command("city_year", units=6, months=2, year=YEAR, out=str(out), payments=1,
                 stdout=io.StringIO())
    rows = []
    # the figure CSVs (one row per published figure, with its trace reference); the
    # open-data fiscal CSV (`*_fiscal.csv`) is a resource of another shape, tested in
    # tests/reports/test_open_data.py
    for path in sorted((out / "disclosure").rglob("*.csv")):
        if path.name.endswith("_fiscal.csv"):
            continue
        text = path.read_bytes().decode("utf-8-sig")
        for row in csv.DictReader(io.StringIO(text)):
            rows.append((path.name, row))
    return out, rows


@pytest.mark.django_db
class TestEveryPublishedFigureIsTraceable:
    def test_every_reference_resolves_to_lines_that_sum_to_the_published_figure(
            self, published, client, django_user_model):  # noqa: ANN001
        _out, rows = published
        sets = DisclosureSet.objects.filter(year=YEAR, status="published").count()
        assert sets == 12
        assert len(rows) > 1000
        refused, different, seen = [], [], {}
        for name, row in rows:
            ref, amount = row["trace"], Decimal(row["amount_yuan"])
            if ref not in seen:
                try:
                    result = audit_selectors.trace_resolve(ref, limit=None)
                except AuditError as exc:
                    seen[ref] = exc
                else:
                    seen[ref] = (result.total, result.lines_sum, result.line_count,
                                 len(result.lines))
            got = seen[ref]
            if isinstance(got, Exception):
                refused.append((name, row["row"], row["column"], ref, str(got)))
                continue
            total, lines_sum, count, listed = got
            if not (total == lines_sum == amount and count == listed):
                different.append((name, row["row"], row["column"], ref, amount, total,
                                  lines_sum))
        assert refused == [], refused[:5]
        assert different == [], different[:5]

        # the auditor follows them through the API and the page too (same city: one run)
        from django.contrib.auth.models import Group

        from audit.access import AUDITOR_GROUP

        auditor = django_user_model.objects.create_user(username="auditor-t", password="x")
        auditor.groups.add(Group.objects.get_or_create(name=AUDITOR_GROUP)[0])
        client.force_login(auditor)
        # one figure of each table that is not zero, and the basic-spending columns
        picked = {}
        for _name, row in rows:
            if Decimal(row["amount_yuan"]):
                picked.setdefault(row["table"], row)
                if row["column"] in ("basic", "personnel", "public"):
                    picked.setdefault(f"{row['table']}:{row['column']}", row)
        assert len(picked) >= 15
        for row in picked.values():
            body = client.get("/api/audit/trace/", {"ref": row["trace"], "limit": 5000}).json()
            assert body["total"] == row["amount_yuan"], row
            assert sum(Decimal(x["amount"]) for x in body["lines"]) == Decimal(row["amount_yuan"])
            page = client.get("/audit/trace/", {"ref": row["trace"]}).content.decode()
            assert row["amount_yuan"] in page.replace(",", ""), row["trace"]
