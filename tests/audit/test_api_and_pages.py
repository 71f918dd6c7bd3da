"""API and pages: trace, entry, history and alerts; auditors read (logged) and cannot write."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from audit import services
from audit.access import ensure_not_auditor
from audit.errors import MSG_AUDITOR_READ_ONLY, AuditorReadOnly
from audit.models import AccessLog, Alert
from finance.models import Entry, Organization
from tests.audit.conftest import request_and_pay

D = Decimal


@pytest.fixture
def data(budget, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        doc = request_and_pay(budget, D("120.50"), tracking="TRK-1", hour=22)
    return budget, doc


def client_for(user) -> APIClient:
    c = APIClient()
    c.force_authenticate(user)
    return c


class TestTraceApi:
    def test_trace_by_query_returns_the_figure_lines_documents_and_approvers(self, data, auditor):
        _, doc = data
        r = client_for(auditor).get("/api/audit/trace/", {
            "measure": "paid", "year": "2026", "unit": "440300101", "function": "2050203"})
        assert r.status_code == 200
        body = r.json()
        assert body["total"] == "120.50" and body["line_count"] == 1
        assert body["ref"] == "tr:v1:measure=paid;year=2026;unit=440300101;function=2050203"
        assert body["lines"][0]["amount"] == "120.50"
        assert body["sources"][0]["pk"] == str(doc.pk)
        assert body["approvers"] == ["clerk", "head", "treasury"]
        assert body["tracking_ids"] == ["TRK-1"]
        log = AccessLog.objects.get()
        assert (log.user, log.action, log.target, log.params) == (
            auditor, "view", "trace", {"ref": body["ref"]})

    def test_trace_by_reference_and_a_bad_reference(self, data, user):
        c = client_for(user)
        assert c.get("/api/audit/trace/", {"ref": "TR1:paid:2026:03::u=440300101"}).json()[
            "total"] == "120.50"
        r = c.get("/api/audit/trace/", {"ref": "nonsense"})
        assert r.status_code == 400 and r.json()["code"] == "bad_trace_ref"
        assert AccessLog.objects.count() == 0  # only auditors' reads are logged

    def test_the_page_clicks_down_from_total_to_entry_to_document(self, data, client, user):
        client.force_login(user)
        page = client.get("/audit/trace/", {"measure": "paid", "year": "2026"}).content.decode()
        entry = Entry.objects.get(kind="payment")
        assert "120.50" in page and f"/audit/entries/{entry.pk}/" in page
        entry_page = client.get(f"/audit/entries/{entry.pk}/").content.decode()
        assert "TRK-1" in entry_page and "treasury" in entry_page
        assert f"/audit/history/finance.job/{entry.source_id}/" in entry_page


class TestHistoryApi:
    def test_as_of_and_changes(self, orgs, user, auditor):
        from finance import services as fs
        from finance.ids import make_uscc

        fs.organization_upsert(code="440300102", name="深圳市第二高级中学", kind="budget_unit",
                               region_code="440300", uscc=make_uscc("440300", 102),
                               parent_code="440300100", user=user, reason="更名")
        pk = orgs["u2"].pk
        c = client_for(auditor)
        snap = c.get(f"/api/audit/history/finance.organization/{pk}/").json()
        assert {f["name"]: f["value"] for f in snap["fields"]}["name"] == "深圳市第二高级中学"
        diff = c.get(f"/api/audit/history/finance.organization/{pk}/changes/",
                     {"from": "2000-01-01"}).json()
        assert [(x["name"], x["old"], x["new"]) for x in diff["steps"][1]["changes"]] == [
            ("name", "深圳市第二中学", "深圳市第二高级中学")]
        assert c.get("/api/audit/history/finance.line/1/").json()["code"] == "unknown_history_model"
        assert AccessLog.objects.filter(user=auditor).count() == 2

    def test_the_history_page_shows_a_field_by_field_diff(self, orgs, client, user):
        client.force_login(user)
        page = client.get(f"/audit/history/finance.organization/{orgs['u1'].pk}/").content.decode()
        # the history row's reason as finance.labels reads it ("set-up" → 初始设置), a
        # boolean as 是/否
        assert "深圳市第一中学" in page and "初始设置" in page and "有效: ∅ → 是" in page


class TestAlertsApi:
    def test_list_filter_and_export_as_csv_and_excel(self, data, auditor):
        c = client_for(auditor)
        listed = c.get("/api/audit/alerts/", {"rule": "outside_hours"}).json()
        assert listed["count"] == 2
        assert c.get("/api/audit/alerts/", {"status": "closed"}).json()["count"] == 0
        r = c.get("/api/audit/alerts/export/", {"rule": "outside_hours", "file": "csv"})
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0][:4] == ["id", "rule", "severity", "status"]
        assert [row[1] for row in rows[1:]] == ["outside_hours", "outside_hours"]
        r = c.get("/api/audit/alerts/export/", {"file": "xlsx"})
        ws = load_workbook(io.BytesIO(r.content)).active
        values = list(ws.iter_rows(values_only=True))
        assert values[0][0] == "id" and len(values) == 1 + Alert.objects.count()
        assert AccessLog.objects.filter(action="export").count() == 2

    def test_an_auditor_cannot_explain_but_the_owner_can(self, data, auditor, people):
        alert = Alert.objects.first()
        r = client_for(auditor).post(f"/api/audit/alerts/{alert.pk}/explain/", {"comment": "x"})
        assert r.status_code == 403
        r = client_for(people["head"]).post(f"/api/audit/alerts/{alert.pk}/explain/",
                                            {"comment": "batch run"}, format="json")
        assert r.status_code == 200 and r.json()["status"] == "explained"

    def test_the_alerts_page_lists_and_links_exports(self, data, client, user):
        client.force_login(user)
        page = client.get("/audit/alerts/", {"status": "open"}).content.decode()
        assert "outside_hours" in page and "file=xlsx" in page


class TestAuditorGuard:
    def test_other_apps_services_can_refuse_auditors(self, auditor, user):
        ensure_not_auditor(user)  # a clerk passes
        with pytest.raises(AuditorReadOnly) as err:
            ensure_not_auditor(auditor)
        assert str(err.value) == str(MSG_AUDITOR_READ_ONLY) % {"user": "auditor"}

    def test_auditors_cannot_install_rules(self, db, auditor):
        with pytest.raises(AuditorReadOnly):
            services.monitoring_rules_install(user=auditor)
        assert Organization.objects.count() == 0
