"""ISO 20022 pain.002 (CustomerPaymentStatusReport, 001.03 … 001.10 and later): the agent
bank's answer to the pain.001 we send (`payments.selectors.voucher_batch_pain001`), read
with lxml in whatever version namespace it comes. Each TxInfAndSts becomes a ResultRow:
the voucher number is OrgnlEndToEndId (our EndToEndId), the outcome is TxSts (or, when a
transaction has none, its payment information's PmtInfSts, else the group's GrpSts)."""
from __future__ import annotations

from lxml import etree

from payments.importers.common import (
    PAID,
    PENDING,
    REJECTED,
    BankRows,
    ImportIssue,
    ResultRow,
    money,
)
from payments.importers.iso20022 import Ns, aware, namespace, read_xml

PAIN002 = "pain002"
MAX_REF = 60  # BankResult.bank_ref

# ExternalPaymentTransactionStatus1Code / ExternalPaymentGroupStatus1Code
STATUS = {
    "ACSC": PAID,  # AcceptedSettlementCompleted (debtor's account debited)
    "ACCC": PAID,  # AcceptedCreditSettlementCompleted (creditor's account credited)
    "RJCT": REJECTED,
    "CANC": REJECTED,  # Cancelled: the money did not leave
    **{code: PENDING for code in (
        "ACTC",  # AcceptedTechnicalValidation
        "ACCP",  # AcceptedCustomerProfile
        "ACSP",  # AcceptedSettlementInProcess
        "ACWC",  # AcceptedWithChange
        "ACWP",  # AcceptedWithoutPosting
        "ACFC",  # AcceptedFundsChecked
        "ACIS",  # AcceptedandChequeIssued
        "ACPD",  # AcceptedClearingProcessed
        "PDNG",  # Pending
        "RCVD",  # Received
        "PART",  # PartiallyAccepted (a group status)
        "PATC",  # PartiallyAcceptedTechnicalCorrect
        "BLCK",  # Blocked
    )},
}

# ExternalStatusReason1Code, the ones Chinese agent banks send, with the word a
# treasury clerk reads; the code stays in front
REASONS = {
    "AC01": "账号错误",
    "AC03": "收款账号无效",
    "AC04": "账户已销户",
    "AC06": "账户冻结",
    "AG01": "交易受限",
    "AG02": "业务代码无效",
    "AM02": "金额超限",
    "AM04": "余额不足",
    "AM05": "重复支付",
    "BE01": "户名不符",
    "DT01": "日期无效",
    "FF01": "文件格式错误",
    "MS02": "客户原因",
    "MS03": "其他原因",
    "NARR": "见附言",
    "RC01": "行号错误",
    "RR04": "监管原因",
}


