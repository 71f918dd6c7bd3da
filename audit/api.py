"""REST API of the audit app: trace, history, entries, alerts (list, export, workflow).
Views parse input and call one selector or service; what auditors read is logged."""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import rules
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import selectors, services
from audit.access import AuditorReadOnlyPermission, access_log_record
from audit.errors import AuditError, BadTraceRef
from audit.models import AccessLog, Alert
from audit.trace import DIMENSIONS


def jsonable(value: Any) -> Any:
    """Dataclasses to JSON: money as strings with two decimals, times in ISO."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _error(exc: AuditError) -> Response:
    return Response({"code": exc.code, "detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)


def trace_params(params: Any) -> dict[str, Any]:
    return {"measure": params.get("measure", ""), "year": params.get("year", "0"),
            "period": params.get("period") or None, "book": params.get("book", ""),
            **{d: params[d] for d in DIMENSIONS if params.get(d)}}


def trace_from_request(params: Any) -> Any:
    """?ref=… or ?measure=&year=&period=&book=&unit=… ; limit/offset page the lines."""
    try:
        limit = max(1, min(int(params.get("limit", 500)), 5000))
        offset = max(0, int(params.get("offset", 0)))
    except ValueError:
        raise BadTraceRef(ref=f"limit={params.get('limit')}&offset={params.get('offset')}",
                          reason="limit and offset must be whole numbers") from None
    if params.get("ref"):
        return selectors.trace_resolve(params["ref"], limit=limit, offset=offset)
    args = trace_params(params)
    if not str(args["year"]).isdigit() or len(str(args["year"])) > 4:
        args["year"] = 0
    return selectors.trace(limit=limit, offset=offset, **args)


class TraceView(APIView):
    """The lines, entries, documents, steps and references behind one figure."""

    rule_perm = "audit.view"

    @extend_schema(parameters=[OpenApiParameter("ref", str, OpenApiParameter.QUERY, description='a trace reference; or the query below'), OpenApiParameter("measure", str, OpenApiParameter.QUERY), OpenApiParameter("year", int, OpenApiParameter.QUERY), OpenApiParameter("period", int, OpenApiParameter.QUERY), OpenApiParameter("book", str, OpenApiParameter.QUERY), OpenApiParameter("region", str, OpenApiParameter.QUERY), OpenApiParameter("unit", str, OpenApiParameter.QUERY), OpenApiParameter("function", str, OpenApiParameter.QUERY), OpenApiParameter("economic", str, OpenApiParameter.QUERY), OpenApiParameter("fund_source", str, OpenApiParameter.QUERY), OpenApiParameter("project", str, OpenApiParameter.QUERY), OpenApiParameter("limit", int, OpenApiParameter.QUERY), OpenApiParameter("offset", int, OpenApiParameter.QUERY)],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        try:
            result = trace_from_request(request.query_params)
        except AuditError as exc:
            return _error(exc)
        access_log_record(user=request.user, action=AccessLog.Action.VIEW, target="trace",
                          params={"ref": result.ref})
        data = jsonable(result)
        data.update(ref=result.ref, truncated=result.truncated, approvers=result.approvers,
                    tracking_ids=result.tracking_ids)
        return Response(data)


class HistoryAsOfView(APIView):
    """A record as it was at ?as_of= (a date: end of that day; default now)."""

    rule_perm = "audit.view"

    @extend_schema(parameters=[OpenApiParameter("as_of", str, OpenApiParameter.QUERY, description='YYYY-MM-DD or an ISO time')], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, label: str, pk: str) -> Response:
        when = request.query_params.get("as_of") or dt.datetime.now(dt.UTC).isoformat()
        try:
            snap = selectors.record_as_of(label=label, pk=pk, when=when)
        except AuditError as exc:
            return _error(exc)
        except ValueError:
            return Response({"detail": "as_of must be YYYY-MM-DD or an ISO time"}, status=400)
        access_log_record(user=request.user, action=AccessLog.Action.VIEW,
                          target=f"history {label}:{pk}", params={"as_of": when})
        return Response(jsonable(snap))


class HistoryChangesView(APIView):
    """What changed between ?from= and ?to= (dates or ISO times), field by field."""

    rule_perm = "audit.view"

    @extend_schema(parameters=[OpenApiParameter("from", str, OpenApiParameter.QUERY), OpenApiParameter("to", str, OpenApiParameter.QUERY)], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, label: str, pk: str) -> Response:
        start = request.query_params.get("from", "1970-01-01")
        end = request.query_params.get("to") or dt.datetime.now(dt.UTC).isoformat()
        try:
            diff = selectors.record_changes(label=label, pk=pk, start=start, end=end)
        except AuditError as exc:
            return _error(exc)
        except ValueError:
            return Response({"detail": "from/to must be YYYY-MM-DD or an ISO time"}, status=400)
        access_log_record(user=request.user, action=AccessLog.Action.VIEW,
                          target=f"history {label}:{pk}", params={"from": start, "to": end})
        return Response(jsonable(diff))


class EntryView(APIView):
    rule_perm = "audit.view"

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        try:
            detail = selectors.entry_detail(entry_id=pk)
        except ObjectDoesNotExist:  # an unknown id; anything else is a real error
            return Response({"detail": "not found"}, status=404)
        access_log_record(user=request.user, action=AccessLog.Action.VIEW, target=f"entry {pk}")
        return Response(jsonable(detail))


class AlertSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(source="rule.code")
    severity = serializers.CharField(source="rule.severity")
    owner = serializers.CharField(source="owner.username", default="")
    amount = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = ["id", "rule", "severity", "status", "owner", "unit_code", "year", "amount",
                  "entry", "message", "details", "raised_at"]

    def get_amount(self, obj: Alert) -> str:
        return f"{Decimal(obj.amount_fen) / 100:.2f}"


def alert_filters(params: Any) -> dict[str, Any]:
    def day(name: str) -> dt.date | None:
        value = params.get(name)
        return dt.date.fromisoformat(value) if value else None

    year = params.get("year")
    return {"status": params.get("status", ""), "rule": params.get("rule", ""),
            "unit": params.get("unit", ""), "owner": params.get("owner", ""),
            "year": int(year) if year and year.isdigit() and len(year) <= 4 else None,
            "raised_from": day("from"), "raised_to": day("to")}


class AlertList(generics.ListAPIView):
    """?status=&rule=&unit=&owner=&year=&from=&to="""

    rule_perm = "audit.view"

    serializer_class = AlertSerializer

    @extend_schema(parameters=[OpenApiParameter("status", str, OpenApiParameter.QUERY), OpenApiParameter("rule", str, OpenApiParameter.QUERY), OpenApiParameter("unit", str, OpenApiParameter.QUERY), OpenApiParameter("owner", str, OpenApiParameter.QUERY), OpenApiParameter("year", int, OpenApiParameter.QUERY), OpenApiParameter("from", OpenApiTypes.DATE, OpenApiParameter.QUERY), OpenApiParameter("to", OpenApiTypes.DATE, OpenApiParameter.QUERY)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):  # noqa: ANN201
        return selectors.alert_list(**alert_filters(self.request.query_params))


class AlertExport(APIView):
    """The filtered alerts as ?file=csv (default) or xlsx; logged for auditors. (Not
    ?format=: DRF reserves it for content negotiation.)"""

    rule_perm = "audit.view"

    @extend_schema(parameters=[OpenApiParameter("status", str, OpenApiParameter.QUERY), OpenApiParameter("rule", str, OpenApiParameter.QUERY), OpenApiParameter("unit", str, OpenApiParameter.QUERY), OpenApiParameter("owner", str, OpenApiParameter.QUERY), OpenApiParameter("year", int, OpenApiParameter.QUERY), OpenApiParameter("from", OpenApiTypes.DATE, OpenApiParameter.QUERY), OpenApiParameter("to", OpenApiTypes.DATE, OpenApiParameter.QUERY), OpenApiParameter("file", str, OpenApiParameter.QUERY, description='csv or xlsx')],
                   responses={(200, "text/csv"): OpenApiTypes.BINARY})
    def get(self, request: Request) -> HttpResponse:
        fmt = "xlsx" if request.query_params.get("file") == "xlsx" else "csv"
        filters = alert_filters(request.query_params)
        content, ctype, name = selectors.alerts_export(alerts=selectors.alert_list(**filters),
                                                       fmt=fmt)
        access_log_record(user=request.user, action=AccessLog.Action.EXPORT, target="alerts",
                          params={**{k: v for k, v in filters.items() if v}, "format": fmt})
        response = HttpResponse(content, content_type=ctype)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class AlertTransition(APIView):
    """POST {"comment": …} to /alerts/<id>/<explain|close|reopen>/."""

    permission_classes = [IsAuthenticated, AuditorReadOnlyPermission]  # rules: the queryset
    actions = {"explain": services.alert_explain, "close": services.alert_close,
               "reopen": services.alert_reopen}

    @extend_schema(request=inline_serializer("AlertComment", {"comment": serializers.CharField()}),
                   responses=AlertSerializer)
    def post(self, request: Request, pk: int, action: str) -> Response:
        service = self.actions.get(action)
        if service is None:
            return Response({"detail": "unknown action"}, status=404)
        # Only the alert's owner or someone who may see its unit (rule audit.act_on_alert).
        alert = get_object_or_404(Alert, pk=pk)
        if not rules.has_perm("audit.act_on_alert", request.user, alert):
            return Response({"detail": "not found"}, status=404)
        try:
            alert = service(alert_id=pk, user=request.user,
                            comment=str(request.data.get("comment", "")))
        except AuditError as exc:
            return _error(exc)
        return Response(AlertSerializer(alert).data)
