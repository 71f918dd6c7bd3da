"""The synthetic city's agent banks: their files as each of the nine writes them —
written here from the banks' own layouts (header words, separators, encodings, time
styles, status words typed out below), never from the importer's profiles
(payments/data/bank_profiles.json) or the system's own writers, so the city-year and
the tests that read these files check the shipped profiles against the banks, not
against themselves.

`results(cnaps, rows)` writes a bank's payment-result file, `statement_csv(cnaps, …)` its
own CSV statement, and the ISO/SWIFT writers (`pain002`, `camt`, `mt94x`) the standard
messages in the versions the banks send."""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

ICBC, CCB, ABC, BOC, BOCOM, CMB, CITIC, CEB, PSBC = (
    "102584000002", "105584000005", "103584000003", "104584000003", "301584000016",
    "308584000013", "302584044461", "303584000012", "403584000039")
BANKS = (ICBC, CCB, ABC, BOC, BOCOM, CMB, CITIC, CEB, PSBC)
NAMES = {ICBC: "中国工商银行深圳分行", CCB: "中国建设银行深圳分行", ABC: "中国农业银行深圳分行",
         BOC: "中国银行深圳分行", BOCOM: "交通银行深圳分行", CMB: "招商银行深圳分行",
         CITIC: "中信银行深圳分行", CEB: "中国光大银行深圳分行", PSBC: "中国邮政储蓄银行深圳分行"}
# the statements each bank sends (its own words; the test checks the profiles agree)
STATEMENTS = {ICBC: ["camt053.08", "mt940"], CCB: ["camt053.02", "statement_csv"],
              ABC: ["mt940", "mt942"], BOC: ["camt053.08", "camt054"], BOCOM: ["mt940"],
              CMB: ["camt053.13", "statement_csv"], CITIC: ["camt053.04", "camt054"],
              CEB: ["mt940"], PSBC: ["statement_csv"]}
# banks whose result file reports "still in process"
REPORTS_PENDING = {ICBC, CCB, ABC, BOC, CMB, CITIC, CEB, PSBC}


@dataclass(frozen=True)
class Res:
    """One payment's status as the bank reports it."""

    voucher: str
    payer: str
    payee_account: str
    payee_name: str
    amount: Decimal
    outcome: str  # paid / rejected / returned / pending
    ref: str
    at: dt.datetime  # bank local time (naive)
    reason: str = ""


@dataclass(frozen=True)
class Line:
    """One booking on the agent account's statement."""

    ref: str
    amount: Decimal
    credit: bool
    e2e: str = ""
    payee_account: str = ""
    payee_name: str = ""
    info: str = ""


def _csv(rows: list[list[str]], sep: str) -> str:
    def cell(v: str) -> str:
        return f'"{v}"' if (sep in v or '"' in v) else v
    return "".join(sep.join(cell(c) for c in r) + "\r\n" for r in rows)