class _Bad(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def parse_pain002(content: bytes, filename: str) -> BankRows:
    rows = BankRows(filename=filename, format=PAIN002)
    root = read_xml(content, rows)
    if root is None:
        return rows
    ns = Ns(namespace(root))
    groups = root.findall(".//" + ns.path("OrgnlGrpInfAndSts"), ns.map)
    if not groups:
        rows.fatal = True
        rows.issues.append(ImportIssue(filename, 1, "OrgnlGrpInfAndSts",
                                       "no payment status report in the file"))
        return rows
    for group in groups:
        _report(ns, group, rows)
    return rows


def _report(ns: Ns, group: etree._Element, rows: BankRows) -> None:
    report = group.getparent()
    if report is None:  # the document's root: no header, no payment information
        report = group
    created = ns.text(report, "GrpHdr/CreDtTm")
    msg_id = ns.text(report, "OrgnlGrpInfAndSts/OrgnlMsgId") or ns.text(report, "GrpHdr/MsgId")
    grp_sts = ns.text(group, "GrpSts")
    pmt_infs = ns.findall(report, "OrgnlPmtInfAndSts")
    # a transaction listed outside any payment information (not in the schema, but seen)
    loose = ns.findall(group, "TxInfAndSts")
    if not pmt_infs and not loose:
        _unlisted(ns, group, "GrpSts", grp_sts, "the whole message " + msg_id, rows)
        return
    for tx in loose:
        _one(ns, tx, [group], created, msg_id, rows)
    for pmt in pmt_infs:
        txs = ns.findall(pmt, "TxInfAndSts")
        if not txs:
            sts, field = ns.text(pmt, "PmtInfSts"), "PmtInfSts"
            holder = pmt
            if not sts:
                sts, field, holder = grp_sts, "GrpSts", group
            what = "payment information " + (ns.text(pmt, "OrgnlPmtInfId") or msg_id)
            _unlisted(ns, holder, field, sts, what, rows, line=pmt.sourceline or 0)
            continue
        for tx in txs:
            _one(ns, tx, [pmt, group], created, msg_id, rows)


def _unlisted(ns: Ns, holder: etree._Element, field: str, sts: str, what: str,
              rows: BankRows, line: int | None = None) -> None:
    """A status for a whole group without its transactions: nothing to match a voucher
    with. Only an acknowledgement (in process) says nothing a clerk must act on."""
    outcome = STATUS.get(sts)
    if outcome == PENDING or not sts:
        return
    line = line if line is not None else holder.sourceline or 0
    if outcome is None:
        rows.issues.append(ImportIssue(rows.filename, line, field,
                                       f"unknown status code {sts!r}"))
        return
    said = {REJECTED: "was rejected", PAID: "was settled"}[outcome]
    reason = _reason(ns, holder)
    rows.issues.append(ImportIssue(rows.filename, line, field, (
        f"{what} {said} ({sts}{': ' + reason if reason else ''}) and no transaction is "
        "listed: no voucher can be matched")))


def _one(ns: Ns, tx: etree._Element, parents: list[etree._Element], created: str,
         msg_id: str, rows: BankRows) -> None:
    line = tx.sourceline or 0
    try:
        rows.results.append(_row(ns, tx, parents, created, msg_id, line))
    except _Bad as bad:
        rows.issues.append(ImportIssue(rows.filename, line, bad.field, bad.reason))


def _row(ns: Ns, tx: etree._Element, parents: list[etree._Element], created: str,
         msg_id: str, line: int) -> ResultRow:
    voucher = ns.first(tx, "OrgnlEndToEndId", "OrgnlInstrId")
    if voucher == "NOTPROVIDED":
        voucher = ns.text(tx, "OrgnlInstrId")
    if not voucher or voucher == "NOTPROVIDED":
        raise _Bad("OrgnlEndToEndId", "required (the voucher number)")
    sts, holder = ns.text(tx, "TxSts"), tx
    for parent in parents:  # a transaction without its own status has its group's
        if sts:
            break
        sts = ns.text(parent, "PmtInfSts") or ns.text(parent, "GrpSts")
        holder = parent
    if not sts:
        raise _Bad("TxSts", "no status for the transaction or its group")
    outcome = STATUS.get(sts)
    if outcome is None:
        raise _Bad("TxSts", f"unknown status code {sts!r}")
    reason = _reason(ns, tx) or (_reason(ns, holder) if holder is not tx else "")
    if outcome == REJECTED and not reason:
        reason = sts
    ref = ns.text(tx, "AcctSvcrRef") or ns.text(tx, "StsId") or f"{msg_id}/{voucher}/{sts}"
    if len(ref) > MAX_REF:
        raise _Bad("AcctSvcrRef", f"the bank's reference is longer than {MAX_REF}: {ref!r}")
    when = ns.text(tx, "AccptncDtTm")
    field = "AccptncDtTm" if when else "GrpHdr/CreDtTm"
    try:
        traded_at = aware(when or created)
    except ValueError:
        raise _Bad(field, f"not a date-time: {(when or created)!r}") from None
    amount = None
    instructed = ns.text(tx, "OrgnlTxRef/Amt/InstdAmt")
    if instructed:
        try:
            amount = money(instructed)
        except ValueError as exc:
            raise _Bad("InstdAmt", str(exc)) from None
    return ResultRow(
        line=line, voucher_number=voucher,
        payer_account=ns.account(tx, "OrgnlTxRef/DbtrAcct"),
        payee_account=ns.account(tx, "OrgnlTxRef/CdtrAcct"),
        payee_name=ns.name(tx, "OrgnlTxRef/Cdtr"),
        amount=amount, outcome=outcome, bank_ref=ref, traded_at=traded_at,
        reason=reason[:300], status_word=sts,
    )


def _reason(ns: Ns, el: etree._Element) -> str:
    """'AC04 账户已销户: <AddtlInf>' from the first StsRsnInf; '' without one."""
    info = ns.find(el, "StsRsnInf")
    if info is None:
        return ""
    code = ns.first(info, "Rsn/Cd", "Rsn/Prtry")
    gloss = REASONS.get(code, "")
    text = f"{code} {gloss}" if code and gloss else code
    extra = " ".join(t for t in ns.texts(info, "AddtlInf") if t)
    if extra:
        text = f"{text}: {extra}" if text else extra
    return text
