"""ISO 20022 camt.053 (BankToCustomerStatement, 001.02 … 001.13) and camt.054
(BankToCustomerDebitCreditNotification) with lxml: each booked entry (Ntry) becomes a
StatementRow, a batch entry (several TxDtls) one per transaction; EndToEndId carries the
voucher number.

Version differences read here: the entry status is `<Sts>BOOK</Sts>` up to .001.08 and
`<Sts><Cd>BOOK</Cd></Sts>` after; a party is `Cdtr/Nm` up to .001.06 and `Cdtr/Pty/Nm`
after; a transaction's amount is `TxDtls/AmtDtls/TxAmt/Amt` in .001.02/.03 and
`TxDtls/Amt` from .001.04 on; an account is `Id/Othr/Id` or `Id/IBAN`."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from lxml import etree

from payments.importers.common import BankRows, ImportIssue, StatementRow, money
from payments.importers.iso20022 import Ns, local, namespace, read_xml

CAMT053, CAMT054 = "camt053", "camt054"
DEFAULT_CURRENCY = "CNY"
CURRENCY = re.compile(r"[A-Z]{3}")
TX_AMOUNT = ("Amt", "AmtDtls/TxAmt/Amt")  # .001.04 on; .001.02/.03


class _Bad(Exception):
    """One entry cannot be read: the issue's field, reason and (if not the entry's) line."""

    def __init__(self, field: str, reason: str, line: int | None = None) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.line = field, reason, line


def parse_camt053(content: bytes, filename: str) -> BankRows:
    """A camt.053 statement or a camt.054 notification (BankRows.format says which)."""
    rows = BankRows(filename=filename, format=CAMT053)
    root = read_xml(content, rows)
    if root is None:
        return rows
    ns = Ns(namespace(root))
    reports = root.findall(".//" + ns.path("Stmt"), ns.map)
    if not reports:
        reports = root.findall(".//" + ns.path("Ntfctn"), ns.map)
        if reports or "camt.054" in ns.map.get("c", "") or any(
                local(el) == "BkToCstmrDbtCdtNtfctn" for el in root.iterchildren(etree.Element)):
            rows.format = CAMT054
    if not reports:
        rows.fatal = True
        what, name = ("Ntfctn", "notification") if rows.format == CAMT054 else ("Stmt", "statement")
        rows.issues.append(ImportIssue(filename, 1, what, f"no {name} in the file"))
        return rows
    for report in reports:
        account = ns.account(report, "Acct")
        acct_ccy = ns.text(report, "Acct/Ccy").upper()
        for ntry in ns.findall(report, "Ntry"):
            try:
                rows.statement.extend(_rows(ns, ntry, account, acct_ccy))
            except _Bad as bad:
                line = bad.line if bad.line is not None else ntry.sourceline or 0
                rows.issues.append(ImportIssue(filename, line, bad.field, bad.reason))
    return rows


def _rows(ns: Ns, ntry: etree._Element, account: str, acct_ccy: str) -> list[StatementRow]:
    """The entry's row, or one row per transaction of a batch entry."""
    if not account:
        raise _Bad("Acct", "the statement names no account")
    ref = ns.first(ntry, "AcctSvcrRef", "NtryRef")
    if not ref:
        raise _Bad("AcctSvcrRef", "required")
    status = ns.first(ntry, "Sts/Cd", "Sts/Prtry", "Sts")
    if status and status != "BOOK":
        raise _Bad("Sts", f"entry is {status}, not booked")
    amount, currency = _amount(ns, ntry, ("Amt",), "Amt", acct_ccy or DEFAULT_CURRENCY)
    side = ns.text(ntry, "CdtDbtInd")
    if side not in ("CRDT", "DBIT"):
        raise _Bad("CdtDbtInd", f"{side!r} is neither CRDT nor DBIT")
    day = ns.text(ntry, "BookgDt/Dt") or ns.text(ntry, "BookgDt/DtTm")[:10]
    try:
        booking = dt.date.fromisoformat(day)
    except ValueError:
        raise _Bad("BookgDt", f"not a date: {day!r}") from None
    entry_info = ns.text(ntry, "AddtlNtryInf")
    txs = ns.findall(ntry, "NtryDtls/TxDtls")
    if len(txs) <= 1:
        details = _details(ns, txs[0] if txs else None, entry_info)
        return [StatementRow(line=ntry.sourceline or 0, account=account, bank_ref=ref,
                             booking_date=booking, amount=amount, credit=side == "CRDT",
                             currency=currency, **details)]
    split: list[StatementRow] = []
    total = Decimal("0.00")
    refs: set[str] = set()
    for n, tx in enumerate(txs, start=1):
        line = tx.sourceline or 0
        tx_amount, tx_ccy = _amount(ns, tx, TX_AMOUNT, "TxDtls/Amt", currency, line)
        if tx_ccy != currency:
            raise _Bad("TxDtls", (f"transaction {n} is in {tx_ccy} but the entry is in "
                                  f"{currency}"), ntry.sourceline or 0)
        tx_side = ns.text(tx, "CdtDbtInd") or side
        if tx_side not in ("CRDT", "DBIT"):
            raise _Bad("TxDtls/CdtDbtInd", f"{tx_side!r} is neither CRDT nor DBIT", line)
        total += tx_amount if tx_side == side else -tx_amount
        tx_ref = ns.first(tx, "Refs/AcctSvcrRef", "Refs/TxId")
        if not tx_ref or tx_ref == ref or tx_ref in refs:  # a bank repeating the entry's
            tx_ref = f"{ref}/{n}"
        refs.add(tx_ref)
        split.append(StatementRow(line=line, account=account, bank_ref=tx_ref,
                                  booking_date=booking, amount=tx_amount,
                                  credit=tx_side == "CRDT", currency=tx_ccy, batch_ref=ref,
                                  **_details(ns, tx, entry_info)))
    if total != amount:
        raise _Bad("TxDtls", (f"the {len(txs)} transactions add up to {total:.2f} {currency} "
                              f"but the entry is {amount:.2f} {currency}"))
    declared = _declared_count(ns, ntry)
    if declared is not None and declared != len(txs):
        raise _Bad("TxDtls", (f"the batch says NbOfTxs {declared} but the entry lists "
                              f"{len(txs)} transactions"))
    return split


