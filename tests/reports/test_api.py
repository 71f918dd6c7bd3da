"""The reports API: close and disclosure workflow through HTTP, errors as 400/403."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from finance import selectors as fin
from tests.reports.conftest import YEAR, make_department_head


@pytest.fixture
def head(django_user_model):
    u = django_user_model.objects.create_user(username="head", password="x-Secret-789")
    u.user_permissions.add(*Permission.objects.filter(
        codename__in=["approve_disclosure", "publish_disclosure", "reopen_year",
                      "review_disclosure_confidentiality"]))
    return django_user_model.objects.get(pk=u.pk)


class TestCloseAPI:
    def test_year_close_refused_then_done_then_reopened_by_the_role(self, city, user, head, client):
        client.force_login(user)
        r = client.post("/api/reports/close/year/", {"year": YEAR})
        assert r.status_code == 400 and r.json()["code"] == "months_open"
        for m in range(1, 12):
            assert client.post("/api/reports/close/month/", {"year": YEAR, "month": m}).json()[
                "status"] == "closed"
        body = client.post("/api/reports/close/year/", {"year": YEAR}).json()
        assert body["status"] == "closed" and body["entries"] >= 3
        assert fin.balance(account="7101", year=YEAR) == 0
        r = client.post("/api/reports/close/year/reopen/", {"year": YEAR, "reason": "x"})
        assert r.status_code == 403
        client.force_login(head)
        r = client.post("/api/reports/close/year/reopen/", {"year": YEAR, "reason": "审计调整"})
        assert r.json()["status"] == "reopened"
        assert str(fin.balance(account="7101", year=YEAR)) == "710373.00"

    def test_anonymous_users_are_refused(self, city, client):
        assert client.post("/api/reports/close/year/", {"year": YEAR}).status_code in (401, 403)
        assert client.get("/api/reports/execution/?year=2026").status_code in (401, 403)


class TestDisclosureAPI:
    def test_draft_approve_publish_over_http(self, city, user, head, client,
                                             django_user_model):  # noqa: ANN001
        client.force_login(user)
        ds = client.post("/api/reports/disclosure-sets/", {
            "department": "440300100", "year": YEAR, "kind": "budget",
            "approved_on": "2026-03-01"}).json()
        assert ds["status"] == "draft"
        r = client.post(f"/api/reports/disclosure-sets/{ds['id']}/approve/")
        assert r.status_code == 403
        client.force_login(head)
        assert client.post(f"/api/reports/disclosure-sets/{ds['id']}/approve/").json()[
            "status"] == "approved"
        r = client.post(f"/api/reports/disclosure-sets/{ds['id']}/publish/")
        assert r.status_code == 400 and r.json()["code"] == "confidentiality_review_missing"
        body = client.post(f"/api/reports/disclosure-sets/{ds['id']}/confidentiality/",
                           {"conclusion": "cleared", "note": "不涉密"}).json()
        assert body["confidentiality_review"]["by"] == "head"
        r = client.post(f"/api/reports/disclosure-sets/{ds['id']}/sign/")
        assert r.status_code == 400 and r.json()["code"] == "not_permitted"  # not its head
        r = client.post(f"/api/reports/disclosure-sets/{ds['id']}/publish/")
        assert r.status_code == 400 and r.json()["code"] == "head_sign_off_missing"
        client.force_login(make_department_head(django_user_model))
        body = client.post(f"/api/reports/disclosure-sets/{ds['id']}/sign/").json()
        assert body["head_sign_off"]["by"] == "dept-head"
        client.force_login(head)
        body = client.post(f"/api/reports/disclosure-sets/{ds['id']}/publish/").json()
        assert body["status"] == "published" and len(body["manifest_sha256"]) == 64
        r = client.post(f"/api/reports/disclosure-sets/{ds['id']}/publish/")
        assert r.status_code == 400 and r.json()["code"] == "published_immutable"
        listing = client.get("/api/reports/disclosure-sets/").json()
        assert listing[0]["due"] == "2026-03-21" and listing[0]["status"] == "published"

    def test_a_unit_is_not_a_department(self, city, user, client):
        client.force_login(user)
        r = client.post("/api/reports/disclosure-sets/", {
            "department": "440300101", "year": YEAR, "kind": "budget",
            "approved_on": "2026-03-01"})
        assert r.status_code == 400 and r.json()["detail"] == "440300101 不是部门。"  # the UI language


class TestDeadlineCommand:
    def test_lists_due_soon_and_fails_when_overdue(self, city, user, capsys):
        import datetime as dt

        from django.core.management import CommandError, call_command

        from reports import services

        services.disclosure_set_create(department_code="440300100", year=YEAR, kind="final",
                                       approved_on=dt.date(YEAR, 3, 1), user=user)
        call_command("disclosure_deadlines", "--today", "2026-03-18")
        assert "DUE_SOON: 2026 440300100 深圳市教育局 final (draft) due 2026-03-21, 3 day(s) left" in (
            capsys.readouterr().out)
        with pytest.raises(CommandError):
            call_command("disclosure_deadlines", "--today", "2026-03-25")


class TestDisclosurePage:
    def test_clerk_drafts_head_approves_and_publishes_from_the_page(
            self, city, user, head, client, django_user_model):  # noqa: ANN001
        client.force_login(user)
        client.post("/reports/disclosure/create/", {"department": "440300100", "year": YEAR,
                                                    "kind": "final", "approved_on": "2026-03-01"})
        from reports.models import DisclosureSet

        ds = DisclosureSet.objects.get()
        page = client.post("/reports/disclosure/approve/", {"id": ds.pk}, follow=True)
        assert "需要角色 reports.approve_disclosure" in page.content.decode()
        client.force_login(head)
        client.post("/reports/disclosure/approve/", {"id": ds.pk})
        html = client.post("/reports/disclosure/publish/", {"id": ds.pk},
                           follow=True).content.decode()
        assert "保密审查" in html and 'name="conclusion"' in html  # refused, with the form
        client.post("/reports/disclosure/confidentiality/",
                    {"id": ds.pk, "conclusion": "cleared", "note": "不涉密"})
        dept_head = make_department_head(django_user_model)
        client.force_login(dept_head)  # the department's head sees its sets, to sign
        html = client.get("/reports/disclosure/").content.decode()
        assert "/reports/disclosure/sign/" in html and "Create" not in html
        client.post("/reports/disclosure/sign/", {"id": ds.pk})
        client.force_login(head)
        html = client.post("/reports/disclosure/publish/", {"id": ds.pk},
                           follow=True).content.decode()
        assert f'href="/reports/public/{ds.pk}/"' in html
        ds.refresh_from_db()
        assert (ds.status, ds.approved_by, ds.published_by) == ("published", head, head)
