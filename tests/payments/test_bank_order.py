"""Reconciliation is a function of what is stored, not of arrival order (issue 17).

A set of payments is delivered as the agent bank would deliver it: result files in the
bank's own layout (profiles) and pain.002 status reports — some saying "still in
process" first — and statements in the formats that bank sends (camt.053 in its
version, with bulk entries split per transaction, camt.054 notifications, MT940 and
MT942 interim reports, its own CSV statement), split across files, in any order, with
any file repeated or re-sent under new bank references. Whatever the order, the end
state is the bank's truth: each payment paid or returned exactly once (one result row,
one payment posting or one release), each booking stored once, every line matched, the
clearing credit matched, no exception open."""
from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citysim import banks as bw
from finance.chart import EntryKind
from finance.models import Entry
from finance.services import entry_post
from payments import services
from payments.models import BankResult, ReconException, StatementLine, Voucher
from tests.helpers import YEAR, approve_lines, dims
from tests.payments.conftest import SH, approve_all, payee

DAY = dt.date(2026, 11, 20)
AT = dt.datetime(2026, 11, 20, 9, 0, tzinfo=SH)
counter = itertools.count(1)
FATES = ["paid", "rejected", "pending_paid", "pending_rejected"]
REASONS = ["AC04 账户已销户", "BE01 户名不符", "AC01 账号错误"]


def _setup(people, user, cnaps: str, amounts: list[Decimal], n: int):  # noqa: ANN001, ANN202
    bank = services.bank_upsert(cnaps=cnaps, name=bw.NAMES[cnaps], user=user)
    agent = services.agent_account_upsert(number=f"4403019{n:09d}", name="零余额账户",
                                          bank=bank, user=user)
    reqs = []
    for i, amount in enumerate(amounts):
        p = payee(user, name=f"收款单位{n}-{i}", account=f"62170{n:06d}{i:04d}")
        req = services.payment_request_create(dims=dims(), year=YEAR, amount=amount, payee=p,
                                              purpose="order", user=people.filer, as_of=AT)
        req = services.payment_request_submit(request=req, user=people.filer, as_of=AT)
        reqs.append(approve_all(people, req, AT))
    batch = services.voucher_batch_create(agent_account=agent, user=people.reviewer,
                                          requests=reqs, as_of=AT)
    return agent, list(batch.vouchers.select_related("request__payee").order_by("number"))


def _result_files(data, cnaps: str, agent, vouchers, fates) -> list[tuple[str, bytes]]:  # noqa: ANN001
    """Result files and pain.002 reports: every final status in at least one file (a
    re-sent one under a new bank reference), a pending status before it in another."""
    kinds = data.draw(st.lists(st.sampled_from(["bank", "pain002"]), min_size=1, max_size=3),
                      label="result files")
    rows: list[list[bw.Res]] = [[] for _ in kinds]
    for k, (v, fate) in enumerate(zip(vouchers, fates, strict=True)):
        final = "paid" if fate.endswith("paid") else "rejected"
        where = data.draw(st.sets(st.integers(0, len(kinds) - 1), min_size=1), label="final in")
        reason = "" if final == "paid" else REASONS[k % len(REASONS)]
        p = v.request.payee
        for f in sorted(where):
            rows[f].append(bw.Res(v.number, agent.number, p.account_number, p.name, v.amount,
                                  final, f"R{f}{kinds[f][0]}{v.number}",
                                  dt.datetime(2026, 11, 20, 15, k, f),  # noqa: DTZ001 - local
                                  reason))
        if fate.startswith("pending"):
            f = data.draw(st.integers(0, len(kinds) - 1), label="pending in")
            if f not in where:
                rows[f].append(bw.Res(v.number, agent.number, p.account_number, p.name,
                                      v.amount, "pending", f"P{f}{v.number}",
                                      dt.datetime(2026, 11, 20, 10, k, f)))  # noqa: DTZ001
    out = []
    for f, (kind, part) in enumerate(zip(kinds, rows, strict=True)):
        if not part:
            continue
        if kind == "pain002":
            out.append((f"pain002_{f}.xml", bw.pain002(part, msg_id=f"PSR{f}")))
        else:
            name, content = bw.results(cnaps, part)
            out.append((f"{f}_{name}", content))
    return out


