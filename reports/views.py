"""Pages of the reports app: execution report (page, Excel, PDF with charts), final
accounts, close, disclosure sets (staff) and the public pages of published sets (no
login). Each view parses input and makes one selector or service call."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from reports import errors, selectors, tables
from reports import render as report_render
from reports.forms import GROUPINGS, ExecutionForm, FinalAccountsForm
from reports.models import DisclosureSet

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _execution_charts(report: selectors.ExecutionReport) -> list:
    """The page's charts (web.charts, SVG): budget and payments by the first grouping (the
    ten largest, the rest as 其他), the execution rate of the same bars, and the payments of
    each month; amounts drawn in 万元, categories named by code and name."""
    from decimal import Decimal

    from web.charts import PERCENT, Chart, Series, fold

    charts = []
    group = report.group_by[0] if report.group_by else ""
    rows = sorted(report.rows, key=lambda r: -r.budget_fen)
    if group and rows:
        label = str(dict(GROUPINGS).get(group, group))
        labels = [" ".join(p for p in (r.keys.get(group, "") or "—",
                                       r.labels.get(group, "")) if p) for r in rows]
        budget = Series(_("Budget"), [selectors.fen_to_decimal(r.budget_fen) for r in rows])
        paid = Series(_("Paid"), [r.figures["paid"].yuan for r in rows])
        charts.append(Chart(chart_id="chart-budget-paid", labels=labels,
                            title=_("Budget and payments by %(group)s") % {"group": label},
                            series=[budget, paid]))
        short, (b, p) = fold(labels, [budget, paid])
        rates = [(pv / bv).quantize(Decimal("0.0001")) if bv else Decimal("0")
                 for bv, pv in zip(b.values, p.values, strict=True)]
        charts.append(Chart(chart_id="chart-rate", labels=short, kind=PERCENT, top=0,
                            title=_("Execution rate by %(group)s") % {"group": label},
                            series=[Series(_("Execution rate"), rates)]))
    charts.append(Chart(chart_id="chart-monthly", top=0,
                        labels=[_("month %(m)d") % {"m": m} for m in range(1, 13)],
                        title=_("Payments by month"),
                        series=[Series(_("Paid"), [f.yuan for f in report.monthly_paid])]))
    return charts


@login_required
def execution_view(request: HttpRequest) -> HttpResponse:
    """预算执行情况表: year, grouping and scope chosen from lists (ExecutionForm); what
    the form refuses is said on the page, never as a bare 400."""
    form = ExecutionForm.from_query(request.GET)
    report = None
    if form.is_valid():
        try:
            report = selectors.execution_report(
                year=form.cleaned_data["year"], group_by=form.group_by,
                scope=selectors.Scope.parse(form.cleaned_data["scope"]))
        except errors.ReportError as exc:
            form.add_error(None, str(exc))
    if report is None:
        return render(request, "reports/execution.html",
                      {"form": form, "title": _("Budget execution report")}, status=400)
    fmt = request.GET.get("format", "html")
    scope_label = str(dict(_flat(form.fields["scope"].choices)).get(
        form.cleaned_data["scope"], report.scope))
    table = tables.execution_table(report, scope_label=scope_label)
    title = f"{report.year}年预算执行情况表"
    if fmt == "xlsx":
        from reports.render import tables_xlsx

        return HttpResponse(tables_xlsx([table], title=title), content_type=XLSX, headers={
            "Content-Disposition": f'attachment; filename="execution_{report.year}.xlsx"'})
    if fmt == "pdf":
        from reports.render import tables_pdf

        return HttpResponse(tables_pdf([table], title=title,
                                       charts=report_render.execution_charts(report)),
                            content_type="application/pdf")
    query = request.GET.copy()
    query.pop("format", None)
    return render(request, "reports/execution.html",
                  {"form": form, "report": report, "table": table,
                   "charts": _execution_charts(report), "title": title,
                   "scope_label": scope_label,
                   "query": query.urlencode()})


def _flat(choices: list) -> list[tuple[str, str]]:
    out = []
    for value, label in choices:
        if isinstance(label, list | tuple):
            out += list(label)
        else:
            out.append((value, label))
    return out


@login_required
def final_accounts_view(request: HttpRequest) -> HttpResponse:
    """决算报表 of a scope; every amount links to its figure page."""
    form = FinalAccountsForm.from_query(request.GET)
    context: dict = {"form": form, "title": _("Final accounts statements")}
    if form.is_valid():
        scope_text = form.cleaned_data["scope"]
        try:
            fs = tables.fact_set(year=form.cleaned_data["year"],
                                 scope=selectors.Scope.parse(scope_text))
        except errors.ReportError as exc:
            form.add_error(None, str(exc))
        else:
            label = dict(_flat(form.fields["scope"].choices)).get(scope_text, scope_text)
            context.update(title=f"{fs.year}年决算报表（{label}）",
                           tables=tables.statement_tables(fs))
    return render(request, "reports/tables.html", context,
                  status=200 if "tables" in context else 400)


@login_required
def disclosure_list_view(request: HttpRequest) -> HttpResponse:
    """Sets with their deadlines; `?set=<id>` shows a set's tables below, built from the
    ledger now for a draft or approved set (each amount links to its figure page), as
    published for a published one (its public page)."""
    from finance import roles
    from reports import services
    from web import scoping

    deadlines = selectors.disclosure_deadlines(today=timezone.localdate())
    headed = services.department_headed_by(request.user)
    city = headed is None or scoping.is_city_level(request.user)
    if not city:  # a department's head: the department's own sets, to sign
        deadlines = [d for d in deadlines if d.disclosure.department_id == headed.pk]
    context: dict = {
        "deadlines": deadlines,
        "may_review": request.user.has_perm("reports.review_disclosure_confidentiality"),
        # the sets whose department head this user is (主要负责人审签)
        "may_sign": {d.disclosure.pk for d in deadlines
                     if roles.may_approve_unit(request.user, d.disclosure.department.code)},
        "conclusions": DisclosureSet.Confidentiality.choices, "city": city}
    chosen = request.GET.get("set", "")
    if chosen.isdigit():
        ds = get_object_or_404(DisclosureSet.objects.select_related("department"),
                               pk=int(chosen), pk__in=[d.disclosure.pk for d in deadlines])
        context["chosen"] = ds
        if ds.status != DisclosureSet.Status.PUBLISHED:
            context["tables"] = services.disclosure_tables(disclosure=ds)
    return render(request, "reports/disclosure_list.html", context)


@login_required
@require_POST
def disclosure_action_view(request: HttpRequest, action: str) -> HttpResponse:
    """Create (draft), approve, record the confidentiality review, sign (the department
    head) or publish a set from the page; errors shown as messages."""
    import datetime as dt

    from django.contrib import messages

    from finance.errors import LedgerError
    from reports import services

    try:
        if action == "create":
            services.disclosure_set_create(
                department_code=request.POST["department"], year=int(request.POST["year"]),
                kind=request.POST["kind"],
                approved_on=(dt.date.fromisoformat(request.POST["approved_on"])
                             if request.POST.get("approved_on") else None),
                user=request.user)
        elif action == "approve":
            services.disclosure_set_approve(disclosure_id=int(request.POST["id"]),
                                            user=request.user)
        elif action == "confidentiality":
            services.disclosure_set_confidentiality(
                disclosure_id=int(request.POST["id"]), user=request.user,
                conclusion=request.POST.get("conclusion", ""),
                note=request.POST.get("note", ""))
        elif action == "sign":
            services.disclosure_set_sign(disclosure_id=int(request.POST["id"]),
                                         user=request.user)
        elif action == "publish":
            services.disclosure_set_publish(disclosure_id=int(request.POST["id"]),
                                            user=request.user)
        else:
            raise Http404(action)
    except (errors.ReportError, LedgerError) as exc:
        messages.error(request, str(exc))
    except (KeyError, ValueError) as exc:
        messages.error(request, f"bad input: {exc}")
    return redirect("reports:disclosure")


@login_required
@require_POST
def disclosure_export_view(request: HttpRequest) -> HttpResponse:
    from finance import jobs
    from reports.tasks import disclosure_export_task

    year = int(request.POST.get("year") or timezone.localdate().year)
    job = jobs.job_create(kind="disclosure_export", user=request.user,
                          filename=f"disclosure_{year}.zip")
    disclosure_export_task.delay(job_id=job.pk, year=year)
    return redirect("finance:job", pk=job.pk)


MANIFEST_NAME = "manifest.json"


def public_list_view(request: HttpRequest) -> HttpResponse:
    sets = DisclosureSet.objects.filter(status="published").select_related("department")
    return render(request, "reports/public_list.html", {"sets": sets})


def public_set_view(request: HttpRequest, pk: int) -> HttpResponse:
    ds = get_object_or_404(DisclosureSet.objects.select_related(
        "department", "confidentiality_by", "head_signed_by"), pk=pk, status="published")
    figures: dict[str, list[dict]] = {}
    for f in ds.manifest.get("figures", []):
        figures.setdefault(f["table"], []).append(f)
    titles = {t["code"]: t["title"] for t in ds.manifest.get("tables", [])}
    return render(request, "reports/public_set.html", {
        "ds": ds, "files": ds.files.all(), "due": selectors.disclosure_due(ds.approved_on),
        "state": selectors.deadline_state(ds, timezone.localdate()),
        "tables": [(code, titles.get(code, ""), rows) for code, rows in figures.items()]})


def public_file_view(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """A published file, or `manifest.json`: the manifest in its canonical form (sorted
    keys, no spaces), whose SHA-256 is the one the set page shows."""
    ds = get_object_or_404(DisclosureSet, pk=pk, status="published")
    if name == MANIFEST_NAME:
        from reports.services import manifest_canonical

        response = HttpResponse(manifest_canonical(ds.manifest).encode("utf-8"),
                                content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{MANIFEST_NAME}"'
        return response
    f = ds.files.filter(name=name).first()
    if f is None:
        raise Http404(name)
    return FileResponse(f.file.open("rb"), as_attachment=True, filename=name)



# ------------------------------------------------------------------ a figure's trace
def _figure_context(ref_text: str) -> dict:
    """What a figure is, its total and its lines summed by unit, function, economic class
    and month (aggregates only: no document, payee or person)."""
    from finance import measures
    from finance import selectors as ledger
    from finance.models import EconomicCode, FunctionCode, Organization

    ref = measures.trace_parse(ref_text)
    rows = ledger.figure_breakdown(ref)
    names = {
        "unit": dict(Organization.objects.filter(
            code__in={k[0] for k, _f, _n in rows}).values_list("code", "name")),
        "function": dict(FunctionCode.objects.filter(
            code__in={k[1] for k, _f, _n in rows}).values_list("code", "name")),
        "economic": dict(EconomicCode.objects.filter(
            code__in={k[2] for k, _f, _n in rows}).values_list("code", "name")),
    }
    lines = [{"unit": k[0], "unit_name": names["unit"].get(k[0], ""),
              "function": k[1], "function_name": names["function"].get(k[1], ""),
              "economic": k[2], "economic_name": names["economic"].get(k[2], ""),
              "month": k[3], "amount": selectors.fen_to_decimal(fen), "lines": n}
             for k, fen, n in rows]
    total = sum(fen for _k, fen, _n in rows)
    return {"ref": str(ref), "parts": _named(ref, measures.describe(ref)), "rows": lines,
            "total": selectors.fen_to_decimal(total),
            "line_count": sum(n for _k, _f, n in rows)}


def _named(ref, parts: list[tuple[str, str]]) -> list[tuple[str, str]]:  # noqa: ANN001
    """The reference's words, with the name beside a unit, department, region or fund
    source code (a reader sees 深圳市教育局, not only 440300100)."""
    from finance.models import FundSource, Organization, Region

    models = {"department": Organization, "unit": Organization, "region": Region,
              "fund_source": FundSource}
    out = []
    for (key, code), (label, value) in zip(ref.parts, parts, strict=True):
        model = models.get(key)
        name = (model.objects.filter(code=code).values_list("name", flat=True).first()
                if model is not None else None)
        out.append((label, f"{value} {name}" if name else value))
    return out


@login_required
def figure_view(request: HttpRequest) -> HttpResponse:
    """A report figure (execution, final accounts, disclosure drafts) followed to its lines;
    an auditor goes on from here to the entries, documents and people."""
    from finance.measures import BadTraceRef

    try:
        context = _figure_context(request.GET.get("ref", ""))
    except BadTraceRef as exc:
        return render(request, "reports/figure.html", {"error": str(exc)}, status=400)
    return render(request, "reports/figure.html", context)


def public_figure_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A figure of a published set, for the public: only references the set published
    (its tables' figures in the manifest, or a phase of its fiscal CSV),
    summed by unit, function, economic class and month (no personal data)."""
    ds = get_object_or_404(DisclosureSet.objects.select_related(
        "department", "confidentiality_by", "head_signed_by"), pk=pk, status="published")
    ref = request.GET.get("ref", "")
    published = next((f for f in ds.manifest.get("figures", []) if f["trace"] == ref), None)
    if published is None:  # a reference of the set's fiscal CSV (open data)
        from reports.opendata import published_fiscal_figure

        published = published_fiscal_figure(ds, ref)
    if published is None:
        raise Http404("not a figure of this set")
    context = _figure_context(ref)
    context.update(ds=ds, published=published, public=True)
    return render(request, "reports/figure.html", context)
