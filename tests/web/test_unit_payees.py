"""The budget unit's screens around payment requests (issue 18): the unit's payee book
(收款人: list, search, pages, add and edit with a reason and history, block / unblock, the
CNAPS look-up), the request form's contract number and attachments (limits, downloads
only for who may see the request), withdrawing (撤回 / 作废) a draft, refused or returned
request, filing a returned one again, and the request page's trail links. Everything goes
through the pages with the real services; expected figures are worked out by hand."""
from __future__ import annotations

import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from finance import selectors as ledger
from finance.errors import NotPermitted
from finance.models import Entry, WorkflowStep
from payments import errors
from payments import services as pay
from payments.models import Payee, PaymentRequest
from tests.helpers import YEAR, dims
from tests.web.bank_files import result_csv
from tests.web.conftest import U1, U2
from tests.web.test_treasury_screens import PAY_TIME, approve, paid, upload  # noqa: F401

pytestmark = pytest.mark.django_db
# the permission matrix of these pages (tests/web/test_permissions.py's registry)
ROLES = ["anonymous", "filer", "head", "other_filer", "dept", "reviewer", "office", "auditor"]
LOGIN, A, D, N, M = 302, 200, 403, 404, 405  # M: permitted, but the page takes POST only
PAGES = {
    "/web/payees/":                               [LOGIN, A, A, A, A, A, A, A],
    "/web/payees/new/":                           [LOGIN, A, D, A, D, D, D, D],
    "/web/payees/{p1}/":                          [LOGIN, A, A, N, A, A, A, A],
    "/web/payees/{p2}/":                          [LOGIN, N, N, A, A, A, A, A],
    "/web/payees/{shared}/":                      [LOGIN, A, A, A, A, A, A, A],
    "/web/payees/{p1}/block/":                    [LOGIN, M, M, M, M, M, M, M],
    "/web/payees/bank/?cnaps=102584002015":       [LOGIN, A, A, A, A, A, A, A],
    "/web/requests/{r1}/withdraw/":               [LOGIN, M, M, M, M, M, M, M],
    "/web/requests/{r1}/attachments/{att}/":      [LOGIN, A, A, N, A, A, A, A],
}
NEW = "/web/payees/new/"
FILE = f"/web/requests/new/?year={YEAR}"
PDF = b"%PDF-1.4\n% a contract\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 40


def zh() -> Client:
    return Client(headers={"accept-language": "zh-hans"})


def body(response) -> str:  # noqa: ANN001
    return response.content.decode()


@pytest.fixture
def book(world, user):  # noqa: ANN001
    """One payee in each unit's book (added by its filer) and r1 with an attachment."""
    p1 = pay.payee_unit_save(unit=world.orgs["u1"], name="深圳市一中食堂供应商",
                             account_number="6222020200111111111", cnaps="102584002015",
                             user=world.people.filer, reason="新增")
    p2 = pay.payee_unit_save(unit=world.orgs["u2"], name="深圳市二中保洁公司",
                             account_number="6222020200222222222", cnaps="102584002015",
                             user=world.people.other_filer, reason="新增")
    req = pay.payment_request_create(dims=dims(unit=U1), year=YEAR, amount=Decimal("10.00"),
                                     payee=p1, purpose="食堂", user=world.people.filer,
                                     attachments=[("合同.pdf", PDF)])
    return SimpleNamespace(p1=p1, p2=p2, req=req, att=req.attachments.get())


def test_every_page_for_every_role(client, world, book):  # noqa: ANN001
    ids = {"p1": book.p1.pk, "p2": book.p2.pk, "shared": world.payee.pk,
           "r1": book.req.tracking_id, "att": book.att.pk}
    wrong, leaks = [], []
    for role in ROLES:
        client.logout()
        if role != "anonymous":
            client.force_login(getattr(world.people, role))
        for template, answers in PAGES.items():
            response = client.get(template.format(**ids))
            if response.status_code != answers[ROLES.index(role)]:
                wrong.append(f"{role} {template}: {response.status_code}, "
                             f"expected {answers[ROLES.index(role)]}")
        listed = body(client.get("/web/payees/")) if role != "anonymous" else ""
        if role in ("filer", "head") and book.p2.name in listed:
            leaks.append(role)
        if role == "other_filer" and book.p1.name in listed:
            leaks.append(role)
    assert wrong == [] and leaks == []


