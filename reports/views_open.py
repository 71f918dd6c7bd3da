"""Public open-data pages (no login): the citizens' budget of a published set (市民版:
where the money goes, in plain words and charts, every figure linked to its public
figure page) and the city-wide bulk download of a year's published open data."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from reports import opendata
from reports.models import DisclosureSet

# what a function class pays for, in everyday words (the disclosure's own language)
PLAIN_WORDS = {
    "201": "政府机关日常运转、公共管理和服务",
    "203": "国防动员和民兵建设",
    "204": "公安、检察、法院、司法和社会治安",
    "205": "学校、教师和学生资助",
    "206": "科研、技术研发和科普",
    "207": "文化场馆、体育、旅游和广播电视",
    "208": "养老、就业、困难群众和退役军人帮扶",
    "210": "医院、公共卫生、疾病防控和医疗保障",
    "211": "污染防治、节能减排和生态保护",
    "212": "市政道路、环境卫生、公园和社区建设",
    "213": "农业、林业、水利和乡村振兴",
    "214": "道路、公共交通和港口",
    "221": "保障性住房和住房补贴",
    "224": "防灾减灾、消防和应急救援",
}
# the tables a citizens' page reads: (function classes with basic/project, basic by
# economic class with personnel/public) of each kind of set
SOURCE_TABLES = {"budget": ("B3", "B6"), "final": ("F3", "F6")}
HUNDRED = Decimal(100)


def _share(part: int | Decimal, whole: int | Decimal) -> Decimal:
    """A share in per cent with one decimal (display only)."""
    if not whole:
        return Decimal("0.0")
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def citizens_context(ds: DisclosureSet) -> dict:
    """The page's figures, taken from the published manifest (so each is the published
    amount with its reference, which the public figure page accepts)."""
    from web.charts import Chart, Series

    by_function, by_econ = SOURCE_TABLES[ds.kind]
    figs = {(f["table"], f["row"], f["column"]): f for f in ds.manifest.get("figures", [])}
    figure_url = reverse("reports:public_figure", args=[ds.pk])

    def item(f: dict) -> dict:
        amount = Decimal(f["amount_yuan"])
        return {"amount": amount,
                "wan": (amount / 10000).quantize(Decimal("0.01"), ROUND_HALF_UP),
                "trace": f["trace"], "url": f"{figure_url}?{urlencode({'ref': f['trace']})}"}

    total = figs.get((by_function, "total", "total"))
    if total is None:
        raise Http404("no expenditure table in this set")
    whole = Decimal(total["amount_yuan"])
    classes = []
    for (table, row, column), f in figs.items():
        if table == by_function and column == "total" and row.startswith("function:") \
                and len(row) == len("function:") + 3 and Decimal(f["amount_yuan"]):
            code = row.split(":", 1)[1]
            name = f["row_name"].split(" ", 1)[-1]
            classes.append({**item(f), "code": code, "name": name,
                            "words": PLAIN_WORDS.get(code, name),
                            "share": _share(Decimal(f["amount_yuan"]), whole)})
    classes.sort(key=lambda c: -c["amount"])
    parts = [(key, figs.get((by_function, "total", key))) for key in ("basic", "project")]
    spending = [{**item(f), "key": key, "share": _share(Decimal(f["amount_yuan"]), whole)}
                for key, f in parts if f is not None]
    econ_total = figs.get((by_econ, "total", "total"))
    econ = [{**item(f), "key": key,
             "share": _share(Decimal(f["amount_yuan"]), Decimal(econ_total["amount_yuan"]))}
            for key in ("personnel", "public")
            if econ_total and (f := figs.get((by_econ, "total", key))) is not None]
    chart = Chart(title=_("Spending by function class"), chart_id="chart-citizens",
                  labels=[f"{c['code']} {c['name']}" for c in classes],
                  series=[Series(_("Budget") if ds.kind == "budget" else _("Expenditure"),
                                 [c["amount"] for c in classes])])
    return {"ds": ds, "total": item(total), "classes": classes, "spending": spending,
            "econ": econ, "econ_total": item(econ_total) if econ_total else None,
            "chart": chart,
            "datapackage": ds.files.filter(name="datapackage.json").exists()}


def citizens_view(request: HttpRequest, pk: int) -> HttpResponse:
    ds = get_object_or_404(DisclosureSet.objects.select_related("department"), pk=pk,
                           status=DisclosureSet.Status.PUBLISHED)
    return render(request, "reports/citizens.html", citizens_context(ds))


def bulk_view(request: HttpRequest, year: int) -> HttpResponse:
    """A year's published open data of every department in one zip, built once per set of
    published sets and served from MEDIA_ROOT (opendata.bulk_zip_file); its key is the
    ETag, so a client that has it gets 304 Not Modified."""
    found = opendata.bulk_zip_file(year)
    if found is None:
        raise Http404("nothing published for this year")
    path, key = found
    etag = f'"{key}"'
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = FileResponse(path.open("rb"), content_type="application/zip",
                                as_attachment=True, filename=f"open_data_{year}.zip")
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=300"
    return response
