"""Issue 18: each role walks its main journey in real headless Chromium, in Chinese
(Accept-Language zh-hans), by clicking only — the one address typed is the first page,
/accounts/login/; after it every page is reached through a link, a button or a menu
entry, chosen by its visible Chinese text or its role (so small layout changes do not
break the walk). Forms are filled by typing into their fields.

1. payment: the filer files a request → unit head → treasury reviewer → director approve
   → the treasury issues the voucher batch → the agent bank's result file (written as the
   bank writes it: citysim.banks) is uploaded → the filer sees 已支付 on the request;
2. 用款计划: the unit applies for the month's plan, the treasury approves it, the unit
   sees it approved and what remains;
3. 二上二下: a unit's budget plan goes up (一上), down (一下 control numbers), up (二上)
   and down (批复);
4. 预算调整: a virement filed by the unit and approved by the budget office;
5. the auditor: execution report → a figure → its trace → the request → its history
   (who did what);
6. a citizen, signed out, opens the published tables and downloads one (Excel and PDF
   checked to open and to carry the figure).

Every step is photographed into $JOURNEY_ARTIFACTS/<journey>/NN-step.png (default
test-artifacts/journeys/ in the repository), and on every page the visible text is checked
for English words of the user interface (the English msgids of the project catalogues and
the model choices: statuses, workflow steps, buttons), codes allowed as in
tests/finance/test_catalogues.py (CNY, CNAPS, camt, PDF …).

The world is built through the real services (tests/web/conftest.py `world`, `treasury`);
one live server, one Chromium for the module, a fresh browser context per journey."""
from __future__ import annotations

import datetime as dt
import io
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone, translation

from payments import services as pay
from payments.models import PaymentRequest, Voucher
from tests.finance.test_catalogues import ALLOWED, CATALOGUES, PROJECT_APPS, po_entries
from tests.helpers import YEAR
from tests.web.conftest import U1, disclosure_sign_off
from tests.web.test_bank_profiles import ensure_profiles
from tests.web.test_browser import ARGS, CHROMIUM

ROOT = Path(settings.BASE_DIR)
ARTIFACTS = Path(os.environ.get("JOURNEY_ARTIFACTS", ROOT / "test-artifacts" / "journeys"))
PASSWORD = "x-Secret-123"  # noqa: S105 - the fixtures' test password

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="browser tests need Debian's Chromium at /usr/bin/chromium "
                              "(apt-get install chromium; CI installs it)"),
    pytest.mark.django_db(transaction=True),
]


# --- English on a Chinese page ------------------------------------------------------------

WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")


def _ui_words() -> frozenset[str]:
    """The English words of the user interface: every msgid of the project catalogues and
    every choice label of the project models (statuses, kinds, workflow steps), as they
    read untranslated; codes that ALLOWED lets stay in Latin letters are left out."""
    texts = [e["id"] for path in CATALOGUES for e in po_entries(path) if e["id"]]
    texts += [e["plural"] for path in CATALOGUES for e in po_entries(path) if e["plural"]]
    with translation.override("en"):
        for model in apps.get_models():
            if model._meta.app_label not in PROJECT_APPS:
                continue
            for field in model._meta.get_fields():
                texts += [f"{label}" for _v, label in getattr(field, "flatchoices", None) or ()]
    words = {w.lower() for t in texts for w in WORD.findall(ALLOWED.sub(" ", t))}
    return frozenset(w for w in words if len(w) >= 3)


UI_WORDS = _ui_words()


# a figure's trace reference (tr:v1:measure=…;year=…) is a code the auditor copies; a
# tracking id (TR2026ADD4350F875940EF) is hex whose letters may spell a word
TRACE_REF = re.compile(r"\btr:v\d+:\S+|\bTR\d{4}[0-9A-F]{8,}\b")
# a file's SHA-256 (or any long hex digest) is shown for the auditor to compare; its
# letters a–f may spell "add", "bad", "fee" between digits (CI failed on one, 2026-12-03)
DIGEST = re.compile(r"\b[0-9a-fA-F]{32,}\b")


def english_words(text: str, data: set[str]) -> list[str]:
    """The English UI words left in a page's visible text: codes (ALLOWED) and the world's
    own data in Latin letters (user names, tracking ids, file names) taken out first."""
    text = ALLOWED.sub(" ", text)
    return sorted({w for w in WORD.findall(text)
                   if w.lower() in UI_WORDS and w not in data and w.lower() not in data})


def zh(label: object) -> str:
    with translation.override("zh-hans"):
        return str(label)


# --- the walk -----------------------------------------------------------------------------

