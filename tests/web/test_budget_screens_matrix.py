"""The permission matrix of the budget screens (web/views_budget.py, POLICY entries
web:budget_*): every page × every role with the expected answer, the POST actions ×
every role, and no response of a unit role carrying the other unit's code, name or
project."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from budgets import services as budgets
from budgets.models import Project
from tests.helpers import YEAR, dims
from tests.web.conftest import U1, U2
from tests.web.test_permissions import LOGIN, ROLES, UNIT_ROLES
from web.policy import POLICY

A, D, N, R = 200, 403, 404, 302  # R: the action ran and the page redirects with a message

PAGES = {
    "/web/budget/projects/":                      [LOGIN, A, A, A, A, A, A, A],
    "/web/budget/projects/new/":                  [LOGIN, A, D, A, D, D, D, D],
    "/web/budget/projects/{project1}/":           [LOGIN, A, A, N, A, A, A, A],
    "/web/budget/projects/{project2}/":           [LOGIN, N, N, A, A, A, A, A],
    "/web/budget/plans/":                         [LOGIN, A, A, A, A, A, A, A],
    "/web/budget/plans/{plan1}/":                 [LOGIN, A, A, N, A, A, A, A],
    "/web/budget/plans/{plan2}/":                 [LOGIN, N, N, A, A, A, A, A],
    "/web/budget/plans/{plan1}/lines/":           [LOGIN, A, D, N, D, D, D, D],
    "/web/budget/plans/{plan1}/upload/":          [LOGIN, A, D, N, D, D, D, D],
    "/web/budget/plans/{plan2}/upload/":          [LOGIN, N, D, A, D, D, D, D],
    "/web/budget/plans/{plan1}/template.xlsx":    [LOGIN, A, A, N, A, A, A, A],
    "/web/budget/review/?year=2026":              [LOGIN, D, D, D, A, D, A, D],
    "/web/budget/adjustments/":                   [LOGIN, A, A, A, A, A, A, A],
    "/web/budget/adjustments/new/?year=2026":     [LOGIN, A, D, A, A, D, A, D],
    "/web/budget/adjustments/{adjustment1}/":     [LOGIN, A, A, N, A, A, A, A],
    # 绩效 (web/views_performance.py): the unit's filer on its own project only
    "/web/budget/projects/{project1}/targets/":         [LOGIN, A, D, N, D, D, D, D],
    "/web/budget/projects/{project1}/monitoring/":      [LOGIN, A, D, N, D, D, D, D],
    "/web/budget/projects/{project1}/self-evaluation/": [LOGIN, A, D, N, D, D, D, D],
    "/web/budget/performance/":                         [LOGIN, A, A, A, A, A, A, A],
    # a reader reaches the view (the page policy lets every budget reader in); no such one
    "/web/budget/performance/999999/":                  [LOGIN, N, N, N, N, N, N, N],
}
# POST actions: (url, data) → expected per role. A refused role gets 403 (or 404 outside
# its scope); an allowed one reaches the service, whose refusal is a message (302).
ACTIONS = {
    ("/web/budget/plans/new/", "year=2027"):                    [LOGIN, R, D, R, D, D, D, D],
    ("/web/budget/plans/{plan1}/act/", "action=approve"):       [LOGIN, D, D, N, D, D, R, D],
    ("/web/budget/plans/{plan1}/act/", "action=control"):       [LOGIN, D, D, N, D, D, R, D],
    ("/web/budget/plans/{plan1}/act/", "action=review"):        [LOGIN, D, D, N, R, D, R, D],
    ("/web/budget/plans/{plan2}/act/", "action=submit"):        [LOGIN, N, N, R, D, D, D, D],
    ("/web/budget/projects/{project1}/act/", "action=accept"):  [LOGIN, D, D, N, R, D, R, D],
    ("/web/budget/review/department/", "year=2026"):            [LOGIN, D, D, D, R, D, D, D],
    ("/web/budget/adjustments/{adjustment1}/act/", "action=reject&reason=x"):
                                                                [LOGIN, D, D, N, D, D, R, D],
    # the bureau's decision on a self-evaluation (finance.roles.may_review_performance);
    # no such evaluation: the budget office reaches the view and gets 404
    ("/web/budget/performance/999999/act/", "action=approve"):  [LOGIN, D, D, D, D, D, N, D],
}
BUDGET_URL_NAMES = {
    "budget_projects", "budget_project_new", "budget_project", "budget_project_act",
    "budget_plans", "budget_plan_new", "budget_plan", "budget_plan_lines",
    "budget_plan_template", "budget_plan_upload", "budget_plan_act", "budget_review",
    "budget_department_review", "budget_adjustments", "budget_adjustment_new",
    "budget_adjustment", "budget_adjustment_act",
    "performance_targets", "performance_monitoring", "performance_evaluate",
    "performance_evaluations", "performance_evaluation", "performance_evaluation_act"}


@pytest.fixture
def budget_world(world):  # noqa: ANN001
    """Each unit has a project (u1's in the library) and a draft plan; u1 has an
    adjustment waiting — all through the real services."""
    p = world.people
    ids = {}
    for n, (unit, filer) in enumerate(((U1, p.filer), (U2, p.other_filer)), start=1):
        project = budgets.project_create(unit_code=unit, code=f"P-{unit}", name=f"项目{unit}",
                                         category="specific", total_amount=Decimal("100.00"),
                                         user=filer)
        ids[f"project{n}"] = project.pk
        ids[f"plan{n}"] = budgets.plan_create(unit_code=unit, year=YEAR, user=filer).pk
    project1 = budgets.project_submit(project=Project.objects.get(pk=ids["project1"]),
                                      user=p.filer)
    budgets.project_review(project=project1, user=p.dept)
    adj = budgets.adjustment_file(kind="increase", year=YEAR, amount="10.00", batch_no="B-1",
                                  doc_no="深财预〔2026〕1号", date=dt.date(2026, 3, 10),
                                  reason="追加", target=dims(unit=U1), user=p.filer)
    ids["adjustment1"] = adj.pk
    return SimpleNamespace(ids=ids, world=world)


def _foreign(world, role: str) -> list[str]:  # noqa: ANN001
    if role not in UNIT_ROLES:
        return []
    other = "u2" if UNIT_ROLES[role] == "u1" else "u1"
    org = world.orgs[other]
    return [org.code, org.name, f"P-{org.code}", f"项目{org.code}"]


def test_every_budget_url_name_is_in_the_page_policy_table():
    assert {f"web:{name}" for name in BUDGET_URL_NAMES} <= set(POLICY)


@pytest.mark.django_db
class TestBudgetMatrix:
    @pytest.mark.parametrize("role", ROLES)
    def test_every_budget_page_answers_each_role_with_nothing_of_another_unit(
            self, client, budget_world, role):  # noqa: ANN001
        world = budget_world.world
        if role != "anonymous":
            client.force_login(getattr(world.people, role))
        wrong = []
        for template, answers in PAGES.items():
            expected = answers[ROLES.index(role)]
            url = template.format(**budget_world.ids)
            response = client.get(url)
            if response.status_code != expected:
                wrong.append(f"{role} {url}: {response.status_code}, expected {expected}")
            if role == "anonymous" and not response["Location"].startswith("/accounts/login/"):
                wrong.append(f"{role} {url}: redirected to {response['Location']}")
            body = response.content.decode(errors="replace") if not url.endswith(".xlsx") else ""
            wrong += [f"{role} {url}: shows {t!r} of another unit"
                      for t in _foreign(world, role) if t in body]
        assert wrong == []

    @pytest.mark.parametrize("role", ROLES)
    def test_every_budget_action_is_refused_or_reaches_the_service_per_role(
            self, client, budget_world, role):  # noqa: ANN001
        world = budget_world.world
        if role != "anonymous":
            client.force_login(getattr(world.people, role))
        wrong = []
        for (template, data), answers in ACTIONS.items():
            expected = answers[ROLES.index(role)]
            url = template.format(**budget_world.ids)
            response = client.post(url, data, content_type="application/x-www-form-urlencoded")
            if response.status_code != expected:
                wrong.append(f"{role} POST {url} {data}: {response.status_code}, expected {expected}")
            if role == "anonymous" and not response["Location"].startswith("/accounts/login/"):
                wrong.append(f"{role} POST {url}: redirected to {response['Location']}")
        assert wrong == []
