"""REST API of the reports app: the execution report as JSON (amounts as strings) and
the trace-reference resolver."""
from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from finance.measures import BadTraceRef
from finance.selectors import figure_of
from reports import errors, selectors


class ExecutionReportAPI(APIView):
    """GET ?year=2026&by=department,function&scope=region:440300"""

    rule_perm = "reports.view"

    @extend_schema(parameters=[OpenApiParameter("year", int, OpenApiParameter.QUERY, required=True), OpenApiParameter("by", str, OpenApiParameter.QUERY), OpenApiParameter("scope", str, OpenApiParameter.QUERY)], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        try:
            year = int(request.query_params.get("year", "0") or 0)
            if not 1900 <= year <= 2200:  # raw SQL below: keep the year a real one
                raise ValueError(f"year {year} is out of range")
            report = selectors.execution_report(
                year=year,
                group_by=tuple(g for g in request.query_params.get("by", "department").split(",") if g),
                scope=selectors.Scope.parse(request.query_params.get("scope")))
        except (errors.ReportError, ValueError) as exc:
            return Response({"detail": str(exc)}, status=400)

        def row(r: selectors.ExecutionRow) -> dict:
            return {"keys": r.keys, "labels": r.labels,
                    "figures": {m: {"amount": str(f.yuan), "trace": f.trace}
                                for m, f in r.figures.items()},
                    "rate": str(r.rate) if r.rate is not None else None}

        return Response({"year": report.year, "scope": str(report.scope),
                         "rows": [row(r) for r in report.rows], "total": row(report.total),
                         "monthly_paid": [str(f.yuan) for f in report.monthly_paid]})


class TraceAPI(APIView):
    """GET ?ref=tr:v1:...  → the figure the reference's query gives on the ledger now."""

    rule_perm = "reports.view"

    @extend_schema(parameters=[OpenApiParameter("ref", str, OpenApiParameter.QUERY, required=True)], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        ref = request.query_params.get("ref", "")
        try:
            fen = figure_of(ref)
        except BadTraceRef as exc:
            return Response({"detail": str(exc)}, status=400)
        return Response({"ref": ref, "amount": str(selectors.fen_to_decimal(fen))})


# ------------------------------------------------------------------ writes
YEAR_FIELD = serializers.IntegerField(min_value=2000, max_value=2100)
def _error(exc: Exception) -> Response:
    status = 403 if isinstance(exc, errors.NotAuthorised) else 400
    return Response({"detail": str(exc), "code": getattr(exc, "code", "error")}, status=status)


class _Write(APIView):
    """Parse input, call one service, map domain errors to 400/403."""

    rule_perm = "reports.write"  # the services check the finer rights again

    def call(self, request: Request, **kwargs: object) -> object:  # pragma: no cover - abstract
        raise NotImplementedError

    body: dict = {}  # the request body's fields, for the schema

    def post(self, request: Request, **kwargs: object) -> Response:
        from finance.errors import LedgerError

        if self.body:  # validated before the service sees it: bad input is a 400, not a 500
            form = type("Input", (serializers.Serializer,), dict(self.body))(data=request.data)
            if not form.is_valid():
                return Response({"code": "invalid", "detail": form.errors}, status=400)
        try:
            result = self.call(request, **kwargs)
        except (errors.ReportError, LedgerError) as exc:
            return _error(exc)
        except (KeyError, ValueError, TypeError) as exc:
            return Response({"detail": f"bad input: {exc}"}, status=400)
        except ObjectDoesNotExist:  # a set (or month, department) that is not there
            return Response({"code": "not_found", "detail": "not found"}, status=404)
        return Response(result, status=200)


def _set_json(ds: object) -> dict:
    from reports import services

    return {"id": ds.pk, "department": ds.department.code, "year": ds.year,  # type: ignore[attr-defined]
            "kind": ds.kind, "status": ds.status,  # type: ignore[attr-defined]
            **services.sign_offs_json(ds),  # type: ignore[arg-type]
            "manifest_sha256": ds.manifest_sha256}  # type: ignore[attr-defined]


class MonthCloseAPI(_Write):
    """POST {year, month}"""

    body = {"year": YEAR_FIELD, "month": serializers.IntegerField(min_value=1, max_value=12)}

    def call(self, request: Request, **kwargs: object) -> dict:
        from reports import services

        p = services.month_close(year=int(request.data["year"]), month=int(request.data["month"]),
                                 user=request.user)
        return {"year": int(request.data["year"]), "month": p.month, "status": p.status}


class YearCloseAPI(_Write):
    """POST {year}"""

    body = {"year": YEAR_FIELD}

    def call(self, request: Request, **kwargs: object) -> dict:
        from reports import services

        close = services.year_end_close(year=int(request.data["year"]), user=request.user)
        return {"id": close.pk, "year": close.year, "status": close.status,
                "entries": len(close.entry_ids), "summary": close.summary}


class YearReopenAPI(_Write):
    """POST {year, reason} — needs reports.reopen_year."""

    body = {"year": YEAR_FIELD, "reason": serializers.CharField()}

    def call(self, request: Request, **kwargs: object) -> dict:
        from reports import services

        close = services.year_end_reopen(year=int(request.data["year"]), user=request.user,
                                         reason=str(request.data.get("reason", "")))
        return {"id": close.pk, "year": close.year, "status": close.status}


class DisclosureSetsAPI(_Write):
    """GET: sets with deadlines; POST {department, year, kind, approved_on}: a draft."""

    rule_perms = {"GET": "reports.view", "POST": "reports.write"}
    body = {"department": serializers.CharField(max_length=20), "year": YEAR_FIELD,
            "kind": serializers.ChoiceField(choices=["budget", "final"]),
            "approved_on": serializers.DateField(required=False)}

    @extend_schema(responses=OpenApiTypes.OBJECT)

    def get(self, request: Request) -> Response:
        from django.utils import timezone

        return Response([{**_set_json(d.disclosure), "due": d.due.isoformat(),
                          "deadline_state": d.state}
                         for d in selectors.disclosure_deadlines(today=timezone.localdate())])

    def call(self, request: Request, **kwargs: object) -> dict:
        import datetime as dt

        from reports import services

        ds = services.disclosure_set_create(
            department_code=str(request.data["department"]), year=int(request.data["year"]),
            kind=str(request.data["kind"]),
            approved_on=(dt.date.fromisoformat(str(request.data["approved_on"]))
                         if request.data.get("approved_on") else None),
            user=request.user)
        return _set_json(ds)


class DisclosureConfidentialityAPI(_Write):
    """POST {conclusion: cleared|withheld, note}: 保密审查 (needs
    reports.review_disclosure_confidentiality)."""

    body = {"conclusion": serializers.ChoiceField(choices=["cleared", "withheld"]),
            "note": serializers.CharField(required=False, allow_blank=True)}

    def call(self, request: Request, **kwargs: object) -> dict:
        from reports import services

        return _set_json(services.disclosure_set_confidentiality(
            disclosure_id=int(kwargs["pk"]), user=request.user,
            conclusion=str(request.data["conclusion"]), note=str(request.data.get("note", ""))))


class DisclosureSignAPI(_Write):
    """POST: 主要负责人审签 of an approved set (the department's head)."""

    rule_perm = "reports.sign_disclosure"

    def call(self, request: Request, **kwargs: object) -> dict:
        from reports import services

        return _set_json(services.disclosure_set_sign(disclosure_id=int(kwargs["pk"]),
                                                      user=request.user))


class DisclosureApproveAPI(_Write):
    def call(self, request: Request, **kwargs: object) -> dict:
        from reports import services

        return _set_json(services.disclosure_set_approve(disclosure_id=int(kwargs["pk"]),
                                                         user=request.user))


class DisclosurePublishAPI(_Write):
    def call(self, request: Request, **kwargs: object) -> dict:
        from reports import services

        return _set_json(services.disclosure_set_publish(disclosure_id=int(kwargs["pk"]),
                                                         user=request.user))


class PublicSetsAPI(APIView):
    """GET: the published disclosure sets (?year=&department=), for anyone, signed in or
    not; drafts and approved sets are never listed here."""

    authentication_classes: list = []
    permission_classes: list = []
    rule_perm = "reports.view_public"

    @extend_schema(parameters=[OpenApiParameter("year", int, OpenApiParameter.QUERY), OpenApiParameter("department", str, OpenApiParameter.QUERY)], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        sets = selectors.published_sets(year=request.query_params.get("year", ""),
                                        department=request.query_params.get("department", ""))
        return Response([{**_set_json(ds), "department_name": ds.department.name,
                          "published_at": ds.published_at.isoformat() if ds.published_at
                          else None, "page": f"/reports/public/{ds.pk}/"} for ds in sets])


def _document_writes() -> None:
    """Each write's schema: its body fields (``body``) and a JSON object answer."""
    for view in (MonthCloseAPI, YearCloseAPI, YearReopenAPI, DisclosureSetsAPI,
                 DisclosureApproveAPI, DisclosureConfidentialityAPI, DisclosureSignAPI,
                 DisclosurePublishAPI):
        request = (inline_serializer(f"{view.__name__}Input", view.body) if view.body else None)
        view.post = extend_schema(request=request, responses=OpenApiTypes.OBJECT)(
            _post_of(view))


def _post_of(view: type) -> object:
    def post(self: _Write, request: Request, **kwargs: object) -> Response:
        return _Write.post(self, request, **kwargs)

    post.__qualname__ = f"{view.__name__}.post"
    return post


_document_writes()