class TestPayeeBook:
    def test_the_filer_adds_a_payee_and_the_bank_comes_from_the_cnaps_code(
            self, client, world):  # noqa: ANN001
        client.force_login(world.people.filer)
        page = body(client.get(NEW))
        assert 'data-lookup="/web/payees/bank/"' in page and "web/payee_bank.js" in page
        data = {"name": "深圳市南山某印刷厂", "account_number": "6222 0202 0033 4455 667",
                "cnaps": "102584002015", "is_individual": ""}
        response = client.post(NEW, data)
        payee = Payee.objects.get(name="深圳市南山某印刷厂")
        assert response["Location"] == f"/web/payees/{payee.pk}/"
        # the bank list has 102584002015 中国工商银行深圳南山支行: bank and branch split
        assert (payee.unit, payee.account_number, payee.bank_name, payee.branch_name,
                payee.cnaps) == (world.orgs["u1"], "6222020200334455667", "中国工商银行",
                                 "深圳南山支行", "102584002015")
        detail = body(client.get(response["Location"]))
        assert "added to the payee book" in detail and "filer" in detail
        # the same account twice in the unit's book is refused; another unit may have it
        again = body(client.post(NEW, {**data, "name": "印刷厂（重复）"}))
        assert ("Account 6222020200334455667 is already in the unit&#x27;s payee book as "
                "深圳市南山某印刷厂.") in again
        client.force_login(world.people.other_filer)
        client.post(NEW, data)
        assert Payee.objects.filter(account_number="6222020200334455667").count() == 2

    def test_bad_cnaps_codes_and_accounts_get_clear_messages_in_chinese(self, world):  # noqa: ANN001
        c = zh()
        c.force_login(world.people.filer)
        ok = {"name": "某公司", "account_number": "6222020200334455667", "cnaps": "102584002015"}
        short = body(c.post(NEW, {**ok, "cnaps": "10258400201"}))
        assert "联行号 10258400201 应为 12 位数字。" in short
        unknown = body(c.post(NEW, {**ok, "cnaps": "999584002015"}))
        assert "联行号 999584002015 不是已知的银行网点" in unknown
        letters = body(c.post(NEW, {**ok, "account_number": "62220202AB"}))
        assert "收款账号 62220202AB 无效：只能包含数字。" in letters
        too_short = body(c.post(NEW, {**ok, "account_number": "1234567"}))
        assert "收款账号 1234567 无效：7 位，应为 8 至 32 位。" in too_short
        assert not Payee.objects.filter(name="某公司").exists()

    def test_the_cnaps_look_up_answers_json(self, world):  # noqa: ANN001
        c = zh()
        c.force_login(world.people.filer)
        ok = c.get("/web/payees/bank/?cnaps=102584002015")
        assert ok.json() == {"cnaps": "102584002015", "bank_name": "中国工商银行",
                             "branch_name": "深圳南山支行"}
        bad = c.get("/web/payees/bank/?cnaps=1025")
        assert bad.status_code == 400 and bad.json()["error"] == "联行号 1025 应为 12 位数字。"
        assert c.get("/web/payees/bank/?cnaps=999584002015").json()["code"] == "cnaps_unknown"

    def test_a_change_needs_a_reason_and_is_shown_in_the_history(self, client, world, book):  # noqa: ANN001
        client.force_login(world.people.filer)
        url = f"/web/payees/{book.p1.pk}/"
        data = {"name": book.p1.name, "account_number": "6222020200999999999",
                "cnaps": "102584002015"}
        no_reason = client.post(url, data)
        assert no_reason.status_code == 200 and "This field is required." in body(no_reason)
        assert Payee.objects.get(pk=book.p1.pk).account_number == "6222020200111111111"
        response = client.post(url, {**data, "reason": "供应商更换收款账户（函件2026-3号）"})
        assert response["Location"] == url
        page = body(client.get(url))
        assert "供应商更换收款账户（函件2026-3号）" in page
        assert "Account number: 6222020200111111111 → 6222020200999999999" in page
        history = list(Payee.objects.get(pk=book.p1.pk).history.order_by("history_id")
                       .values_list("history_change_reason", "account_number"))
        assert history == [("新增", "6222020200111111111"),
                           ("供应商更换收款账户（函件2026-3号）", "6222020200999999999")]

    def test_only_the_units_filer_changes_its_payees(self, client, world, book):  # noqa: ANN001
        client.force_login(world.people.head)
        page = body(client.get(f"/web/payees/{book.p1.pk}/"))
        assert 'id="payee-edit"' not in page and 'id="block-submit"' not in page
        assert client.post(f"/web/payees/{book.p1.pk}/", {"name": "x"}).status_code == 403
        client.force_login(world.people.filer)  # a shared payee: read only for a unit
        shared = body(client.get(f"/web/payees/{world.payee.pk}/"))
        assert 'id="payee-edit"' not in shared
        with pytest.raises(errors.PayeeShared):
            pay.payee_unit_save(unit=world.orgs["u1"], payee=world.payee, name="x",
                                account_number="6222020200999999999", cnaps="102584002015",
                                user=world.people.filer, reason="改")
        with pytest.raises(errors.PayeeOtherUnit):
            pay.payee_unit_save(unit=world.orgs["u2"], payee=book.p1, name="x",
                                account_number="6222020200999999999", cnaps="102584002015",
                                user=world.people.other_filer, reason="改")
        with pytest.raises(NotPermitted):
            pay.payee_unit_save(unit=world.orgs["u1"], name="x",
                                account_number="6222020200999999999", cnaps="102584002015",
                                user=world.people.head, reason="新增")

    def test_block_and_unblock_with_a_reason(self, client, world, book):  # noqa: ANN001
        client.force_login(world.people.filer)
        url = f"/web/payees/{book.p1.pk}/block/"
        client.post(url, {"action": "block", "reason": ""})
        assert not Payee.objects.get(pk=book.p1.pk).blocked
        page = body(client.post(url, {"action": "block", "reason": "账户冻结"}, follow=True))
        assert "is blocked: requests to it are refused." in page
        p = Payee.objects.get(pk=book.p1.pk)
        assert (p.blocked, p.blocked_reason) == (True, "账户冻结")
        form = client.get(FILE).context["form"]
        assert book.p1 not in form.fields["payee"].queryset  # no longer offered
        client.post(url, {"action": "unblock", "reason": "已解冻"})
        assert Payee.objects.get(pk=book.p1.pk).blocked is False
        # a shared payee: only the treasury blocks it
        shared = f"/web/payees/{world.payee.pk}/block/"
        msg = body(client.post(shared, {"action": "block", "reason": "x"}, follow=True))
        assert "is shared by every unit; only the treasury changes it." in msg
        client.force_login(world.people.reviewer)
        client.post(shared, {"action": "block", "reason": "黑名单"})
        assert Payee.objects.get(pk=world.payee.pk).blocked

    def test_search_and_pages(self, client, world, user):  # noqa: ANN001
        for i in range(60):
            pay.payee_save(unit=world.orgs["u1"], name=f"批量收款人{i:02d}",
                           account_number=f"62220202{i:011d}", bank_name="中国工商银行",
                           cnaps="102584002015", user=user, reason="导入")
        client.force_login(world.people.filer)
        first = client.get("/web/payees/?q=批量")
        assert len(first.context["page"]) == 50 and first.context["page"].paginator.count == 60
        second = client.get("/web/payees/?q=批量&page=2")
        assert [p.name for p in second.context["page"]][0] == "批量收款人50"
        assert len(second.context["page"]) == 10
        assert "page 2 of 2 (60 rows)" in body(second)
        by_account = client.get("/web/payees/?q=6222020200000000007").context["page"]
        assert [p.name for p in by_account] == ["批量收款人07"]
        shared = client.get("/web/payees/?show=shared").context["page"]
        assert [p.name for p in shared] == ["深圳市南山某科技有限公司"]
        client.force_login(world.people.other_filer)  # another unit's book is not listed
        assert client.get("/web/payees/?q=批量").context["page"].paginator.count == 0


