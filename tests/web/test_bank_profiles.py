"""Bank profiles (银行格式) on the treasury screens, issue 17: a treasury clerk edits a
profile through the web form (no JSON) and its history shows who changed what and why;
a bad time format or a missing required column is refused with a clear error on its
field; only treasury roles see the pages; the 重新对账 button reconciles a day again so
an exception a later result file explains closes itself; `manage.py reconcile` prints
the counts; an upload can name the profile and the import report shows it."""
from __future__ import annotations

import hashlib
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from lxml import html as lxml_html

from finance.models import Job
from payments import services as pay
from payments.importers.common import PAID, ResultRow
from payments.models import BankFile, BankProfile, ReconException, Voucher
from tests.payments.statement_files import Booked, camt053
from tests.web.bank_files import result_csv
from tests.web.test_treasury_screens import LOGIN, PAY_TIME, ROLES, D, T, _people, approve

PROFILE = "icbc-sz"  # the treasury fixture's agent bank 102584000002 is ICBC Shenzhen


# the permission matrix of these pages (tests/web/test_permissions.py finds it by ROLES)
PAGES = {
    "/web/treasury/banks/": T,
    f"/web/treasury/banks/{PROFILE}/": T,
    "/web/treasury/banks/new/": T,
    "/web/treasury/banks/new/?copy=ccb-sz": T,
}
POSTS = {"/web/treasury/exceptions/reconcile/": [LOGIN, D, D, D, D, 302, 302, D, D, D]}
assert len(ROLES) == len(POSTS["/web/treasury/exceptions/reconcile/"])


def form_data(page: bytes, form_id: str = "profile-form") -> dict[str, object]:
    """What the browser would send from the page's form as it stands."""
    doc = lxml_html.fromstring(page)
    form = doc.get_element_by_id(form_id)
    data: dict[str, object] = {}
    for el in form.iter("input", "select", "textarea"):
        name = el.get("name")
        if not name or el.get("disabled") is not None:
            continue
        if el.tag == "input" and el.get("type") in ("checkbox", "radio"):
            if el.get("checked") is not None:
                data.setdefault(name, []).append(el.get("value", "on"))  # type: ignore[union-attr]
            continue
        if el.tag == "select":
            chosen = [o.get("value") for o in el.iter("option") if o.get("selected") is not None]
            data[name] = chosen[0] if chosen else (el.xpath("option/@value") or [""])[0]
        elif el.tag == "textarea":
            data[name] = el.text or ""
        else:
            data[name] = el.get("value", "")
    return data


def empty_status_row(data: dict[str, object]) -> int:
    return next(i for i in range(int(data["status-TOTAL_FORMS"]))  # type: ignore[arg-type]
                if not data.get(f"status-{i}-word"))


def ensure_profiles() -> None:
    """The shipped profiles (migration 0006), again if a transactional test flushed them."""
    from payments.profiles import shipped, values

    for row in shipped():
        if not BankProfile.objects.filter(code=row["code"]).exists():
            BankProfile.objects.create(code=row["code"], **values(row))


@pytest.fixture(autouse=True)
def profiles(db) -> None:  # noqa: ANN001
    ensure_profiles()


@pytest.fixture
def clerk(world, treasury, client):  # noqa: ANN001
    client.force_login(world.people.reviewer)
    return world.people.reviewer


