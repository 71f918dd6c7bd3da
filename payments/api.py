"""REST API of payments: each view parses input and makes ONE service or selector call,
mapping domain errors to 400/403 responses with the clerk's message."""
from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from finance.access import scope_by_unit
from finance.errors import LedgerError
from finance.jobs import job_create
from finance.ledger import Dims
from payments import errors, selectors, services
from payments.models import (
    BankProfile,
    PaymentRequest,
    ReconException,
    RuleHit,
    VoucherBatch,
)
from payments.tasks import bank_file_import_task

security_log = logging.getLogger("smart_finance.security")


def _error(exc: LedgerError) -> Response:
    code = status.HTTP_403_FORBIDDEN if isinstance(exc, errors.NotAllowed) else 400
    return Response({"code": exc.code, "detail": str(exc)}, status=code)


class HitSerializer(serializers.ModelSerializer):
    class Meta:
        model = RuleHit
        fields = ["rule_code", "action", "reason"]


@extend_schema_field({"type": "string", "format": "decimal",
                     "pattern": r"^\d{0,14}(?:\.\d{0,2})?$"})
class AmountField(serializers.DecimalField):
    """An amount in yuan as written (a string, at most 2 decimal places). Its places are
    not checked or quantized here: the service refuses more than 2 naming the amount
    (errors.AmountPlaces), the one message on the API, the filing page and in code."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_digits=16, decimal_places=None, coerce_to_string=True,
                         min_value=Decimal("0.01"), **kwargs)


class RequestSerializer(serializers.ModelSerializer):
    hits = HitSerializer(many=True, read_only=True)
    amount = AmountField()
    submit = serializers.BooleanField(
        write_only=True, required=False, default=False,
        help_text="Save and submit at once (保存并送审): rules, plan and commitment as the "
                  "submit action; a short indicator or plan is refused and nothing is saved.")

    class Meta:
        model = PaymentRequest
        fields = ["id", "tracking_id", "status", "year", "region", "unit", "function",
                  "economic", "fund_source", "project", "amount", "payee", "purpose",
                  "contract_ref", "procurement_ref", "return_reason", "hits", "submit"]
        read_only_fields = ["id", "tracking_id", "status", "return_reason", "hits"]


class RequestList(generics.ListCreateAPIView):
    """Requests of the units the caller may see: a unit its own, a department its units, a
    district its region, the city all (web.scoping). POST files one (filers)."""

    serializer_class = RequestSerializer
    filterset_fields = ["status", "unit"]
    rule_perms = {"POST": "payments.file_request"}

    def get_queryset(self):  # noqa: ANN201
        return scope_by_unit(selectors.requests_all(), self.request.user).prefetch_related("hits")

    def create(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        dims = Dims(region=d["region"], unit=d["unit"], function=d["function"],
                    economic=d["economic"], fund_source=d["fund_source"],
                    project=d.get("project", ""))
        try:
            req = services.payment_request_create(
                dims=dims, year=d["year"], amount=Decimal(d["amount"]), payee=d["payee"],
                purpose=d["purpose"], contract_ref=d.get("contract_ref", ""),
                procurement_ref=d.get("procurement_ref", ""), user=request.user,
                submit=d.get("submit", False))
        except LedgerError as exc:
            return _error(exc)
        return Response(self.get_serializer(req).data, status=status.HTTP_201_CREATED)


class FileManyItem(RequestSerializer):
    """One request of a batch: the filing form's fields (the year is the batch's)."""

    class Meta(RequestSerializer.Meta):
        fields = ["region", "unit", "function", "economic", "fund_source", "project",
                  "amount", "payee", "purpose", "contract_ref", "procurement_ref"]
        read_only_fields: list[str] = []


class FileManyInput(serializers.Serializer):
    year = serializers.IntegerField()
    requests = FileManyItem(many=True, allow_empty=False,
                            max_length=services.BATCH_LIMIT)


class RequestFileMany(APIView):
    """POST {year, requests: [...]}: file and submit many requests at once (批量录入并送审,
    payments.services.payment_requests_file): each gets the checks of 保存并送审 one by one
    and sees those before it. 200 with `filed` (the requests written: submitted, or refused
    by a rule with its reasons) and `refused` (position in the list, error code, message:
    nothing was written for them)."""

    rule_perm = "payments.file_request"

    @extend_schema(request=FileManyInput, responses=inline_serializer("FiledMany", {
        "filed": RequestSerializer(many=True),
        "refused": inline_serializer("FiledManyRefused", {
            "index": serializers.IntegerField(), "code": serializers.CharField(),
            "detail": serializers.CharField()}, many=True)}))
    def post(self, request: Request) -> Response:
        ser = FileManyInput(data=request.data)
        ser.is_valid(raise_exception=True)
        items = [services.RequestInput(
            dims=Dims(region=d["region"], unit=d["unit"], function=d["function"],
                      economic=d["economic"], fund_source=d["fund_source"],
                      project=d.get("project", "")),
            amount=Decimal(d["amount"]), payee=d["payee"], purpose=d["purpose"],
            contract_ref=d.get("contract_ref", ""), procurement_ref=d.get("procurement_ref", ""))
            for d in ser.validated_data["requests"]]
        try:
            out = services.payment_requests_file(items=items, year=ser.validated_data["year"],
                                                 user=request.user)
        except LedgerError as exc:
            return _error(exc)
        return Response({
            "filed": RequestSerializer(out.filed, many=True).data,
            "refused": [{"index": n, "code": getattr(exc, "code", "invalid"),
                         "detail": "; ".join(m for ms in exc.message_dict.values() for m in ms)
                         if hasattr(exc, "message_dict") else str(exc)}
                        for n, exc in out.refused]})


class RequestAction(APIView):
    """POST submit / approve / reject (with `comment`)."""

    action_name = ""

    @extend_schema(request=inline_serializer("RequestActionComment", {
        "comment": serializers.CharField(required=False)}), responses=RequestSerializer)
    def post(self, request: Request, pk: int) -> Response:
        # submit and approve read the request once, locked, first thing (a missing one is
        # a 404 as before); reject checks the comment before that, so it is looked up here
        req = (PaymentRequest(pk=pk) if self.action_name in ("submit", "approve")
               else get_object_or_404(PaymentRequest, pk=pk))
        comment = str(request.data.get("comment", ""))
        try:
            if self.action_name == "submit":
                req = services.payment_request_submit(request=req, user=request.user)
            elif self.action_name == "approve":
                req = services.payment_request_approve(request=req, user=request.user,
                                                       comment=comment)
            else:
                req = services.payment_request_reject(request=req, user=request.user,
                                                      comment=comment)
        except PaymentRequest.DoesNotExist:
            raise Http404(f"No {PaymentRequest._meta.object_name} matches the given "
                          "query.") from None
        except LedgerError as exc:
            if isinstance(exc, errors.NotAllowed):
                security_log.warning("refused: %s may not %s payment request %s: %s",
                                     request.user, self.action_name, pk, exc)
            return _error(exc)
        return Response(RequestSerializer(req).data)


class BatchCreate(APIView):
    """POST {agent_account: id}: vouchers for every approved request."""

    rule_perm = "payments.create_batch"

    @extend_schema(request=inline_serializer("BatchCreateInput", {
        "agent_account": serializers.IntegerField()}), responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        from payments.models import AgentAccount

        acct = get_object_or_404(AgentAccount, pk=request.data.get("agent_account"))
        try:
            batch = services.voucher_batch_create(agent_account=acct, user=request.user)
        except LedgerError as exc:
            return _error(exc)
        return Response({"id": batch.pk, "vouchers": list(
            batch.vouchers.values_list("number", flat=True))}, status=201)


class BatchExport(APIView):
    fmt = "csv"
    rule_perm = "payments.export_batch"

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.BINARY,
                               (200, "application/xml"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> HttpResponse:
        return self._export(request, pk)

    def _export(self, request: Request, pk: int) -> HttpResponse:  # noqa: ARG002
        batch = get_object_or_404(VoucherBatch, pk=pk)
        if self.fmt == "csv":
            body, ctype, ext = selectors.voucher_batch_csv(batch=batch), "text/csv; charset=gb18030", "csv"
        else:
            body, ctype, ext = selectors.voucher_batch_pain001(batch=batch), "application/xml", "xml"
        resp = HttpResponse(body, content_type=ctype)
        resp["Content-Disposition"] = f'attachment; filename="vouchers_{batch.pk}.{ext}"'
        return resp


class BankFileUpload(APIView):
    """POST multipart `file` (and optional `profile`, a bank profile code: a table is read
    by that profile instead of the one whose header fits): a Job is created and the import
    runs as a Celery task; poll /api/finance/jobs/<job>/ for progress, issues and the
    outcome."""

    parser_classes = [MultiPartParser]
    rule_perm = "payments.upload_bank_file"

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}, "profile": {"type": "string"}}, "required": ["file"]}}, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            return Response({"detail": "file is required"}, status=400)
        profile = str(request.data.get("profile", "") or "")
        if profile and not BankProfile.objects.filter(code=profile).exists():
            return _error(errors.UnknownProfile(code=profile))
        job = job_create(kind="payments.import_bank", user=request.user, filename=upload.name,
                         content=upload.read())
        transaction.on_commit(lambda: bank_file_import_task.delay(
            job_id=job.pk, user_id=request.user.pk, profile=profile or None))
        return Response({"job": job.pk, "progress": f"/api/finance/jobs/{job.pk}/",
                         "page": f"/jobs/{job.pk}/"}, status=status.HTTP_202_ACCEPTED)


class ExceptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReconException
        fields = ["id", "kind", "account", "date", "statement_line", "voucher", "expected",
                  "actual", "status", "resolution", "resolved_at"]


class ExceptionList(generics.ListAPIView):
    serializer_class = ExceptionSerializer
    filterset_fields = ["status", "kind", "account"]
    queryset = ReconException.objects.order_by("id")
    rule_perm = "payments.view_exceptions"


class ExceptionResolve(APIView):
    rule_perm = "payments.resolve_exception"

    @extend_schema(request=inline_serializer("ExceptionResolveInput", {
        "reason": serializers.CharField()}), responses=ExceptionSerializer)
    def post(self, request: Request, pk: int) -> Response:
        exc_row = get_object_or_404(ReconException, pk=pk)
        try:
            row = services.recon_exception_resolve(exception=exc_row, user=request.user,
                                                   reason=str(request.data.get("reason", "")))
        except LedgerError as exc:
            return _error(exc)
        return Response(ExceptionSerializer(row).data)

