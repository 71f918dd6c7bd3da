"""Audit pages: click down from a figure to its lines, an entry, the document and its
steps; history of any record; alerts. Each view makes one selector call."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from audit import selectors
from audit.access import access_log_record
from audit.api import alert_filters, trace_from_request
from audit.errors import AuditError
from audit.models import AccessLog, Alert
from audit.trace import DIMENSIONS, MEASURES
from finance import measures


@login_required
def trace_view(request: HttpRequest) -> HttpResponse:
    context: dict = {"measures": [(m, measures.label(m)) for m in MEASURES],
                     "dimensions": DIMENSIONS, "q": request.GET}
    if request.GET.get("ref") or request.GET.get("measure"):
        try:
            result = trace_from_request(request.GET)
        except AuditError as exc:
            context["error"] = str(exc)
        else:
            context["result"] = result
            access_log_record(user=request.user, action=AccessLog.Action.VIEW, target="trace",
                              params={"ref": result.ref})
    return render(request, "audit/trace.html", context)


@login_required
def entry_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        detail = selectors.entry_detail(entry_id=pk)
    except ObjectDoesNotExist as exc:  # an unknown id; anything else is a real error
        raise Http404(f"entry {pk}") from exc
    access_log_record(user=request.user, action=AccessLog.Action.VIEW, target=f"entry {pk}")
    return render(request, "audit/entry.html", {"d": detail})


@login_required
def history_view(request: HttpRequest, label: str, pk: str) -> HttpResponse:
    as_of = request.GET.get("as_of") or timezone.now().isoformat()
    start = request.GET.get("from") or "1970-01-01"
    end = request.GET.get("to") or timezone.now().isoformat()
    # the page names the model as people do (用款申请, not payments.paymentrequest)
    context: dict = {"label": selectors.model_title(label), "pk": pk, "q": request.GET}
    try:
        context["snapshot"] = selectors.record_as_of(label=label, pk=pk, when=as_of)
    except AuditError as exc:
        context["error"] = str(exc)
    except ValueError as exc:
        raise Http404("bad date") from exc
    try:
        context["diff"] = selectors.record_changes(label=label, pk=pk, start=start, end=end)
    except AuditError as exc:
        raise Http404(str(exc)) from exc
    access_log_record(user=request.user, action=AccessLog.Action.VIEW,
                      target=f"history {label}:{pk}", params=dict(request.GET.items()))
    return render(request, "audit/history.html", context)


@login_required
def alerts_view(request: HttpRequest) -> HttpResponse:
    try:
        filters = alert_filters(request.GET)
    except ValueError:
        filters = alert_filters({})
    alerts = selectors.alert_list(**filters)[:500]
    access_log_record(user=request.user, action=AccessLog.Action.VIEW, target="alerts",
                      params={k: v for k, v in filters.items() if v})
    return render(request, "audit/alerts.html", {
        "alerts": alerts, "q": request.GET, "statuses": Alert.Status.choices,
        "query": request.GET.urlencode(), "today": timezone.localdate()})