class TestFilingForm:
    def test_the_form_offers_the_units_payees_and_a_link_to_add_one(self, client, world, book):  # noqa: ANN001
        client.force_login(world.people.filer)
        page = client.get(FILE)
        offered = set(page.context["form"].fields["payee"].queryset)
        assert offered == {book.p1, world.payee}  # its own and the shared; not U2's
        link = re.search(r'id="payee-new" [^>]*href="([^"]+)"', body(page)).group(1)
        assert link == "/web/payees/new/?next=%2Fweb%2Frequests%2Fnew%2F%3Fyear%3D2026"
        # adding a payee from there comes back to the form with the payee chosen
        response = client.post(link.replace("&amp;", "&"), {
            "name": "新供应商", "account_number": "6222020200555555555",
            "cnaps": "102584002015"})
        new = Payee.objects.get(name="新供应商")
        assert response["Location"] == f"/web/requests/new/?year=2026&payee={new.pk}"
        assert client.get(response["Location"]).context["form"]["payee"].value() == str(new.pk)

    def test_another_units_payee_is_refused(self, client, world, book):  # noqa: ANN001
        client.force_login(world.people.filer)
        indicator = client.get(FILE).context["form"].fields["indicator"].choices[0][0]
        before = PaymentRequest.objects.count()
        page = client.post(FILE, {"indicator": indicator, "payee": book.p2.pk,
                                  "amount": "5.00", "purpose": "x"})
        assert "Select a valid choice" in body(page)
        with pytest.raises(errors.PayeeOtherUnit) as exc:
            pay.payment_request_create(dims=dims(unit=U1), year=YEAR, amount=Decimal("5.00"),
                                       payee=book.p2, purpose="x", user=world.people.filer)
        assert str(exc.value) == (
            "Payee 深圳市二中保洁公司 is not in the payee book of unit 440300101; a request "
            "pays the unit's own payees or shared ones. Nothing was saved.")
        assert PaymentRequest.objects.count() == before


