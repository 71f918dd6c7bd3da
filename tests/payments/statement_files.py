"""Writers of camt.053 and MT940 statements for given bank entries (tests and bench)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Booked:
    bank_ref: str
    amount: Decimal
    credit: bool
    end_to_end_id: str = ""
    payee_name: str = ""
    payee_account: str = ""
    info: str = ""


def camt053(account: str, day: dt.date, entries: list[Booked], *, encoding: str = "UTF-8",
            newline: str = "\n") -> bytes:
    out = [f'<?xml version="1.0" encoding="{encoding}"?>',
           '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>',
           f"<GrpHdr><MsgId>STMT-{day:%Y%m%d}</MsgId><CreDtTm>{day}T23:00:00+08:00</CreDtTm>"
           "</GrpHdr>",
           f"<Stmt><Id>{account}-{day:%Y%m%d}</Id><CreDtTm>{day}T23:00:00+08:00</CreDtTm>",
           f"<Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>CNY</Ccy></Acct>"]
    for e in entries:
        tx = ""
        if e.end_to_end_id or e.payee_account:
            tx = ("<NtryDtls><TxDtls>"
                  f"<Refs><EndToEndId>{e.end_to_end_id or 'NOTPROVIDED'}</EndToEndId></Refs>"
                  f'<Amt Ccy="CNY">{e.amount:.2f}</Amt><RltdPties>'
                  f"<Cdtr><Pty><Nm>{escape(e.payee_name)}</Nm></Pty></Cdtr>"
                  f"<CdtrAcct><Id><Othr><Id>{e.payee_account}</Id></Othr></Id></CdtrAcct>"
                  f"</RltdPties><RmtInf><Ustrd>{escape(e.info)}</Ustrd></RmtInf>"
                  "</TxDtls></NtryDtls>")
        out.append(
            f'<Ntry><NtryRef>{e.bank_ref}</NtryRef><Amt Ccy="CNY">{e.amount:.2f}</Amt>'
            f"<CdtDbtInd>{'CRDT' if e.credit else 'DBIT'}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
            f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
            f"<AcctSvcrRef>{e.bank_ref}</AcctSvcrRef>{tx}</Ntry>")
    out.append("</Stmt></BkToCstmrStmt></Document>")
    return newline.join(out).encode(encoding)


def mt940(account: str, day: dt.date, entries: list[Booked], *, newline: str = "\n",
          encoding: str = "utf-8") -> bytes:
    def amt(x: Decimal) -> str:
        return f"{x:.2f}".replace(".", ",")

    out = [":20:STMT" + day.strftime("%Y%m%d"), f":25:{account}", ":28C:00001/001",
           f":60F:C{day:%y%m%d}CNY0,00"]
    for e in entries:
        ref = e.end_to_end_id or "NONREF"
        out.append(f":61:{day:%y%m%d}{day:%m%d}{'C' if e.credit else 'D'}{amt(e.amount)}"
                   f"NTRF{ref}//{e.bank_ref}")
        eref = f"/EREF/{e.end_to_end_id}" if e.end_to_end_id else ""
        out.append(f":86:{eref}/REMI/{e.info or 'PAYMENT'}")
    out += [f":62F:C{day:%y%m%d}CNY0,00", "-"]
    return (newline.join(out) + newline).encode(encoding)
