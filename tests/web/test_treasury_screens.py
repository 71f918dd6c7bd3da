"""Treasury screens (vouchers, bank files with progress, reconciliation exceptions) and
the public portal with charts: the permission matrix of these pages × every role, and
each screen driven through Django's test client with real files, real services and the
real Celery task (eager), checked against the ledger and the database."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from lxml import etree

from finance import selectors as ledger
from finance.models import Job
from payments import services as pay
from payments.models import BankFile, PaymentRequest, ReconException, Voucher, VoucherBatch
from reports import services as rep
from reports.models import DisclosureSet
from tests.helpers import YEAR
from tests.payments.statement_files import Booked, camt053
from tests.web.bank_files import result_csv, vouchers_of
from tests.web.conftest import U1, disclosure_sign_off

ROLES = ["anonymous", "filer", "head", "other_filer", "dept", "reviewer", "director", "office",
         "auditor", "roleless"]
LOGIN, A, D = 302, 200, 403
T = [LOGIN, D, D, D, D, A, A, D, D, D]  # treasury roles only
P = [A] * len(ROLES)  # public
# URL template → expected status per role (same order as ROLES); {batch}, {job} are made
# by the `paid` fixture below. Exported for a project-wide matrix.
PAGES = {
    "/web/treasury/vouchers/": T,
    "/web/treasury/batches/{batch}/": T,
    "/web/treasury/batches/{batch}/csv/": T,
    "/web/treasury/batches/{batch}/pain001/": T,
    "/web/treasury/batches/{batch}/notice/": T,
    "/web/treasury/imports/": T,
    "/web/treasury/imports/{job}/": T,
    "/web/treasury/exceptions/": T,
    "/web/public/": P,
    "/web/public/?year=2026&department=440300100": P,
}
POSTS = {  # POST-only: anonymous to sign-in, everyone but treasury refused; treasury is
    # sent back to the queue (the first, the reviewer, resolves; the director is told so)
    "/web/treasury/exceptions/{exc}/resolve/": [LOGIN, D, D, D, D, 302, 302, D, D, D],
}
PAY_TIME = "%Y-%m-%d %H:%M:%S"


def approve(world) -> PaymentRequest:  # noqa: ANN001
    r1 = pay.payment_request_approve(request=world.r1, user=world.people.head, comment="ok")
    return pay.payment_request_approve(request=r1, user=world.people.reviewer, comment="ok")


def upload(client, content: bytes, name: str, capture) -> tuple[Job, object]:  # noqa: ANN001
    from django.core.files.uploadedfile import SimpleUploadedFile

    with capture(execute=True):
        response = client.post("/web/treasury/imports/",
                               {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 302, response.content[:500]
    job = Job.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[-1]))
    return job, client.get(response["Location"])


@pytest.fixture
def paid(world, treasury, client, django_capture_on_commit_callbacks):  # noqa: ANN001
    """r1 approved, put on a voucher, paid by a result file and its statement line
    reconciled; a stray statement line left as an open exception."""
    approve(world)
    batch = pay.voucher_batch_create(agent_account=treasury.agent, user=world.people.reviewer)
    client.force_login(world.people.reviewer)
    csv_file = client.get(f"/web/treasury/batches/{batch.pk}/csv/").content
    now = timezone.localtime()
    job, _page = upload(client, result_csv(csv_file, traded_at=f"{now:{PAY_TIME}}"),
                        "results.csv", django_capture_on_commit_callbacks)
    v = batch.vouchers.get()
    stmt = camt053(treasury.agent.number, now.date(), [
        Booked(bank_ref="ST1", amount=v.amount, credit=False, end_to_end_id=v.number,
               payee_name=world.payee.name, payee_account=world.payee.account_number),
        Booked(bank_ref="ST2", amount=Decimal("9.99"), credit=False, info="手续费")])
    upload(client, stmt, "statement.xml", django_capture_on_commit_callbacks)
    client.logout()
    exc = ReconException.objects.get(status="open", kind="line_without_voucher")
    return {"batch": batch.pk, "job": job.pk, "exc": exc.pk}


def _people(world, treasury, django_user_model) -> dict:  # noqa: ANN001
    p = world.people
    roleless = django_user_model.objects.create_user(username="roleless", password="x-Secret-123")
    return {"filer": p.filer, "head": p.head, "other_filer": p.other_filer, "dept": p.dept,
            "reviewer": p.reviewer, "director": treasury.director, "office": p.office,
            "auditor": p.auditor, "roleless": roleless}


class TestMatrix:
    def test_every_treasury_and_public_page_for_every_role(self, world, treasury, paid,
                                                           client, django_user_model):
        people = _people(world, treasury, django_user_model)
        wrong = []
        for role in ROLES:
            client.logout()
            if role != "anonymous":
                client.force_login(people[role])
            for table, method in ((PAGES, client.get), (POSTS, client.post)):
                for template, answers in table.items():
                    url = template.format(**paid)
                    response = method(url, {"reason": "x"}) if method == client.post else method(url)
                    expected = answers[ROLES.index(role)]
                    if response.status_code != expected:
                        wrong.append(f"{role} {url}: {response.status_code}, expected {expected}")
                    elif role == "anonymous" and expected == LOGIN and not response[
                            "Location"].startswith(
                            "/accounts/login/"):
                        wrong.append(f"{role} {url}: redirected to {response['Location']}")
        assert wrong == []
        # only treasury resolved the exception: the reviewer, the first treasury role
        exc = ReconException.objects.get(pk=paid["exc"])
        assert (exc.status, exc.resolved_by) == ("resolved", world.people.reviewer)

    def test_the_policy_table_names_every_new_page(self):
        from web.policy import POLICY, PUBLIC, _treasury_only

        names = ["treasury_vouchers", "treasury_batch", "treasury_batch_csv",
                 "treasury_batch_pain001", "treasury_notice_csv", "treasury_imports", "treasury_import",
                 "treasury_exceptions", "treasury_exception_resolve"]
        assert all(POLICY[f"web:{n}"] is _treasury_only for n in names)
        assert POLICY["web:public_home"] == PUBLIC


class TestDashboardLinks:
    def test_treasury_sees_its_screens_on_the_home_page_and_a_filer_does_not(self, world,
                                                                            client):
        links = ['href="/web/treasury/vouchers/"', 'href="/web/treasury/imports/"',
                 'href="/web/treasury/exceptions/"']
        client.force_login(world.people.reviewer)
        html = client.get("/web/").content.decode()
        assert all(link in html for link in links)
        client.force_login(world.people.filer)
        html = client.get("/web/").content.decode()
        assert not any(link in html for link in links)


class TestVouchers:
    def test_approved_requests_are_listed_and_put_on_a_batch_from_the_page(
            self, world, treasury, client):
        r1 = approve(world)
        client.force_login(world.people.reviewer)
        page = client.get("/web/treasury/vouchers/").content.decode()
        assert r1.tracking_id in page and "120.50" in page
        assert world.r2.tracking_id not in page  # still awaiting its unit head
        response = client.post("/web/treasury/vouchers/", {
            "agent_account": treasury.agent.pk, "ids": [r1.tracking_id]}, follow=True)
        batch = VoucherBatch.objects.get()
        assert response.redirect_chain[-1][0] == f"/web/treasury/batches/{batch.pk}/"
        v = Voucher.objects.get(request=r1)
        assert v.batch == batch and v.number.startswith(f"ZF{timezone.localdate():%Y%m}")
        assert PaymentRequest.objects.get(pk=r1.pk).status == "vouchered"
        html = response.content.decode()
        assert v.number in html and "壹佰贰拾元伍角" in html
        assert f"Batch {batch.pk} issued with 1 vouchers." in html
        assert batch.agent_account.notices.get(date=batch.date).total == Decimal("120.50")

    def test_nothing_chosen_issues_nothing(self, world, treasury, client):
        approve(world)
        client.force_login(world.people.reviewer)
        response = client.post("/web/treasury/vouchers/", {"agent_account": treasury.agent.pk},
                               follow=True)
        assert "Choose at least one approved request." in response.content.decode()
        assert not VoucherBatch.objects.exists()

    def test_thousands_separators_on_the_batch_page(self, world, treasury, user, client):
        # a large approved request on U1: approve it through the chain (director above 100,000)
        from finance import services as fin
        from tests.helpers import approve_lines, dims

        fin.entry_post(lines=approve_lines(Decimal("2000000.00"), dims(unit=U1)),
                       description="批复", user=user, on=dt.date(YEAR, 3, 10), kind="approval")
        pay.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                         reason="test without a monthly plan")
        req = pay.payment_request_create(dims=dims(unit=U1), year=YEAR,
                                         amount=Decimal("1265780.50"), payee=world.payee,
                                         purpose="设备", user=world.people.filer)
        req = pay.payment_request_submit(request=req, user=world.people.filer)
        for who in (world.people.head, world.people.reviewer, treasury.director):
            req = pay.payment_request_approve(request=req, user=who, comment="ok")
        assert req.status == "approved"
        batch = pay.voucher_batch_create(agent_account=treasury.agent, user=treasury.director,
                                         requests=[req])
        client.force_login(treasury.director)
        html = client.get(f"/web/treasury/batches/{batch.pk}/").content.decode()
        assert "1,265,780.50" in html and "壹佰贰拾陆万伍仟柒佰捌拾元伍角" in html

    def test_downloads_are_the_api_exports(self, world, treasury, client):
        approve(world)
        batch = pay.voucher_batch_create(agent_account=treasury.agent, user=world.people.reviewer)
        v = batch.vouchers.get()
        client.force_login(world.people.reviewer)
        csv_resp = client.get(f"/web/treasury/batches/{batch.pk}/csv/")
        assert csv_resp["Content-Disposition"] == f'attachment; filename="vouchers_{batch.pk}.csv"'
        rows = vouchers_of(csv_resp.content)
        assert [(r["支付凭证号"], r["金额"], r["金额大写"]) for r in rows] == [
            (v.number, "120.50", "壹佰贰拾元伍角")]
        api = client.get(f"/api/payments/batches/{batch.pk}/csv/")
        assert api.status_code == 200 and api.content == csv_resp.content
        xml = etree.fromstring(client.get(f"/web/treasury/batches/{batch.pk}/pain001/").content)
        ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}
        assert xml.findtext(".//p:EndToEndId", namespaces=ns) == v.number
        assert xml.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=ns) == "120.50"
        notice = client.get(f"/web/treasury/batches/{batch.pk}/notice/").content.decode("gb18030")
        assert "清算额度通知单" in notice and v.number in notice
        assert "合计,1,120.50" in notice and "大写,壹佰贰拾元伍角" in notice


class TestBankImports:
    def test_a_result_file_pays_the_request_and_the_same_file_again_changes_nothing(
            self, world, treasury, client, django_capture_on_commit_callbacks):
        approve(world)
        batch = pay.voucher_batch_create(agent_account=treasury.agent, user=world.people.reviewer)
        client.force_login(world.people.reviewer)
        vouchers = client.get(f"/web/treasury/batches/{batch.pk}/csv/").content
        content = result_csv(vouchers, traded_at=f"{timezone.localtime():{PAY_TIME}}")
        job, page = upload(client, content, "回单.csv", django_capture_on_commit_callbacks)
        job.refresh_from_db()
        assert (job.status, job.result["stored"], job.result["skipped"], job.issues) == (
            "done", 1, 0, [])
        html = page.content.decode()
        assert 'id="job-progress"' in html and 'data-status="done"' in html
        assert "Imported. Lines stored: 1; already there: 0." in html
        assert "/static/web/job_progress.js" in html and "<script>" not in html
        assert PaymentRequest.objects.get(pk=world.r1.pk).status == "paid"
        paid = ledger.balance(account="9301", year=YEAR, unit=U1)
        assert paid == Decimal("120.50")
        assert ledger.balance(account="7101", year=YEAR, unit=U1) == Decimal("120.50")

        again, page = upload(client, content, "回单.csv", django_capture_on_commit_callbacks)
        again.refresh_from_db()
        assert (again.result["stored"], again.result["skipped"]) == (0, 1)
        assert "Nothing changed: the 1 line of this file was imported before." in (
            page.content.decode())
        assert ledger.balance(account="9301", year=YEAR, unit=U1) == paid
        assert BankFile.objects.count() == 1

    def test_bad_lines_are_listed_with_file_line_and_reason_and_the_good_ones_stored(
            self, world, treasury, client, django_capture_on_commit_callbacks):
        approve(world)
        batch = pay.voucher_batch_create(agent_account=treasury.agent, user=world.people.reviewer)
        v = batch.vouchers.get()
        client.force_login(world.people.reviewer)
        vouchers = client.get(f"/web/treasury/batches/{batch.pk}/csv/").content
        good = result_csv(vouchers, traded_at=f"{timezone.localtime():{PAY_TIME}}",
                          failures={v.number: "收款账号户名不符"})
        text = good.decode("gbk") + ("ZF209901999,1,x,2,x,x,\"5.00\",成功,BKX1,"
                                     "2026-11-01 10:00:00,\r\n"
                                     "ZF209901998,1,x,2,x,x,abc,成功,BKX2,2026-11-01 10:00:00,\r\n")
        job, page = upload(client, text.encode("gbk"), "mixed.csv",
                           django_capture_on_commit_callbacks)
        html = page.content.decode()
        assert "Imported. Lines stored: 1; already there: 0." in html
        # the 退票 line was applied: the request went back to its filer with the reason
        req = PaymentRequest.objects.get(pk=world.r1.pk)
        assert (req.status, req.return_reason) == ("returned", "收款账号户名不符")
        assert ledger.balance(account="9201", year=YEAR, unit=U1) == Decimal("0.00")
        issues = {(i["file"], i["line"], i["field"]) for i in Job.objects.get(pk=job.pk).issues}
        assert issues == {("mixed.csv", 3, "voucher_number"), ("mixed.csv", 4, "amount")}
        assert "Voucher ZF209901999 is unknown." in html
        assert html.count("<td>mixed.csv</td>") == 2

    def test_an_unreadable_file_fails_and_says_what_to_do(self, world, treasury, client,
                                                          django_capture_on_commit_callbacks):
        client.force_login(treasury.director)
        job, page = upload(client, b"\x00\x01not a bank file", "junk.bin",
                           django_capture_on_commit_callbacks)
        assert Job.objects.get(pk=job.pk).status == "failed"
        html = page.content.decode()
        assert "The file could not be imported; nothing from it was stored." in html
        assert "the format could not be recognised" in html
        assert not BankFile.objects.exists()

    def test_a_crash_of_the_import_is_recorded_on_the_job_not_a_server_error(
            self, world, treasury, client, django_capture_on_commit_callbacks, monkeypatch):
        def crash(**kwargs):  # noqa: ANN003, ANN202 - the database went away mid-import
            raise RuntimeError("connection lost")

        monkeypatch.setattr(pay, "bank_file_import", crash)
        client.force_login(treasury.director)
        job, page = upload(client, b"irrelevant", "r.csv", django_capture_on_commit_callbacks)
        job.refresh_from_db()
        assert (job.status, job.message) == ("failed", "RuntimeError: connection lost")
        html = page.content.decode()
        assert "The file could not be imported; nothing from it was stored." in html
        assert "RuntimeError: connection lost" in html

    def test_the_list_shows_recent_imports(self, world, treasury, paid, client):
        client.force_login(treasury.director)
        html = client.get("/web/treasury/imports/").content.decode()
        assert "results.csv" in html and "statement.xml" in html

    def test_a_running_job_page_polls_the_job_api(self, world, treasury, client):
        client.force_login(world.people.reviewer)
        job = Job.objects.create(kind="payments.import_bank", filename="big.xml",
                                 created_by=world.people.reviewer, created_at=timezone.now(),
                                 status="running", total=200, done=50)
        html = client.get(f"/web/treasury/imports/{job.pk}/").content.decode()
        assert f'data-api="/api/finance/jobs/{job.pk}/"' in html and 'data-status="running"' in html
        assert 'value="25"' in html and "50 / 200" in html
        assert client.get(f"/api/finance/jobs/{job.pk}/").json()["percent"] == 25


class TestExceptions:
    def test_resolve_needs_a_reason_then_is_kept_with_who_and_why(self, world, treasury, paid,
                                                                   client):
        exc = ReconException.objects.get(pk=paid["exc"])
        assert exc.statement_line.bank_ref == "ST2"
        client.force_login(treasury.director)
        html = client.get("/web/treasury/exceptions/").content.decode()
        assert f'id="exception-{exc.pk}"' in html and "9.99" in html and "1 open exception." in html
        r = client.post(f"/web/treasury/exceptions/{exc.pk}/resolve/", {"reason": "  "},
                        follow=True)
        assert f"Exception {exc.pk}: give the reason for resolving it." in r.content.decode()
        assert ReconException.objects.get(pk=exc.pk).status == "open"
        r = client.post(f"/web/treasury/exceptions/{exc.pk}/resolve/",
                        {"reason": "银行手续费，已另行入账"}, follow=True)
        html = r.content.decode()
        assert f"Exception {exc.pk} resolved." in html and "0 open exceptions." in html
        exc.refresh_from_db()
        assert (exc.status, exc.resolution, exc.resolved_by) == (
            "resolved", "银行手续费，已另行入账", treasury.director)
        assert exc.history.first().history_change_reason == "银行手续费，已另行入账"
        r = client.post(f"/web/treasury/exceptions/{exc.pk}/resolve/", {"reason": "again"},
                        follow=True)
        assert f"Exception {exc.pk} is already resolved." in r.content.decode()

    def test_resolving_returns_to_the_same_filtered_page_and_nowhere_else(
            self, world, treasury, paid, client):
        client.force_login(treasury.director)
        back = "/web/treasury/exceptions/?kind=line_without_voucher&page=1"
        r = client.post(f"/web/treasury/exceptions/{paid['exc']}/resolve/",
                        {"reason": "费用", "next": back})
        assert r["Location"] == back
        r = client.post(f"/web/treasury/exceptions/{paid['exc']}/resolve/",
                        {"reason": "费用", "next": "https://example.com/"})
        assert r["Location"] == "/web/treasury/exceptions/"

    def test_the_statement_line_of_the_voucher_was_matched(self, world, paid):
        v = Voucher.objects.get(request=world.r1)
        assert v.status == "paid" and v.statement_lines.get().matched_by == "voucher"


def publish(world, treasury, user, kind: str) -> DisclosureSet:  # noqa: ANN001
    ds = rep.disclosure_set_create(department_code=world.orgs["dept"].code, year=YEAR, kind=kind,
                                   approved_on=dt.date(YEAR, 3, 1), user=user)
    rep.disclosure_set_approve(disclosure_id=ds.pk, user=treasury.publisher)
    disclosure_sign_off(ds, treasury)
    return rep.disclosure_set_publish(disclosure_id=ds.pk, user=treasury.publisher)


class TestPublicPortal:
    def test_nothing_published_yet(self, world, client):
        html = client.get("/web/public/").content.decode()
        assert "Nothing has been published yet." in html

    def test_drafts_never_appear_and_published_figures_are_charted(self, world, treasury, user,
                                                                  client):
        draft = rep.disclosure_set_create(department_code=world.orgs["dept"].code, year=YEAR,
                                          kind="final", approved_on=dt.date(YEAR, 3, 1), user=user)
        assert "Nothing has been published yet." in client.get("/web/public/").content.decode()
        budget = publish(world, treasury, user, "budget")
        html = client.get("/web/public/").content.decode()
        # the year's chart: 1,500.00 budgeted in the department (U1 1,000.00 + U2 500.00)
        assert 'id="chart-departments"' in html and "<svg" in html and "1,500.00" in html
        assert "深圳市教育局" in html
        assert f"/reports/public/{draft.pk}/" not in html
        assert f"/reports/public/{budget.pk}/" in html
        html = client.get(f"/web/public/?year={YEAR}&department=440300100").content.decode()
        assert 'id="chart-budget"' in html and "205 教育支出" in html
        assert 'id="chart-budget-final"' not in html  # the final set is still a draft
        assert "style=" not in html.split("<main>", 1)[1]
        assert not re.search(r"<script(?![^>]*\ssrc=)", html)  # scripts only as files
        # every file of the set is listed and downloads anonymously
        names = list(budget.files.values_list("name", flat=True))
        assert names and all(f"/reports/public/{budget.pk}/{n}" in html for n in names)
        assert client.get(f"/reports/public/{budget.pk}/{names[0]}").status_code == 200
        # the reports app's public pages link to the charts
        assert 'href="/web/public/"' in client.get("/reports/public/").content.decode()
        assert (f'href="/web/public/?year={YEAR}&amp;department=440300100"'
                in client.get(f"/reports/public/{budget.pk}/").content.decode())

    def test_budget_vs_final_when_both_are_published(self, world, treasury, user, client):
        publish(world, treasury, user, "budget")
        publish(world, treasury, user, "final")
        html = client.get(f"/web/public/?year={YEAR}&department=440300100").content.decode()
        assert 'id="chart-budget-final"' in html and 'id="chart-final"' in html
        svg = html.split('id="chart-budget-final"', 1)[1].split("</svg>", 1)[0]
        assert "1,500.00" in svg and "Final accounts" in svg
        # the same figures as a table under the chart
        table = html.split('id="chart-budget-final"', 1)[1].split("</table>", 1)[0]
        assert "<th>205 教育支出</th><td class=\"num\">1,500.00</td><td class=\"num\">0.00</td>" in table

    def test_an_unknown_department_or_year_falls_back(self, world, treasury, user, client):
        publish(world, treasury, user, "budget")
        html = client.get("/web/public/?year=abc&department=999").content.decode()
        assert 'id="chart-departments"' in html


class TestChinese:
    def test_treasury_and_public_pages_are_in_chinese_by_default(self, world, treasury, user,
                                                                 paid):
        from django.test import Client

        zh = Client()
        zh.force_login(treasury.director)
        html = zh.get("/web/treasury/vouchers/").content.decode()
        assert "待开具支付凭证的已审批申请" in html and "支付凭证批次" in html
        html = zh.get(f"/web/treasury/imports/{paid['job']}/").content.decode()
        assert "导入完成。已保存 1 行；此前已导入 0 行。" in html
        assert 'id="job-status">已完成<' in html and 'data-label-running="进行中"' in html
        assert "1 条未处理的对账差异。" in zh.get("/web/treasury/exceptions/").content.decode()
        publish(world, treasury, user, "budget")
        html = Client().get("/web/public/?department=440300100").content.decode()
        assert "按功能分类（类）的支出" in html and "全部部门" in html


def test_the_public_portal_reads_from_the_replica_when_one_is_configured():
    from config.routers import wants_replica

    assert wants_replica("GET", "/web/public/?year=2026")
    assert not wants_replica("GET", "/web/treasury/vouchers/")


def test_the_new_templates_carry_no_inline_script_or_style():
    """The CSP is to drop 'unsafe-inline': styles and scripts come from web/static/web/."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "web" / "templates" / "web"
    files = [*root.glob("treasury/*.html"), *root.glob("public/*.html")]
    assert len(files) >= 7
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"<style|\sstyle=|<script(?![^>]*\ssrc=)|\son[a-z]+=", text), f
