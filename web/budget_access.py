"""Who may use the budget screens (web/views_budget.py): page checks for the POLICY table
in web/policy.py and the role checks of each action. Which plans, projects and
adjustments a user sees is decided in the query (web.scoping.visible_organizations)."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from budgets.models import Adjustment, BudgetPlan, Project
from finance import roles
from finance.models import Organization
from web import scoping

ORG = Organization.Kind


def _kind(user: Any) -> str | None:
    org = scoping.organization_of(user)
    return org.kind if org is not None else None


def is_unit_filer(user: Any) -> bool:
    """A budget unit's filer (经办人): files projects, plans and adjustments of the unit."""
    return roles.has_role(user, roles.UNIT_FILER) and _kind(user) == ORG.BUDGET_UNIT


def is_department(user: Any) -> bool:
    """Someone of a supervising department (主管部门): reviews its units' plans and projects."""
    return _kind(user) == ORG.DEPARTMENT and not scoping.is_city_level(user)


def is_office(user: Any) -> bool:
    """The finance bureau's budget office (预算处): control numbers, approval, adjustments."""
    return bool(user.is_authenticated and (user.is_superuser or user.is_staff
                                           or roles.may_act_as_budget_office(user)))


def can_read(user: Any) -> bool:
    """Anyone with an organization or a city-level role sees the budget screens (scoped)."""
    return scoping.is_city_level(user) or scoping.organization_of(user) is not None


def can_review(user: Any) -> bool:
    return is_department(user) or is_office(user)


def can_file_adjustment(user: Any) -> bool:
    return is_unit_filer(user) or is_department(user) or is_office(user)


# ------------------------------------------------------------- scoped querysets
def visible_plans(user: Any) -> QuerySet[BudgetPlan]:
    qs = BudgetPlan.objects.select_related("unit", "unit__parent")
    return qs if scoping.is_city_level(user) else qs.filter(
        unit__in=scoping.visible_organizations(user))


def visible_projects(user: Any) -> QuerySet[Project]:
    qs = Project.objects.select_related("unit")
    return qs if scoping.is_city_level(user) else qs.filter(
        unit__in=scoping.visible_organizations(user))


def visible_adjustments(user: Any) -> QuerySet[Adjustment]:
    qs = Adjustment.objects.select_related("unit", "filed_by", "decided_by")
    return qs if scoping.is_city_level(user) else qs.filter(
        unit__in=scoping.visible_organizations(user))


# ------------------------------------------------- checks for web.policy.POLICY
def page_reader(request: HttpRequest, kwargs: dict[str, Any]) -> bool:  # noqa: ARG001
    return can_read(request.user)


def page_filer(request: HttpRequest, kwargs: dict[str, Any]) -> bool:  # noqa: ARG001
    return is_unit_filer(request.user)


def page_reviewer(request: HttpRequest, kwargs: dict[str, Any]) -> bool:  # noqa: ARG001
    return can_review(request.user)


def page_adjustment_filer(request: HttpRequest, kwargs: dict[str, Any]) -> bool:  # noqa: ARG001
    return can_file_adjustment(request.user)


def page_performance_reviewer(request: HttpRequest, kwargs: dict[str, Any]) -> bool:  # noqa: ARG001
    """The bureau's decision on a self-evaluation (finance.roles.may_review_performance)."""
    return roles.may_review_performance(request.user)
