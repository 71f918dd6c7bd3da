"""ISO 20022 camt.053 (BankToCustomerStatement, any 001.xx version) with lxml:
each booked entry (Ntry) becomes a StatementRow; EndToEndId carries the voucher number."""
from __future__ import annotations

import datetime as dt

from lxml import etree

from payments.importers.common import BankRows, ImportIssue, StatementRow, money


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _find(el: etree._Element, path: str) -> etree._Element | None:
    """Namespace-agnostic child lookup by local names separated by '/'."""
    cur: etree._Element | None = el
    for name in path.split("/"):
        if cur is None:
            return None
        cur = next((c for c in cur if _local(c.tag) == name), None)
    return cur


def _text(el: etree._Element, path: str) -> str:
    found = _find(el, path)
    return (found.text or "").strip() if found is not None else ""


def parse_camt053(content: bytes, filename: str) -> BankRows:
    rows = BankRows(filename=filename, format="camt053")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        rows.fatal = True
        rows.issues.append(ImportIssue(filename, exc.lineno or 0, "xml", str(exc.msg)))
        return rows
    stmts = [s for s in root.iter() if _local(s.tag) == "Stmt"]
    if not stmts:
        rows.fatal = True
        rows.issues.append(ImportIssue(filename, 1, "Stmt", "no statement in the file"))
        return rows
    for stmt in stmts:
        account = _text(stmt, "Acct/Id/Othr/Id") or _text(stmt, "Acct/Id/IBAN")
        for ntry in stmt:
            if _local(ntry.tag) != "Ntry":
                continue
            try:
                rows.statement.append(_row(ntry, account))
            except ValueError as exc:
                field, _, reason = str(exc).partition(": ")
                rows.issues.append(ImportIssue(filename, ntry.sourceline or 0, field, reason))
    return rows


def _row(ntry: etree._Element, account: str) -> StatementRow:
    if not account:
        raise ValueError("Acct: the statement names no account")
    ref = _text(ntry, "AcctSvcrRef") or _text(ntry, "NtryRef")
    if not ref:
        raise ValueError("AcctSvcrRef: required")
    status = _text(ntry, "Sts/Cd") or _text(ntry, "Sts")
    if status and status != "BOOK":
        raise ValueError(f"Sts: entry is {status}, not booked")
    try:
        amount = money(_text(ntry, "Amt"))
    except ValueError as exc:
        raise ValueError(f"Amt: {exc}") from None
    side = _text(ntry, "CdtDbtInd")
    if side not in ("CRDT", "DBIT"):
        raise ValueError(f"CdtDbtInd: {side!r} is neither CRDT nor DBIT")
    day = _text(ntry, "BookgDt/Dt") or _text(ntry, "BookgDt/DtTm")[:10]
    try:
        booking = dt.date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"BookgDt: not a date: {day!r}") from None
    tx = _find(ntry, "NtryDtls/TxDtls")
    e2e = payee_acct = payee_name = info = ""
    if tx is not None:
        e2e = _text(tx, "Refs/EndToEndId")
        if e2e == "NOTPROVIDED":
            e2e = ""
        payee_acct = _text(tx, "RltdPties/CdtrAcct/Id/Othr/Id") or _text(
            tx, "RltdPties/CdtrAcct/Id/IBAN")
        payee_name = _text(tx, "RltdPties/Cdtr/Pty/Nm") or _text(tx, "RltdPties/Cdtr/Nm")
        info = _text(tx, "RmtInf/Ustrd")
    info = info or _text(ntry, "AddtlNtryInf")
    return StatementRow(line=ntry.sourceline or 0, account=account, bank_ref=ref,
                        booking_date=booking, amount=amount, credit=side == "CRDT",
                        end_to_end_id=e2e, payee_account=payee_acct, payee_name=payee_name,
                        info=info[:300])