def _xlsx(rows: list[list[object]], title: str | None = None, sheet: str = "Sheet1") -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    if title:
        ws.append([title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def results(cnaps: str, rows: list[Res]) -> tuple[str, bytes]:
    """(file name, bytes) of the bank's result file for `rows`."""
    day = rows[0].at.date() if rows else dt.date(2026, 11, 20)
    if cnaps == ICBC:
        word = {"paid": "成功", "rejected": "失败", "returned": "退票", "pending": "处理中"}
        body = [["支付凭证号", "付款账号", "付款户名", "收款账号", "收款户名", "收款行", "金额",
                 "交易状态", "银行流水号", "交易时间", "失败原因"]]
        body += [[r.voucher, r.payer, "深圳市财政局零余额账户", r.payee_account, r.payee_name,
                  "", f"{r.amount:,.2f}", word[r.outcome], r.ref,
                  r.at.strftime("%Y-%m-%d %H:%M:%S"), r.reason] for r in rows]
        return f"ICBC_JG_{day:%Y%m%d}.csv", _csv(body, ",").encode("gbk")
    if cnaps == CCB:
        word = {"paid": "交易成功", "rejected": "交易失败", "returned": "退票", "pending": "处理中"}
        body = [["凭证号", "付款人账号", "收款人账号", "收款人名称", "交易金额", "处理结果",
                 "交易流水号", "处理时间", "备注"]]
        body += [[r.voucher, r.payer, r.payee_account, r.payee_name, f"{r.amount:,.2f}",
                  word[r.outcome], r.ref, r.at.strftime("%Y/%m/%d %H:%M:%S"), r.reason]
                 for r in rows]
        return f"ccb_result_{day:%Y%m%d}.csv", b"\xef\xbb\xbf" + _csv(body, ",").encode()
    if cnaps == ABC:
        word = {"paid": "已入账", "rejected": "失败", "returned": "已退回", "pending": "处理中"}
        body = [["中国农业银行财政授权支付交易结果"], ["支付令号", "付款账号", "收款账号", "收款户名",
                                              "金额(元)", "状态", "流水号", "交易日期时间", "失败原因"]]
        body += [[r.voucher, r.payer, r.payee_account, r.payee_name, f"{r.amount:.2f}",
                  word[r.outcome], r.ref, r.at.strftime("%Y%m%d %H%M%S"), r.reason] for r in rows]
        return f"ABC{day:%Y%m%d}.txt", _csv(body, "|").encode("gbk")
    if cnaps == BOC:
        word = {"paid": "SUCCESS", "rejected": "FAILED", "returned": "RETURNED",
                "pending": "PROCESSING"}
        body: list[list[object]] = [["支付凭证编号", "付款账号", "收款账号", "收款人", "金额",
                                     "交易结果", "银行交易流水", "交易时间", "失败原因"]]
        body += [[r.voucher, r.payer, r.payee_account, r.payee_name, r.amount,
                  word[r.outcome], r.ref, r.at, r.reason or None] for r in rows]
        return f"BOC_result_{day:%Y%m%d}.xlsx", _xlsx(body, sheet="交易结果")
    if cnaps == BOCOM:
        word = {"paid": "成功", "rejected": "失败", "returned": "退票"}
        body = [["凭证号码", "付款账户", "收款账户", "收款户名", "发生额", "交易状态", "交易参考号",
                 "记账时间", "附言"]]
        body += [[r.voucher, r.payer, r.payee_account, r.payee_name, f"{r.amount:,.2f}",
                  word[r.outcome], r.ref, r.at.strftime("%Y-%m-%d %H:%M"), r.reason]
                 for r in rows]
        return f"bocom{day:%Y%m%d}.tsv", _csv(body, "\t").encode()
    if cnaps == CMB:
        word = {"paid": "成功", "rejected": "失败", "returned": "退票", "pending": "处理中"}
        body = [["支付凭证号", "付款账号", "付款户名", "收款账号", "收款户名", "收款行", "金额",
                 "交易状态", "银行流水号", "交易时间", "失败原因"]]
        body += [[r.voucher, r.payer, "零余额账户", r.payee_account, r.payee_name, "",
                  f"{r.amount:,.2f}", word[r.outcome], r.ref,
                  r.at.strftime("%Y/%m/%d %H:%M:%S"), r.reason] for r in rows]
        return f"CMB_{day:%Y%m%d}.csv", b"\xef\xbb\xbf" + _csv(body, ",").encode()
    if cnaps == CITIC:
        word = {"paid": "S", "rejected": "F", "returned": "R", "pending": "P"}
        body = [["PZH", "FKZH", "SKZH", "SKHM", "JE", "ZT", "LSH", "JYSJ", "SBYY"]]
        body += [[r.voucher, r.payer, r.payee_account, r.payee_name, f"{r.amount:.2f}",
                  word[r.outcome], r.ref, r.at.strftime("%Y-%m-%dT%H:%M:%S"), r.reason]
                 for r in rows]
        return f"CITIC_{day:%Y%m%d}.dat", _csv(body, ";").encode()
    if cnaps == CEB:
        word = {"paid": "成功", "rejected": "失败", "returned": "已退回", "pending": "处理中"}
        body = [["序号", "凭证号", "收款账号", "收款人", "金额", "状态", "流水号", "时间", "原因"]]
        body += [[str(n), r.voucher, r.payee_account, r.payee_name, f"{r.amount:,.2f}",
                  word[r.outcome], r.ref, r.at.strftime("%Y年%m月%d日 %H:%M:%S"), r.reason]
                 for n, r in enumerate(rows, start=1)]
        return f"光大回单{day:%Y%m%d}.csv", _csv(body, ",").encode("gbk")
    if cnaps == PSBC:
        word = {"paid": "支付成功", "rejected": "支付失败", "returned": "退票", "pending": "待处理"}
        body = [["支付凭证号", "收款人账号", "收款人户名", "支付金额", "支付状态", "交易流水号",
                 "支付时间", "退票原因"]]
        body += [[r.voucher, r.payee_account, r.payee_name, f"{r.amount:,.2f}", word[r.outcome],
                  r.ref, r.at.strftime("%Y-%m-%d %H:%M:%S"), r.reason] for r in rows]
        return (f"psbc_{day:%Y%m%d}.xlsx",
                _xlsx(body, title="中国邮政储蓄银行 国库集中支付结果"))  # type: ignore[arg-type]
    raise KeyError(cnaps)


def statement_csv(cnaps: str, account: str, day: dt.date, lines: list[Line]) -> tuple[str, bytes]:
    if cnaps == CCB:
        body = [["账号", "交易日期", "借贷方向", "交易金额", "交易流水号", "客户业务编号", "对方账号",
                 "对方户名", "摘要", "币种"]]
        body += [[account, f"{day:%Y/%m/%d}", "贷" if ln.credit else "借", f"{ln.amount:,.2f}",
                  ln.ref, ln.e2e, ln.payee_account, ln.payee_name, ln.info, "人民币"]
                 for ln in lines]
        return f"ccb_dzd_{day:%Y%m%d}.csv", b"\xef\xbb\xbf" + _csv(body, ",").encode()
    if cnaps == CMB:
        body = [["账号", "记账日期", "借方金额", "贷方金额", "流水号", "业务参考号", "收(付)方账号",
                 "收(付)方名称", "用途"]]
        body += [[account, f"{day:%Y%m%d}", "" if ln.credit else f"{ln.amount:,.2f}",
                  f"{ln.amount:,.2f}" if ln.credit else "", ln.ref, ln.e2e, ln.payee_account,
                  ln.payee_name, ln.info] for ln in lines]
        return f"CMB_DZD_{day:%Y%m%d}.csv", b"\xef\xbb\xbf" + _csv(body, ",").encode()
    if cnaps == PSBC:
        body = [["本方账号", "入账日期", "发生额", "交易流水号", "支付凭证号", "对方账号", "对方户名",
                 "摘要"]]
        body += [[account, f"{day}", f"{ln.amount:,.2f}" if ln.credit else f"-{ln.amount:,.2f}",
                  ln.ref, ln.e2e, ln.payee_account, ln.payee_name, ln.info] for ln in lines]
        return f"psbc_dzd_{day:%Y%m%d}.csv", _csv(body, ",").encode("gbk")
    raise KeyError(cnaps)


# ------------------------------------------------------------------ ISO 20022 / SWIFT
PAIN_STATUS = {"paid": "ACSC", "rejected": "RJCT", "pending": "ACSP"}


def pain002(rows: list[Res], *, version: str = "10", msg_id: str = "PSR001") -> bytes:
    """pain.002.001.<version> CustomerPaymentStatusReport for our pain.001 batch."""
    ns = f"urn:iso:std:iso:20022:tech:xsd:pain.002.001.{version}"
    at = rows[0].at if rows else dt.datetime(2026, 11, 20, 18)  # noqa: DTZ001 - local
    grp = "OrgnlGrpInfAndSts"
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{ns}"><CstmrPmtStsRpt>',
           f"<GrpHdr><MsgId>{msg_id}</MsgId><CreDtTm>{at:%Y-%m-%dT%H:%M:%S}+08:00</CreDtTm>"
           "</GrpHdr>",
           f"<{grp}><OrgnlMsgId>PAIN001-{at:%Y%m%d}</OrgnlMsgId>"
           "<OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></" + grp + ">",
           "<OrgnlPmtInfAndSts><OrgnlPmtInfId>PMT1</OrgnlPmtInfId>"]
    for n, r in enumerate(rows, start=1):
        reason = ""
        if r.outcome == "rejected":
            code, _, text = r.reason.partition(" ")
            reason = (f"<StsRsnInf><Rsn><Cd>{code or 'NARR'}</Cd></Rsn>"
                      f"<AddtlInf>{escape(text or r.reason)}</AddtlInf></StsRsnInf>")
        out.append(
            f"<TxInfAndSts><StsId>{r.ref}</StsId><OrgnlInstrId>{r.voucher}</OrgnlInstrId>"
            f"<OrgnlEndToEndId>{r.voucher}</OrgnlEndToEndId><TxSts>{PAIN_STATUS[r.outcome]}</TxSts>"
            f"{reason}<AccptncDtTm>{r.at:%Y-%m-%dT%H:%M:%S}+08:00</AccptncDtTm>"
            f"<AcctSvcrRef>{r.ref}</AcctSvcrRef>"
            f'<OrgnlTxRef><Amt><InstdAmt Ccy="CNY">{r.amount:.2f}</InstdAmt></Amt>'
            f"<Dbtr><Pty><Nm>深圳市财政局</Nm></Pty></Dbtr>"
            f"<DbtrAcct><Id><Othr><Id>{r.payer}</Id></Othr></Id></DbtrAcct>"
            f"<Cdtr><Pty><Nm>{escape(r.payee_name)}</Nm></Pty></Cdtr>"
            f"<CdtrAcct><Id><Othr><Id>{r.payee_account}</Id></Othr></Id></CdtrAcct>"
            "</OrgnlTxRef></TxInfAndSts>")
        del n
    out.append("</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>")
    return "".join(out).encode()


def camt(account: str, day: dt.date, lines: list[Line], *, version: str = "08",
         message: str = "053", batch: bool = False) -> bytes:
    """camt.053 (statement) or camt.054 (notification) .001.<version>; `batch` books all
    debits with an end-to-end id as one entry with a TxDtls each (a bulk debit)."""
    old = version in ("02", "03")
    ns = f"urn:iso:std:iso:20022:tech:xsd:camt.{message}.001.{version}"
    root, part = (("BkToCstmrStmt", "Stmt") if message == "053"
                  else ("BkToCstmrDbtCdtNtfctn", "Ntfctn"))

    def sts() -> str:
        return "<Sts>BOOK</Sts>" if old else "<Sts><Cd>BOOK</Cd></Sts>"

    def tx(ln: Line) -> str:
        amt = (f'<AmtDtls><TxAmt><Amt Ccy="CNY">{ln.amount:.2f}</Amt></TxAmt></AmtDtls>' if old
               else f'<Amt Ccy="CNY">{ln.amount:.2f}</Amt>')
        cdtr = (f"<Cdtr><Nm>{escape(ln.payee_name)}</Nm></Cdtr>" if old
                else f"<Cdtr><Pty><Nm>{escape(ln.payee_name)}</Nm></Pty></Cdtr>")
        return (f"<TxDtls><Refs><AcctSvcrRef>{ln.ref}</AcctSvcrRef>"
                f"<EndToEndId>{ln.e2e or 'NOTPROVIDED'}</EndToEndId></Refs>{amt}"
                f"<RltdPties>{cdtr}<CdtrAcct><Id><Othr><Id>{ln.payee_account}</Id></Othr></Id>"
                f"</CdtrAcct></RltdPties><RmtInf><Ustrd>{escape(ln.info)}</Ustrd></RmtInf>"
                "</TxDtls>")

    def entry(ref: str, amount: Decimal, credit: bool, details: str) -> str:
        return (f'<Ntry><NtryRef>{ref}</NtryRef><Amt Ccy="CNY">{amount:.2f}</Amt>'
                f"<CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd>{sts()}"
                f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
                f"<AcctSvcrRef>{ref}</AcctSvcrRef><BkTxCd/>{details}</Ntry>")

    body = []
    bulk = [ln for ln in lines if batch and not ln.credit and ln.e2e]
    if len(bulk) > 1:
        total = sum(ln.amount for ln in bulk)
        body.append(entry(f"B{bulk[0].ref}", total, False,
                          f"<NtryDtls><Btch><NbOfTxs>{len(bulk)}</NbOfTxs></Btch>"
                          + "".join(tx(ln) for ln in bulk) + "</NtryDtls>"))
    else:
        bulk = []
    for ln in lines:
        if ln in bulk:
            continue
        details = f"<NtryDtls>{tx(ln)}</NtryDtls>" if (ln.e2e or ln.payee_account) else ""
        body.append(entry(ln.ref, ln.amount, ln.credit, details))
    created = f"<CreDtTm>{day}T23:00:00+08:00</CreDtTm>"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Document xmlns="{ns}"><{root}><GrpHdr><MsgId>M{day:%Y%m%d}{message}</MsgId>'
            f"{created}</GrpHdr><{part}><Id>{account}-{day:%Y%m%d}</Id>{created}"
            f"<Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>CNY</Ccy></Acct>"
            + "".join(body) + f"</{part}></{root}></Document>").encode()