class TestProfilePages:
    def test_the_list_names_each_profile_its_agent_bank_and_formats(self, clerk, client):
        page = client.get("/web/treasury/banks/")
        assert page.status_code == 200
        row = lxml_html.fromstring(page.content).get_element_by_id(f"profile-{PROFILE}")
        text = row.text_content()
        assert "102584000002" in text and "中国工商银行深圳分行" in text  # CNAPS and bank name
        assert "GBK / GB18030" in text and "camt.053" in text and "MT940" in text
        assert 'href="/web/treasury/banks/"' in page.content.decode()  # in the treasury nav

    def test_a_clerk_adds_a_status_word_and_the_history_shows_it_with_the_reason(
            self, clerk, client):
        before = BankProfile.objects.get(code=PROFILE)
        page = client.get(f"/web/treasury/banks/{PROFILE}/")
        assert page.status_code == 200
        data = form_data(page.content)
        # the status words are a table of (word, outcome) rows with empty rows to add to
        assert data["status-0-word"] in before.statuses
        i = empty_status_row(data)
        data[f"status-{i}-word"], data[f"status-{i}-outcome"] = "交易关闭", "rejected"
        data["reason"] = "工行回单新增状态词“交易关闭”"
        response = client.post(f"/web/treasury/banks/{PROFILE}/", data, follow=True)
        assert response.redirect_chain[-1][0] == f"/web/treasury/banks/{PROFILE}/"
        html = response.content.decode()
        assert f"Bank profile {PROFILE} saved." in html
        after = BankProfile.objects.get(code=PROFILE)
        assert after.statuses == {**before.statuses, "交易关闭": "rejected"}
        # nothing else changed on the way through the form
        for field in ("result_columns", "statement_columns", "time_formats", "date_formats",
                      "encoding", "delimiter", "decimal_mark", "thousands_sep", "cnaps",
                      "direction_words", "statement_formats", "active", "note", "name"):
            assert getattr(after, field) == getattr(before, field), field
        assert after.dialect().outcome("交易关闭") == "rejected"
        last = after.history.first()
        assert (last.history_user, last.history_change_reason) == (
            clerk, "工行回单新增状态词“交易关闭”")
        history = lxml_html.fromstring(response.content).get_element_by_id("history")
        first_row = history.xpath(".//tbody/tr")[0].text_content()
        assert "reviewer" in first_row and "工行回单新增状态词“交易关闭”" in first_row
        assert "Status words: + 交易关闭 → rejected by the bank" in first_row

    def test_a_bad_time_format_is_refused_with_a_clear_error(self, clerk, client):
        before = BankProfile.objects.get(code=PROFILE)
        n = before.history.count()
        data = form_data(client.get(f"/web/treasury/banks/{PROFILE}/").content)
        data["time_formats"] = "%Y-%m-%d %H:%M:%S\nyyyy-mm-dd hh:mm\n%Y%m%d %H:%M:%Q"
        data["reason"] = "试"
        response = client.post(f"/web/treasury/banks/{PROFILE}/", data)
        assert response.status_code == 200
        html = response.content.decode()
        assert "The profile was not saved" in html
        for bad in ("yyyy-mm-dd hh:mm", "%Y%m%d %H:%M:%Q"):
            assert (f"“{bad}” is not a usable format: it must give the year, month and day "
                    "with strptime codes (%Y %m %d %H %M %S)") in html
        assert "“%Y-%m-%d %H:%M:%S” is not" not in html
        after = BankProfile.objects.get(code=PROFILE)
        assert (after.time_formats, after.history.count()) == (before.time_formats, n)

    def test_a_required_column_and_the_reason_are_asked_for_on_their_fields(self, clerk,
                                                                            client):
        data = form_data(client.get(f"/web/treasury/banks/{PROFILE}/").content)
        data["result_bank_ref"] = ""  # the dialect's problems(): a required column unnamed
        data["reason"] = ""
        response = client.post(f"/web/treasury/banks/{PROFILE}/", data)
        doc = lxml_html.fromstring(response.content)
        row = doc.get_element_by_id("id_result_bank_ref").getparent().getparent()
        assert "A result file needs this column: give at least one header name." in (
            row.text_content())
        assert "Give the reason for the change." in doc.get_element_by_id(
            "id_reason").getparent().text_content()
        assert BankProfile.objects.get(code=PROFILE).result_columns["bank_ref"]

    def test_a_new_profile_starts_as_a_copy_and_is_created_with_history(self, clerk, client,
                                                                        user):
        pay.bank_upsert(cnaps="313584099990", name="深圳农村商业银行", user=user)
        page = client.get("/web/treasury/banks/new/?copy=ccb-sz&cnaps=313584099990")
        data = form_data(page.content)
        ccb = BankProfile.objects.get(code="ccb-sz")
        assert data["result_voucher_number"] == ", ".join(ccb.result_columns["voucher_number"])
        assert (data["cnaps"], data["name"]) == ("313584099990", "深圳农村商业银行")
        data.update({"code": "srcb-sz", "result_voucher_number": "凭证编号，支付凭证号",
                     "reason": "新增代理银行：深圳农商行"})
        response = client.post("/web/treasury/banks/new/?copy=ccb-sz", data, follow=True)
        assert response.redirect_chain[-1][0] == "/web/treasury/banks/srcb-sz/"
        new = BankProfile.objects.get(code="srcb-sz")
        assert new.cnaps == "313584099990" and new.statuses == ccb.statuses
        assert new.result_columns["voucher_number"] == ["凭证编号", "支付凭证号"]
        assert new.dialect().problems() == []
        assert new.history.get().history_change_reason == "新增代理银行：深圳农商行"
        # the code is taken now; a second bank profile for the same bank is refused
        data["code"] = "srcb-2"
        html = client.post("/web/treasury/banks/new/", data).content.decode()
        assert "Bank 313584099990 already has the profile srcb-sz." in html

    def test_only_treasury_roles_see_and_edit_profiles(self, world, treasury, client):
        client.force_login(world.people.filer)
        for url in ("/web/treasury/banks/", f"/web/treasury/banks/{PROFILE}/",
                    "/web/treasury/banks/new/"):
            assert client.get(url).status_code == 403, url
        assert client.post(f"/web/treasury/banks/{PROFILE}/", {"reason": "x"}).status_code == 403
        assert client.post("/web/treasury/exceptions/reconcile/",
                           {"date": "2026-03-10"}).status_code == 403
        client.logout()
        assert client.get("/web/treasury/banks/")["Location"].startswith("/accounts/login/")
        client.force_login(treasury.director)
        assert client.get(f"/web/treasury/banks/{PROFILE}/").status_code == 200

    def test_every_role_gets_the_expected_answer(self, world, treasury, client,
                                                 django_user_model):
        people = _people(world, treasury, django_user_model)
        wrong = []
        for role in ROLES:
            client.logout()
            if role != "anonymous":
                client.force_login(people[role])
            for table, send in ((PAGES, client.get), (POSTS, client.post)):
                for url, answers in table.items():
                    got = (send(url, {"date": "2026-03-10"}) if send == client.post
                           else send(url)).status_code
                    if got != answers[ROLES.index(role)]:
                        wrong.append(f"{role} {url}: {got}, expected {answers[ROLES.index(role)]}")
        assert wrong == []

    def test_the_policy_table_names_the_new_pages(self):
        from web.policy import POLICY, _treasury_only

        for name in ("treasury_banks", "treasury_bank", "treasury_bank_new",
                     "treasury_reconcile"):
            assert POLICY[f"web:{name}"] is _treasury_only


