"""Payment vouchers (支付凭证) in batches for an agent bank, and the day's clearing-limit
notice (清算额度通知单)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from finance.services import (
    bulk_save_with_history,
    save_with_history,
    workflow_record_many,
)
from payments import errors
from payments.models import (
    AgentAccount,
    ClearingNotice,
    PaymentRequest,
    Voucher,
    VoucherBatch,
    VoucherSeq,
)
from payments.services._common import (
    CENT,
    S,
    amount_in_capitals,
)
from payments.services.requests import _requests_locked


def voucher_batch_create(*, agent_account: AgentAccount, user: Any,
                         requests: list[PaymentRequest] | None = None,
                         as_of: dt.datetime | None = None) -> VoucherBatch:
    """Put approved requests on payment vouchers (支付凭证) for one agent bank, numbered
    ZF + YYYYMM + 4 digits, then refresh the day's clearing-limit notice."""
    as_of = as_of or timezone.now()
    on = timezone.localdate(as_of)
    with transaction.atomic():
        qs = _requests_locked().filter(status=S.APPROVED).order_by("id")
        if requests is not None:
            qs = qs.filter(pk__in=[r.pk for r in requests])
        todo = list(qs)
        if not todo:
            raise errors.NothingToVoucher()
        seq, _ = VoucherSeq.objects.get_or_create(year=on.year, month=on.month)
        seq = VoucherSeq.objects.select_for_update().get(pk=seq.pk)
        batch = VoucherBatch.objects.create(agent_account=agent_account, date=on,
                                            created_by=user, created_at=as_of)
        vouchers = []
        for req in todo:
            seq.last += 1
            vouchers.append(Voucher(number=f"ZF{on.year}{on.month:02d}{seq.last:04d}",
                                    batch=batch, request=req, amount=req.amount,
                                    amount_capital=amount_in_capitals(req.amount), date=on))
            req.status = S.VOUCHERED
        # one INSERT for the vouchers, one UPDATE for the requests, their history rows and
        # workflow steps in one INSERT each (every row validated first)
        bulk_save_with_history(vouchers, user=user, reason="voucher issued")
        bulk_save_with_history(todo, user=user, reason="vouchered", fields=["status"])
        workflow_record_many([(v.request, S.APPROVED, S.VOUCHERED, v.number) for v in vouchers],
                             action="voucher", user=user, as_of=as_of)
        seq.save(update_fields=["last"])
        _notice_refresh(agent_account, on, user)
        return batch


def _notice_refresh(agent_account: AgentAccount, on: dt.date, user: Any) -> ClearingNotice:
    """清算额度通知单: the day's total of vouchers for the agent bank."""
    agg = Voucher.objects.filter(batch__agent_account=agent_account, date=on).aggregate(
        s=Sum("amount"))
    total = Decimal(agg["s"] or 0).quantize(CENT)  # SQLite sums decimals in floating point
    count = Voucher.objects.filter(batch__agent_account=agent_account, date=on).count()
    notice = (ClearingNotice.objects.select_for_update()
              .filter(agent_account=agent_account, date=on).first()
              or ClearingNotice(agent_account=agent_account, date=on))
    notice.total, notice.count = total, count
    notice.amount_capital = amount_in_capitals(total)
    save_with_history(notice, user=user, reason="vouchers issued")
    return notice