def mt94x(account: str, day: dt.date, lines: list[Line], *, interim: bool = False) -> bytes:
    """MT940 (end of day) or MT942 (interim report) of the agent account."""
    def amt(x: Decimal) -> str:
        return f"{x:.2f}".replace(".", ",")

    out = [f":20:{'INT' if interim else 'STMT'}{day:%Y%m%d}", f":25:{account}", ":28C:00001/001"]
    if interim:
        out += [":34F:CNY0,00", f":13D:{day:%y%m%d}1200+0800"]
    else:
        out.append(f":60F:C{day:%y%m%d}CNY0,00")
    for ln in lines:
        out.append(f":61:{day:%y%m%d}{day:%m%d}{'C' if ln.credit else 'D'}{amt(ln.amount)}"
                   f"NTRF{ln.e2e or 'NONREF'}//{ln.ref}")
        out.append(f":86:{'/EREF/' + ln.e2e if ln.e2e else ''}/REMI/{ln.info or 'PAYMENT'}")
    if interim:
        debits = [ln.amount for ln in lines if not ln.credit]
        credits = [ln.amount for ln in lines if ln.credit]
        out += [f":90D:{len(debits)}CNY{amt(sum(debits, Decimal(0)))}",
                f":90C:{len(credits)}CNY{amt(sum(credits, Decimal(0)))}"]
    else:
        out.append(f":62F:C{day:%y%m%d}CNY0,00")
    out.append("-")
    return ("\r\n".join(out) + "\r\n").encode()
