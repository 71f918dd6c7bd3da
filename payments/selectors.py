"""Reads of the payments app: request trail, available amounts, voucher exports
(bank CSV, ISO 20022 pain.001.001.09), the clearing-limit notice, exceptions."""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from lxml import etree

from finance import chart
from finance import selectors as ledger
from finance.models import Entry
from payments.models import (
    ClearingNotice,
    Membership,
    PaymentRequest,
    ReconException,
    StatementLine,
    Voucher,
    VoucherBatch,
)

PAIN = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
CSV_HEADER = ["支付凭证号", "凭证日期", "付款账号", "付款户名", "收款账号", "收款户名", "收款行",
              "收款行联行号", "金额", "金额大写", "用途", "业务追溯码"]


def available(*, year: int, region: str, unit: str, function: str, economic: str,
              fund_source: str, project: str = "") -> Decimal:
    """An indicator's available amount: the balance of 9101 on its tuple."""
    return ledger.balance(account=chart.AVAILABLE, year=year, region=region, unit=unit,
                          function=function, economic=economic, fund_source=fund_source,
                          project=project)


TREASURY_ROLES = ("treasury_reviewer", "treasury_director")


def requests_all() -> QuerySet[PaymentRequest]:
    """Every request, newest first; the API narrows it to the caller's units
    (finance.access.scope_by_unit)."""
    return PaymentRequest.objects.select_related("payee").order_by("-filed_at", "-id")


def requests_for(user: Any) -> QuerySet[PaymentRequest]:
    """Treasury and staff see every request; anyone else only their unit's."""
    qs = PaymentRequest.objects.select_related("payee").order_by("-filed_at", "-id")
    if user.is_staff or user.groups.filter(name__in=TREASURY_ROLES).exists():
        return qs
    member = Membership.objects.filter(user=user).select_related("organization").first()
    return qs.filter(unit=member.organization.code) if member else qs.none()


def request_trace(*, tracking_id: str) -> dict[str, object]:
    """业务追溯: everything that carries one tracking id, indicator to ledger entries."""
    req = PaymentRequest.objects.select_related("plan", "payee").get(tracking_id=tracking_id)
    voucher = Voucher.objects.filter(request=req).first()
    return {
        "request": req, "plan": req.plan, "voucher": voucher,
        "results": list(voucher.results.all()) if voucher else [],
        "statement_lines": list(StatementLine.objects.filter(tracking_id=tracking_id)),
        "entries": list(Entry.objects.filter(tracking_id=tracking_id).order_by("number")),
    }


def open_exceptions() -> QuerySet[ReconException]:
    return ReconException.objects.filter(status=ReconException.Status.OPEN)


def voucher_batch_csv(*, batch: VoucherBatch) -> bytes:
    """The vouchers for the agent bank as GBK CSV (the way the bank sends its results)."""
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_HEADER)
    acct = batch.agent_account
    for v in batch.vouchers.select_related("request__payee").order_by("number"):
        p = v.request.payee
        w.writerow([v.number, v.date.isoformat(), acct.number, acct.name, p.account_number,
                    p.name, f"{p.bank_name}{p.branch_name}", p.cnaps, f"{v.amount:.2f}",
                    v.amount_capital, v.request.purpose, v.request.tracking_id])
    return out.getvalue().encode("gb18030")


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{PAIN}}}{tag}", **attrs)
    if text is not None:
        el.text = text
    return el


def voucher_batch_pain001(*, batch: VoucherBatch) -> bytes:
    """ISO 20022 CustomerCreditTransferInitiation (pain.001.001.09): one payment
    information block for the agent account, one transaction per voucher with the
    voucher number as EndToEndId."""
    vouchers = list(batch.vouchers.select_related("request__payee").order_by("number"))
    acct = batch.agent_account
    total = sum((v.amount for v in vouchers), Decimal("0.00"))
    root = etree.Element(f"{{{PAIN}}}Document", nsmap={None: PAIN})
    init = _el(root, "CstmrCdtTrfInitn")
    hdr = _el(init, "GrpHdr")
    _el(hdr, "MsgId", f"VB{batch.pk:08d}")
    _el(hdr, "CreDtTm", timezone.localtime(batch.created_at).isoformat(timespec="seconds"))
    _el(hdr, "NbOfTxs", str(len(vouchers)))
    _el(hdr, "CtrlSum", f"{total:.2f}")
    _el(_el(hdr, "InitgPty"), "Nm", acct.name)
    pmt = _el(init, "PmtInf")
    _el(pmt, "PmtInfId", f"VB{batch.pk:08d}-1")
    _el(pmt, "PmtMtd", "TRF")
    _el(pmt, "NbOfTxs", str(len(vouchers)))
    _el(pmt, "CtrlSum", f"{total:.2f}")
    _el(_el(pmt, "ReqdExctnDt"), "Dt", batch.date.isoformat())
    _el(_el(pmt, "Dbtr"), "Nm", acct.name)
    _el(_el(_el(_el(pmt, "DbtrAcct"), "Id"), "Othr"), "Id", acct.number)
    _cnaps_agent(_el(pmt, "DbtrAgt"), acct.bank.cnaps)
    for v in vouchers:
        p = v.request.payee
        tx = _el(pmt, "CdtTrfTxInf")
        _el(_el(tx, "PmtId"), "EndToEndId", v.number)
        _el(_el(tx, "Amt"), "InstdAmt", f"{v.amount:.2f}", Ccy="CNY")
        _cnaps_agent(_el(tx, "CdtrAgt"), p.cnaps, f"{p.bank_name}{p.branch_name}")
        _el(_el(tx, "Cdtr"), "Nm", p.name)
        _el(_el(_el(_el(tx, "CdtrAcct"), "Id"), "Othr"), "Id", p.account_number)
        _el(_el(tx, "RmtInf"), "Ustrd", v.request.purpose[:140])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _cnaps_agent(agent: etree._Element, cnaps: str, name: str = "") -> None:
    fin = _el(agent, "FinInstnId")
    mmb = _el(fin, "ClrSysMmbId")
    _el(_el(mmb, "ClrSysId"), "Cd", "CNAPS")
    _el(mmb, "MmbId", cnaps)
    if name:
        _el(fin, "Nm", name)


def clearing_notice_csv(*, notice: ClearingNotice) -> bytes:
    """清算额度通知单 for the central bank: the day's vouchers per agent bank."""
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["清算额度通知单", notice.date.isoformat()])
    w.writerow(["代理银行", notice.agent_account.bank.name, "零余额账户", notice.agent_account.number])
    w.writerow(["支付凭证号", "收款户名", "金额"])
    for v in (Voucher.objects.filter(batch__agent_account=notice.agent_account, date=notice.date)
              .select_related("request__payee").order_by("number")):
        w.writerow([v.number, v.request.payee.name, f"{v.amount:.2f}"])
    w.writerow(["合计", str(notice.count), f"{notice.total:.2f}"])
    w.writerow(["大写", notice.amount_capital])
    return out.getvalue().encode("gb18030")
