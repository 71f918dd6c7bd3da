"""A budget plan's API is closed to users of other units (found by the reliability
attacks: any signed-in user could move another unit's plan)."""
from __future__ import annotations

from budgets import services as budget_services
from budgets.models import BudgetPlan
from finance.models import WorkflowStep
from tests.helpers import YEAR


class TestPlanApiScope:
    def test_another_units_filer_cannot_move_or_download_the_plan(self, world):
        plan = budget_services.plan_create(unit_code="440300101", year=YEAR,
                                           user=world.people.filer)
        c = self._client(world.people.other_filer)
        steps = WorkflowStep.objects.count()
        r = c.post(f"/api/budgets/plans/{plan.pk}/transitions/", {"action": "submit"},
                   content_type="application/json")
        assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
        assert c.get(f"/api/budgets/plans/{plan.pk}/template/").status_code == 403
        assert BudgetPlan.objects.get(pk=plan.pk).status == plan.status
        assert WorkflowStep.objects.count() == steps

    def test_the_units_own_filer_gets_through_to_the_api(self, world):
        plan = budget_services.plan_create(unit_code="440300101", year=YEAR,
                                           user=world.people.filer)
        r = self._client(world.people.filer).get(f"/api/budgets/plans/{plan.pk}/template/")
        assert r.status_code == 200
        assert r["Content-Type"].startswith("application/vnd.openxmlformats")

    @staticmethod
    def _client(person):
        from rest_framework.test import APIClient

        c = APIClient()
        c.force_authenticate(person)
        return c
