"""Project library (项目库) workflow and the development and reform commission's feed."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from budgets import errors, selectors, services
from budgets.importers.projects import parse_projects
from budgets.models import Project
from finance import errors as finance_errors
from finance import roles
from finance import services as finance_services
from finance.ids import make_uscc
from finance.models import Job
from tests.budgets.conftest import AS_OF, library_project
from tests.conftest import SAMPLES
from tests.helpers import grant

FIRST = SAMPLES / "projects" / "investment_projects_20260301.json"
SECOND = SAMPLES / "projects" / "investment_projects_20260615.json"
ROAD = "2025-440303-48-01-012345"
CDC = "2026-440300-83-01-000219"


@pytest.fixture
def owners(fiscal_year, orgs, user):  # noqa: ANN001, ARG001
    mk = finance_services.organization_upsert
    mk(code="440303101", name="深圳市罗湖区建筑工务署", kind="budget_unit", region_code="440303",
       uscc=make_uscc("440303", 101), parent_code="440300100", user=user, reason="set-up")
    mk(code="440300210", name="深圳市疾病预防控制中心", kind="budget_unit", region_code="440300",
       uscc=make_uscc("440300", 210), parent_code="440300100", user=user, reason="set-up")


def import_file(path, user):  # noqa: ANN001
    records, issues = parse_projects(path.read_bytes(), path.name)
    return services.projects_import(records=records, issues=issues, filename=path.name, user=user)


class TestProjectLibrary:
    def test_a_project_enters_the_library_after_submission_review_and_acceptance(
            self, city, user, reviewer):
        p = library_project("P-001", "440300101", filer=user, reviewer=reviewer)
        assert p.status == "in_library"
        assert [(s.to_state, s.actor.username) for s in selectors.plan_steps(document=p)] == [
            ("draft", "clerk"), ("submitted", "clerk"), ("reviewed", "dept-reviewer"),
            ("in_library", "dept-reviewer")]
        # the text "1200" read as ≥ 1200 人, a quantity target with all 90 points (issue 22)
        assert list(p.targets.values_list("name", "target_text", "comparison", "target_value",
                                          "measure_unit", "indicator_class", "weight")) == [
            ("受益学生", "1200", "ge", Decimal("1200.0000"), "人", "output_quantity",
             Decimal("90.00"))]
        assert list(selectors.library_projects(unit_code="440300101")) == [p]

    def test_a_returned_project_carries_its_reason_and_can_be_resubmitted(self, city, user,
                                                                          reviewer):
        p = services.project_create(unit_code="440300101", code="P-002", name="操场改造",
                                    category="specific", total_amount="300000.00", user=user)
        services.project_submit(project=p, user=user)
        p = services.project_return(project=p, user=reviewer, reason="绩效目标不明确")
        assert (p.status, p.return_reason) == ("returned", "绩效目标不明确")
        assert services.project_submit(project=p, user=user).status == "submitted"

    def test_the_filer_cannot_review_their_own_project(self, city, user):
        p = services.project_create(unit_code="440300101", code="P-003", name="x", category="personnel",
                                    total_amount="1.00", user=user)
        services.project_submit(project=p, user=user)
        with pytest.raises(finance_errors.NotPermitted):  # a filer does not review
            services.project_review(project=p, user=user)
        grant(user, roles.BUDGET_OFFICE)  # nor when they also work in the budget office
        with pytest.raises(errors.SegregationOfDuties):
            services.project_review(project=p, user=user)

    def test_a_project_not_in_the_library_cannot_be_budgeted(self, city, user):
        services.project_create(unit_code="440300101", code="P-004", name="x", category="personnel",
                                total_amount="1.00", user=user)
        plan = services.plan_create(unit_code="440300101", year=2026, user=user)
        with pytest.raises(errors.PlanLinesInvalid) as exc:
            services.plan_lines_save(plan=plan, lines=[services.PlanLineInput(
                "P-004", "2050203", "30201", "1", "10.00")], user=user)
        assert exc.value.problems == ["line 1: project: project P-004 is not in the project "
                                      "library (draft)"]

    def test_an_amount_with_three_decimals_is_refused_when_filing(self, city, user):
        with pytest.raises(errors.ProjectInvalid) as exc:
            services.project_create(unit_code="440300101", code="P-005", name="x", category="personnel",
                                    total_amount="10.005", user=user)
        assert str(exc.value) == "Project P-005: total amount 10.005 has more than 2 decimal places"
        assert not Project.objects.filter(code="P-005").exists()


class TestInvestmentProjectFeed:
    def test_the_first_export_creates_library_projects(self, owners, user):
        report = import_file(FIRST, user)
        assert report.as_dict() == {"records": 2, "created": 2, "updated": 0, "unchanged": 0,
                                    "bad": 0}
        road = Project.objects.get(code=ROAD)
        assert (road.status, road.source, road.unit.code, road.total_amount) == (
            "in_library", "ndrc", "440303101", Decimal("38600000.00"))
        assert list(road.annual_plans.values_list("year", "fund_source__code", "amount")) == [
            (2026, "1", Decimal("15000000.00"))]

    def test_the_second_export_revises_the_total_and_keeps_the_old_one_in_history(
            self, owners, user):
        import_file(FIRST, user)
        report = import_file(SECOND, user)
        assert (report.created, report.updated, report.unchanged) == (0, 2, 0)
        road = Project.objects.get(code=ROAD)
        assert road.total_amount == Decimal("41250000.00")
        assert road.change_note == "概算调整：增加管线迁改费用"
        totals = [h.total_amount for h in road.history.order_by("history_date")]
        assert totals == [Decimal("38600000.00"), Decimal("41250000.00")]
        assert [h.amount for h in road.annual_plans.get().history.order_by("history_date")] == [
            Decimal("15000000.00"), Decimal("17500000.00")]

    def test_a_bad_record_is_reported_with_its_code_and_the_rest_imports(self, owners, user):
        report = import_file(SECOND, user)
        assert [str(i) for i in report.issues] == [
            "investment_projects_20260615.json#3 2026-440304-78-01-000057: "
            "approved_total_investment: 'not-a-number' is not a number"]
        assert report.created == 2
        assert not Project.objects.filter(code="2026-440304-78-01-000057").exists()

    def test_an_unknown_owner_unit_is_a_bad_record(self, fiscal_year, orgs, user):
        report = import_file(FIRST, user)
        assert [(i.code, i.field, i.reason) for i in report.issues] == [
            (ROAD, "owner_unit_code", "owner unit 440303101 does not exist"),
            (CDC, "owner_unit_code", "owner unit 440300210 does not exist")]
        assert Project.objects.count() == 0

    def test_importing_the_same_file_twice_changes_nothing_and_adds_no_history(
            self, owners, user):
        import_file(SECOND, user)
        counts = (Project.history.count(), Project.objects.get(code=ROAD).annual_plans.get()
                  .history.count())
        report = import_file(SECOND, user)
        assert (report.created, report.updated, report.unchanged) == (0, 0, 2)
        assert (Project.history.count(), Project.objects.get(code=ROAD).annual_plans.get()
                .history.count()) == counts

    def test_the_command_prints_the_summary_and_fails_on_bad_records(self, owners, user, capsys):
        call_command("import_projects", str(FIRST))
        assert "2 records: 2 created, 0 updated, 0 unchanged, 0 bad" in capsys.readouterr().out
        with pytest.raises(CommandError, match="1 bad record"):
            call_command("import_projects", str(SECOND))
        out = capsys.readouterr()
        assert "approved_total_investment: 'not-a-number' is not a number" in out.err
        assert "0 created, 2 updated, 0 unchanged, 1 bad" in out.out  # CDC: 拟建 → 在建

    def test_a_file_that_is_not_json_is_one_issue(self):
        records, issues = parse_projects(b"<xml/>", "x.json")
        assert records == [] and issues[0].reason.startswith("not a JSON file")


class TestFeedUploadApi:
    def test_an_upload_runs_as_a_job_with_progress_and_issues(
            self, owners, user, client, django_capture_on_commit_callbacks):
        client.force_login(user)
        with django_capture_on_commit_callbacks(execute=True), SECOND.open("rb") as fh:
            response = client.post("/api/budgets/project-imports/", {"file": fh})
        assert response.status_code == 202
        body = response.json()
        assert body["url"] == f"/jobs/{body['job']}/"
        job = Job.objects.get(pk=body["job"])
        assert (job.status, job.done, job.total, job.created_by) == ("done", 2, 2, user)
        assert job.result == {"records": 2, "created": 2, "updated": 0, "unchanged": 0, "bad": 1}
        assert job.issues[0]["code"] == "2026-440304-78-01-000057"
        progress = client.get(body["api"]).json()
        assert (progress["status"], progress["percent"]) == ("done", 100)
        assert Project.objects.get(code=ROAD).history.first().history_user == user

    def test_an_anonymous_upload_is_refused(self, client, owners):
        with FIRST.open("rb") as fh:
            assert client.post("/api/budgets/project-imports/", {"file": fh}).status_code in (401, 403)
        assert Job.objects.count() == 0


def test_as_of_is_recorded_on_steps(city, user):  # noqa: ANN001
    p = services.project_create(unit_code="440300101", code="P-9", name="x", category="personnel",
                                total_amount="1.00", user=user, as_of=AS_OF)
    assert selectors.plan_steps(document=p).get().at == AS_OF


class TestProjectBatches:
    """Save-and-submit for the unit, the department's queue reviewed and accepted in one
    pass each: the same rows as one by one; a refused project is reported."""

    def _trail(self, p: Project) -> tuple[list, list]:
        hist = [(h.status, h.history_change_reason, h.history_user_id)
                for h in Project.history.filter(id=p.pk).order_by("history_id")]
        steps = [(s.from_state, s.to_state, s.action, s.actor_id)
                 for s in selectors.plan_steps(document=p)]
        return hist, steps

    def test_a_queue_ends_in_the_library_as_one_by_one(self, city, user, reviewer):
        one = library_project("P-101", "440300101", filer=user, reviewer=reviewer)
        many = [services.project_create(unit_code="440300101", code=f"P-1{i:02d}", name="x",
                                        category="specific", total_amount="100.00", user=user,
                                        as_of=AS_OF, submit=True) for i in range(2, 5)]
        assert {p.status for p in many} == {"submitted"}
        out = services.projects_review(projects=many, user=reviewer, as_of=AS_OF)
        assert (len(out.done), out.refused) == (3, [])
        out = services.projects_accept(projects=many, user=reviewer, as_of=AS_OF)
        assert [p.pk for p in out.done] == sorted(p.pk for p in many)
        for p in Project.objects.filter(pk__in=[x.pk for x in many]):
            assert p.status == "in_library" and p.return_reason == ""
            hist, steps = self._trail(p)
            ref_hist, ref_steps = self._trail(Project.objects.get(pk=one.pk))
            assert [h[:2] for h in hist] == [h[:2] for h in ref_hist]
            assert [s[:3] for s in steps] == [s[:3] for s in ref_steps]
            assert [s[3] for s in steps] == [user.pk, user.pk, reviewer.pk, reviewer.pk]

    def test_a_wrong_state_or_the_filer_is_refused_and_the_others_go_on(self, city, user,
                                                                        reviewer):
        draft = services.project_create(unit_code="440300101", code="P-201", name="x",
                                        category="personnel", total_amount="1.00", user=user)
        ready = services.project_create(unit_code="440300101", code="P-202", name="x",
                                        category="personnel", total_amount="1.00", user=user,
                                        submit=True)
        out = services.projects_review(projects=[draft, ready], user=reviewer)
        assert [p.code for p in out.done] == ["P-202"]
        (refused, exc), = out.refused
        assert refused.code == "P-201" and isinstance(exc, errors.WrongState)
        with pytest.raises(errors.WrongState) as single:
            services.project_review(project=draft, user=reviewer)
        assert str(exc) == str(single.value)
        assert Project.objects.get(code="P-201").status == "draft"
        out = services.projects_accept(projects=[ready], user=user)  # the filer
        assert out.done == [] and isinstance(out.refused[0][1], finance_errors.NotPermitted)
        grant(user, roles.BUDGET_OFFICE)  # the filer, in the budget office too
        out = services.projects_accept(projects=[ready], user=user)
        assert out.done == [] and isinstance(out.refused[0][1], errors.SegregationOfDuties)
        assert Project.objects.get(code="P-202").status == "reviewed"
        with pytest.raises(ValueError, match="twice"):
            services.projects_accept(projects=[ready, ready], user=reviewer)

    def test_a_refused_save_and_submit_saves_nothing(self, city, user):
        with pytest.raises(errors.ProjectInvalid):
            services.project_create(unit_code="440300101", code="P-301", name="x",
                                    category="personnel", total_amount="1.001", user=user, submit=True)
        assert not Project.objects.filter(code="P-301").exists()
