"""The bank files themselves on the treasury's Bank files page (web/views_treasury.py):
every stored `payments.BankFile` with its bank, format, profile, time received, line
counts and outcomes, filtered by bank, format and day, in pages; a page per file with its
result lines (the vouchers and requests they settled) and statement lines.

The files are written as ICBC writes them (citysim/banks.py, the banks' own layouts: GBK,
成功 / 退票 / 处理中, thousands separators) and uploaded through the page. Figures by hand:
the first file pays voucher 1 (120.50) and reports voucher 2 still in process (1 line
stored, 1 pending); the second repeats voucher 1's line (already known) and returns
voucher 2 (300.00, 收款账号户名不符: 1 line stored); the camt.053 statement books the
120.50 debit naming voucher 1 (1 line, matched by the voucher number)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from citysim import banks
from payments import services as pay
from payments.models import BankFile, PaymentRequest, Voucher
from tests.helpers import YEAR, dims
from tests.web.conftest import AS_OF
from tests.web.test_bank_profiles import ensure_profiles

pytestmark = pytest.mark.django_db
PAGE = "/web/treasury/imports/"

# the permission matrix (tests/web/test_permissions.py's registry): treasury roles only
ROLES = ["anonymous", "filer", "head", "dept", "reviewer", "director", "office", "auditor"]
LOGIN, A, D = 302, 200, 403
T = [LOGIN, D, D, D, A, A, D, D]
PAGES = {"/web/treasury/files/{file}/": T, PAGE + "?bank=102584000002&format=camt053": T}
# the bank writes its own local time (Asia/Shanghai) without a zone
AT = dt.datetime(2026, 3, 11, 9, 30)  # noqa: DTZ001


def sign_in(user) -> Client:  # noqa: ANN001
    c = Client(headers={"accept-language": "en"})
    c.force_login(user)
    return c


def text(response) -> str:  # noqa: ANN001
    return response.content.decode()


def row(html: str, file: BankFile) -> str:
    return html.split(f'id="file-{file.pk}"')[1].split("</tr>")[0]


def cell(html: str, css: str) -> str:
    return html.split(f'class="num {css}">')[1].split("<")[0]


@pytest.fixture
def files(world, treasury, django_capture_on_commit_callbacks):  # noqa: ANN001
    """Two requests of 440300101 on one voucher batch at ICBC; three files from the bank."""
    ensure_profiles()
    p = world.people
    r3 = pay.payment_request_create(dims=dims(), year=YEAR, amount=Decimal("300.00"),
                                    payee=world.payee, purpose="一中教学设备", user=p.filer,
                                    as_of=AS_OF)
    r3 = pay.payment_request_submit(request=r3, user=p.filer, as_of=AS_OF)
    for r in (world.r1, r3):
        r = pay.payment_request_approve(request=r, user=p.head, comment="ok")
        pay.payment_request_approve(request=r, user=p.reviewer, comment="ok")
    batch = pay.voucher_batch_create(agent_account=treasury.agent, user=p.reviewer)
    v1 = Voucher.objects.get(request=world.r1)
    v3 = Voucher.objects.get(request=r3)
    acct, payee = treasury.agent.number, world.payee

    def res(v: Voucher, outcome: str, ref: str, reason: str = "") -> banks.Res:
        return banks.Res(voucher=v.number, payer=acct, payee_account=payee.account_number,
                         payee_name=payee.name, amount=v.amount, outcome=outcome, ref=ref,
                         at=AT, reason=reason)

    c = sign_in(p.reviewer)

    def upload(name: str, content: bytes) -> BankFile:
        with django_capture_on_commit_callbacks(execute=True):
            r = c.post(PAGE, {"file": SimpleUploadedFile(name, content)})
        assert r.status_code == 302
        return BankFile.objects.order_by("-id").first()

    assert treasury.agent.bank.cnaps == banks.ICBC
    name, content = banks.results(banks.ICBC, [res(v1, "paid", "ICBC0000000001"),
                                               res(v3, "pending", "ICBC0000000002")])
    pending = upload(name, content)
    _, content = banks.results(banks.ICBC, [res(v1, "paid", "ICBC0000000001"),
                                            res(v3, "returned", "ICBC0000000003",
                                                "收款账号户名不符")])
    results = upload("ICBC_JG_20260311_2.csv", content)
    statement = upload("icbc_camt053_20260311.xml", banks.camt(acct, AT.date(), [
        banks.Line(ref="ST20260311001", amount=Decimal("120.50"), credit=False, e2e=v1.number,
                   payee_account=payee.account_number, payee_name=payee.name)]))
    return dict(pending=pending, results=results, statement=statement, v1=v1, v3=v3, r3=r3,
                batch=batch, client=c)


class TestTheList:
    def test_each_file_with_bank_format_profile_and_counts(self, files):  # noqa: ANN001
        html = text(files["client"].get(PAGE))
        assert "3 files." in html
        first, second, stmt = (row(html, files[k]) for k in ("pending", "results", "statement"))
        for r in (first, second, stmt):
            assert "中国工商银行深圳分行" in r and "102584000002" in r
        assert "ICBC_JG_20260311.csv" in first
        shanghai = files["pending"].imported_at.astimezone(dt.timezone(dt.timedelta(hours=8)))
        assert f"{shanghai:%Y-%m-%d %H:%M}" in first  # received, in Asia/Shanghai
        assert "ICBC" in second  # the bank's own profile read the table
        assert (cell(first, "paid"), cell(first, "returned"), cell(first, "pending"),
                cell(first, "known")) == ("1", "0", "1", "0")
        assert (cell(second, "paid"), cell(second, "returned"), cell(second, "rejected"),
                cell(second, "pending"), cell(second, "known")) == ("0", "1", "0", "0", "1")
        assert '<td class="num">1</td>' in second  # one line stored
        assert "camt053" in stmt and '<td class="num">1</td>' in stmt
        # newest first
        assert html.index(f'id="file-{files["statement"].pk}"') < html.index(
            f'id="file-{files["pending"].pk}"')

    def test_filters_by_bank_format_and_day(self, files):  # noqa: ANN001
        c = files["client"]
        assert "3 files." in text(c.get(PAGE, {"bank": banks.ICBC}))
        assert "0 files." in text(c.get(PAGE, {"bank": banks.CCB}))
        fmt = files["statement"].format
        html = text(c.get(PAGE, {"format": fmt}))
        assert "1 file." in html and f'id="file-{files["statement"].pk}"' in html
        # received today (Asia/Shanghai): all three; from tomorrow: none
        local = files["statement"].imported_at.astimezone(
            dt.timezone(dt.timedelta(hours=8))).date()
        assert "3 files." in text(c.get(PAGE, {"from": f"{local}", "to": f"{local}"}))
        assert "0 files." in text(c.get(PAGE, {"from": f"{local + dt.timedelta(days=1)}"}))
        assert "3 files." in text(c.get(PAGE, {"from": "not a day"}))

    def test_pages(self, files, monkeypatch):  # noqa: ANN001
        from web import views_treasury

        monkeypatch.setattr(views_treasury, "FILES_PER_PAGE", 2)
        c = files["client"]
        html = text(c.get(PAGE, {"bank": banks.ICBC}))
        assert "page 1 of 2 (3 rows)" in html and f'id="file-{files["pending"].pk}"' not in html
        assert "bank=102584000002&amp;page=2" in html
        html = text(c.get(PAGE, {"bank": banks.ICBC, "page": 2}))
        assert f'id="file-{files["pending"].pk}"' in html


class TestOneFile:
    def test_results_link_the_vouchers_and_requests_they_settled(self, files, world):  # noqa: ANN001
        html = text(files["client"].get(f"/web/treasury/files/{files['results'].pk}/"))
        results = html.split('id="results"')[1].split("</table>")[0]
        v3 = files["v3"]
        assert f'href="/web/treasury/batches/{files["batch"].pk}/">{v3.number}</a>' in results
        assert f'href="/web/requests/{files["r3"].tracking_id}/"' in results
        assert "440300101 深圳市第一中学" in results
        assert "300.00" in results and "outcome-returned" in results
        assert "120.50" not in results  # voucher 1's line was known from the first file
        assert "收款账号户名不符" in results and "2026-03-11 09:30" in results
        assert html.split('id="n-paid">')[1].startswith("0<")
        assert html.split('id="n-returned">')[1].startswith("1<")
        assert html.split('id="n-known">')[1].startswith("1<")
        first = text(files["client"].get(f"/web/treasury/files/{files['pending'].pk}/"))
        assert "120.50" in first.split('id="results"')[1] and "outcome-paid" in first
        assert PaymentRequest.objects.get(pk=world.r1.pk).status == "paid"
        assert Voucher.objects.get(pk=v3.pk).status == "returned"

    def test_statement_lines_show_what_they_matched(self, files, world):  # noqa: ANN001
        html = text(files["client"].get(f"/web/treasury/files/{files['statement'].pk}/"))
        lines = html.split('id="lines"')[1].split("</table>")[0]
        assert "ST20260311001" in lines and "120.50" in lines
        assert "by voucher number" in lines and files["v1"].number in lines
        assert world.r1.tracking_id in lines and "深圳市财政局国库支付中心零余额账户" in lines
        assert 'id="results"' not in html

    def test_the_pending_file_says_nothing_was_applied(self, files):  # noqa: ANN001
        html = text(files["client"].get(f"/web/treasury/files/{files['pending'].pk}/"))
        assert html.split('id="n-pending">')[1].startswith("1<")
        assert "import report" in html

    def test_only_treasury_opens_it(self, files, world, treasury):  # noqa: ANN001
        p = world.people
        people = {"filer": p.filer, "head": p.head, "dept": p.dept, "reviewer": p.reviewer,
                  "director": treasury.director, "office": p.office, "auditor": p.auditor}
        wrong = []
        for role in ROLES:
            c = sign_in(people[role]) if role != "anonymous" else Client()
            for template, answers in PAGES.items():
                url = template.format(file=files["results"].pk)
                got = c.get(url).status_code
                if got != answers[ROLES.index(role)]:
                    wrong.append(f"{role} {url}: {got}")
        assert wrong == []
        assert sign_in(world.people.reviewer).get("/web/treasury/files/999999/").status_code == 404