def _statement_files(data, cnaps: str, agent, vouchers, fates) -> list[tuple[str, bytes]]:  # noqa: ANN001
    """The day's bookings (a debit per paid payment, the clearing credit) in the formats
    the bank sends: a full statement, perhaps again in another format or re-sent with new
    references, perhaps an interim MT942 or camt.054 notification of some debits."""
    paid = [v for v, f in zip(vouchers, fates, strict=True) if f.endswith("paid")]
    if not paid:
        return []

    def lines(tag: str) -> list[bw.Line]:
        out = [bw.Line(f"{tag}{v.number}", v.amount, False, v.number,
                       v.request.payee.account_number, v.request.payee.name, "国库集中支付")
               for v in paid]
        return [*out, bw.Line(f"{tag}QS{agent.number[-6:]}", sum((v.amount for v in paid),
                                                                 Decimal(0)), True,
                              info="清算资金划入")]

    def write(fmt: str, tag: str, subset: list[bw.Line]) -> tuple[str, bytes]:
        if fmt.startswith("camt053"):
            batch = data.draw(st.booleans(), label="bulk entry")
            return (f"{tag}.camt053.xml",
                    bw.camt(agent.number, DAY, subset, version=fmt[-2:], batch=batch))
        if fmt == "camt054":
            return f"{tag}.camt054.xml", bw.camt(agent.number, DAY, subset, message="054")
        if fmt in ("mt940", "mt942"):
            return f"{tag}.{fmt}", bw.mt94x(agent.number, DAY, subset, interim=fmt == "mt942")
        name, content = bw.statement_csv(cnaps, agent.number, DAY, subset)
        return f"{tag}_{name}", content

    formats = bw.STATEMENTS[cnaps]
    full = [f for f in formats if f not in ("mt942", "camt054")]
    files = [write(data.draw(st.sampled_from(full), label="statement"), "S0", lines("A"))]
    for i in range(data.draw(st.integers(0, 2), label="more statements")):
        fmt = data.draw(st.sampled_from(formats), label="more")
        tag = f"S{i + 1}"
        if fmt in ("mt942", "camt054"):  # interim: some of the debits only
            debits = [ln for ln in lines(tag) if not ln.credit]
            some = data.draw(st.lists(st.sampled_from(debits), min_size=1, unique=True),
                             label="interim lines")
            files.append(write(fmt, tag, some))
        else:  # the whole statement again, under the references of another file
            files.append(write(fmt, tag, lines(tag)))
    return files


@pytest.fixture
def rich(ready, user):  # noqa: ANN001
    """Budget for every generated payment, and no monthly plan in the way."""
    entry_post(lines=approve_lines(Decimal("900000000.00")), description="批复", user=user,
               on=dt.date(2026, 11, 1))
    services.fund_source_plan_control_set(fund_source="1", enabled=False, user=user,
                                          reason="generated files")
    return ready


def _outcome(fate: str) -> str:
    return Voucher.Status.PAID if fate.endswith("paid") else Voucher.Status.RETURNED


class TestAnyOrder:
    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def test_files_in_any_order_end_in_the_banks_truth(self, rich, people, user, data):
        n = next(counter)
        cnaps = data.draw(st.sampled_from(bw.BANKS), label="bank")
        amounts = data.draw(st.lists(st.integers(1, 2_000_000), min_size=1, max_size=4),
                            label="fen")
        fate_choices = FATES if cnaps in bw.REPORTS_PENDING else FATES[:2]
        fates = data.draw(st.lists(st.sampled_from(fate_choices), min_size=len(amounts),
                                   max_size=len(amounts)), label="fates")
        agent, vouchers = _setup(people, user, cnaps, [Decimal(a) / 100 for a in amounts], n)
        files = (_result_files(data, cnaps, agent, vouchers, fates)
                 + _statement_files(data, cnaps, agent, vouchers, fates))
        repeats = data.draw(st.lists(st.sampled_from(files), max_size=2), label="repeated")
        order = data.draw(st.permutations(files + repeats), label="order")

        for name, content in order:
            report = services.bank_file_import(content=content, filename=name, user=user,
                                               as_of=dt.datetime(2026, 11, 21, 9, tzinfo=SH))
            assert report.issues == [], (name, report.issues)

        for v, fate in zip(vouchers, fates, strict=True):
            v.refresh_from_db()
            assert v.status == _outcome(fate), (v.number, fate)
            assert BankResult.objects.filter(voucher=v).count() == 1
            tid = v.request.tracking_id
            paid = Entry.objects.filter(tracking_id=tid, kind=EntryKind.PAYMENT).count()
            released = Entry.objects.filter(tracking_id=tid, kind=EntryKind.REVERSAL).count()
            assert (paid, released) == ((1, 0) if fate.endswith("paid") else (0, 1)), fate
        paid_n = sum(1 for f in fates if f.endswith("paid"))
        lines = StatementLine.objects.filter(account=agent.number)
        assert lines.count() == (paid_n + 1 if paid_n else 0)
        assert not lines.filter(matched_by="").exists()
        assert {ln.voucher.number for ln in lines if ln.voucher_id} == {
            v.number for v, f in zip(vouchers, fates, strict=True) if f.endswith("paid")}
        assert list(ReconException.objects.filter(account=agent.number, status="open")
                    .values_list("kind", "key")) == []
