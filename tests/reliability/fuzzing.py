"""Generators of hostile import files and the one oracle that judges a parser's answer
(clean rows, issues, or a domain error — never another exception). Shared by the
hypothesis tests in tests/reliability/ and the campaign in bench/reliability_fuzz.py."""
from __future__ import annotations

import io
import json
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from openpyxl import Workbook

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CODES_DIR = Path(__file__).resolve().parent.parent.parent / "finance" / "data" / "codes"

RESULT_HEADER = "支付凭证号,付款账号,付款户名,收款账号,收款户名,收款行,金额,交易状态,银行流水号,交易时间,失败原因"
EOLS = ["\n", "\r\n", "\r", "\n\r"]
ODD_TEXT = ["", " ", "0", "-1", "1e9", "NaN", "Infinity", "1,2,3", "12.345", "１２.００", "成功",
            "失败", "\x00", "\ufeff", "'; DROP TABLE x;--", "<a>", '"', '""', "9" * 40,
            "2026-02-30 10:00:00", "2026-10-15 10:02:11", "12,500.00", "0.01", "ZF2026100001",
            "\u202e", "😀", "𠀀"]


def sample(*parts: str) -> bytes:
    return SAMPLES.joinpath(*parts).read_bytes()


# ------------------------------------------------------------------ byte mutations
def mutate(data: bytes, rnd: random.Random, rounds: int = 3) -> bytes:
    """Flip, insert, delete, duplicate and truncate — the damage of a real transfer."""
    buf = bytearray(data)
    for _ in range(rnd.randint(1, rounds)):
        op = rnd.randrange(6)
        pos = rnd.randrange(len(buf) + 1) if buf else 0
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] = rnd.randrange(256)
        elif op == 1:
            buf[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        elif op == 2 and buf:
            del buf[pos:pos + rnd.randint(1, 64)]
        elif op == 3 and buf:
            chunk = buf[pos:pos + rnd.randint(1, 200)]
            buf[pos:pos] = chunk
        elif op == 4:
            del buf[pos:]
        else:
            token = rnd.choice(ODD_TEXT).encode("utf-8")
            buf[pos:pos] = token
    return bytes(buf)


# ------------------------------------------------------------------ structured generators
def results_csv(rnd: random.Random) -> bytes:
    """A payment-result file with odd values, encodings (GBK/UTF-8/BOM) and line endings."""
    eol = rnd.choice(EOLS)
    rows = [RESULT_HEADER]
    for n in range(rnd.randint(0, 6)):
        vals = [f"ZF202610{n:04d}", "44030100040012345", "国库支付中心", "6222020200112233445",
                "某公司", "工商银行", f"{rnd.randint(1, 10**7) / 100:.2f}",
                rnd.choice(["成功", "失败"]), f"BK{rnd.randrange(10**9)}", "2026-10-15 10:02:11",
                rnd.choice(["", "账户不存在"])]
        for _ in range(rnd.randint(0, 3)):
            vals[rnd.randrange(len(vals))] = rnd.choice(ODD_TEXT)
        if rnd.random() < 0.1:
            vals = vals[: rnd.randrange(len(vals))]
        rows.append(",".join(f'"{v}"' if "," in v and rnd.random() < 0.7 else v for v in vals))
    text = eol.join(rows) + (eol if rnd.random() < 0.5 else "")
    enc = rnd.choice(["gbk", "utf-8", "utf-8-sig"])
    return text.encode(enc, errors="replace")


def camt053(rnd: random.Random) -> bytes:
    import datetime as dt
    from decimal import Decimal

    from tests.payments.statement_files import Booked
    from tests.payments.statement_files import camt053 as write

    entries = [Booked(bank_ref=f"BK{rnd.randrange(10**6)}",
                      amount=Decimal(rnd.randint(1, 10**8)) / 100, credit=rnd.random() < 0.3,
                      end_to_end_id=rnd.choice(["", "ZF2026100001", "NOTPROVIDED"]),
                      payee_name=rnd.choice(["某公司", "A&B", ""]),
                      payee_account=rnd.choice(["", "6222020200112233445"]))
               for _ in range(rnd.randint(0, 5))]
    data = write("44030100040012345", dt.date(2026, 10, rnd.randint(1, 28)), entries,
                 newline=rnd.choice(["\n", "\r\n"]))
    return mutate(data, rnd, 2) if rnd.random() < 0.7 else data


def mt940(rnd: random.Random) -> bytes:
    base = sample("bank", "statement_20261015.mt940")
    text = base.decode("utf-8", errors="replace")
    eol = rnd.choice(EOLS)
    text = eol.join(text.splitlines())
    return mutate(text.encode("utf-8"), rnd, 3) if rnd.random() < 0.8 else text.encode("utf-8")


def project_json(rnd: random.Random) -> bytes:
    doc = json.loads(sample("projects", "investment_projects_20260301.json"))
    for proj in doc.get("projects", []):
        for _ in range(rnd.randint(0, 3)):
            key = rnd.choice([*proj.keys(), "extra"])
            proj[key] = rnd.choice([None, 1, -1, 1.5, 1e308, True, [], {}, "", "x",
                                    "2026-13-01", "38600000.001", "NaN", "-5", *ODD_TEXT[:8]])
    if rnd.random() < 0.1:
        doc = rnd.choice([[], {}, None, 3, "x", {"projects": {}}, {"projects": [1, "a", None]}])
    data = json.dumps(doc, ensure_ascii=rnd.random() < 0.5).encode()
    return mutate(data, rnd, 2) if rnd.random() < 0.4 else data


def code_csv(rnd: random.Random) -> tuple[str, bytes]:
    name = rnd.choice(["function_codes.csv", "economic_codes_department.csv", "fund_sources.csv",
                       "regions.csv", "accounts.csv"])
    data = (CODES_DIR / name).read_bytes()
    lines = data.decode("utf-8-sig").splitlines()
    head, body = lines[0], lines[1:]
    body = rnd.sample(body, min(len(body), rnd.randint(0, 12)))
    for i in range(len(body)):
        if rnd.random() < 0.3:
            cells = body[i].split(",")
            cells[rnd.randrange(len(cells))] = rnd.choice(ODD_TEXT)
            body[i] = ",".join(cells)
    text = rnd.choice(EOLS).join([head, *body])
    raw = text.encode(rnd.choice(["gbk", "utf-8", "utf-8-sig"]), errors="replace")
    return name, mutate(raw, rnd, 2) if rnd.random() < 0.3 else raw


def template_xlsx(rnd: random.Random, unit: str = "440300101", year: int = 2026) -> bytes:
    from budgets import spreadsheets

    wb = Workbook()
    ws = wb.active
    ws.title = spreadsheets.SHEET
    meta = wb.create_sheet(spreadsheets.META)
    meta.append(["template", spreadsheets.MARK if rnd.random() < 0.9 else "x"])
    meta.append(["unit", rnd.choice([unit, unit, "440300102", None, 440300101])])
    meta.append(["year", rnd.choice([year, str(year), 2025, None])])
    for r in range(spreadsheets.FIRST_ROW, spreadsheets.FIRST_ROW + rnd.randint(0, 6)):
        for c, val in enumerate([rnd.choice(["P1", None, 1]), "2050101", "30201", "1",
                                 rnd.choice(["100.00", 100, 1.5, -3, "abc", None, 1e20, "1e3"]),
                                 rnd.choice([None, "0", 0.1])], start=1):
            ws.cell(row=r, column=c, value=val)
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    return mutate(data, rnd, 2) if rnd.random() < 0.3 else data


def zip_bomb(inflated: int = 200 * 1024 * 1024) -> bytes:
    """A valid-looking xlsx whose one sheet inflates to `inflated` bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"/>')
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            block = b" " * (1024 * 1024)
            for _ in range(inflated // len(block)):
                f.write(block)
    return buf.getvalue()


# ------------------------------------------------------------------ oracle
@dataclass
class Verdict:
    outcome: str  # "clean" | "issues" | "error" | "crash"
    detail: str = ""


def judge(call: Callable[[], object], *, domain: tuple[type[BaseException], ...] = (),
          issues_of: Callable[[object], list] = lambda r: []) -> Verdict:
    """clean: parsed with no issue; issues: parsed with (file, line, field, reason) issues,
    each with a reason; error: a domain error with a message; crash: anything else."""
    try:
        result = call()
    except domain as exc:
        return Verdict("error", str(exc)) if str(exc).strip() else Verdict("crash", "empty message")
    except Exception as exc:  # noqa: BLE001 - the oracle: any other exception is a crash
        return Verdict("crash", f"{type(exc).__name__}: {exc}")
    found = issues_of(result)
    if any(not str(getattr(i, "reason", "")).strip() for i in found):
        return Verdict("crash", "issue without a reason")
    return Verdict("issues" if found else "clean")


FAKE_PLAN = SimpleNamespace(unit=SimpleNamespace(code="440300101"), year=2026)