def statement_first(world, treasury) -> tuple[Voucher, ReconException]:  # noqa: ANN001
    """The statement line of a voucher arrives before the bank's result: an open
    `line_without_voucher`; then the result is applied by the service alone (no
    reconciliation), as if the import had stopped before reconciling."""
    approve(world)
    batch = pay.voucher_batch_create(agent_account=treasury.agent, user=world.people.reviewer)
    v = batch.vouchers.get()
    today = timezone.localdate()
    stmt = camt053(treasury.agent.number, today, [Booked(
        bank_ref="ST1", amount=v.amount, credit=False, end_to_end_id=v.number,
        payee_name=world.payee.name, payee_account=world.payee.account_number)])
    report = pay.bank_file_import(content=stmt, filename="statement.xml",
                                  user=world.people.reviewer)
    assert (report.stored, report.exceptions) == (1, 1)
    exc = ReconException.objects.get(status="open")
    assert exc.kind == "line_without_voucher"
    now = timezone.localtime()
    pay.bank_result_apply(
        row=ResultRow(line=2, voucher_number=v.number, payer_account="", payee_account="",
                      payee_name="", amount=v.amount, outcome=PAID, bank_ref="BK1",
                      traded_at=now, reason="", status_word="成功"),
        bank_file=BankFile(filename="results.csv", sha256=hashlib.sha256(b"r").hexdigest(),
                           format="results_csv", imported_at=now),
        user=world.people.reviewer, as_of=now)
    assert Voucher.objects.get(pk=v.pk).status == "paid"
    assert ReconException.objects.get(pk=exc.pk).status == "open"  # nobody reconciled yet
    return v, exc


class TestReconcileAgain:
    def test_the_button_closes_what_the_later_result_explains(self, world, treasury, clerk,
                                                              client):
        _v, exc = statement_first(world, treasury)
        today = timezone.localdate()
        page = client.get("/web/treasury/exceptions/").content.decode()
        assert 'id="reconcile"' in page and f'value="{today:%Y-%m-%d}"' in page
        response = client.post("/web/treasury/exceptions/reconcile/",
                               {"date": f"{today:%Y-%m-%d}", "account": ""}, follow=True)
        html = response.content.decode()
        assert (f"Reconciled {today:%Y-%m-%d} again: 1 account(s), 1 statement lines matched, "
                "0 new exceptions, 0 still open.") in html
        exc.refresh_from_db()
        assert (exc.status, exc.auto, exc.resolved_by) == ("resolved", True, None)
        assert exc.resolution == f"自动对平（reviewer 重新对账 {today:%Y-%m-%d}）"
        row = lxml_html.fromstring(response.content).get_element_by_id(f"resolved-{exc.pk}")
        assert "automatically, by reconciliation" in row.text_content()
        assert exc.resolution in row.text_content()
        assert exc.history.first().history_change_reason.startswith(
            "reconciled automatically")

    def test_a_day_without_statement_lines_says_so(self, clerk, client):
        html = client.post("/web/treasury/exceptions/reconcile/", {"date": "2026-01-05"},
                           follow=True).content.decode()
        assert "No statement lines on 2026-01-05: nothing to reconcile." in html

    def test_the_command_prints_the_counts(self, world, treasury, capsys):
        _v, exc = statement_first(world, treasury)
        today = timezone.localdate()
        call_command("reconcile", "--date", f"{today:%Y-%m-%d}", "--user", "reviewer")
        out = capsys.readouterr().out
        assert (f"{today:%Y-%m-%d}: accounts 1, lines matched 1, exceptions opened 0, "
                "still open 0") in out
        exc.refresh_from_db()
        assert (exc.status, exc.auto) == ("resolved", True)
        call_command("reconcile", "--date", f"{today:%Y-%m-%d}",
                     "--account", treasury.agent.number)
        assert "accounts 1, lines matched 1, exceptions opened 0, still open 0" in (
            capsys.readouterr().out)