def _file(client, world, **extra):  # noqa: ANN001, ANN202
    indicator = client.get(FILE).context["form"].fields["indicator"].choices[0][0]
    return client.post(FILE, {"indicator": indicator, "payee": world.payee.pk,
                              "amount": "66.60", "purpose": "设备维修", **extra})


class TestAttachments:
    def test_contract_and_attachments_are_filed_listed_and_downloaded(self, client, world):  # noqa: ANN001
        client.force_login(world.people.filer)
        response = _file(client, world, contract_ref="HT-2026-031", attachments=[
            SimpleUploadedFile("维修合同.pdf", PDF), SimpleUploadedFile("验收照片.png", PNG)])
        req = PaymentRequest.objects.get(purpose="设备维修")
        assert response["Location"] == f"/web/requests/{req.tracking_id}/"
        assert req.contract_ref == "HT-2026-031"
        atts = list(req.attachments.order_by("id"))
        assert [(a.name, a.size, a.content_type) for a in atts] == [
            ("维修合同.pdf", 22, "application/pdf"), ("验收照片.png", 48, "image/png")]
        page = body(client.get(response["Location"]))
        assert "HT-2026-031" in page and "维修合同.pdf" in page and "22\xa0bytes" in page  # filesizeformat: a no-break space
        url = f"/web/requests/{req.tracking_id}/attachments/{atts[0].pk}/"
        assert f'href="{url}"' in page
        download = client.get(url)
        assert b"".join(download.streaming_content) == PDF
        assert download["Content-Type"] == "application/pdf"
        assert download["Content-Disposition"].startswith("attachment;")
        # who may not see the request may not download its files
        client.force_login(world.people.other_filer)
        assert client.get(url).status_code == 404
        client.force_login(world.people.auditor)
        assert client.get(url).status_code == 200
        client.force_login(world.people.filer)  # an attachment of another request: 404
        assert client.get(f"/web/requests/{world.r1.tracking_id}/attachments/{atts[0].pk}/"
                          ).status_code == 404

    def test_size_type_and_count_limits_with_clear_messages(self, client, world, settings):  # noqa: ANN001
        settings.PAYMENTS_ATTACHMENT_MAX_MB = 1
        settings.PAYMENTS_ATTACHMENT_MAX_COUNT = 2
        client.force_login(world.people.filer)
        before = PaymentRequest.objects.count()
        big = PDF + b"0" * (1536 * 1024 - len(PDF))  # 1.5 MB
        page = body(_file(client, world, attachments=[SimpleUploadedFile("大.pdf", big)]))
        assert ("Attachment 大.pdf is 1.5\xa0MB; a file may be at most 1.0\xa0MB. Nothing was "
                "saved.") in page
        page = body(_file(client, world, attachments=[SimpleUploadedFile("说明.txt", b"hi")]))
        assert ("Attachment 说明.txt is not an accepted file (PDF, OFD, JPEG, PNG, Word or "
                "Excel: its name does not end in .pdf, .ofd, .jpg, .jpeg, .png, .docx or "
                ".xlsx). Nothing was saved.") in page
        page = body(_file(client, world, attachments=[SimpleUploadedFile("x.pdf", b"MZ\x90")]))
        assert "its content is not what its name says" in page
        three = [SimpleUploadedFile(f"{i}.pdf", PDF) for i in range(3)]
        page = body(_file(client, world, attachments=three))
        assert "A request takes at most 2 attachments; 3 were given. Nothing was saved." in page
        assert PaymentRequest.objects.count() == before
        c = zh()
        c.force_login(world.people.filer)
        page = body(_file(c, world, attachments=[SimpleUploadedFile("大.pdf", big)]))
        assert "附件 大.pdf 大小为 1.5\xa0MB，每个文件最多 1.0\xa0MB。未保存任何内容。" in page


