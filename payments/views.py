"""Pages of payments: a request's trail (tracking id, rule hits, steps, ledger entries)
and the reconciliation exceptions queue. Each view makes one selector call."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from payments import selectors
from payments.models import PaymentRequest


@login_required
def request_trace_view(request: HttpRequest, tracking_id: str) -> HttpResponse:
    try:
        trace = selectors.request_trace(tracking_id=tracking_id)
    except PaymentRequest.DoesNotExist:
        raise Http404(tracking_id) from None
    return render(request, "payments/trace.html", trace)


@login_required
def exceptions_view(request: HttpRequest) -> HttpResponse:
    return render(request, "payments/exceptions.html",
                  {"exceptions": selectors.open_exceptions().select_related("voucher",
                                                                             "statement_line")})
