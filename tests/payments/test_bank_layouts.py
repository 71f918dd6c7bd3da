"""One result file per agent bank, as that bank writes it (citysim.banks: its header
words, separators, encoding, time style and status words, typed from the bank's layout,
not from the profile), read back: the profile that reads it and every row worked out by
hand — paid 12,500.00 at 09:15:02, refused 860.00 with the bank's reason, 3,280.50 still
in process (for the banks that report it) — and the three banks' own CSV statements."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from citysim import banks
from payments.importers import detect, parse
from payments.models import BankProfile

AT = dt.datetime(2026, 11, 3, 9, 15, 2)  # noqa: DTZ001 - the bank's local time
ROWS = [
    banks.Res("ZF2026110001", "44030100040012345", "6222020200112233445", "深圳市南山某科技有限公司",
              Decimal("12500.00"), "paid", "BK001", AT),
    banks.Res("ZF2026110003", "44030100040012345", "6228480010099887766", "张某某",
              Decimal("860.00"), "rejected", "BK002", AT + dt.timedelta(minutes=1), "户名不符"),
    banks.Res("ZF2026110002", "44030100040012345", "6217000010012345678", "深圳市福田某印务有限公司",
              Decimal("3280.50"), "pending", "BK003", AT + dt.timedelta(minutes=2)),
]
# bank → (profile, format, file kind detected, the times as the file keeps them)
EXPECTED = {
    banks.ICBC: ("icbc-sz", "results_csv", "csv", ["09:15:02", "09:16:02", "09:17:02"]),
    banks.CCB: ("ccb-sz", "results_csv", "csv", ["09:15:02", "09:16:02", "09:17:02"]),
    banks.ABC: ("abc-sz", "results_csv", "csv", ["09:15:02", "09:16:02", "09:17:02"]),
    banks.BOC: ("boc-sz", "results_xlsx", "xlsx", ["09:15:02", "09:16:02", "09:17:02"]),
    banks.BOCOM: ("bocom-sz", "results_csv", "csv", ["09:15:00", "09:16:00"]),  # minutes only
    banks.CMB: ("cmb-sz", "results_csv", "csv", ["09:15:02", "09:16:02", "09:17:02"]),
    banks.CITIC: ("citic-sz", "results_csv", "csv", ["09:15:02", "09:16:02", "09:17:02"]),
    banks.CEB: ("ceb-sz", "results_csv", "csv", ["09:15:02", "09:16:02", "09:17:02"]),
    banks.PSBC: ("psbc-sz", "results_xlsx", "xlsx", ["09:15:02", "09:16:02", "09:17:02"]),
}


def dialects():  # noqa: ANN201
    return [p.dialect() for p in sorted(BankProfile.objects.filter(active=True),
                                        key=lambda p: (p.code == "standard", p.code))]


@pytest.mark.django_db
@pytest.mark.parametrize("cnaps", banks.BANKS)
def test_each_banks_result_file_is_read_by_its_profile(cnaps):
    rows = ROWS if cnaps in banks.REPORTS_PENDING else ROWS[:2]
    name, content = banks.results(cnaps, rows)
    profile, fmt, kind, times = EXPECTED[cnaps]

    assert detect(content) == kind
    read = parse(content, name, kind, dialects())
    assert (read.profile, read.format, read.issues) == (profile, fmt, [])
    got = [(r.voucher_number, r.amount, r.outcome, r.bank_ref) for r in read.results]
    assert got == [("ZF2026110001", Decimal("12500.00"), "paid", "BK001"),
                   ("ZF2026110003", Decimal("860.00"), "rejected", "BK002"),
                   ("ZF2026110002", Decimal("3280.50"), "pending", "BK003")][:len(rows)]
    assert [f"{r.traded_at.astimezone(dt.timezone(dt.timedelta(hours=8))):%H:%M:%S}"
            for r in read.results] == times
    assert read.results[1].reason == "户名不符"


@pytest.mark.django_db
@pytest.mark.parametrize("cnaps", [banks.CCB, banks.CMB, banks.PSBC])
def test_the_banks_own_csv_statements(cnaps):
    day = dt.date(2026, 11, 3)
    lines = [banks.Line("S1", Decimal("12500.00"), False, "ZF2026110001", "6222020200112233445",
                        "深圳市南山某科技有限公司", "办公费"),
             banks.Line("S2", Decimal("1234567.89"), True, info="清算资金划入")]
    name, content = banks.statement_csv(cnaps, "44030100040012345", day, lines)
    read = parse(content, name, detect(content) or "", dialects())
    assert (read.format, read.profile, read.issues) == ("statement_csv", EXPECTED[cnaps][0], [])
    assert [(r.account, r.booking_date, r.amount, r.credit, r.end_to_end_id, r.bank_ref,
             r.currency) for r in read.statement] == [
        ("44030100040012345", day, Decimal("12500.00"), False, "ZF2026110001", "S1", "CNY"),
        ("44030100040012345", day, Decimal("1234567.89"), True, "", "S2", "CNY")]
