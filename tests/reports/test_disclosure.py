"""Final-account statements and disclosure tables: every figure equals the ledger (via
its trace reference), the files read back (xlsx with openpyxl, PDF text with pdfplumber)
carry the same figures, cross-table checks block publishing, and a published set is
immutable with a manifest."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import subprocess
from decimal import Decimal

import openpyxl
import pdfplumber
import pytest
from django.core.management import call_command

from finance import selectors as fin
from finance.selectors import figure_of
from reports import errors, render, services, tables
from reports.checks import tables_check
from reports.models import DisclosureSet
from reports.selectors import Figure, Scope, disclosure_deadlines
from tests.reports.conftest import YEAR, make_department_head, sign_off

D = Decimal
EDU = "440300100"


@pytest.fixture
def edu(city):
    return tables.department_fact_sets(year=YEAR, departments=[EDU])[EDU]


def all_tables(fs):
    return tables.budget_tables(fs) + tables.final_tables(fs)


class TestFinalAccounts:
    def test_city_statements_reconcile_to_the_ledger_to_the_cent(self, city):
        fs = tables.fact_set(year=YEAR, scope=Scope.parse("region:440300"))
        by = {t.code: t for t in tables.statement_tables(fs)}
        assert D(by["F1"].value("expense_year_total")) / 100 == fin.balance(account="7101", year=YEAR)
        assert D(by["F1"].value("income_year_total")) / 100 == fin.balance(account="6001", year=YEAR)
        assert by["S3"].value("expense_total") == by["S3"].value("revenue_total") == 71037300
        assert [t.code for t in by.values()] == ["F1", "F4", "F5", "S1", "F6", "F7", "S2", "S3"]

    def test_district_is_part_of_the_city_but_not_of_a_city_department(self, city):
        city_fs = tables.fact_set(year=YEAR, scope=Scope.parse("region:440300"))
        luohu = tables.fact_set(year=YEAR, scope=Scope.parse("region:440303"))
        assert luohu.figure("expenditure").fen == 4500000
        assert city_fs.figure("expenditure").fen == 71037300
        unit = tables.fact_set(year=YEAR, scope=Scope.parse("unit:440300102"))
        assert unit.figure("expenditure", economic="30217").fen == 1204000

    def test_every_figure_of_every_table_reruns_to_the_same_amount(self, edu):
        figures = [f for t in all_tables(edu) for _r, _c, f in t.figures()]
        assert len(figures) > 150
        for f in figures:
            assert figure_of(f.trace) == f.fen, f.trace

    def test_sangong_table_agrees_with_basic_expenditure_lines(self, edu):
        by = {t.code: t for t in all_tables(edu)}
        assert by["F7"].fen("total", "hosting") == by["F6"].fen("economic:30217", "total") == 1204000
        assert by["F7"].fen("total", "car_run") == 3333300
        assert by["B7"].fen("total", "total") == 11000000  # 30000 + 80000 yuan budgeted


class TestCrossTableChecks:
    def test_a_consistent_set_passes(self, edu):
        assert tables_check(all_tables(edu)) == []

    def test_a_child_that_does_not_add_up_is_named(self, edu):
        ts = all_tables(edu)
        b3 = next(t for t in ts if t.code == "B3")
        row = b3.row("function:2050203")
        row.cells["basic"] = Figure(row.cells["basic"].fen + 1, row.cells["basic"].trace)
        found = {(f.check, f.where) for f in tables_check(ts)}
        assert ("类/款/项 sum", "B3 20502 [basic]") in found
        assert ("column sum", "B3 function:2050203 [total]") in found

    def test_sangong_that_disagrees_with_basic_expenditure_fails(self, edu):
        ts = all_tables(edu)
        f7 = next(t for t in ts if t.code == "F7")
        cell = f7.rows[0].cells["hosting"]
        f7.rows[0].cells["hosting"] = Figure(cell.fen - 100, cell.trace)
        messages = [str(f) for f in tables_check(ts)]
        assert "tables tie at F7.total[hosting] = F6.economic:30217[total]: expected 12040.00, found 12039.00" in messages


def department_head():  # noqa: ANN201
    from django.contrib.auth import get_user_model

    found = get_user_model().objects.filter(username="dept-head").first()
    return found or make_department_head(get_user_model())


def publish(user, approver, kind="final"):
    ds = services.disclosure_set_create(department_code=EDU, year=YEAR, kind=kind,
                                        approved_on=dt.date(YEAR, 3, 1), user=user)
    services.disclosure_set_approve(disclosure_id=ds.pk, user=approver)
    sign_off(ds, reviewer=approver, head=department_head())
    return services.disclosure_set_publish(disclosure_id=ds.pk, user=approver)


class TestPublishing:
    def test_draft_approved_published_with_who_and_when(self, city, user, approver):
        ds = publish(user, approver)
        assert (ds.status, ds.approved_by, ds.published_by) == ("published", approver, approver)
        steps = list(ds.__class__.objects.get(pk=ds.pk).history.order_by(
            "history_id").values_list("status", "history_change_reason"))
        assert steps == [("draft", "draft"), ("approved", "approve"),
                         ("approved", "confidentiality review"), ("approved", "head sign-off"),
                         ("published", "publish")]

    def test_the_creator_cannot_approve(self, city, approver):
        ds = services.disclosure_set_create(department_code=EDU, year=YEAR, kind="budget",
                                            approved_on=dt.date(YEAR, 3, 1), user=approver)
        with pytest.raises(errors.SamePerson):
            services.disclosure_set_approve(disclosure_id=ds.pk, user=approver)

    def test_checks_block_publishing(self, city, user, approver, monkeypatch):
        ds = services.disclosure_set_create(department_code=EDU, year=YEAR, kind="final",
                                            approved_on=dt.date(YEAR, 3, 1), user=user)
        services.disclosure_set_approve(disclosure_id=ds.pk, user=approver)
        sign_off(ds, reviewer=approver, head=department_head())
        real = services.disclosure_tables

        def broken(**kw):
            ts = real(**kw)
            f1 = ts[0]
            r, c = f1.names["rev_grant"]
            f1.row(r).cells[c] = Figure(1, "tr:v1:measure=revenue;year=2026")
            return ts
        monkeypatch.setattr(services, "disclosure_tables", broken)
        with pytest.raises(errors.ChecksFailed) as exc:
            services.disclosure_set_publish(disclosure_id=ds.pk, user=approver)
        assert str(exc.value).startswith("Publishing blocked: ")
        assert DisclosureSet.objects.get(pk=ds.pk).status == "approved"
        assert not ds.files.exists()

    def test_published_set_is_immutable_and_has_a_manifest(self, city, user, approver):
        ds = publish(user, approver)
        with pytest.raises(errors.PublishedImmutable):
            services.disclosure_set_approve(disclosure_id=ds.pk, user=approver)
        with pytest.raises(errors.PublishedImmutable):
            services.disclosure_set_create(department_code=EDU, year=YEAR, kind="final",
                                           approved_on=dt.date(YEAR, 3, 1), user=user)
        names = {f["name"]: f["sha256"] for f in ds.manifest["files"]}
        assert set(names) >= {"2026_440300100_final.xlsx", "2026_440300100_final.pdf",
                              "datapackage.json", "2026_440300100_final_F7.csv"}
        for f in ds.files.all():
            assert hashlib.sha256(f.file.read()).hexdigest() == names[f.name] == f.sha256
        for fig in ds.manifest["figures"]:
            assert D(figure_of(fig["trace"])) / 100 == D(fig["amount_yuan"])

    def test_public_pages_need_no_login_and_show_no_payee(self, city, user, approver, client):
        ds = publish(user, approver)
        assert "深圳市教育局" in client.get("/reports/public/").content.decode()
        page = client.get(f"/reports/public/{ds.pk}/").content.decode()
        assert ds.manifest_sha256 in page
        for f in ds.files.all():
            body = b"".join(client.get(f"/reports/public/{ds.pk}/{f.name}").streaming_content)
            text = body.decode("utf-8", "ignore") if not f.name.endswith((".pdf", ".xlsx")) else ""
            if f.name.endswith(".pdf"):
                text = "".join(p.extract_text() or "" for p in pdfplumber.open(io.BytesIO(body)).pages)
            if f.name.endswith(".xlsx"):
                wb = openpyxl.load_workbook(io.BytesIO(body))
                text = " ".join(str(c.value) for ws in wb for row in ws.iter_rows() for c in row)
            assert "张三丰" not in text and "6222021234567890123" not in text, f.name
        draft = services.disclosure_set_create(department_code=EDU, year=YEAR, kind="budget",
                                               approved_on=dt.date(YEAR, 3, 1), user=user)
        assert client.get(f"/reports/public/{draft.pk}/").status_code == 404


class TestFiles:
    def test_xlsx_reads_back_with_every_figure_in_wan(self, edu):
        ts = all_tables(edu)
        wb = openpyxl.load_workbook(io.BytesIO(render.tables_xlsx(ts, title="t")))
        for t in ts:
            ws = wb[t.code]
            first = 3 + len(t.header)
            assert ws.freeze_panes == f"A{first}"
            assert ws.page_setup.orientation == "landscape"
            for i, row in enumerate(t.rows):
                for j, col in enumerate(t.columns, start=1):
                    cell = ws.cell(first + i, j)
                    fig = row.cells.get(col.key)
                    if isinstance(fig, Figure):
                        assert D(str(cell.value)) == tables.to_wan(figure_of(fig.trace))
                        assert cell.number_format == "#,##0.00"
                    # every body cell framed; totals bold, other rows not (named styles)
                    assert cell.border.left.style == "thin" and cell.border.bottom.style == "thin"
                    assert bool(cell.font.bold) == bool(row.total)
            header = ws.cell(3, 1)
            assert header.font.bold and header.border.top.style == "thin"
            assert header.alignment.horizontal == "center" and header.alignment.wrap_text
        b2 = wb["B2"]
        assert ("D3:F3" in {str(r) for r in b2.merged_cells.ranges}
                and b2["D3"].value == "财政拨款收入" and b2["D4"].value == "一般公共预算")
        assert wb["F1"]["A1"].value == "收入支出决算总表"

    def test_pdf_text_reads_back_with_the_figures_and_chinese(self, edu):
        ts = tables.final_tables(edu)
        pdf = render.tables_pdf(ts, title="深圳市教育局 2026年部门决算公开表")
        with pdfplumber.open(io.BytesIO(pdf)) as doc:
            text = "\n".join(p.extract_text() or "" for p in doc.pages)
        assert "收入支出决算总表" in text and "公务接待费" in text
        for t in ts:
            for _r, _c, f in t.figures():  # each figure as the ledger gives it, in 万元
                assert f"{tables.to_wan(figure_of(f.trace)):,.2f}" in text

    def test_pdf_renders_chinese_glyphs(self, edu, tmp_path):
        if not shutil.which("pdftoppm"):
            pytest.skip("poppler (pdftoppm) is not installed: cannot rasterise the PDF")
        pdf = tmp_path / "f.pdf"
        pdf.write_bytes(render.tables_pdf(tables.final_tables(edu)[:1], title="决算"))
        fonts = subprocess.run([shutil.which("pdffonts") or "pdffonts", str(pdf)],  # noqa: S603
                               capture_output=True, text=True).stdout
        font_line = next(x for x in fonts.splitlines() if "WenQuanYiMicroHei" in x)
        assert font_line.split()[-5] == "yes"  # emb column: the font is embedded
        pdftoppm = shutil.which("pdftoppm")
        subprocess.run([pdftoppm, "-r", "40", "-png", "-f", "1", "-l", "1",  # noqa: S603
                        str(pdf), str(tmp_path / "p")], check=True)
        from PIL import Image

        img = Image.open(next(tmp_path.glob("p*.png"))).convert("L")
        dark = sum(1 for px in img.tobytes() if px < 128)
        assert dark > 200  # the Chinese title and headers are drawn (a blank page has none)

    def test_csv_and_datapackage_are_open_data_with_exact_yuan(self, edu):
        ts = tables.final_tables(edu)
        files = services.disclosure_files(tables=ts, department=EDU, name="教育局", year=YEAR,
                                          kind="final")
        package = json.loads(files["datapackage.json"])
        assert package["profile"] == "fiscal-data-package"
        assert [r["path"] for r in package["resources"]] == [f"2026_{EDU}_final_fiscal.csv"] + [f"2026_{EDU}_final_F{i}.csv"
                                                             for i in range(1, 10)]
        lines = files[f"2026_{EDU}_final_F7.csv"].decode("utf-8-sig").splitlines()
        assert lines[0].startswith("table,title,row,row_code")
        hosting = next(x for x in lines if ",hosting," in x)
        assert ",12040.00,1.20,tr:v1:measure=expenditure;" in hosting


class TestExportAndDeadlines:
    def test_export_command_writes_each_department(self, city, tmp_path, capsys):
        call_command("export_disclosure", "--year", str(YEAR), "--out", str(tmp_path))
        assert "3 departments" in capsys.readouterr().out
        manifest = json.loads((tmp_path / EDU / "final" / "manifest.json").read_text())
        for f in manifest["files"]:
            data = (tmp_path / EDU / "final" / f["name"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f["sha256"]

    def test_export_runs_as_a_job_from_the_ui(self, city, user, client):
        client.force_login(user)
        response = client.post("/reports/disclosure/export/", {"year": YEAR})
        job_id = int(response["Location"].rstrip("/").split("/")[-1])
        body = client.get(f"/api/finance/jobs/{job_id}/").json()
        assert (body["status"], body["done"], body["total"]) == ("done", 3, 3)
        assert body["result"]["departments"] == 3
        import zipfile

        from finance.models import Job
        names = zipfile.ZipFile(Job.objects.get(pk=job_id).file.open("rb")).namelist()
        assert f"{EDU}/final/manifest.json" in names

    def test_deadline_alert_before_twenty_days_pass(self, city, user, approver):
        ds = services.disclosure_set_create(department_code=EDU, year=YEAR, kind="budget",
                                            approved_on=dt.date(YEAR, 3, 1), user=user)
        state = {d.disclosure.pk: d for d in disclosure_deadlines(today=dt.date(YEAR, 3, 10))}
        assert (state[ds.pk].due, state[ds.pk].state) == (dt.date(YEAR, 3, 21), "open")
        assert disclosure_deadlines(today=dt.date(YEAR, 3, 17))[0].state == "due_soon"
        assert disclosure_deadlines(today=dt.date(YEAR, 3, 22))[0].state == "overdue"


class TestPages:
    def test_execution_page_excel_and_pdf_with_charts(self, city, user, client):
        client.force_login(user)
        html = client.get(f"/reports/execution/?year={YEAR}&by=department").content.decode()
        # the page's charts are SVG (web.charts), the PDF's are images
        assert "深圳市教育局" in html and 'id="chart-budget-paid"' in html and "<svg" in html
        assert 'data-trace="tr:v1:measure=paid;year=2026;department=440300100"' in html
        xlsx = client.get(f"/reports/execution/?year={YEAR}&format=xlsx").content
        ws = openpyxl.load_workbook(io.BytesIO(xlsx))["E1"]
        values = [c.value for row in ws.iter_rows() for c in row]
        assert 710373 in values or D("710373.00") in [D(str(v)) for v in values
                                                      if isinstance(v, int | float)]
        pdf = client.get(f"/reports/execution/?year={YEAR}&format=pdf").content
        with pdfplumber.open(io.BytesIO(pdf)) as doc:
            assert sum(len(p.images) for p in doc.pages) == 2  # rate bars, monthly curve
            text = "\n".join(p.extract_text() or "" for p in doc.pages)
        assert "710,373.00" in text and "深圳市教育局" in text

    def test_final_accounts_page_and_api(self, city, user, client):
        client.force_login(user)
        html = client.get(f"/reports/final-accounts/?year={YEAR}&scope=region:440300").content.decode()
        assert "资产负债表" in html and "收入费用表" in html
        body = client.get(f"/api/reports/execution/?year={YEAR}&by=department").json()
        assert body["total"]["figures"]["paid"]["amount"] == "710373.00"
        ref = body["total"]["figures"]["paid"]["trace"]
        assert client.get("/api/reports/trace/", {"ref": ref}).json()["amount"] == "710373.00"
        assert client.get("/api/reports/trace/", {"ref": "bogus"}).status_code == 400
        assert client.get("/reports/execution/?scope=planet:1").status_code == 400


class TestTraceStrings:
    def test_fact_set_writes_the_same_reference_as_trace_ref(self, city):
        from finance.measures import trace_parse, trace_ref

        fs = tables.fact_set(year=YEAR, scope=Scope.parse("department:440300100"),
                             as_of=dt.date(YEAR, 6, 30))
        for filters in ({}, {"account": "6001"}, {"function": "205*", "fund_source": "1",
                                                   "basic": "1", "economic": "301*,303*"},
                        {"account": "6101", "economic": "~"}):
            expected = trace_ref(measure="revenue", year=str(YEAR), as_of="2026-06-30",
                                 department="440300100", **filters)
            assert fs.trace("revenue", **filters) == expected
            assert trace_parse(expected).measure == "revenue"


class TestApprovedFigures:
    def test_publishing_refuses_figures_changed_since_approval(self, city, user, approver):
        from finance.ledger import entry_post
        from tests.helpers import approve_lines
        from tests.reports.conftest import LINES

        ds = services.disclosure_set_create(department_code=EDU, year=YEAR, kind="budget",
                                            approved_on=dt.date(YEAR, 3, 1), user=user)
        services.disclosure_set_approve(disclosure_id=ds.pk, user=approver)
        sign_off(ds, reviewer=approver, head=department_head())
        entry_post(lines=approve_lines(D("10.00"), LINES["edu_office"][0]), description="追加",
                   user=user, on=dt.date(YEAR, 5, 1), kind="adjustment")
        with pytest.raises(errors.FiguresChanged) as exc:
            services.disclosure_set_publish(disclosure_id=ds.pk, user=approver)
        assert str(exc.value) == (f"The ledger changed figures of disclosure set {ds.pk} since "
                                  "it was approved; approve it again.")
        services.disclosure_set_return(disclosure_id=ds.pk, user=approver, reason="追加预算")
        ds = services.disclosure_set_approve(disclosure_id=ds.pk, user=approver)
        # returning to draft cleared the head's sign-off: the head signs the figures again
        assert ds.head_signed_at is None and ds.confidentiality_conclusion == "cleared"
        services.disclosure_set_sign(disclosure_id=ds.pk, user=department_head())
        ds = services.disclosure_set_publish(disclosure_id=ds.pk, user=approver)
        b1 = next(f for f in ds.manifest["figures"] if f["table"] == "B1"
                  and f["row"] == "r0" and f["column"] == "in_amount")
        assert b1["amount_yuan"] == "935010.00"  # 一般公共预算 incl. the 10.00 adjustment


class TestScopedFactReads:
    """A department's or unit's facts are read with its own units' lines only
    (`ledger_facts(units=...)`): the same facts as reading the whole city and keeping
    the scope, and the SQL names the units."""

    def _whole_city(self, scope):
        from reports.selectors import MasterData, ledger_facts, scope_filter

        master = MasterData.load()
        facts = scope_filter(ledger_facts(year=YEAR, master=master), scope, master)
        return tables.FactSet.from_facts(facts, year=YEAR, scope=scope, master=master)

    def test_department_set_equals_the_whole_city_read_kept_to_the_department(self, city):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as q:
            fs = tables.department_fact_sets(year=YEAR, departments=[EDU])[EDU]
        whole = self._whole_city(Scope("department", EDU))
        assert fs.items and sorted(fs.items) == sorted(whole.items)
        assert figures_of(fs) == figures_of(whole)
        facts_sql = [x["sql"] for x in q.captured_queries if "GROUP BY" in x["sql"]]
        assert len(facts_sql) == 1 and '"unit_id" IN' in facts_sql[0]

    @pytest.mark.parametrize("scope", ["unit:440300102", "department:440300200"])
    def test_unit_and_other_department_scopes_read_the_same_facts(self, city, scope):
        s = Scope.parse(scope)
        fs = tables.fact_set(year=YEAR, scope=s)
        assert fs.items and sorted(fs.items) == sorted(self._whole_city(s).items)

    def test_scope_without_units_is_empty_and_large_scopes_read_everything(self, city):
        from reports import selectors

        master = selectors.MasterData.load()
        assert tables.department_fact_sets(year=YEAR, departments=["nope"])["nope"].items == []
        assert selectors.ledger_facts(year=YEAR, master=master, units=[]).empty
        assert selectors.scope_units(master, "region", ["440300"]) is None
        ids = selectors.scope_units(master, "department", [EDU])
        assert ids and {master.org_department[i] for i in ids} == {EDU}
        many = dict.fromkeys(range(selectors.MAX_SCOPE_UNITS + 1), EDU)
        master.org_department = many
        assert selectors.scope_units(master, "department", [EDU]) is None


def figures_of(fs):
    return [(t.code, r.key, c.key, f.fen, f.trace) for t in all_tables(fs) for r, c, f in t.figures()]
