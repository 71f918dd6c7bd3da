"""REST API of the budgets app: feed upload (a Celery job), plan transitions, the Excel
filing template, and indicator reads for other systems. Each view parses input, makes
one service or selector call and maps domain errors to 400 responses."""
from __future__ import annotations

from typing import Any

import rules
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from budgets import selectors, services, spreadsheets
from budgets.models import BudgetPlan
from finance.errors import LedgerError
from finance.ledger import Dims

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OUT_OF_SCOPE = {"code": "out_of_scope",
                "detail": "This record belongs to an organization you may not see."}


def _plan_for(request: Request, pk: int) -> BudgetPlan:
    """The plan, if the caller may see its unit (rule budgets.view_plan); else 404."""
    plan = get_object_or_404(BudgetPlan.objects.select_related("unit"), pk=pk)
    if not rules.has_perm("budgets.view_plan", request.user, plan):
        raise Http404
    return plan


def _error(exc: LedgerError) -> Response:
    body: dict[str, Any] = {"code": exc.code, "detail": str(exc)}
    for attr in ("problems", "violations"):
        if hasattr(exc, attr):
            body[attr] = getattr(exc, attr)
    if "available" in exc.params:
        body["available"] = str(exc.params["available"])
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


class ProjectImportUpload(APIView):
    """POST a JSON export of 政府投资项目管理系统 (multipart field `file`): the import runs
    as a Celery task; the answer names the job whose progress /jobs/<id>/ shows."""

    parser_classes = [MultiPartParser, FormParser]
    rule_perm = "budgets.import_projects"

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}}, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            return Response({"code": "file_missing", "detail": "Upload the feed as field “file”."},
                            status=status.HTTP_400_BAD_REQUEST)
        job = services.project_import_enqueue(filename=upload.name, content=upload.read(),
                                              user=request.user, as_of=timezone.now())
        return Response({"job": job.pk, "url": f"/jobs/{job.pk}/",
                         "api": f"/api/finance/jobs/{job.pk}/"}, status=status.HTTP_202_ACCEPTED)


class TransitionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["submit", "review", "return", "approve"])
    comment = serializers.CharField(required=False, default="", allow_blank=True)
    reason = serializers.CharField(required=False, default="", allow_blank=True)


_PLAN_ACTIONS = {
    "submit": lambda plan, user, data: services.plan_submit(
        plan=plan, user=user, as_of=timezone.now(), comment=data["comment"]),
    "review": lambda plan, user, data: services.plan_review(
        plan=plan, user=user, as_of=timezone.now(), comment=data["comment"]),
    "return": lambda plan, user, data: services.plan_return(
        plan=plan, user=user, as_of=timezone.now(), reason=data["reason"]),
    "approve": lambda plan, user, data: services.plan_approve(
        plan=plan, user=user, as_of=timezone.now(), comment=data["comment"]),
}


class PlanTransition(APIView):
    """POST {"action": submit|review|return|approve, "comment", "reason"}."""

    @extend_schema(request=TransitionSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, pk: int) -> Response:
        plan = _plan_for(request, pk)
        ser = TransitionSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            plan = _PLAN_ACTIONS[ser.validated_data["action"]](plan, request.user, ser.validated_data)
        except LedgerError as exc:
            return _error(exc)
        return Response({"id": plan.pk, "status": plan.status})


class PlanTemplate(APIView):
    """GET the unit's Excel filing template; POST a filled one back (field `file`)."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses={(200, XLSX): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> HttpResponse:
        plan = _plan_for(request, pk)
        response = HttpResponse(spreadsheets.plan_template_build(plan=plan), content_type=XLSX)
        response["Content-Disposition"] = (f'attachment; filename="plan_{plan.unit.code}_'
                                           f'{plan.year}.xlsx"')
        return response

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}}, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, pk: int) -> Response:
        plan = _plan_for(request, pk)
        upload = request.FILES.get("file")
        if upload is None:
            return Response({"code": "file_missing", "detail": "Upload the template as field “file”."},
                            status=status.HTTP_400_BAD_REQUEST)
        try:
            result = services.plan_template_import(plan=plan, content=upload.read(),
                                                   user=request.user, as_of=timezone.now())
        except LedgerError as exc:
            return _error(exc)
        return Response({"created": result.created, "updated": result.updated,
                         "deleted": result.deleted, "unchanged": result.unchanged})


def _year(request: Request) -> int | None:
    value = request.query_params.get("year", "")
    return int(value) if value.isdigit() and len(value) <= 4 else None


class UnitIndicators(APIView):
    """GET a unit's indicators (?year=): approved, adjusted, used, available per tuple."""

    @extend_schema(parameters=[OpenApiParameter("year", int, OpenApiParameter.QUERY, required=True)], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, code: str) -> Response:
        year = _year(request)
        if year is None:
            return Response({"code": "year_missing", "detail": "Give ?year=YYYY."}, status=400)
        if not rules.has_perm("budgets.view_unit", request.user, code):
            return Response(OUT_OF_SCOPE, status=status.HTTP_403_FORBIDDEN)
        rows = selectors.unit_indicators(unit_code=code, year=year)
        return Response([{**r.dims.__dict__, "approved": str(r.approved), "carried": str(r.carried),
                          "adjusted": str(r.adjusted), "used": str(r.used),
                          "available": str(r.available)} for r in rows])


class IndicatorHistory(APIView):
    """GET ?year=&region=&unit=&function=&economic=&fund_source=&project=: the original
    approval, every adjustment and virement, and who approved each."""

    @extend_schema(parameters=[OpenApiParameter("year", int, OpenApiParameter.QUERY, required=True), OpenApiParameter("region", str, OpenApiParameter.QUERY), OpenApiParameter("unit", str, OpenApiParameter.QUERY), OpenApiParameter("function", str, OpenApiParameter.QUERY), OpenApiParameter("economic", str, OpenApiParameter.QUERY), OpenApiParameter("fund_source", str, OpenApiParameter.QUERY), OpenApiParameter("project", str, OpenApiParameter.QUERY)], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        year = _year(request)
        if year is None:
            return Response({"code": "year_missing", "detail": "Give ?year=YYYY."}, status=400)
        q = request.query_params
        if not rules.has_perm("budgets.view_unit", request.user, q.get("unit", "")):
            return Response(OUT_OF_SCOPE, status=status.HTTP_403_FORBIDDEN)
        dims = Dims(**{f: q.get(f, "") for f in ("region", "unit", "function", "economic",
                                                 "fund_source", "project")})
        events = selectors.indicator_history(dims=dims, year=year)
        return Response({
            "available": str(selectors.indicator_available(dims=dims, year=year)),
            "events": [{"date": e.date, "entry": e.entry, "kind": e.kind, "amount": str(e.amount),
                        "document": e.document, "reason": e.reason, "approved_by": e.approved_by,
                        "approved_at": e.approved_at} for e in events],
        })