@pytest.fixture
def refused(world, user):  # noqa: ANN001
    """A request of U1 refused by the rules: its payee is blocked."""
    pay.fund_source_plan_control_set(fund_source="1", enabled=False, user=user, reason="test")
    blocked = pay.payee_save(name="冻结户", account_number="6222020200777777777",
                             bank_name="中国工商银行", cnaps="102584002015", user=user,
                             reason="set-up")
    pay.payee_block(payee=blocked, blocked=True, reason="法院冻结", user=user)
    req = pay.payment_request_create(dims=dims(unit=U1), year=YEAR, amount=Decimal("88.00"),
                                     payee=blocked, purpose="印刷费", user=world.people.filer,
                                     contract_ref="HT-2026-007", submit=True)
    assert req.status == "refused"
    return req


@pytest.fixture
def returned(world, treasury, client, django_capture_on_commit_callbacks):  # noqa: ANN001
    """r1 (120.50) approved, put on a voucher and returned by the bank (退票)."""
    approve(world)
    batch = pay.voucher_batch_create(agent_account=treasury.agent, user=world.people.reviewer)
    client.force_login(world.people.reviewer)
    vouchers = client.get(f"/web/treasury/batches/{batch.pk}/csv/").content
    number = batch.vouchers.get().number
    upload(client, result_csv(vouchers, traded_at=f"{timezone.localtime():{PAY_TIME}}",
                              failures={number: "收款账号户名不符"}),
           "results.csv", django_capture_on_commit_callbacks)
    client.logout()
    req = PaymentRequest.objects.get(pk=world.r1.pk)
    assert req.status == "returned"
    return req


