"""Issue 19: the statement import and reconciliation read lines as plain rows and write the
exceptions due as records (COPY on PostgreSQL, bulk_create_with_history elsewhere), and
look values up with one array parameter (`AnyOf`). Same rows and history as one
ReconException saved at a time would give, worked out by hand for a small file; the
number of SQL statements does not grow with the file."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from citysim import banks
from finance.models import WorkflowStep
from finance.services import bulk_save_with_history, workflow_record_many
from payments import services
from payments.models import Bank, ReconException, StatementLine, Voucher
from payments.services._common import AnyOf
from tests.payments.conftest import SH
from tests.payments.test_bank import CAMT, day, paid  # noqa: F401 - fixtures

AS_OF = dt.datetime(2026, 10, 16, 18, 0, tzinfo=SH)


def odd_statement() -> bytes:
    """The camt.053 sample with its second payment (3,280.50 to ZF2026100002) booked as
    3,280.00 under an unknown voucher number and a new bank reference."""
    text = CAMT.read_text("utf-8")
    cut = text.index("<Ntry>\n        <NtryRef>BK20261015000124")
    end = text.index("</Ntry>", cut) + len("</Ntry>")
    return (text[:cut] + text[cut:end].replace("BK20261015000124", "BK20261015000999")
            .replace("ZF2026100002", "ZF2026109999").replace("3280.50", "3280.00")
            + text[end:]).encode("utf-8")


def test_the_exceptions_and_their_history_rows_are_those_saved_one_by_one(paid, user):  # noqa: F811
    report = services.bank_file_import(content=odd_statement(), filename="odd.xml", user=user,
                                       as_of=AS_OF)
    assert (report.stored, report.matched, report.exceptions) == (4, 3, 2)
    line = StatementLine.objects.get(bank_ref="BK20261015000999")
    voucher = Voucher.objects.get(number="ZF2026100002")
    on = dt.date(2026, 10, 15)
    fields = ("kind", "key", "account", "date", "statement_line_id", "voucher_id", "expected",
              "actual", "status", "resolution", "resolved_by_id", "resolved_at", "auto",
              "created_at")
    want = [
        ("line_without_voucher", f"line:{line.pk}", "44030100040012345", on, line.pk, None,
         None, Decimal("3280.00"), "open", "", None, None, False, AS_OF),
        ("voucher_without_line", f"voucher:{voucher.pk}", "44030100040012345", on, None,
         voucher.pk, Decimal("3280.50"), None, "open", "", None, None, False, AS_OF),
    ]
    rows = list(ReconException.objects.order_by("kind").values_list("id", *fields))
    assert [r[1:] for r in rows] == want
    history = list(ReconException.history.order_by("kind").values_list(
        "id", *fields, "history_type", "history_change_reason", "history_user_id"))
    assert history == [(*r, "+", "reconciliation", user.pk) for r in rows]
    # reconciling again changes nothing: no new exception, no new history row
    assert services.statement_reconcile(account="44030100040012345", dates=[on], user=user,
                                        as_of=AS_OF) == (3, 0)
    assert ReconException.history.count() == 2


def statement(n: int, prefix: str) -> bytes:
    """A CCB CSV statement (as citysim's bank writes it) of n debit lines naming no
    voucher."""
    lines = [banks.Line(f"{prefix}{k:08d}", Decimal(100 + k), False, f"{prefix}{k:010d}",
                        f"6222{k:015d}", f"收款人{k}", "办公费") for k in range(n)]
    return banks.statement_csv(banks.CCB, "44030100040012345", dt.date(2026, 10, 20),
                               lines)[1]


def test_the_statements_sent_do_not_grow_with_the_file(paid, user):  # noqa: F811
    counts = []
    for n in (5, 300):
        with CaptureQueriesContext(connection) as ctx:
            report = services.bank_file_import(content=statement(n, f"S{n}-"), filename=f"s{n}.csv",
                                               user=user, as_of=AS_OF)
        assert (report.issues, report.stored, report.exceptions) == ([], n, n)
        counts.append(len(ctx.captured_queries))
    if connection.vendor == "postgresql":  # COPY; SQLite's INSERTs are cut by its
        assert counts[0] == counts[1]        # limit on parameters per statement
    assert ReconException.objects.filter(date=dt.date(2026, 10, 20)).count() == 305
    assert ReconException.history.filter(date=dt.date(2026, 10, 20)).count() == 305


def test_any_of_is_in(paid):  # noqa: F811
    numbers = ["ZF2026100001", "ZF2026100004", "ZF2099999999"]
    assert sorted(Voucher.objects.filter(AnyOf(F("number"), numbers)).values_list(
        "number", flat=True)) == ["ZF2026100001", "ZF2026100004"]
    assert list(Voucher.objects.filter(AnyOf(F("number"), []))) == []
    ids = list(Voucher.objects.values_list("pk", flat=True)[:2])
    assert sorted(Voucher.objects.filter(AnyOf(F("id"), ids)).values_list(
        "pk", flat=True)) == sorted(ids)


def test_an_update_of_many_rows_writes_the_history_of_the_rows_as_stored(user):
    """bulk_save_with_history(fields=…): UPDATE … FROM unnest and the history INSERT …
    SELECT on PostgreSQL, bulk_update and simple-history elsewhere: the same rows."""
    made = [services.bank_upsert(cnaps=f"1025840077{i:02d}", name=f"旧{i}", user=user)
            for i in range(3)]
    for i, bank in enumerate(made):
        bank.name, bank.cnaps = f"新{i}", "not written"
    bulk_save_with_history(made[::-1], user=user, reason="renamed",
                           reasons=["r2", "r1", "r0"], fields=["name"])
    rows = list(Bank.objects.filter(pk__in=[b.pk for b in made]).order_by("pk").values_list(
        "pk", "cnaps", "name"))
    assert [r[1:] for r in rows] == [(f"1025840077{i:02d}", f"新{i}") for i in range(3)]
    last = list(Bank.history.filter(history_type="~", id__in=[b.pk for b in made])
                .order_by("history_id").values_list("id", "cnaps", "name",
                                                    "history_change_reason", "history_user"))
    assert last == [(*r, f"r{i}", user.pk) for i, r in enumerate(rows)]


def test_workflow_steps_written_many_at_a_time_get_their_ids(user):
    banks_ = [services.bank_upsert(cnaps=f"1025840066{i:02d}", name=f"行{i}", user=user)
              for i in range(2)]
    steps = workflow_record_many([(b, "a", "b", f"c{i}") for i, b in enumerate(banks_)],
                                 action="bank_result", user=user, as_of=AS_OF)
    assert all(s.pk for s in steps)
    assert list(WorkflowStep.objects.filter(pk__in=[s.pk for s in steps]).order_by("pk")
                .values_list("doc_id", "from_state", "to_state", "action", "actor", "at",
                             "comment")) == [
        (str(b.pk), "a", "b", "bank_result", user.pk, AS_OF, f"c{i}")
        for i, b in enumerate(banks_)]