def _declared_count(ns: Ns, ntry: etree._Element) -> int | None:
    """The batches' NbOfTxs added up, if every batch of the entry gives one."""
    counts = [ns.text(b, "NbOfTxs") for b in ns.findall(ntry, "NtryDtls/Btch")]
    if not counts or not all(c.isdigit() for c in counts):
        return None
    return sum(int(c) for c in counts)


def _amount(ns: Ns, el: etree._Element, paths: tuple[str, ...], field: str,
            default_ccy: str, line: int | None = None) -> tuple[Decimal, str]:
    node = next((n for n in (ns.find(el, p) for p in paths)
                 if n is not None and (n.text or "").strip()), None)
    if node is None:
        raise _Bad(field, "required", line)
    try:
        value = money(node.text or "")
    except ValueError as exc:
        raise _Bad(field, str(exc), line) from None
    ccy = (node.get("Ccy") or "").strip().upper()
    if ccy and not CURRENCY.fullmatch(ccy):
        raise _Bad(field + "/@Ccy", f"not a currency code: {ccy!r}", line)
    return value, ccy or default_ccy


def _details(ns: Ns, tx: etree._Element | None, entry_info: str) -> dict[str, str]:
    e2e = payee_acct = payee_name = info = ""
    if tx is not None:
        e2e = ns.text(tx, "Refs/EndToEndId")
        if e2e == "NOTPROVIDED":
            e2e = ""
        payee_acct = ns.account(tx, "RltdPties/CdtrAcct")
        payee_name = ns.name(tx, "RltdPties/Cdtr")
        info = " ".join(t for t in ns.texts(tx, "RmtInf/Ustrd") if t) or ns.text(tx, "AddtlTxInf")
    info = info or entry_info
    return {"end_to_end_id": e2e, "payee_account": payee_acct, "payee_name": payee_name,
            "info": info[:300]}