class TestUploadWithProfile:
    def test_the_chosen_profile_reads_the_file_and_the_report_names_it(
            self, world, treasury, clerk, client, django_capture_on_commit_callbacks):
        approve(world)
        batch = pay.voucher_batch_create(agent_account=treasury.agent, user=world.people.reviewer)
        vouchers = client.get(f"/web/treasury/batches/{batch.pk}/csv/").content
        content = result_csv(vouchers, traded_at=f"{timezone.localtime():{PAY_TIME}}")
        assert 'name="profile"' in client.get("/web/treasury/imports/").content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/web/treasury/imports/", {
                "file": SimpleUploadedFile("回单.csv", content), "profile": "standard"})
        job = Job.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[-1]))
        assert (job.status, job.result["profile"], job.result["stored"]) == (
            "done", "standard", 1)
        doc = lxml_html.fromstring(client.get(response["Location"]).content)
        assert "standard" in doc.get_element_by_id("profile").text_content()
        assert doc.get_element_by_id("pending").text_content() == "0"
        assert doc.get_element_by_id("skipped").text_content() == "0"

    def test_the_api_refuses_an_unknown_profile(self, clerk, client):
        resp = client.post("/api/payments/bank-files/", {
            "file": SimpleUploadedFile("x.csv", b"a,b\n"), "profile": "nope"})
        assert (resp.status_code, resp.json()["code"]) == (400, "unknown_profile")


ALLOWED = {"CNAPS", "UTF", "GBK", "GB18030", "ISO", "camt", "SWIFT", "MT940", "MT942", "CSV",
           "XLSX", "XML", "strptime", "pain", "reviewer", "English"}


def english_words(page: bytes) -> set[str]:
    """Words of 3+ Latin letters in what a reader sees (not in form values or codes)."""
    doc = lxml_html.fromstring(page)
    for el in doc.xpath("//script|//style|//textarea|//datalist|//code"):
        el.drop_tree()
    text = doc.text_content()
    codes = {w for code in BankProfile.objects.values_list("code", flat=True)
             for w in code.split("-")}  # profile codes are data, shown as they are
    codes |= {w for name in BankFile.objects.values_list("filename", flat=True)
              for w in re.findall(r"[A-Za-z]+", name)}  # so are the banks' file names
    return {w for w in re.findall(r"[A-Za-z]{3,}", text) if w not in ALLOWED | codes}


class TestChinese:
    def test_the_profile_pages_and_the_queue_show_no_english_in_chinese(
            self, world, treasury, django_user_model):
        from django.test import Client

        _v, exc = statement_first(world, treasury)
        zh = Client(headers={"accept-language": "zh-hans"})
        zh.force_login(world.people.reviewer)
        data = form_data(zh.get(f"/web/treasury/banks/{PROFILE}/").content)
        i = empty_status_row(data)
        data.update({f"status-{i}-word": "交易关闭", f"status-{i}-outcome": "rejected",
                     "reason": "新增状态词"})
        assert zh.post(f"/web/treasury/banks/{PROFILE}/", data).status_code == 302
        zh.post("/web/treasury/exceptions/reconcile/",
                {"date": f"{timezone.localdate():%Y-%m-%d}"})
        ReconException.objects.create(kind="unknown_account", key="account:x", account="1",
                                      date=timezone.localdate(), created_at=timezone.now(),
                                      actual=Decimal("1.00"))
        pages = {url: zh.get(url) for url in (
            "/web/treasury/banks/", f"/web/treasury/banks/{PROFILE}/",
            "/web/treasury/banks/new/?copy=ccb-sz", "/web/treasury/exceptions/",
            "/web/treasury/imports/")}
        found = {url: english_words(r.content) for url, r in pages.items()}
        assert found == {url: set() for url in pages}
        html = pages[f"/web/treasury/banks/{PROFILE}/"].content.decode()
        assert "状态词: + 交易关闭 → 银行拒绝" in html
        queue = pages["/web/treasury/exceptions/"].content.decode()
        assert "对账单账号未知" in queue and "自动对平" in queue and "重新对账" in queue