def _balances(unit: str = U1) -> tuple[Decimal, Decimal]:
    return (ledger.balance(account="9101", year=YEAR, unit=unit),
            ledger.balance(account="9201", year=YEAR, unit=unit))


class TestWithdraw:
    def test_a_refused_request_offers_both_choices_and_is_withdrawn(self, client, world, refused):  # noqa: ANN001
        # U1: 1,000.00 approved, r1 (120.50) committed; the refused request holds nothing
        assert _balances() == (Decimal("879.50"), Decimal("120.50"))
        client.force_login(world.people.filer)
        url = f"/web/requests/{refused.tracking_id}/"
        page = body(client.get(url))
        assert 'id="refile-submit"' in page and 'id="withdraw-submit"' in page
        assert "The rules refused this request. Correct it and file it again, or withdraw it." in page
        client.post(f"{url}withdraw/", {"reason": ""})
        assert PaymentRequest.objects.get(pk=refused.pk).status == "refused"
        entries = Entry.objects.count()
        response = client.post(f"{url}withdraw/", {"reason": "项目取消，不再支付"}, follow=True)
        assert "is withdrawn" in body(response)
        req = PaymentRequest.objects.get(pk=refused.pk)
        assert req.status == "withdrawn"
        assert Entry.objects.count() == entries  # nothing was held: nothing posted
        assert _balances() == (Decimal("879.50"), Decimal("120.50"))
        step = WorkflowStep.objects.get(doc_id=str(req.pk), action="withdraw")
        assert (step.from_state, step.to_state, step.comment) == (
            "refused", "withdrawn", "项目取消，不再支付")
        assert req.history.first().history_change_reason == "withdrawn: 项目取消，不再支付"
        after = body(client.get(url))
        assert 'id="refile-submit"' not in after and 'id="withdraw-submit"' not in after
        assert 'id="submit"' not in after and "status-withdrawn" in after
        assert "Withdrawn: 项目取消，不再支付" in after
        with pytest.raises(errors.WrongState):
            pay.payment_request_submit(request=req, user=world.people.filer)
        with pytest.raises(errors.WrongState):
            pay.payment_request_refile(request=req, user=world.people.filer)

    def test_a_returned_request_is_filed_again_or_withdrawn(self, client, world, returned):  # noqa: ANN001
        # the 退票 released the commitment: U1's 1,000.00 is all available again
        assert _balances() == (Decimal("1000.00"), Decimal("0.00"))
        client.force_login(world.people.filer)
        url = f"/web/requests/{returned.tracking_id}/"
        page = body(client.get(url))
        assert "The bank returned this payment (退票)." in page
        assert 'id="refile-submit"' in page and 'id="withdraw-submit"' in page
        kinds = list(Entry.objects.filter(tracking_id=returned.tracking_id)
                     .order_by("number").values_list("kind", flat=True))
        assert kinds == ["commit", "reversal"]
        client.post(f"{url}withdraw/", {"reason": "收款人信息有误，改用其他方式结算"})
        assert PaymentRequest.objects.get(pk=returned.pk).status == "withdrawn"
        assert Entry.objects.filter(tracking_id=returned.tracking_id).count() == 2
        assert _balances() == (Decimal("1000.00"), Decimal("0.00"))

    def test_a_returned_request_is_filed_again_with_its_references(
            self, client, world, returned):  # noqa: ANN001
        client.force_login(world.people.filer)
        response = client.post(f"/web/requests/{returned.tracking_id}/refile/", {
            "payee": world.payee.pk, "amount": "120.50", "purpose": "一中办公费（更正户名）"})
        new = PaymentRequest.objects.get(purpose="一中办公费（更正户名）")
        assert response["Location"] == f"/web/requests/{new.tracking_id}/"
        assert (new.status, new.amount, new.dims) == ("draft", Decimal("120.50"), returned.dims)
        old = body(client.get(f"/web/requests/{returned.tracking_id}/"))
        assert f'href="/web/requests/{new.tracking_id}/"' in old
        assert 'id="withdraw-submit"' not in old  # carried on by the new draft
        with pytest.raises(errors.AlreadyRefiled):
            pay.payment_request_withdraw(request=returned, user=world.people.filer, reason="x")

    def test_what_a_request_still_holds_is_released(self, world):  # noqa: ANN001
        # r1 committed 120.50; were it returned without its release posted, withdrawing
        # releases it: 879.50 + 120.50 = 1,000.00 available, nothing committed
        PaymentRequest.objects.filter(pk=world.r1.pk).update(status="returned")
        req = pay.payment_request_withdraw(request=world.r1, user=world.people.filer,
                                           reason="退票未释放")
        assert req.status == "withdrawn"
        assert _balances() == (Decimal("1000.00"), Decimal("0.00"))
        release = Entry.objects.get(tracking_id=world.r1.tracking_id, kind="reversal")
        assert release.reverses_id == world.r1.commit_entry_id

    def test_who_and_when(self, world):  # noqa: ANN001
        with pytest.raises(errors.WrongState) as exc:  # r1 is under review
            pay.payment_request_withdraw(request=world.r1, user=world.people.filer, reason="x")
        assert str(exc.value) == (f"Request {world.r1.tracking_id} is awaiting unit head; "
                                  "it cannot be withdrawn.")
        draft = pay.payment_request_create(dims=dims(unit=U1), year=YEAR, amount=Decimal("1.00"),
                                           payee=world.payee, purpose="草稿",
                                           user=world.people.filer)
        with pytest.raises(errors.ReasonRequired):
            pay.payment_request_withdraw(request=draft, user=world.people.filer, reason=" ")
        for person in (world.people.head, world.people.other_filer, world.people.reviewer):
            with pytest.raises(NotPermitted):
                pay.payment_request_withdraw(request=draft, user=person, reason="x")
        done = pay.payment_request_withdraw(request=draft, user=world.people.filer,
                                            reason="填错了")
        assert done.status == "withdrawn"
        other = pay.payment_request_create(dims=dims(unit=U2), year=YEAR, amount=Decimal("1.00"),
                                           payee=world.payee, purpose="草稿",
                                           user=world.people.other_filer)
        with pytest.raises(NotPermitted):
            pay.payment_request_withdraw(request=other, user=world.people.filer, reason="x")


