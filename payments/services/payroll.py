"""工资统发 (payroll): a unit's monthly payroll file imported as its HR system writes it,
checked against the unit's 人员类 indicators and paid as personal payments through the
ordinary request path (commitment, approvals, vouchers, bank results, 退票).

Design (docs/apps/payments.md, "Payroll"):
- The file (CSV, UTF-8 with or without BOM, or GBK; Chinese headers) is parsed to plain
  rows first; a bad line is an `ImportIssue` (file, line, field, reason) and is not
  stored, the good lines are. A batch with issues is not submitted until a corrected
  file replaces it. The same file again (same SHA-256) changes nothing.
- The indicator is charged the gross pay (应发): 工资福利支出 (301) is the gross wage; the
  net (实发) goes to each person and the withheld amounts (代扣个税/社保/公积金) to their
  collecting payees, so net + withheld = gross is what the indicator pays.
- A payroll indicator is an approved indicator of the unit whose project is of category
  人员类 (`finance.dimensions.ProjectCategory.PERSONNEL`, read through
  `project_codes_of`) and whose economic code is in class 301 (工资福利支出).
- Submission files one payment request per person (net, to the person as an individual
  payee of the unit's book) and one per withheld kind, filed and submitted together
  (`payment_requests_file`: each with the checks of `payment_request_create(submit=True)`,
  one after the other); each commits on the indicator. A 退票 of one person is
  the ordinary 退票 of that person's request; `payroll_line_repay` files it again to the
  corrected account (`payment_request_refile`).
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from budgets import selectors as budget_selectors
from finance import roles
from finance.dimensions import ProjectCategory, project_codes_of
from finance.ledger import Dims
from finance.models import Organization
from finance.services import bulk_update, save_with_history, workflow_record
from payments import errors
from payments.importers.common import ImportIssue
from payments.models import (
    AgentAccount,
    Bank,
    Payee,
    PaymentRequest,
    PayrollBatch,
    PayrollLine,
    PayrollWithholding,
    VoucherBatch,
)
from payments.rules import account_problem, fmt
from payments.services._common import CENT, S
from payments.services.filing import RequestInput, payment_requests_file
from payments.services.masterdata import payee_save
from payments.services.requests import (
    LEVELS,
    Decided,
    payment_request_refile,
    payment_request_submit,
    payment_requests_approve,
)
from payments.services.vouchers import voucher_batch_create

# 工资福利支出: the economic class payroll is paid from (finance.measures counts 301 and
# 303 as 人员经费; wages themselves are 301)
PAYROLL_ECONOMIC_CLASS = "301"

# the columns as HR systems head them (first name is the one `payroll_file_text` writes)
COLUMNS: dict[str, tuple[str, ...]] = {
    "staff_no": ("工号", "人员编号", "职工编号"),
    "name": ("姓名",),
    "id_number": ("身份证号", "身份证号码", "证件号码"),
    "bank_name": ("开户银行", "开户行"),
    "account": ("银行账号", "工资卡号", "账号"),
    "gross": ("应发工资", "应发合计"),
    "tax": ("代扣个税", "个人所得税"),
    "social": ("代扣社保", "社会保险"),
    "housing": ("代扣公积金", "住房公积金"),
    "net": ("实发工资", "实发合计"),
}
AMOUNTS = ("gross", "tax", "social", "housing", "net")
WITHHELD = ("tax", "social", "housing")

MSG_HEADER = _("the header lacks the column(s) %(columns)s")
MSG_ENCODING = _("the file is neither UTF-8 nor GBK text")
MSG_EMPTY = _("the file has no payroll lines")
MSG_MISSING = _("%(column)s is empty")
MSG_AMOUNT = _("%(column)s %(value)r is not an amount of yuan with at most 2 decimal places")
MSG_NEGATIVE = _("%(column)s %(value)s is negative")
MSG_NET = _("net pay %(net)s is not gross pay %(gross)s less the withheld %(withheld)s "
            "(= %(expected)s)")
MSG_NET_POSITIVE = _("net pay must be more than 0.00")
MSG_ID = _("ID number %(value)s is not an 18-character resident ID number with a valid "
           "check digit")
MSG_BANK = _("bank %(value)s is not in the bank list")
MSG_DUPLICATE = _("%(column)s %(value)s appears again (first on line %(first)s)")
MSG_ACCOUNT = _("bank account %(value)s is malformed: %(why)s")
MSG_COLUMNS = _("the line has %(count)s fields, the header %(header)s")

MSG_PAYROLL_SHORT = _(
    "The personnel indicator (人员类) %(indicator)s has %(available)s available; the "
    "payroll's gross pay is %(gross)s, %(shortfall)s short. The payroll is refused.")
MSG_NOT_PAYROLL_INDICATOR = _(
    "%(indicator)s is not a personnel indicator (人员类) of unit %(unit)s with an economic "
    "code of class 301 (工资福利支出).")
MSG_PAYROLL_ISSUES = _("The payroll file %(file)s has %(count)s line error(s); import a "
                       "corrected file before submitting.")
MSG_PAYROLL_SUBMITTED = _("The payroll of %(unit)s for %(year)s-%(month)02d was submitted "
                          "already; its file cannot be replaced.")
MSG_PAYROLL_STATE = _("The payroll of %(unit)s for %(year)s-%(month)02d is %(status)s; it "
                      "cannot be %(action)s.")
MSG_WITHHOLDING_PAYEE = _("The payroll withholds %(amount)s of %(kind)s: name the payee it "
                          "is paid to.")
MSG_PAYROLL_REFUSED = _("The pre-review refused the payment to %(name)s: %(why)s. Nothing "
                        "was submitted.")
MSG_NOT_RETURNED = _("The payment to %(name)s is %(status)s; only a returned one (退票) is "
                     "paid again.")
MSG_LINE_BAD = _("%(name)s: %(why)s")


class PayrollError(errors.PaymentError):
    message = _("Payroll error")
    code = "payroll_error"


class PayrollIndicatorShort(PayrollError):
    message = MSG_PAYROLL_SHORT
    code = "payroll_indicator_short"


class NotPayrollIndicator(PayrollError):
    message = MSG_NOT_PAYROLL_INDICATOR
    code = "not_payroll_indicator"


class PayrollHasIssues(PayrollError):
    message = MSG_PAYROLL_ISSUES
    code = "payroll_has_issues"


class PayrollSubmitted(PayrollError):
    message = MSG_PAYROLL_SUBMITTED
    code = "payroll_submitted"


class PayrollWrongState(PayrollError):
    message = MSG_PAYROLL_STATE
    code = "payroll_wrong_state"


class WithholdingPayeeMissing(PayrollError):
    message = MSG_WITHHOLDING_PAYEE
    code = "withholding_payee_missing"


class PayrollRefused(PayrollError):
    message = MSG_PAYROLL_REFUSED
    code = "payroll_refused"


class PayrollNotReturned(PayrollError):
    message = MSG_NOT_RETURNED
    code = "payroll_not_returned"


class PayrollLineBad(PayrollError):
    message = MSG_LINE_BAD
    code = "payroll_line_bad"


# ------------------------------------------------------------------ masking
def mask(value: str, head: int = 3, tail: int = 4) -> str:
    """440***********1234: the first `head` and last `tail` characters, stars between."""
    value = value or ""
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def mask_account(account: str) -> str:
    return mask(account, 4, 4)


def line_display(line: PayrollLine, user: Any) -> dict[str, str]:
    """The ID number and account as `user` may see them: in full for
    `roles.may_see_personal_data`, masked for everyone else."""
    full = roles.may_see_personal_data(user, line.batch.unit)
    return {"id_number": line.id_number if full else line.id_masked,
            "account": line.account if full else line.account_masked}


# ------------------------------------------------------------------ the file
@dataclass(frozen=True)
class PayrollRow:
    line: int
    staff_no: str
    name: str
    id_number: str
    bank_name: str
    account: str
    gross: Decimal
    tax: Decimal
    social: Decimal
    housing: Decimal
    net: Decimal


@dataclass
class PayrollParse:
    rows: list[PayrollRow] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)
    fatal: bool = False


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# the purpose every payroll request starts with (how the treasury's lists find them)
PURPOSE = "工资统发"


def id_check_digit(body: str) -> str:
    """The check digit of a GB 11643 ID number's first 17 digits (ISO 7064 MOD 11-2)."""
    total = sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def id_number_valid(value: str) -> bool:
    """GB 11643: 17 digits and a check digit (0-9 or X) of ISO 7064 MOD 11-2."""
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return False
    return id_check_digit(value[:17]) == value[17]


