"""Open data of a disclosure set as its users expect it (issue 22): a Fiscal Data Package.

- `fiscal.csv` (one resource per set, `<stem>_fiscal.csv`): one row per function code ×
  economic code × fund source of the department, with the three budget phases side by
  side — `approved` (年初批复, measure `approved`), `adjusted` (调整后预算 = approved +
  adjustments, measure `budget`), `executed` (支出, budget accounting 7xxx, measure
  `expenditure`) — in exact yuan, each with its trace reference; and beside the Chinese
  codes their COFOG division and GFS expense class (`finance.classification_maps`).
  Figures come from the ledger's fact set (`reports.tables.FactSet.figure`), never
  summed here.
- `datapackage.json`: profile `fiscal-data-package`, every CSV a
  `tabular-data-resource`. The fiscal resource is described twice, as both versions of
  the spec do it: v1.0 `columnType` on each field, the three phase columns with
  `normalize: {phase: …}` and `extraFields` (`value`, `phase:id`); and the v0.3 `model`
  (the profile the `datapackage` library ships and validates): three measures with
  their `phase` and `direction`, dimensions `cofog`, `gfsm` (the significant names of
  the spec), `functional`, `economic`, `administrative`, `fund`.
- `validate(files)`: the descriptor against the library's fiscal profile (JSON schema),
  every CSV read and cast by the library against its schema, and what the JSON schema
  does not check (model sources are fields of the fiscal resource, phases, COFOG/GFS
  codes from the code lists) checked here.
- `bulk_zip(year)`: every published set's CSV files, datapackage.json and manifest of a
  year in one zip (`<department>/<kind>/…`), published sets only."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import threading
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from finance import classification_maps as cmaps
from finance.measures import NONE, parts_of, trace_parse
from reports.selectors import Figure
from reports.tables import _DIMS, FactSet, Table, department_fact_sets

# (phase of the spec, ledger measure, 中文)
PHASES: tuple[tuple[str, str, str], ...] = (
    ("approved", "approved", "年初批复"),
    ("adjusted", "budget", "调整后预算"),
    ("executed", "expenditure", "支出（执行）"),
)
FISCAL_SUFFIX = "_fiscal.csv"
ZIP_DATE = (2000, 1, 1, 0, 0, 0)  # fixed member times: the same sets give the same bytes

FISCAL_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    # (name, type, v1 columnType, title)
    ("fiscal_year", "integer", "date:fiscal-year", "年度"),
    ("admin_code", "string", "administrative-classification:generic:level1:code", "部门编码"),
    ("admin_name", "string", "administrative-classification:generic:level1:label", "部门名称"),
    ("function_class", "string", "functional-classification:generic:level1:code",
     "功能分类（类）"),
    ("function_class_name", "string", "functional-classification:generic:level1:label",
     "功能分类（类）名称"),
    ("function_code", "string", "functional-classification:generic:level3:code",
     "功能分类科目编码"),
    ("function_name", "string", "functional-classification:generic:level3:label",
     "功能分类科目名称"),
    ("cofog_division", "string", "functional-classification:cofog:division:code",
     "COFOG 大类"),
    ("cofog_division_name", "string", "functional-classification:cofog:division:label",
     "COFOG 大类名称"),
    ("economic_class", "string", "economic-classification:generic:level1:code",
     "经济分类（类）"),
    ("economic_class_name", "string", "economic-classification:generic:level1:label",
     "经济分类（类）名称"),
    ("economic_code", "string", "economic-classification:generic:level2:code", "经济分类科目编码"),
    ("economic_name", "string", "economic-classification:generic:level2:label",
     "经济分类科目名称"),
    ("gfs_class", "string", "economic-classification:gfsm:expense:code", "GFS 费用类别"),
    ("gfs_class_name", "string", "economic-classification:gfsm:expense:label", "GFS 费用类别名称"),
    ("fund_source", "string", "financial-source:generic:code", "资金性质"),
    ("fund_source_name", "string", "financial-source:generic:label", "资金性质名称"),
)


@dataclass(frozen=True)
class FiscalRow:
    function: str
    economic: str
    fund_source: str
    figures: dict[str, Figure]  # phase → figure


def fiscal_rows(fs: FactSet) -> list[FiscalRow]:
    """One row per (function, economic, fund source) the fact set holds for any phase's
    measures; each phase's figure from the fact set with its trace reference (a blank
    code is `-`, lines without the dimension)."""
    bases = {base for _p, measure, _l in PHASES for base, _s in parts_of(measure)}
    i_f, i_e, i_s = (_DIMS.index(d) + 1 for d in ("function", "economic", "fund_source"))
    keys = sorted({(it[i_f], it[i_e], it[i_s]) for it in fs.items if it[0] in bases})
    rows = []
    for function, economic, fund in keys:
        flt = {"function": function or NONE, "economic": economic or NONE,
               "fund_source": fund or NONE}
        figures = {phase: fs.figure(measure, **flt) for phase, measure, _l in PHASES}
        if any(f.fen for f in figures.values()):
            rows.append(FiscalRow(function, economic, fund, figures))
    return rows


def fiscal_csv(fs: FactSet, *, department: str, department_name: str) -> bytes:
    names = fs.master.names
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([f[0] for f in FISCAL_FIELDS] + [p for p, _m, _l in PHASES]
               + [f"trace_{p}" for p, _m, _l in PHASES])
    for r in fiscal_rows(fs):
        cofog, gfs = cmaps.cofog_of(r.function), cmaps.gfs_of(r.economic)
        w.writerow([
            fs.year, department, department_name,
            r.function[:3], names["function"].get(r.function[:3], ""),
            r.function, names["function"].get(r.function, ""),
            cofog, cmaps.cofog_label(cofog),
            r.economic[:3], names["economic"].get(r.economic[:3], ""),
            r.economic, names["economic"].get(r.economic, ""),
            gfs, cmaps.gfs_label(gfs),
            r.fund_source, names["fund_source"].get(r.fund_source, ""),
            *[str(r.figures[p].yuan) for p, _m, _l in PHASES],
            *[r.figures[p].trace for p, _m, _l in PHASES]])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _position(tables: list[Table]) -> int | None:
    """The ledger position (`upto`) the tables were built at, read from a figure's trace
    reference (None: the ledger as it stands)."""
    for t in tables:
        for _r, _c, fig in t.figures():
            upto = trace_parse(fig.trace).get("upto")
            return int(upto) if upto else None
    return None


def open_data_files(*, tables: list[Table], department: str, name: str, year: int,
                    stem: str, title: str, resources: list[tuple[str, Table]],
                    fact_set: FactSet | None = None) -> dict[str, bytes]:
    """The fiscal CSV and datapackage.json of a set whose tables are `tables` (the fact
    set is read at the tables' ledger position unless given)."""
    fs = fact_set or department_fact_sets(year=year, departments=[department],
                                          upto=_position(tables))[department]
    fiscal_path = f"{stem}{FISCAL_SUFFIX}"
    return {fiscal_path: fiscal_csv(fs, department=department, department_name=name),
            "datapackage.json": datapackage(name=stem.lower(), title=title, year=year,
                                            fiscal_path=fiscal_path, resources=resources)}


# ------------------------------------------------------------------ the descriptor
_TABLE_FIELDS = [
    {"name": "table", "type": "string"}, {"name": "title", "type": "string"},
    {"name": "row", "type": "string"}, {"name": "row_code", "type": "string"},
    {"name": "row_name", "type": "string"}, {"name": "column", "type": "string"},
    {"name": "column_label", "type": "string"},
    {"name": "amount_yuan", "type": "number", "decimalChar": "."},
    {"name": "amount_wan", "type": "number", "decimalChar": "."},
    {"name": "trace", "type": "string"}]


def _resource_name(path: str) -> str:
    return path.rsplit(".", 1)[0].lower()


def fiscal_resource(path: str) -> dict[str, Any]:
    fields: list[dict[str, Any]] = [
        {"name": n, "type": t, "columnType": ct, "title": title}
        for n, t, ct, title in FISCAL_FIELDS]
    fields += [{"name": p, "type": "number", "decimalChar": ".", "title": label,
                "columnType": "value", "normalize": {"phase": p}}
               for p, _m, label in PHASES]
    fields += [{"name": f"trace_{p}", "type": "string", "title": f"{label} 追溯编码"}
               for p, _m, label in PHASES]
    return {
        "name": _resource_name(path), "path": path, "profile": "tabular-data-resource",
        "title": "支出：功能分类 × 经济分类 × 资金性质，年初批复 / 调整后预算 / 支出",
        "format": "csv", "encoding": "utf-8-sig", "mediatype": "text/csv",
        "schema": {
            "fields": fields,
            "primaryKey": ["function_code", "economic_code", "fund_source"],
            # FDP 1.0: the three phase columns unpivot into one value with its phase
            "extraFields": [
                {"name": "amount", "type": "number", "columnType": "value",
                 "normalizationTarget": True},
                {"name": "phase", "type": "string", "columnType": "phase:id"},
                {"name": "currency", "type": "string", "columnType": "value-currency:code",
                 "constant": "CNY"},
                {"name": "direction", "type": "string", "columnType": "direction",
                 "constant": "expenditure"}]},
    }


def _model(resource: str) -> dict[str, Any]:
    def attr(source: str, **extra: str) -> dict[str, str]:
        return {"source": source, "resource": resource, **extra}

    return {
        "measures": {p: {"source": p, "resource": resource, "currency": "CNY", "factor": 1,
                         "direction": "expenditure", "phase": p} for p, _m, _l in PHASES},
        "dimensions": {
            "administrative": {
                "dimensionType": "entity",
                "attributes": {"code": attr("admin_code"),
                               "title": attr("admin_name", labelfor="code")},
                "primaryKey": "code"},
            "functional": {
                "dimensionType": "classification", "classificationType": "functional",
                "attributes": {"class": attr("function_class"),
                               "class_title": attr("function_class_name", labelfor="class"),
                               "code": attr("function_code", parent="class"),
                               "title": attr("function_name", labelfor="code")},
                "primaryKey": ["class", "code"]},
            "cofog": {
                "dimensionType": "classification", "classificationType": "functional",
                "attributes": {"code": attr("cofog_division"),
                               "label": attr("cofog_division_name", labelfor="code")},
                "primaryKey": "code"},
            "economic": {
                "dimensionType": "classification", "classificationType": "economic",
                "attributes": {"class": attr("economic_class"),
                               "class_title": attr("economic_class_name", labelfor="class"),
                               "code": attr("economic_code", parent="class"),
                               "title": attr("economic_name", labelfor="code")},
                "primaryKey": ["class", "code"]},
            "gfsm": {
                "dimensionType": "classification", "classificationType": "economic",
                "attributes": {"code": attr("gfs_class"),
                               "label": attr("gfs_class_name", labelfor="code")},
                "primaryKey": "code"},
            "fund": {
                "dimensionType": "classification",
                "attributes": {"code": attr("fund_source"),
                               "title": attr("fund_source_name", labelfor="code")},
                "primaryKey": "code"},
            "date": {
                "dimensionType": "datetime",
                "attributes": {"year": attr("fiscal_year")}, "primaryKey": "year"},
        },
    }


def datapackage(*, name: str, title: str, year: int, fiscal_path: str | None,
                resources: list[tuple[str, Table]]) -> bytes:
    """datapackage.json of a set: the fiscal resource first (when given), then one
    resource per table CSV (long format, exact yuan and 万元, trace)."""
    table_resources = [{
        "name": _resource_name(path), "path": path, "profile": "tabular-data-resource",
        "title": t.title, "format": "csv", "encoding": "utf-8-sig", "mediatype": "text/csv",
        "schema": {"fields": _TABLE_FIELDS}} for path, t in resources]
    doc: dict[str, Any] = {
        "name": name, "title": title, "profile": "fiscal-data-package",
        "profiles": {"fiscal": "*", "tabular": "*"},
        "granularity": "aggregated", "countryCode": "CN", "currency": "CNY",
        "fiscalPeriod": {"start": f"{year}-01-01", "end": f"{year}-12-31"},
        "licenses": [{"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0",
                      "path": "https://creativecommons.org/licenses/by/4.0/"}],
        "resources": ([fiscal_resource(fiscal_path)] if fiscal_path else []) + table_resources,
    }
    if fiscal_path:
        doc["model"] = _model(_resource_name(fiscal_path))
    return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")


# ------------------------------------------------------------------ validation
def validate(files: dict[str, bytes]) -> list[str]:
    """Problems of a set's open data (empty: valid). The `datapackage` library checks the
    descriptor against its bundled Fiscal Data Package profile (v0.3 JSON schema) and
    reads every CSV resource, casting each value to its schema type; the rest — the
    model's sources are fields of their resource, phases and COFOG/GFS codes from the
    lists, v1 columnTypes on the phase columns — is checked here."""
    import tempfile
    from pathlib import Path

    import datapackage

    problems: list[str] = []
    try:
        descriptor = json.loads(files["datapackage.json"])
    except (KeyError, ValueError) as exc:
        return [f"datapackage.json: {exc}"]
    # The library's bundled fiscal profile embeds the Tabular Data Package schema whole,
    # with its `profile` enum ["tabular-data-package"], so no descriptor that declares
    # `fiscal-data-package` can pass it as it stands: that one keyword is read as tabular
    # for the check; every other rule of the fiscal profile applies.
    try:
        datapackage.Profile("fiscal-data-package").validate(
            {**descriptor, "profile": "tabular-data-package"})
    except datapackage.exceptions.ValidationError as exc:
        problems += [f"descriptor: {e}" for e in (exc.errors or [exc])]
        return problems
    if descriptor.get("profile") != "fiscal-data-package":
        problems.append(f"descriptor: profile {descriptor.get('profile')!r}")
    with tempfile.TemporaryDirectory() as tmp:
        for fname, content in files.items():
            (Path(tmp) / fname).write_bytes(content)
        package = datapackage.Package({**descriptor, "profile": "tabular-data-package"},
                                      base_path=tmp, strict=True)
        for resource in package.resources:
            try:
                resource.read()
            except Exception as exc:  # the library's cast and source errors  # noqa: BLE001
                problems.append(f"{resource.name}: {exc}")
    problems += _fiscal_checks(descriptor, files)
    return problems


def _fiscal_checks(descriptor: dict[str, Any], files: dict[str, bytes]) -> list[str]:
    problems = []
    resources = {r.get("name"): r for r in descriptor.get("resources", [])}
    model = descriptor.get("model", {})
    phases = {p for p, _m, _l in PHASES}
    for key, m in model.get("measures", {}).items():
        fields = {f["name"] for f in resources.get(m.get("resource"), {}).get(
            "schema", {}).get("fields", [])}
        if m.get("source") not in fields:
            problems.append(f"measure {key}: source {m.get('source')} is not a field")
        if m.get("phase") not in phases:
            problems.append(f"measure {key}: phase {m.get('phase')}")
    for key, d in model.get("dimensions", {}).items():
        for akey, a in d.get("attributes", {}).items():
            fields = {f["name"] for f in resources.get(a.get("resource"), {}).get(
                "schema", {}).get("fields", [])}
            if a.get("source") not in fields:
                problems.append(f"dimension {key}.{akey}: source {a.get('source')} "
                                "is not a field")
    for r in resources.values():
        if not str(r.get("path", "")).endswith(FISCAL_SUFFIX):
            continue
        columns = {f["name"]: f for f in r["schema"]["fields"]}
        for p in phases:
            if columns.get(p, {}).get("normalize") != {"phase": p}:
                problems.append(f"{r['name']}: column {p} lacks normalize phase")
        text = files.get(r["path"], b"").decode("utf-8-sig")
        for n, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            if row["cofog_division"] != cmaps.cofog_of(row["function_code"]):
                problems.append(f"{r['path']}:{n}: COFOG {row['cofog_division']} for "
                                f"{row['function_code']}")
            if row["gfs_class"] != cmaps.gfs_of(row["economic_code"]):
                problems.append(f"{r['path']}:{n}: GFS {row['gfs_class']} for "
                                f"{row['economic_code']}")
    return problems


# ------------------------------------------------------------------ bulk download
def is_open_data(name: str) -> bool:
    return name.endswith(".csv") or name == "datapackage.json"


def bulk_sets(year: int, pks: Iterable[int] | None = None) -> Iterable[Any]:
    from reports.models import DisclosureSet

    qs = DisclosureSet.objects.filter(year=year, status=DisclosureSet.Status.PUBLISHED)
    if pks is not None:
        qs = qs.filter(pk__in=list(pks))
    return (qs.select_related("department").prefetch_related("files")
            .order_by("department__code", "kind"))


def bulk_zip(year: int, pks: Iterable[int] | None = None) -> bytes:
    """Every published set of `year`: `<department>/<kind>/` with its CSV files,
    datapackage.json and manifest.json (canonical, as /reports/public/<id>/manifest.json
    serves it). Drafts and approved sets are not there."""
    from reports.services import manifest_canonical

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for ds in bulk_sets(year, pks):
            folder = f"{ds.department.code}/{ds.kind}"
            for f in sorted(ds.files.all(), key=lambda f: f.name):
                if is_open_data(f.name):
                    with f.file.open("rb") as fh:
                        zf.writestr(zipfile.ZipInfo(f"{folder}/{f.name}", ZIP_DATE), fh.read())
            zf.writestr(zipfile.ZipInfo(f"{folder}/manifest.json", ZIP_DATE),
                        manifest_canonical(ds.manifest).encode("utf-8"))
    return buf.getvalue()


def bulk_key(year: int) -> tuple[str, list[int]]:
    """What the year's zip is made of: the published sets and their manifests' digests
    (a published set never changes, so equal keys mean equal zips), and the sets' ids.
    Empty key: nothing published."""
    from reports.models import DisclosureSet

    rows = list(DisclosureSet.objects.filter(year=year, status=DisclosureSet.Status.PUBLISHED)
                .order_by("pk").values_list("pk", "manifest_sha256"))
    parts = [f"{pk}:{digest}" for pk, digest in rows]
    key = hashlib.sha256("|".join(parts).encode()).hexdigest() if parts else ""
    return key, [pk for pk, _d in rows]


def bulk_zip_file(year: int) -> tuple[Path, str] | None:
    """The year's bulk zip as a file under MEDIA_ROOT/opendata/, built once per set of
    published sets (`bulk_key`, also the HTTP ETag) and then served from there; None when
    nothing of the year is published. Written to a temporary name and renamed, so a
    reader never sees half a zip and two builders at once both end with the same file."""
    key, pks = bulk_key(year)
    if not key:
        return None
    folder = Path(settings.MEDIA_ROOT) / "opendata"
    path = folder / f"open_data_{year}_{key[:20]}.zip"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{path.name}.{os.getpid()}.{threading.get_ident()}.part"
        tmp.write_bytes(bulk_zip(year, pks))  # exactly the sets the key names
        os.replace(tmp, path)
        _prune(folder, year, keep=path)
    return path, key


BULK_KEEP_SECONDS = 3600  # an older zip of the year outlives its replacement this long


def _prune(folder: Path, year: int, keep: Path) -> None:
    """Remove the year's zips that an hour-old publication replaced: a download that
    chose one just before keeps its open file (the name goes, the bytes stay until it is
    closed), and one started within the hour still finds it."""
    cutoff = time.time() - BULK_KEEP_SECONDS
    for old in folder.glob(f"open_data_{year}_*.zip"):
        if old != keep and old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


def published_fiscal_figure(ds: Any, ref: str) -> dict[str, str] | None:
    """A figure of the set's published fiscal CSV whose reference is `ref` (in the
    manifest's figure shape), so the public figure page follows the open data's
    references as it follows the tables'; None when the CSV has no such reference."""
    f = ds.files.filter(name__endswith=FISCAL_SUFFIX).first()
    if f is None or not ref:
        return None
    with f.file.open("rb") as fh:
        text = fh.read().decode("utf-8-sig")
    labels = {p: label for p, _m, label in PHASES}
    for row in csv.DictReader(io.StringIO(text)):
        for phase in labels:
            if row.get(f"trace_{phase}") == ref:
                return {"table": f.name, "row": "/".join((row["function_code"],
                                                          row["economic_code"],
                                                          row["fund_source"])),
                        "column": phase, "column_label": labels[phase],
                        "row_name": f"{row['function_name']} · {row['economic_name']}",
                        "amount_yuan": row[phase], "trace": ref}
    return None