class Walk:
    """One journey in one browser context: the first page typed, every later one clicked;
    each step photographed and read for English."""

    def __init__(self, browser, base: str, name: str) -> None:  # noqa: ANN001
        self.name = name
        self.dir = ARTIFACTS / name
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.png"):
            old.unlink()
        self.ctx = browser.new_context(locale="zh-CN", accept_downloads=True,
                                       extra_http_headers={"Accept-Language": "zh-hans"},
                                       viewport={"width": 1280, "height": 900})
        self.ctx.set_default_timeout(15000)
        self.page = self.ctx.new_page()
        self.n = 0
        self.english: dict[str, list[str]] = {}
        self.data: set[str] = set()  # the world's own words in Latin letters (file names …)
        self.problems: list[str] = []  # pages that work but read wrong (kept going)
        self.bad: list[str] = []  # 4xx/5xx answers met on the walk
        self.page.on("response", lambda r: self.bad.append(f"{r.status} {r.url}")
                     if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        self.page.goto(f"{base}/accounts/login/")  # the one typed address
        self.step("sign-in-page")

    # what the page shows
    def text(self, selector: str = "body") -> str:
        return self.page.inner_text(selector)

    def step(self, what: str) -> Path:
        """Photograph the page and check it has no English UI word."""
        self.page.wait_for_load_state()
        self.n += 1
        shot = self.dir / f"{self.n:02d}-{what}.png"
        self.page.screenshot(path=str(shot), full_page=True)
        # what a reader sees: the text, and the hints shown in empty fields
        text = self.text() + "\n" + "\n".join(self.page.eval_on_selector_all(
            "input[placeholder]:not([type=hidden])", "es => es.map(e => e.placeholder)"))
        text = DIGEST.sub(" ", TRACE_REF.sub(" ", text))
        lang = self.page.locator("#language")
        if lang.count():
            text = text.replace(lang.inner_text(), " ")
        data = {w.lower() for u in get_user_model().objects.values_list("username", flat=True)
                for w in WORD.findall(u)}
        left = english_words(text, data | self.data)
        if left:  # every page of the walk is read; the journey fails at its end (finish)
            where = []
            for word in left:
                m = re.search(rf".{{0,20}}\b{re.escape(word)}\b.{{0,20}}", text)
                near = " ".join(m.group(0).split()) if m else ""
                where.append(f"{word} («{near}»)")
            self.english[f"{shot.name} /{self.page.url.split('/', 3)[-1]}"] = where
        assert not self.bad, f"{self.name} {shot.name}: error answers {self.bad}"
        return shot

    # moving by clicking
    def link(self, name: str, *, exact: bool = True, within: str = "body") -> None:
        self.page.locator(within).get_by_role("link", name=name, exact=exact).first.click()
        self.page.wait_for_load_state()

    def menu(self, name: str) -> None:
        """A side-menu entry by its label (a waiting-work badge may follow the label)."""
        self.page.locator("#sidebar a", has=self.page.get_by_text(name, exact=True)).click()
        self.page.wait_for_load_state()

    def button(self, name: str, *, exact: bool = True, within: str = "main") -> None:
        self.page.locator(within).get_by_role("button", name=name, exact=exact).first.click()
        self.page.wait_for_load_state()

    def press(self, label: str, fallback: str, *, within: str = "main") -> None:
        """The button reading `label`; if the page labels it otherwise, that is noted as a
        problem of the page (the journey fails at its end) and `fallback` is pressed."""
        scope = self.page.locator(within)
        button = scope.get_by_role("button", name=label, exact=True)
        if not button.count():
            other = scope.locator(fallback).first
            self.problems.append(f"{self.page.url.split('/', 3)[-1]}: the button "
                                 f"{other.inner_text()!r} should read {label!r}")
            button = other
        button.first.click()
        self.page.wait_for_load_state()

    def sign_in(self, username: str) -> None:
        self.page.get_by_label("用户名").fill(username)
        self.page.get_by_label("密码").fill(PASSWORD)
        self.button("登录")
        self.page.wait_for_url("**/web/**")
        assert self.text("#signed-in") == username

    def sign_out(self) -> None:
        self.page.locator("header").get_by_role("button", name="退出").click()
        self.page.wait_for_url("**/accounts/login/**")

    def finish(self) -> None:
        """The journey's pages had no English UI word (all of them listed if some had)."""
        found = "\n".join(f"  {k}: {v}" for k, v in self.english.items())
        assert not self.english, f"{self.name}: English on Chinese pages:\n{found}"
        assert not self.problems, f"{self.name}: " + "; ".join(self.problems)

    def close(self) -> None:
        self.page.screenshot(path=str(self.dir / "zz-last.png"), full_page=True)
        self.ctx.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            yield b
            b.close()


@pytest.fixture
def walk(browser, live_server, request):  # noqa: ANN001
    walks: list[Walk] = []

    def start(name: str) -> Walk:
        w = Walk(browser, live_server.url, name)
        walks.append(w)
        return w

    yield start
    for w in walks:
        w.close()


# --- the journeys -------------------------------------------------------------------------

class TestJourneys:
    def test_1_a_payment_from_filing_to_paid(self, walk, world, treasury, user,
                                             settings):  # noqa: ANN001
        from citysim import banks

        settings.PAYMENTS_DIRECTOR_THRESHOLD = "200.00"  # 300.00 needs the director too
        pay.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                         reason="filed today, outside the planned month")
        w = walk("1-payment")
        page = w.page

        w.sign_in("filer")
        w.step("filer-home")
        w.link("填报支付申请")
        page.get_by_label("指标").select_option(index=0)
        page.get_by_label("收款人").select_option(index=1)
        page.get_by_label("金额").fill("300.00")
        page.get_by_label("用途").fill("旅程测试 办公设备")
        w.step("filer-form")
        w.button("保存并送审")
        assert w.text("#status") == zh(PaymentRequest.Status.UNIT_REVIEW.label)
        w.step("filer-submitted")
        tid = PaymentRequest.objects.get(purpose="旅程测试 办公设备").tracking_id
        w.sign_out()

        for n, (who, then) in enumerate((("head", "TREASURY_REVIEW"),
                                         ("reviewer", "DIRECTOR_REVIEW"),
                                         ("director", "APPROVED"))):
            w.sign_in(who)
            page.get_by_label(tid, exact=True).check()
            page.locator("main input[name=comment]").first.fill(f"{who} 同意")
            w.button("批量同意")
            assert tid in w.text(".messages")
            w.step(f"approved-by-{who}")
            assert PaymentRequest.objects.get(tracking_id=tid).status == getattr(
                PaymentRequest.Status, then), n
            if who != "director":
                w.sign_out()

        # the director issues the vouchers for the agent bank
        w.menu("支付凭证")
        assert tid in w.text("#awaiting")
        page.locator("main select").first.select_option(str(treasury.agent.pk))
        w.step("vouchers")
        page.locator("#create-batch").click()
        page.wait_for_url("**/web/treasury/batches/*/")
        voucher = Voucher.objects.get(request__tracking_id=tid)
        assert voucher.number in w.text() and "叁佰元整" in w.text()
        w.step("batch")

        # the bank pays and answers with its own result file
        name, content = banks.results(banks.ICBC, [banks.Res(
            voucher=voucher.number, payer=treasury.agent.number,
            payee_account=world.payee.account_number, payee_name=world.payee.name,
            amount=voucher.amount, outcome="paid", ref="ICBC20261203000001",
            at=timezone.localtime().replace(tzinfo=None, microsecond=0))])
        ensure_profiles()
        w.data |= {"icbc", "standard"}  # the bank's file name, profile codes (icbc-sz, standard)
        w.menu("银行文件")
        page.locator("main input[type=file]").set_input_files(files=[{
            "name": name, "mimeType": "text/csv", "buffer": content}])
        w.step("upload")
        w.button("上传并导入")
        page.wait_for_url("**/web/treasury/imports/*/")
        page.wait_for_selector("#outcome")
        w.step("imported")
        w.sign_out()

        w.sign_in("filer")
        w.link(tid)
        assert w.text("#status") == zh(PaymentRequest.Status.PAID.label) == "已支付"
        w.step("filer-sees-paid")
        assert PaymentRequest.objects.get(tracking_id=tid).status == "paid"
        w.finish()

    def test_2_a_months_payment_plan_applied_and_approved(self, walk, world):  # noqa: ANN001
        from payments.models import PaymentPlan

        w = walk("2-payment-plan")
        page = w.page
        month = timezone.localdate().month

        w.sign_in("filer")
        w.menu("用款计划")
        w.step("filer-plans")
        page.get_by_label("指标").select_option(index=0)
        page.get_by_label("月份").select_option(str(month))
        page.get_by_label("金额").fill("400.00")
        w.step("filer-applies")
        w.button("申请")
        assert "400.00" in w.text(".messages")
        w.step("filer-applied")
        plan = PaymentPlan.objects.get(unit=U1, year=YEAR, month=month)
        assert plan.status == PaymentPlan.Status.APPLIED
        w.sign_out()

        w.sign_in("reviewer")
        w.menu("用款计划审核")
        row = page.locator(f"#plan-{plan.pk}")
        row.locator("input[name=amount]").fill("350.00")
        row.locator("input[name=comment]").fill("本月先批 350")
        w.step("treasury-queue")
        w.press("同意", "button[type=submit]", within=f"#plan-{plan.pk}")
        assert "350.00" in w.text(".messages")
        w.step("treasury-approved")
        w.sign_out()

        w.sign_in("filer")
        w.menu("用款计划")
        row = page.locator(f"#plan-{plan.pk}")
        assert zh(PaymentPlan.Status.APPROVED.label) in row.inner_text()
        assert row.locator(".remaining").inner_text() == "350.00"
        w.step("filer-sees-approved-and-remaining")
        assert PaymentPlan.objects.get(pk=plan.pk).approved == Decimal("350.00")
        w.finish()

    def test_3_a_budget_plan_up_and_down_twice_to_approval(self, walk, world):  # noqa: ANN001
        from budgets import selectors
        from budgets import services as budgets
        from budgets.models import BudgetPlan
        from finance.ledger import Dims

        p = world.people
        project = budgets.project_create(unit_code=U1, code="P2026-JOURNEY", name="旅程测试项目",
                                         category="specific", total_amount=Decimal("9000.00"),
                                         user=p.filer)
        budgets.project_submit(project=project, user=p.filer)
        budgets.project_review(project=project, user=p.dept)
        budgets.project_accept(project=project, user=p.office)
        S = BudgetPlan.Status
        w = walk("3-budget-two-up-two-down")
        page = w.page

        def open_plan(who: str) -> None:
            w.sign_in(who)
            w.menu("预算编制")
            page.locator("#plans tr", has_text=U1).get_by_role("link").first.click()
            page.wait_for_load_state()

        w.sign_in("filer")
        w.menu("预算编制")
        w.step("filer-plans")
        w.button("创建部门预算")
        w.link("在线编辑明细")
        page.locator("select[name=form-0-project]").select_option("P2026-JOURNEY")
        page.locator("input[name=form-0-function]").fill("2050203")
        page.locator("input[name=form-0-economic]").fill("30201")
        page.locator("input[name=form-0-fund_source]").fill("1")
        page.locator("input[name=form-0-amount]").fill("2,345.60")
        w.step("filer-lines")
        w.button("保存明细")
        assert w.text("#total") == "2,345.60"
        w.button("提交一上")
        assert w.text("#status") == zh(S.FIRST_SUBMITTED.label)
        w.step("one-up")
        w.sign_out()

        open_plan("dept")
        w.button("审核通过：报送财政局")
        assert w.text("#status") == zh(S.FIRST_REVIEWED.label)
        w.step("department-forwards-one-up")
        w.sign_out()

        open_plan("office")
        page.locator("input[name=fund_1]").fill("3,000.00")
        w.step("office-control-number")
        w.button("下达控制数")
        assert w.text("#status") == zh(S.CONTROLLED.label)
        w.step("one-down")
        w.sign_out()

        open_plan("filer")
        w.button("提交二上")
        assert w.text("#status") == zh(S.SECOND_SUBMITTED.label)
        w.step("two-up")
        w.sign_out()

        open_plan("dept")
        w.button("审核通过：报送财政局")
        assert w.text("#status") == zh(S.SECOND_REVIEWED.label)
        w.step("department-forwards-two-up")
        w.sign_out()

        open_plan("office")
        w.button("批复")
        assert w.text("#status") == zh(S.APPROVED.label)
        w.step("two-down-approved")
        w.sign_out()

        w.sign_in("filer")
        assert "P2026-JOURNEY" in w.text("#unit") and "2,345.60" in w.text("#unit")
        w.step("filer-sees-the-indicator")
        d = Dims(region="440300", unit=U1, function="2050203", economic="30201",
                 fund_source="1", project="P2026-JOURNEY")
        plan = BudgetPlan.objects.get(unit__code=U1)
        assert plan.status == S.APPROVED
        year = plan.approval_entry.fiscal_year  # the plan's year (the form offers next year)
        assert selectors.indicator_available(dims=d, year=year) == Decimal("2345.60")
        w.finish()

    def test_4_an_adjustment_filed_and_approved(self, walk, world):  # noqa: ANN001
        from budgets.models import Adjustment

        w = walk("4-adjustment")
        page = w.page

        w.sign_in("filer")
        assert "879.50" in w.text("#unit")
        w.menu("指标调整")
        w.step("filer-adjustments")
        w.link("填报调整或调剂")
        form = page.locator("#adjustment-form")
        form.locator("select[name=kind]").select_option("increase")
        form.locator("input[name=amount]").fill("200.00")
        form.locator("input[name=batch_no]").fill("TZ2026-07")
        form.locator("input[name=doc_no]").fill("深财预〔2026〕88号")
        form.locator("input[name=reason]").fill("追加办公设备经费")
        form.locator("select[name=target]").select_option(index=1)
        w.step("filer-form")
        w.press("填报", "button[type=submit]", within="#adjustment-form")
        page.wait_for_load_state()
        adj = Adjustment.objects.get(doc_no="深财预〔2026〕88号")
        assert w.text("#status") == zh(Adjustment.Status.SUBMITTED.label)
        w.step("filed")
        w.sign_out()

        w.sign_in("office")
        w.menu("指标调整")
        w.step("office-adjustments")
        page.locator("main tr", has_text="TZ2026-07").get_by_role("link").first.click()
        page.wait_for_load_state()
        w.step("office-opens")
        w.press("同意", "button[value=approve]")
        assert w.text("#status") == zh(Adjustment.Status.APPROVED.label)
        w.step("approved")
        w.sign_out()

        w.sign_in("filer")
        assert "1,079.50" in w.text("#unit")
        w.step("filer-sees-more-available")
        assert Adjustment.objects.get(pk=adj.pk).status == "approved"
        w.finish()

    def test_5_the_auditor_follows_a_report_figure_to_documents_and_people(
            self, walk, world):  # noqa: ANN001
        p = world.people
        pay.payment_request_approve(request=world.r1, user=p.head, comment="单位同意")
        w = walk("5-auditor-trace")
        page = w.page

        w.sign_in("auditor")
        w.menu("预算执行报表")
        w.step("execution-report")
        # the department's committed (在途) figure: r1 120.50 + r2 80.00
        page.locator("table.report").get_by_role("link", name="200.50").first.click()
        page.wait_for_load_state()
        assert w.text("#total") == "200.50"
        w.step("figure")
        w.link("审计追溯：凭证、单据与经办人")
        assert world.r1.tracking_id in w.text()
        w.step("trace")
        page.locator("main").get_by_role("link", name=re.compile(world.r1.tracking_id)).first.click()
        page.wait_for_load_state()
        w.step("request-record")
        if "/audit/history/" not in page.url:  # the request's own page: on to its history
            w.link("字段变更历史")
        history = w.text("main")
        assert "filer" in history and "head" in history, history
        w.step("history-who-did-what")
        w.finish()

    def test_6_a_citizen_downloads_a_published_table(self, walk, world, treasury,
                                                    user):  # noqa: ANN001
        import openpyxl
        import pdfplumber

        from reports import services as rep

        ds = rep.disclosure_set_create(department_code="440300100", year=YEAR, kind="budget",
                                       approved_on=dt.date(YEAR, 3, 1), user=user)
        rep.disclosure_set_approve(disclosure_id=ds.pk, user=treasury.publisher)
        disclosure_sign_off(ds, treasury)
        rep.disclosure_set_publish(disclosure_id=ds.pk, user=treasury.publisher)
        w = walk("6-citizen-download")
        page = w.page

        # the set's file names (2026_440300100_budget.pdf, datapackage.json)
        w.data |= {"budget", "datapackage", "json", "pdf", "xlsx", "csv", "fiscal"}
        w.menu("预决算公开")
        assert "深圳市教育局" in w.text("main")
        w.step("public-home")
        got = {}
        for ext in ("xlsx", "pdf"):
            link = page.locator("main").get_by_role("link", name=re.compile(rf"\.{ext}$")).first
            with page.expect_download() as dl:
                link.click()
            got[ext] = Path(dl.value.path()).read_bytes()
            w.step(f"downloaded-{ext}")
        book = openpyxl.load_workbook(io.BytesIO(got["xlsx"]), data_only=True)
        cells = [c for ws in book.worksheets for row in ws.iter_rows(values_only=True)
                 for c in row if c is not None]
        # the budget of 1,500.00 yuan (U1 1,000.00 + U2 500.00), in the tables' 万元
        assert "单位：万元" in cells
        assert any(str(c) in ("0.15", "0.1500") for c in cells), cells[:80]
        with pdfplumber.open(io.BytesIO(got["pdf"])) as pdf:
            text = "\n".join(p.extract_text() or "" for p in pdf.pages)
        assert "深圳市教育局" in text and "0.15" in text, text[:2000]
        w.finish()