def _decode(content: bytes) -> str | None:
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    for enc in ("utf-8", "gb18030"):
        try:
            return content.decode(enc)
        except UnicodeDecodeError:
            continue
    return None


def _amount(text: str) -> Decimal | None:
    text = text.strip().replace(",", "").replace("，", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value.as_tuple().exponent < -2:  # type: ignore[operator]
        return None
    return value.quantize(CENT)


def payroll_parse(content: bytes, filename: str, *, banks: set[str] | None = None) -> PayrollParse:
    """Every line of a payroll file as a `PayrollRow`, or an issue naming file, line (the
    file's line number, the header is line 1), column and reason; a line with an issue is
    not a row. `banks`: the bank names known (default: the bank list)."""
    out = PayrollParse()
    text = _decode(content)
    if text is None:
        out.issues.append(ImportIssue(filename, 0, "encoding", str(MSG_ENCODING)))
        out.fatal = True
        return out
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        out.issues.append(ImportIssue(filename, 1, "header", str(MSG_EMPTY)))
        out.fatal = True
        return out
    names = [h.strip() for h in header]
    index: dict[str, int] = {}
    for key, heads in COLUMNS.items():
        for h in heads:
            if h in names:
                index[key] = names.index(h)
                break
    if missing := [COLUMNS[k][0] for k in COLUMNS if k not in index]:
        out.issues.append(ImportIssue(filename, 1, "header", str(MSG_HEADER % {
            "columns": "、".join(missing)})))
        out.fatal = True
        return out
    if banks is None:
        banks = set(Bank.objects.values_list("name", flat=True))
    first: dict[tuple[str, str], int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        row, problems = _row(cells, line, index, len(names), banks)
        for col, why in problems:
            out.issues.append(ImportIssue(filename, line, col, why))
        if row is None:
            continue
        dup = False
        for col, value in (("staff_no", row.staff_no), ("id_number", row.id_number),
                           ("account", row.account)):
            if (col, value) in first:
                out.issues.append(ImportIssue(filename, line, col, str(MSG_DUPLICATE % {
                    "column": COLUMNS[col][0], "value": mask(value) if col != "staff_no"
                    else value, "first": first[(col, value)]})))
                dup = True
        if dup:
            continue
        for col, value in (("staff_no", row.staff_no), ("id_number", row.id_number),
                           ("account", row.account)):
            first[(col, value)] = line
        out.rows.append(row)
    if not out.rows and not out.issues:
        out.issues.append(ImportIssue(filename, 1, "header", str(MSG_EMPTY)))
        out.fatal = True
    return out


def _row(cells: list[str], line: int, index: dict[str, int], width: int,
         banks: set[str]) -> tuple[PayrollRow | None, list[tuple[str, str]]]:
    """One line as a row, or None and its problems (personal data masked in reasons)."""
    if len(cells) < width:
        return None, [("line", str(MSG_COLUMNS % {"count": len(cells), "header": width}))]
    v = {k: cells[i].strip() for k, i in index.items()}
    problems: list[tuple[str, str]] = []
    for k in ("staff_no", "name", "id_number", "bank_name", "account"):
        if not v[k]:
            problems.append((k, str(MSG_MISSING % {"column": COLUMNS[k][0]})))
    amounts: dict[str, Decimal] = {}
    for k in AMOUNTS:
        value = _amount(v[k] or "0")
        if value is None:
            problems.append((k, str(MSG_AMOUNT % {"column": COLUMNS[k][0], "value": v[k]})))
        elif value < 0:
            problems.append((k, str(MSG_NEGATIVE % {"column": COLUMNS[k][0], "value": value})))
        else:
            amounts[k] = value
    v["id_number"] = v["id_number"].upper()
    if v["id_number"] and not id_number_valid(v["id_number"]):
        problems.append(("id_number", str(MSG_ID % {"value": mask(v["id_number"])})))
    v["account"] = "".join(v["account"].split())
    if v["account"] and (why := account_problem(v["account"])):
        problems.append(("account", str(MSG_ACCOUNT % {"value": mask_account(v["account"]),
                                                       "why": why})))
    if v["bank_name"] and v["bank_name"] not in banks:
        problems.append(("bank_name", str(MSG_BANK % {"value": v["bank_name"]})))
    if len(amounts) == len(AMOUNTS):
        withheld = amounts["tax"] + amounts["social"] + amounts["housing"]
        if amounts["net"] != amounts["gross"] - withheld:
            problems.append(("net", str(MSG_NET % {
                "net": fmt(amounts["net"]), "gross": fmt(amounts["gross"]),
                "withheld": fmt(withheld), "expected": fmt(amounts["gross"] - withheld)})))
        elif amounts["net"] <= 0:
            problems.append(("net", str(MSG_NET_POSITIVE)))
    if problems:
        return None, problems
    return PayrollRow(line=line, staff_no=v["staff_no"], name=v["name"],
                      id_number=v["id_number"], bank_name=v["bank_name"], account=v["account"],
                      **amounts), []


def payroll_file_text(unit: Organization | str, year: int, month: int,
                      staff: list[dict[str, Any]]) -> str:
    """The payroll file of `unit` for a month as a unit's HR system writes it: a CSV with
    the Chinese header (工号,姓名,身份证号,开户银行,银行账号,应发工资,代扣个税,代扣社保,
    代扣公积金,实发工资), CRLF line ends, amounts with 2 places, 实发 = 应发 − 代扣. Each
    `staff` item has staff_no, name, id_number, bank_name, account, gross and (optional)
    tax, social, housing. Encode it with "utf-8-sig" (BOM, as Excel saves) or "gb18030".
    citysim calls this for every unit and month; `unit`, `year` and `month` are for the
    caller's file name (`payroll_filename`)."""
    del unit, year, month  # the HR file itself does not repeat them
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([COLUMNS[k][0] for k in COLUMNS])
    for s in staff:
        gross = Decimal(str(s["gross"])).quantize(CENT)
        withheld = [Decimal(str(s.get(k, "0"))).quantize(CENT) for k in WITHHELD]
        net = gross - sum(withheld, Decimal("0.00"))
        w.writerow([s["staff_no"], s["name"], s["id_number"], s["bank_name"], s["account"],
                    f"{gross:.2f}", *(f"{x:.2f}" for x in withheld), f"{net:.2f}"])
    return buf.getvalue()


def payroll_filename(unit: Organization | str, year: int, month: int) -> str:
    code = unit if isinstance(unit, str) else unit.code
    return f"工资表_{code}_{year}{month:02d}.csv"


# ------------------------------------------------------------------ indicators
def payroll_indicators(*, unit_code: str, year: int) -> list[budget_selectors.IndicatorRow]:
    """The unit's indicators payroll may be paid from: project of category 人员类, economic
    code of class 301, with their available amounts (budgets' register)."""
    rows = [r for r in budget_selectors.unit_indicators(unit_code=unit_code, year=year)
            if r.dims.economic.startswith(PAYROLL_ECONOMIC_CLASS) and r.dims.project]
    personnel = set(project_codes_of([ProjectCategory.PERSONNEL.value])
                    .filter(code__in=[r.dims.project for r in rows])
                    .values_list("code", flat=True))
    return [r for r in rows if r.dims.project in personnel]


def indicator_label(dims: Dims) -> str:
    return "/".join(c for c in (dims.function, dims.economic, dims.fund_source, dims.project)
                    if c)


def _payroll_indicator_check(dims: Dims, year: int) -> None:
    ok = (dims.economic.startswith(PAYROLL_ECONOMIC_CLASS) and dims.project
          and project_codes_of([ProjectCategory.PERSONNEL.value])
          .filter(code=dims.project).exists()
          and budget_selectors.indicator_exists(dims=dims, year=year))
    if not ok:
        raise NotPayrollIndicator(indicator=indicator_label(dims), unit=dims.unit)


# ------------------------------------------------------------------ import
@dataclass
class PayrollReport:
    filename: str
    batch: PayrollBatch | None = None
    stored: int = 0
    unchanged: bool = False
    issues: list[ImportIssue] = field(default_factory=list)


def payroll_import(*, content: bytes, filename: str, dims: Dims, year: int, month: int,
                   user: Any, as_of: dt.datetime | None = None) -> PayrollReport:
    """The unit's filer imports its payroll file for a month, to be paid from the 人员类
    indicator `dims`. Good lines are stored (and the batch's totals from them), bad ones
    reported with file, line, column and reason; the batch keeps the issues and is not
    submitted while it has any. The same file again changes nothing (`unchanged`); another
    file for the month replaces the lines of a batch not yet submitted."""
    as_of = as_of or timezone.now()
    roles.require(roles.may_file(user, dims.unit), user=user, role=roles.UNIT_FILER,
                  unit=dims.unit)
    org = Organization.objects.get(code=dims.unit)
    report = PayrollReport(filename=filename)
    digest = hashlib.sha256(content).hexdigest()
    _payroll_indicator_check(dims, year)
    with transaction.atomic():
        batch = (PayrollBatch.objects.select_for_update()
                 .filter(organization=org, year=year, month=month).first())
        if batch is not None and batch.sha256 == digest and batch.dims == dims:
            report.batch, report.unchanged = batch, True
            report.issues = [ImportIssue(**i) for i in batch.issues]
            return report
        if batch is not None and batch.status != PayrollBatch.Status.DRAFT:
            raise PayrollSubmitted(unit=org.code, year=year, month=month)
        parsed = payroll_parse(content, filename)
        report.issues = parsed.issues
        if parsed.fatal:
            return report
        rows = parsed.rows
        totals = {k: sum((getattr(r, k) for r in rows), Decimal("0.00")) for k in AMOUNTS}
        batch = batch or PayrollBatch(organization=org, year=year, month=month)
        for name, value in zip(("region", "unit", "function", "economic", "fund_source",
                                "project"), (dims.region, dims.unit, dims.function,
                                             dims.economic, dims.fund_source, dims.project),
                               strict=True):
            setattr(batch, name, value)
        replacing = batch.pk is not None
        batch.filename, batch.sha256, batch.staff = filename[:255], digest, len(rows)
        batch.issues = [i.as_dict() for i in parsed.issues]
        batch.filed_by, batch.filed_at = user, as_of
        for k, v in totals.items():
            setattr(batch, k, v)
        save_with_history(batch, user=user, reason=f"payroll file {filename}")
        if replacing:
            batch.lines.all().delete()
        PayrollLine.objects.bulk_create([PayrollLine(
            batch=batch, line_no=r.line, staff_no=r.staff_no, name=r.name,
            id_number=r.id_number, id_masked=mask(r.id_number), bank_name=r.bank_name,
            account=r.account, account_masked=mask_account(r.account),
            **{k: getattr(r, k) for k in AMOUNTS}) for r in rows])
        workflow_record(document=batch, from_state="", to_state=batch.status, action="import",
                        user=user, as_of=as_of,
                        comment=f"{filename}: {len(rows)} lines, {len(parsed.issues)} issues")
        report.batch, report.stored = batch, len(rows)
    return report


# ------------------------------------------------------------------ payment
def _staff_payee(org: Organization, *, name: str, account: str, bank_name: str, user: Any,
                 as_of: dt.datetime) -> Payee:
    """The person as an individual payee of the unit's book (found by account)."""
    found = Payee.objects.filter(unit=org, account_number=account).first()
    if found is not None:
        if found.name != name or not found.is_individual:
            raise PayrollLineBad(name=name, why=str(errors.MSG_PAYEE_DUPLICATE % {
                "account": mask_account(account), "payee": found.name}))
        return found
    bank = Bank.objects.filter(name=bank_name).order_by("cnaps").first()
    if bank is None:
        raise PayrollLineBad(name=name, why=str(MSG_BANK % {"value": bank_name}))
    return payee_save(name=name, account_number=account, bank_name=bank_name,
                      cnaps=bank.cnaps, is_individual=True, user=user, unit=org,
                      reason="工资统发", as_of=as_of)


def payroll_available(batch: PayrollBatch) -> Decimal:
    return budget_selectors.indicator_available(dims=batch.dims, year=batch.year)


def payroll_submit(*, batch: PayrollBatch, user: Any, withholding_payees: dict[str, Payee],
                   as_of: dt.datetime | None = None) -> PayrollBatch:
    """The filer submits the month's payroll: the gross pay must fit the 人员类 indicator
    (else `PayrollIndicatorShort` naming the indicator and the shortfall); then one
    payment request per person (net, to the person's account) and one per withheld kind
    (to `withholding_payees[kind]`) is filed and submitted, each committing on the
    indicator. All or nothing: a refusal of any leaves nothing submitted."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        batch = PayrollBatch.objects.select_for_update().get(pk=batch.pk)
        roles.require(roles.may_file(user, batch.unit), user=user, role=roles.UNIT_FILER,
                      unit=batch.unit)
        if batch.status != PayrollBatch.Status.DRAFT:
            raise PayrollWrongState(unit=batch.unit, year=batch.year, month=batch.month,
                                    status=batch.get_status_display(), action="submitted")
        if batch.issues:
            raise PayrollHasIssues(file=batch.filename, count=len(batch.issues))
        _payroll_indicator_check(batch.dims, batch.year)
        available = payroll_available(batch)
        if batch.gross > available:
            raise PayrollIndicatorShort(indicator=indicator_label(batch.dims),
                                        available=fmt(available), gross=fmt(batch.gross),
                                        shortfall=fmt(batch.gross - available))
        withheld = {k: getattr(batch, k) for k in WITHHELD if getattr(batch, k) > 0}
        for kind, amount in withheld.items():
            if withholding_payees.get(kind) is None:
                raise WithholdingPayeeMissing(
                    amount=fmt(amount), kind=PayrollWithholding.Kind(kind).label)
        org = batch.organization
        period = f"{batch.year}年{batch.month}月"
        lines = list(batch.lines.order_by("line_no"))
        items = [RequestInput(dims=batch.dims, amount=line.net, purpose=f"{PURPOSE} {period} "
                              f"{line.staff_no}", payee=_staff_payee(
                                  org, name=line.name, account=line.account,
                                  bank_name=line.bank_name, user=user, as_of=as_of))
                 for line in lines]
        for kind, amount in withheld.items():
            with translation.override(settings.LANGUAGE_CODE):  # stored text: not the UI's
                label = str(PayrollWithholding.Kind(kind).label)
            items.append(RequestInput(dims=batch.dims, amount=amount,
                                      payee=withholding_payees[kind],
                                      purpose=f"{PURPOSE} {period} {label}"))
        # every request filed and submitted as one by one would (payment_requests_file); the
        # first refusal in the file's order refuses the payroll, and nothing stays
        out = payment_requests_file(items=items, year=batch.year, user=user, as_of=as_of)
        failed = dict(out.refused)
        filed = iter(out.filed)
        reqs = []
        for n, item in enumerate(items):
            if n in failed:
                raise failed[n]
            req = next(filed)
            _refused(req, lines[n].name if n < len(lines) else item.payee.name)
            reqs.append(req)
        for line, req in zip(lines, reqs, strict=False):
            line.request = req
        bulk_update(PayrollLine, lines, ["request"])
        PayrollWithholding.objects.bulk_create([
            PayrollWithholding(batch=batch, kind=kind, amount=amount, request=req)
            for (kind, amount), req in zip(withheld.items(), reqs[len(lines):], strict=True)])
        old, batch.status, batch.submitted_at = batch.status, PayrollBatch.Status.SUBMITTED, as_of
        save_with_history(batch, user=user, reason="submitted")
        workflow_record(document=batch, from_state=old, to_state=batch.status, action="submit",
                        user=user, as_of=as_of)
        return batch


def _refused(req: PaymentRequest, name: str) -> None:
    if req.status == S.REFUSED:
        why = "; ".join(req.hits.filter(action="refuse").values_list("reason", flat=True))
        raise PayrollRefused(name=name, why=why)


def payroll_requests(batch: PayrollBatch) -> list[PaymentRequest]:
    """The batch's current requests: each person's (a returned one's new request once it
    is paid again) and the withholdings'."""
    ids = [pk for pk in batch.lines.values_list("request_id", flat=True) if pk]
    ids += list(batch.withholdings.values_list("request_id", flat=True))
    return list(PaymentRequest.objects.filter(pk__in=ids).order_by("id"))


def payroll_approve(*, batch: PayrollBatch, user: Any, comment: str = "",
                    as_of: dt.datetime | None = None) -> Decided:
    """One level of approval for every request of the batch awaiting it (the unit head,
    then the treasury reviewer, …): `payment_requests_approve`, with its checks."""
    open_ = [r for r in payroll_requests(batch) if r.status in LEVELS]
    decided = payment_requests_approve(requests=open_, user=user, comment=comment, as_of=as_of)
    if decided.refused and not decided.approved:
        raise decided.refused[0][1]
    return decided


def payroll_voucher(*, batch: PayrollBatch, agent_account: AgentAccount, user: Any,
                    as_of: dt.datetime | None = None) -> VoucherBatch:
    """The treasury puts the batch's approved requests on vouchers (one per person and
    withholding) for the agent bank: `voucher_batch_create`."""
    approved = [r for r in payroll_requests(batch) if r.status == S.APPROVED]
    return voucher_batch_create(agent_account=agent_account, user=user, requests=approved,
                                as_of=as_of)


def payroll_line_repay(*, line: PayrollLine, account: str, bank_name: str, user: Any,
                       as_of: dt.datetime | None = None) -> PaymentRequest:
    """A person's salary came back (退票): with the corrected account and bank it is filed
    again (`payment_request_refile`, the old request keeps its history) and submitted; the
    line names the new request and shows the new account masked."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        line = PayrollLine.objects.select_for_update(of=("self",)).select_related(
            "batch__organization", "request").get(pk=line.pk)
        batch = line.batch
        roles.require(roles.may_file(user, batch.unit), user=user, role=roles.UNIT_FILER,
                      unit=batch.unit)
        old = line.request
        if old is None or old.status != S.RETURNED:
            raise PayrollNotReturned(name=line.name, status=old.get_status_display()
                                     if old else "—")
        account = "".join((account or "").split())
        if why := account_problem(account):
            raise PayrollLineBad(name=line.name, why=str(MSG_ACCOUNT % {
                "value": mask_account(account), "why": why}))
        payee = _staff_payee(batch.organization, name=line.name, account=account,
                             bank_name=bank_name, user=user, as_of=as_of)
        new = payment_request_refile(request=old, payee=payee, user=user, as_of=as_of)
        new = payment_request_submit(request=new, user=user, as_of=as_of)
        _refused(new, line.name)
        line.account, line.account_masked = account, mask_account(account)
        line.bank_name, line.request = bank_name, new
        line.save(update_fields=["account", "account_masked", "bank_name", "request"])
        workflow_record(document=batch, from_state=batch.status, to_state=batch.status,
                        action="repay", user=user, as_of=as_of,
                        comment=f"{line.staff_no}: {old.tracking_id} → {new.tracking_id}")
        return new


# ------------------------------------------------------------------ figures
@dataclass(frozen=True)
class PayrollFigures:
    """What the batch page shows: amounts by the state of their requests."""

    paid: Decimal
    returned: Decimal
    in_progress: Decimal
    returned_lines: int


def payroll_figures(batch: PayrollBatch) -> PayrollFigures:
    reqs = payroll_requests(batch)
    paid = sum((r.amount for r in reqs if r.status == S.PAID), Decimal("0.00"))
    returned = sum((r.amount for r in reqs if r.status == S.RETURNED), Decimal("0.00"))
    rest = sum((r.amount for r in reqs if r.status not in (S.PAID, S.RETURNED)),
               Decimal("0.00"))
    lines = sum(1 for r in reqs if r.status == S.RETURNED)
    return PayrollFigures(paid=paid, returned=returned, in_progress=rest, returned_lines=lines)
