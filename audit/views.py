"""Audit pages: click down from a figure to its lines, an entry, the document and its
steps; history of any record; alerts. Each view makes one selector call."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import BooleanField, DateTimeField, DecimalField, Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit import selectors
from audit.access import access_log_record
from audit.api import alert_filters, trace_from_request
from audit.errors import AuditError
from audit.models import AccessLog, Alert
from audit.trace import DIMENSIONS, MEASURES
from finance import labels, measures
from finance.chart import EntryKind
from finance.dimensions import code_names
from finance.models import Book
from web.templatetags.web_tags import local_time, money


@login_required
def trace_view(request: HttpRequest) -> HttpResponse:
    context: dict = {"measures": [(m, measures.label(m)) for m in MEASURES],
                     "dimensions": [(d, measures.KEY_LABELS.get(d, d)) for d in DIMENSIONS],
                     "q": request.GET}
    if request.GET.get("ref") or request.GET.get("measure"):
        try:
            result = trace_from_request(request.GET)
        except AuditError as exc:
            context["error"] = str(exc)
        else:
            context["result"] = result
            context["lines"] = _lines_for_people(result.lines)
            context["sources"] = _sources_for_people(result.sources)
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
    return render(request, "audit/entry.html", {
        "d": detail, "kind": dict(EntryKind.choices).get(detail.entry.kind, detail.entry.kind),
        "lines": _lines_for_people(detail.lines),
        "sources": _sources_for_people(detail.sources)})


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
    _history_for_people(label, context)
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


# ------------------------------------------------------------------ for people
# The pages speak as people do: a model by its verbose name (用款申请, not
# payments.paymentrequest), a state and an action by their labels (finance.labels, the one
# reading of the shared logs), a code with its name
# (2050203 初中教育, 30101 基本工资, 资金性质 1 一般公共预算), amounts with separators.
REFERENCES = {
    "tracking_id": _("tracking id"),
    "bank_reference": _("bank reference"),
    "bank_ref": _("bank reference"),
    "voucher_number": _("voucher number"),
    "document_number": _("document number"),
    "batch_number": _("batch number"),
}
HISTORY_TYPES = {"+": _("created"), "~": _("changed"), "-": _("deleted")}
CODE_DIMENSIONS = ("region", "unit", "function", "economic", "fund_source")


def _model(label: str) -> type[Model] | None:
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def _named(code: str, names: dict[str, str]) -> str:
    return f"{code} {names[code]}" if code in names else code


def _lines_for_people(lines: list) -> list[dict]:
    """Trace or entry lines with the book and entry kind labels and every code named."""
    wanted: dict[str, set[str]] = {d: set() for d in CODE_DIMENSIONS}
    wanted["account"] = set()
    for ln in lines:
        wanted["account"].add(ln.account)
        for d in CODE_DIMENSIONS:
            wanted[d].add(ln.dims.get(d, ""))
    names = code_names(wanted)
    books = dict(Book.choices)
    out = []
    for ln in lines:
        row = {"entry_id": ln.entry_id, "seq": ln.seq, "book": books.get(ln.book, ln.book),
               "account": _named(ln.account, names["account"]), "debit": ln.debit,
               "credit": ln.credit, "amount": ln.amount,
               "project": ln.dims.get("project", "")}
        row.update({d: _named(ln.dims.get(d, ""), names[d]) for d in CODE_DIMENSIONS})
        out.append(row)
    return out


def _sources_for_people(sources: list) -> list[dict]:
    """Source documents: the model's verbose name, the document's number, state and amount,
    references named, each workflow step with its action and states as labels."""
    by_label: dict[str, list[str]] = {}
    for s in sources:
        by_label.setdefault(s.label, []).append(s.pk)
    objects: dict[tuple[str, str], Any] = {}
    for label, pks in by_label.items():
        model = _model(label)
        if model is not None:
            try:
                found = model._default_manager.in_bulk(pks)
            except (ValueError, TypeError):
                found = {}
            objects.update({(label, str(pk)): obj for pk, obj in found.items()})
    out = []
    for s in sources:
        model = _model(s.label)
        obj = objects.get((s.label, s.pk))
        number = next((f"{getattr(obj, a)}" for a in ("number", "voucher_number",
                                                      "tracking_id", "code")
                       if obj is not None and getattr(obj, a, "")), "")
        amount = getattr(obj, "amount", None) if obj is not None else None
        out.append({
            "label": s.label, "pk": s.pk,
            "model": model._meta.verbose_name if model is not None else s.label,
            "number": number or f"#{s.pk}",
            "status": obj if obj is not None and hasattr(obj, "get_status_display") else None,
            "amount": amount if isinstance(amount, Decimal) else None,
            "references": [(REFERENCES.get(k, k), v) for k, v in s.references.items()
                           if v != number],
            "steps": [{"at": st.at, "actor": st.actor, "comment": st.comment,
                       "action": labels.action_label(st.action),
                       "from": labels.state_label(model, st.from_state),
                       "to": labels.state_label(model, st.to_state)}
                      for st in s.steps],
            "related": _sources_for_people(s.related),
        })
    return out


def _history_for_people(label: str, context: dict) -> None:
    """History values as people read them: amounts with separators, times in the city's
    zone, codes of the dimensions with their names, the kind of change in words."""
    model = _model(label)
    fields = {}
    if model is not None:
        for f in model._meta.get_fields():
            if getattr(f, "concrete", False):
                fields[f.attname] = f
                fields[f.name] = f
    values: list[tuple[str, str]] = []
    snapshot, diff = context.get("snapshot"), context.get("diff")
    if snapshot is not None:
        values += [(f.name, f.value) for f in snapshot.fields]
    if diff is not None:
        for c in [*diff.net, *(c for s in diff.steps for c in s.changes)]:
            values += [(c.name, c.old), (c.name, c.new)]
    wanted: dict[str, set[str]] = {d: set() for d in CODE_DIMENSIONS}
    for name, value in values:
        dim = _dimension_of(name)
        if dim:
            wanted[dim].add(value)
    names = code_names(wanted)

    def show(name: str, value: str) -> str:
        field = fields.get(name)
        if value in ("", None):
            return ""
        if isinstance(field, DecimalField):
            return money(value)
        if isinstance(field, BooleanField):
            return str(_("yes")) if value == "True" else str(_("no")) if value == "False" \
                else value
        if isinstance(field, DateTimeField):
            return local_time(value, "%Y-%m-%d %H:%M:%S")
        dim = _dimension_of(name)
        return _named(value, names[dim]) if dim else value

    if snapshot is not None:
        context["fields"] = [(f.label, show(f.name, f.value)) for f in snapshot.fields]
        context["snapshot_type"] = HISTORY_TYPES.get(snapshot.history_type, "")
        context["snapshot_reason"] = labels.reason_label(snapshot.reason)
    if diff is not None:
        context["net"] = [(c.label, show(c.name, c.old), show(c.name, c.new))
                          for c in diff.net]
        context["steps"] = [{"at": s.history_date, "user": s.user,
                             "reason": labels.reason_label(s.reason),
                             "type": HISTORY_TYPES.get(s.history_type, s.history_type),
                             "changes": [(c.label, show(c.name, c.old), show(c.name, c.new))
                                         for c in s.changes]} for s in diff.steps]


def _dimension_of(field_name: str) -> str:
    """`function`, `function_code` or `function_id` (a code field) → `function`."""
    for suffix in ("_code", "_id", ""):
        if suffix and not field_name.endswith(suffix):
            continue
        base = field_name[: -len(suffix)] if suffix else field_name
        if base in CODE_DIMENSIONS and suffix != "_id":
            return base
    return ""
