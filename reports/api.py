"""REST API of the reports app: the execution report as JSON (amounts as strings) and
the trace-reference resolver."""
from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports import errors, selectors
from reports.trace import trace_resolve


class ExecutionReportAPI(APIView):
    """GET ?year=2026&by=department,function&scope=region:440300"""

    def get(self, request: Request) -> Response:
        try:
            report = selectors.execution_report(
                year=int(request.query_params.get("year", "0") or 0),
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

    def get(self, request: Request) -> Response:
        ref = request.query_params.get("ref", "")
        try:
            fen = trace_resolve(ref)
        except errors.ReportError as exc:
            return Response({"detail": str(exc)}, status=400)
        return Response({"ref": ref, "amount": str(selectors.fen_to_decimal(fen))})
