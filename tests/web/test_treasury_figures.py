"""Size of the treasury screens: a 2,000-line camt.053 statement uploaded through the
page (every line without a voucher, so 2,000 open exceptions), then the exceptions and
import pages: a fixed number of queries whatever the number of rows. Prints the
timings quoted in docs/apps/web.md (run with -s)."""
from __future__ import annotations

import time
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from payments.models import ReconException
from tests.payments.statement_files import Booked, camt053
from tests.web.test_treasury_screens import upload

LINES = 2000


def count_queries(fn):  # noqa: ANN001, ANN201
    calls: list[str] = []

    def wrapper(execute, sql, params, many, context):  # noqa: ANN001, ANN202
        calls.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        t = time.perf_counter()
        result = fn()
        return result, len(calls), time.perf_counter() - t


def test_a_big_statement_through_the_page_and_the_queue_it_leaves(
        world, treasury, client, django_capture_on_commit_callbacks):  # noqa: ANN001
    stmt = camt053(treasury.agent.number, timezone.localdate(), [
        Booked(bank_ref=f"X{i:07d}", amount=Decimal("10.00") + i, credit=False, info="fee")
        for i in range(LINES)])
    client.force_login(treasury.director)
    t = time.perf_counter()
    job, page = upload(client, stmt, "big.camt053.xml", django_capture_on_commit_callbacks)
    first = time.perf_counter() - t
    job.refresh_from_db()
    assert (job.status, job.result["stored"], job.result["exceptions"]) == ("done", LINES, LINES)
    assert ReconException.objects.filter(status="open").count() == LINES

    resp, n_exc, t_exc = count_queries(lambda: client.get("/web/treasury/exceptions/"))
    assert resp.status_code == 200 and f"{LINES} open exceptions." in resp.content.decode()
    assert resp.content.decode().count('class="resolve-form"') == 200  # a page of 200
    assert "page 1 of 10" in resp.content.decode()
    last = client.get("/web/treasury/exceptions/?kind=line_without_voucher&page=10")
    assert last.content.decode().count('class="resolve-form"') == 200
    assert "page 10 of 10" in last.content.decode()
    none = client.get("/web/treasury/exceptions/?kind=clearing_difference").content.decode()
    assert "0 open exceptions." in none and "No open exceptions." in none
    assert n_exc <= 12, n_exc  # not one query per exception
    _, n_job, _ = count_queries(lambda: client.get(f"/web/treasury/imports/{job.pk}/"))
    assert n_job <= 12, n_job

    t = time.perf_counter()
    again, page = upload(client, stmt, "big.camt053.xml", django_capture_on_commit_callbacks)
    second = time.perf_counter() - t
    again.refresh_from_db()
    assert (again.result["stored"], again.result["skipped"]) == (0, LINES)
    assert "Nothing changed" in page.content.decode()
    print(f"\n{connection.vendor}: {LINES} lines {len(stmt):,} bytes: upload+import "
          f"{first:.2f} s ({LINES / first:,.0f} lines/s), again {second:.2f} s; exceptions "
          f"page {t_exc:.3f} s, {n_exc} queries; import page {n_job} queries")