class TestTrail:
    def test_each_link_is_shown_only_to_who_may_open_it(self, client, world, paid):  # noqa: ANN001, F811
        url = f"/web/requests/{world.r1.tracking_id}/"
        client.force_login(world.people.reviewer)
        page = body(client.get(url))
        trail = page.split('id="trail"', 1)[1].split("</ul>", 1)[0]
        links = re.findall(r'href="([^"]+)"', trail)
        assert links == [f"/payments/trace/{world.r1.tracking_id}/",
                         f"/web/treasury/batches/{paid['batch']}/",
                         f"/web/treasury/imports/{paid['job']}/"]
        for link in links:
            assert client.get(link).status_code == 200, link
        client.force_login(world.people.auditor)
        trail = body(client.get(url)).split('id="trail"', 1)[1].split("</ul>", 1)[0]
        links = re.findall(r'href="([^"]+)"', trail)
        entries = list(Entry.objects.filter(tracking_id=world.r1.tracking_id)
                       .order_by("number").values_list("pk", flat=True))
        assert len(entries) == 2  # commit and payment
        assert links == [f"/payments/trace/{world.r1.tracking_id}/",
                         *[f"/audit/entries/{pk}/" for pk in entries],
                         f"/audit/history/payments.paymentrequest/{world.r1.pk}/"]
        for link in links:
            assert client.get(link).status_code == 200, link
        client.force_login(world.people.filer)
        trail = body(client.get(url)).split('id="trail"', 1)[1].split("</ul>", 1)[0]
        assert re.findall(r'href="([^"]+)"', trail) == [f"/payments/trace/{world.r1.tracking_id}/"]
