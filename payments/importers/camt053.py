"""ISO 20022 camt.053 (BankToCustomerStatement, any 001.xx version) with lxml:
each booked entry (Ntry) becomes a StatementRow; EndToEndId carries the voucher number."""
from __future__ import annotations

import datetime as dt

from lxml import etree

from payments.importers.common import BankRows, ImportIssue, StatementRow, money


class _Ns:
    """Element lookups in the document's own camt.053 namespace (any version), by
    paths of local names; lxml's C findtext does the work."""

    def __init__(self, uri: str) -> None:
        self.map = {"c": uri} if uri else {}
        self.prefix = "c:" if uri else ""
        self._paths: dict[str, str] = {}

    def path(self, path: str) -> str:
        found = self._paths.get(path)
        if found is None:
            found = self._paths[path] = "/".join(self.prefix + p for p in path.split("/"))
        return found

    def find(self, el: etree._Element, path: str) -> etree._Element | None:
        return el.find(self.path(path), self.map)

    def text(self, el: etree._Element, path: str) -> str:
        return (el.findtext(self.path(path), "", self.map) or "").strip()


def parse_camt053(content: bytes, filename: str) -> BankRows:
    rows = BankRows(filename=filename, format="camt053")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        rows.fatal = True
        rows.issues.append(ImportIssue(filename, exc.lineno or 0, "xml", str(exc.msg)))
        return rows
    ns = _Ns(etree.QName(root).namespace or "")
    stmts = root.findall(".//" + ns.path("Stmt"), ns.map)
    if not stmts:
        rows.fatal = True
        rows.issues.append(ImportIssue(filename, 1, "Stmt", "no statement in the file"))
        return rows
    for stmt in stmts:
        account = ns.text(stmt, "Acct/Id/Othr/Id") or ns.text(stmt, "Acct/Id/IBAN")
        for ntry in stmt.iterfind(ns.path("Ntry"), ns.map):
            try:
                rows.statement.append(_row(ns, ntry, account))
            except ValueError as exc:
                field, _, reason = str(exc).partition(": ")
                rows.issues.append(ImportIssue(filename, ntry.sourceline or 0, field, reason))
    return rows


def _row(ns: _Ns, ntry: etree._Element, account: str) -> StatementRow:
    _text, _find = ns.text, ns.find
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
