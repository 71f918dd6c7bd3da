"""Open data as its users expect it (issue 22 item 4): the published fiscal CSV read back
against figures worked by hand from the fixture's lines, the COFOG/GFS mapping, the
descriptor validated with the `datapackage` library (and a broken one refused), the
city-wide zip holding only published sets, and the citizens' page in Chromium."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from finance import classification_maps as cmaps
from reports import opendata, services
from tests.reports.conftest import YEAR, make_department_head, sign_off

D = Decimal
EDU = "440300100"
CODES = Path(__file__).resolve().parents[2] / "finance" / "data" / "codes"


def publish(user, approver, kind="final"):  # noqa: ANN001, ANN201
    ds = services.disclosure_set_create(department_code=EDU, year=YEAR, kind=kind,
                                        approved_on=dt.date(YEAR, 3, 1), user=user)
    services.disclosure_set_approve(disclosure_id=ds.pk, user=approver)
    sign_off(ds, reviewer=approver, head=make_department_head(
        __import__("django.contrib.auth", fromlist=["get_user_model"]).get_user_model(),
        username=f"head-{kind}"))
    return services.disclosure_set_publish(disclosure_id=ds.pk, user=approver)


def files_of(ds) -> dict[str, bytes]:  # noqa: ANN001
    out = {}
    for f in ds.files.all():
        with f.file.open("rb") as fh:
            out[f.name] = fh.read()
    return out


class TestClassificationMaps:
    def test_every_class_of_the_code_lists_is_mapped(self):
        for name, mapping in (("function_codes.csv", cmaps.FUNCTION_TO_COFOG),
                              ("economic_codes_department.csv", cmaps.ECONOMIC_TO_GFS),
                              ("economic_codes_government.csv", cmaps.ECONOMIC_TO_GFS)):
            rows = csv.DictReader((CODES / name).open(encoding="utf-8"))
            classes = {r["code"] for r in rows if r["level"] == "类"}
            assert classes and classes <= set(mapping), (name, classes - set(mapping))

    def test_sample_codes(self):
        assert [cmaps.cofog_of(c) for c in ("201", "203", "204", "205", "207", "208", "210",
                                            "211", "212", "213", "2050203", "")] == [
            "01", "02", "03", "09", "08", "10", "07", "05", "06", "04", "09", ""]
        assert [cmaps.gfs_of(c) for c in ("301", "30217", "303", "307", "310", "31002", "312",
                                          "501", "509", "512")] == [
            "21", "22", "27", "24", "31", "31", "25", "21", "27", ""]
        assert cmaps.cofog_label("09") == "教育" and cmaps.gfs_label("21") == "雇员报酬"


# 深圳市教育局's lines of the fixture (tests/reports/conftest.py LINES), by hand:
# (function, economic, fund): approved, approved + adjusted, paid (= budget expenditure)
EXPECTED = [
    ("2050203", "30101", "1", "500000.00", "525000.00", "250000.00", "09", "21"),  # +25,000 adj
    ("2050203", "30201", "1", "100000.00", "100000.00", "40000.00", "09", "22"),
    ("2050204", "30217", "1", "30000.00", "30000.00", "12040.00", "09", "22"),
    ("2050204", "30231", "1", "80000.00", "80000.00", "33333.00", "09", "22"),
    ("2050204", "31002", "1", "200000.00", "200000.00", "150000.00", "09", "31"),
    ("2120399", "31005", "2", "400000.00", "400000.00", "100000.00", "06", "31"),
]


class TestPublishedOpenData:
    def test_fiscal_csv_and_descriptor_read_back_and_validate(self, city, user, approver,
                                                              client):
        from finance.selectors import figure_of

        ds = publish(user, approver)
        files = files_of(ds)
        fiscal = files[f"{YEAR}_{EDU}_final_fiscal.csv"].decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(fiscal)))
        got = [(r["function_code"], r["economic_code"], r["fund_source"], r["approved"],
                r["adjusted"], r["executed"], r["cofog_division"], r["gfs_class"]) for r in rows]
        assert got == EXPECTED
        assert {r["admin_code"] for r in rows} == {EDU} and rows[0]["fiscal_year"] == "2026"
        # 500,000 + 100,000 + 30,000 + 80,000 + 200,000 + 400,000 = 1,310,000 approved;
        # + 25,000 adjusted = 1,335,000; paid 250,000 + 40,000 + 12,040 + 33,333 + 150,000
        # + 100,000 = 585,373
        assert sum(D(r["approved"]) for r in rows) == D("1310000.00")
        assert sum(D(r["adjusted"]) for r in rows) == D("1335000.00")
        assert sum(D(r["executed"]) for r in rows) == D("585373.00")
        # the executed column ties to the published F3 total (支出决算表)
        f3 = files[f"{YEAR}_{EDU}_final_F3.csv"].decode("utf-8-sig")
        total = next(r for r in csv.DictReader(io.StringIO(f3))
                     if r["row"] == "total" and r["column"] == "total")
        assert D(total["amount_yuan"]) == D("585373.00")
        # each phase's reference resolves through the ledger to the figure (in fen)
        salary = rows[0]
        assert figure_of(salary["trace_adjusted"]) == 52_500_000
        assert "upto=" in salary["trace_executed"]
        # the public figure page follows the fiscal CSV's references too (only the set's)
        page = client.get(f"/reports/public/{ds.pk}/figure/",
                          {"ref": salary["trace_adjusted"]})
        assert page.status_code == 200 and "525,000.00" in page.content.decode()
        assert client.get(f"/reports/public/{ds.pk}/figure/", {
            "ref": salary["trace_adjusted"].replace("30101", "30299")}).status_code == 404
        package = json.loads(files["datapackage.json"])
        assert package["profile"] == "fiscal-data-package"
        assert package["resources"][0]["path"] == f"{YEAR}_{EDU}_final_fiscal.csv"
        assert {k: m["phase"] for k, m in package["model"]["measures"].items()} == {
            "approved": "approved", "adjusted": "adjusted", "executed": "executed"}
        assert set(package["model"]["dimensions"]) >= {"cofog", "gfsm", "functional",
                                                       "economic"}
        fields = {f["name"]: f for f in package["resources"][0]["schema"]["fields"]}
        assert fields["cofog_division"]["columnType"] == \
            "functional-classification:cofog:division:code"
        assert fields["executed"]["normalize"] == {"phase": "executed"}
        assert opendata.validate(files) == []

    def test_a_broken_package_fails_validation(self, city, user, approver):
        ds = publish(user, approver)
        files = files_of(ds)
        package = json.loads(files["datapackage.json"])
        package["model"]["measures"]["approved"]["phase"] = "planned"  # not a phase
        bad = {**files, "datapackage.json": json.dumps(package).encode()}
        assert any("descriptor" in p for p in opendata.validate(bad))
        package = json.loads(files["datapackage.json"])
        del package["model"]  # the fiscal profile requires it
        bad = {**files, "datapackage.json": json.dumps(package).encode()}
        assert opendata.validate(bad)
        name = f"{YEAR}_{EDU}_final_fiscal.csv"
        text = files[name].decode("utf-8-sig").replace(",500000.00,", ",五十万,", 1)
        problems = opendata.validate({**files, name: ("\ufeff" + text).encode()})
        assert any(p.startswith(f"{YEAR}_{EDU}_final_fiscal") for p in problems), problems
        text = files[name].decode("utf-8-sig").replace(",09,教育,", ",10,社会保护,", 1)
        problems = opendata.validate({**files, name: ("\ufeff" + text).encode()})
        assert problems == [f"{name}:2: COFOG 10 for 2050203"]

    def test_bulk_zip_holds_only_published_sets(self, city, user, approver, client):
        ds = publish(user, approver)
        services.disclosure_set_create(department_code="440300200", year=YEAR, kind="final",
                                       approved_on=dt.date(YEAR, 3, 1), user=user)  # a draft
        response = client.get(f"/reports/public/open-data/{YEAR}.zip")
        assert response.status_code == 200
        names = sorted(zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
                       .namelist())
        expected = sorted([f"{EDU}/final/{YEAR}_{EDU}_final_F{i}.csv" for i in range(1, 10)]
                          + [f"{EDU}/final/{YEAR}_{EDU}_final_fiscal.csv",
                             f"{EDU}/final/datapackage.json", f"{EDU}/final/manifest.json"])
        assert names == expected
        assert client.get(f"/reports/public/open-data/{YEAR + 1}.zip").status_code == 404
        assert f"/reports/public/open-data/{YEAR}.zip" in client.get("/reports/public/").content.decode()
        assert f"/reports/public/{ds.pk}/citizens/" in client.get(f"/reports/public/{ds.pk}/").content.decode()

    def test_bulk_zip_is_built_once_per_published_state_and_revalidated_by_etag(
            self, city, user, approver, client, media_root):  # noqa: ANN001
        publish(user, approver)
        url = f"/reports/public/open-data/{YEAR}.zip"
        first = client.get(url)
        body = b"".join(first.streaming_content)
        [built] = list((media_root / "opendata").glob("*.zip"))
        stamp = built.stat().st_mtime_ns
        again = client.get(url)
        # served from the same file (not rebuilt), the same bytes, the same validator
        assert b"".join(again.streaming_content) == body == opendata.bulk_zip(YEAR)
        assert again["ETag"] == first["ETag"] and built.stat().st_mtime_ns == stamp
        assert client.get(url, headers={"if-none-match": first["ETag"]}).status_code == 304
        # a new draft changes nothing; the key is the published sets and their manifests
        services.disclosure_set_create(department_code="440300200", year=YEAR, kind="final",
                                       approved_on=dt.date(YEAR, 3, 1), user=user)
        assert client.get(url)["ETag"] == first["ETag"]
        assert client.get(url, headers={"if-none-match": '"other"'}).status_code == 200

    def test_a_new_zip_removes_the_years_zips_replaced_over_an_hour_ago(
            self, city, user, approver, client, media_root):  # noqa: ANN001
        folder = media_root / "opendata"
        folder.mkdir(parents=True)
        stale = folder / f"open_data_{YEAR}_{'0' * 20}.zip"  # replaced two hours ago
        recent = folder / f"open_data_{YEAR}_{'1' * 20}.zip"  # replaced a minute ago
        other_year = folder / f"open_data_{YEAR - 1}_{'2' * 20}.zip"
        now = time.time()
        for f, age in ((stale, 7200), (recent, 60), (other_year, 7200)):
            f.write_bytes(b"PK old")
            os.utime(f, (now - age, now - age))
        publish(user, approver)
        assert client.get(f"/reports/public/open-data/{YEAR}.zip").status_code == 200
        left = sorted(p.name for p in folder.glob("*.zip"))
        [built] = [n for n in left if n not in (recent.name, other_year.name)]
        assert left == sorted([built, recent.name, other_year.name])  # the stale one went

    def test_bulk_command_writes_the_same_zip(self, city, user, approver, tmp_path):
        from django.core.management import call_command

        publish(user, approver)
        out = tmp_path / "open.zip"
        call_command("opendata_bulk", "--year", str(YEAR), "--out", str(out))
        assert out.read_bytes() == opendata.bulk_zip(YEAR)


class TestCitizensPage:
    def test_figures_and_links_without_login(self, city, user, approver, client):
        ds = publish(user, approver)
        page = client.get(f"/reports/public/{ds.pk}/citizens/").content.decode()
        # total 585,373.00 yuan = 58.54 万元 (58.5373 rounded half up); 教育 205: 12,040 +
        # 33,333 + 150,000 + 250,000 + 40,000 = 485,373 = 48.54 万元, 82.9 % of the total
        # (485,373 / 585,373 = 0.8292); 城乡社区 212: 100,000 = 10.00 万元, 17.1 %
        assert "58.54" in page and "585,373.00" in page
        assert "48.54" in page and "82.9%" in page and "10.00" in page and "17.1%" in page
        # basic 585,373 − project (150,000 + 100,000) = 335,373 = 33.54 万元, 57.3 %;
        # personnel 250,000 = 25.00 万元 (74.5 % of 335,373); running 12,040 + 33,333
        # + 40,000 = 85,373 = 8.54 万元 (25.5 %)
        assert "33.54" in page and "57.3%" in page and "42.7%" in page
        assert "8.54" in page and "74.5%" in page and "25.5%" in page
        assert "学校、教师和学生资助" in page
        assert f"/reports/public/{ds.pk}/figure/?ref=tr%3Av1%3Ameasure%3Dexpenditure" in page
        assert 'id="chart-citizens"' in page

    def test_budget_set_reads_the_budget_tables(self, city, user, approver, client):
        ds = publish(user, approver, kind="budget")
        page = client.get(f"/reports/public/{ds.pk}/citizens/").content.decode()
        # budget = approved + adjusted: 1,310,000 + 25,000 = 1,335,000 = 133.50 万元;
        # 教育 205: 1,335,000 − 400,000 (212) = 935,000 = 93.50 万元, 70.0 %
        assert "133.50" in page and "1,335,000.00" in page
        assert "93.50" in page and "70.0%" in page and "40.00" in page and "30.0%" in page
        assert "今年本部门计划支出" in page


@pytest.mark.django_db(transaction=True)
class TestCitizensBrowser:
    def test_phone_and_desktop(self, live_server, city, user, approver, monkeypatch):
        from playwright.sync_api import sync_playwright

        from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM
        from tests.web.test_journeys import english_words

        if not CHROMIUM.exists():
            pytest.skip("browser tests need /usr/bin/chromium")
        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        ds = publish(user, approver)
        shots = ARTIFACTS / "playwright"
        shots.mkdir(parents=True, exist_ok=True)
        url = f"{live_server.url}/reports/public/{ds.pk}/citizens/"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            for width in (1440, 390):
                page = browser.new_context(locale="zh-CN", viewport={
                    "width": width, "height": 900}).new_page()
                page.goto(url)
                assert "58.54" in page.inner_text("#citizens-total")
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                assert english_words(page.inner_text("main"), {"svg"}) == []
                page.screenshot(path=str(shots / f"citizens-{width}.png"), full_page=True)
            # the 教育 figure leads to its public figure page with the same amount
            page.click("#where a.figure >> nth=0")
            page.wait_for_url("**/figure/**")
            assert "485,373.00" in page.inner_text("main")
            browser.close()
