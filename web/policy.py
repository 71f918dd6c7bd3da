"""Page-level access for the existing apps' pages, in one table (the permission matrix
test mirrors it). Object scoping (which unit's data) is checked through web.scoping."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from rest_framework.request import Request
from rest_framework.settings import api_settings

from finance import roles
from payments.models import PaymentRequest
from web import budget_access as budget
from web import scoping

PUBLIC = "public"


def _city(request: HttpRequest, kwargs: dict[str, Any]) -> bool:  # noqa: ARG001
    return scoping.is_city_level(request.user)


def _disclosure(request: HttpRequest, kwargs: dict[str, Any]) -> bool:  # noqa: ARG001
    """The disclosure sets: the city level, and a department's head (主要负责人), who signs
    the department's sets (the page lists only those; the services check again)."""
    from reports.services import department_headed_by

    return scoping.is_city_level(request.user) or department_headed_by(request.user) is not None


def _auditor(request: HttpRequest, kwargs: dict[str, Any]) -> bool:  # noqa: ARG001
    u = request.user
    return bool(u.is_staff or u.is_superuser or roles.has_role(u, roles.AUDITOR))


def _treasury(request: HttpRequest, kwargs: dict[str, Any]) -> bool:  # noqa: ARG001
    u = request.user
    return bool(u.is_staff or u.is_superuser
                or scoping.roles_of(u) & {*roles.TREASURY_ROLES, roles.AUDITOR})


def _treasury_only(request: HttpRequest, kwargs: dict[str, Any]) -> bool:  # noqa: ARG001
    """Vouchers, bank imports, resolving exceptions: treasury roles (and staff)."""
    u = request.user
    return bool(u.is_staff or u.is_superuser or roles.has_role(u, *roles.TREASURY_ROLES))


def _unit_filer(request: HttpRequest, kwargs: dict[str, Any]) -> bool:  # noqa: ARG001
    """A unit's filer (经办人) of an organization: its payment plans."""
    u = request.user
    return bool(roles.has_role(u, roles.UNIT_FILER) and scoping.organization_of(u) is not None)


def _payee_reader(request: HttpRequest, kwargs: dict[str, Any]) -> bool:  # noqa: ARG001
    """收款人: the people of an organization (their units' books and the shared payees)
    and the city level; the views scope each payee and check who may change it."""
    u = request.user
    return scoping.is_city_level(u) or scoping.organization_of(u) is not None


def _unit_code(request: HttpRequest, kwargs: dict[str, Any]) -> bool:
    return scoping.can_see_unit(request.user, kwargs.get("code", ""))


def _tracking_id(request: HttpRequest, kwargs: dict[str, Any]) -> bool:
    return scoping.visible_requests(request.user).filter(
        tracking_id=kwargs.get("tracking_id", "")).exists() or not (
        PaymentRequest.objects.filter(tracking_id=kwargs.get("tracking_id", "")).exists())


def _plan_unit(request: HttpRequest, kwargs: dict[str, Any]) -> bool:
    """A budget plan's API (transitions, template) only for those who may see its unit."""
    from budgets.models import BudgetPlan

    plan = BudgetPlan.objects.select_related("unit").filter(pk=kwargs.get("pk")).first()
    return plan is None or scoping.can_see_unit(request.user, plan.unit.code)


def _unassigned(user: Any) -> bool:
    """An account with neither a role nor an organization (set up by an administrator,
    e.g. bureau clerks of the earlier apps). Unless WEB_STRICT_PAGES is on, such accounts
    keep the access the apps' pages always gave them (any signed-in user)."""
    return (not getattr(settings, "WEB_STRICT_PAGES", False) and not scoping.roles_of(user)
            and scoping.organization_of(user) is None)


Check = Callable[[HttpRequest, dict[str, Any]], bool]
POLICY: dict[str, str | Check] = {
    "finance:home": PUBLIC,
    "reports:public": PUBLIC,
    "reports:public_set": PUBLIC,
    "reports:public_file": PUBLIC,
    "reports:public_figure": PUBLIC,
    "reports:public_citizens": PUBLIC,
    "reports:public_bulk": PUBLIC,
    "finance:trial_balance": _city,
    "budgets:unit_indicators": _unit_code,
    "payments:trace": _tracking_id,
    "payments:exceptions": _treasury,
    "reports:execution": _city,
    "reports:final_accounts": _city,
    "reports:figure": _city,
    "reports:disclosure": _disclosure,
    "reports:disclosure_export": _city,
    "reports:disclosure_action": _disclosure,
    # treasury screens (web/views_treasury.py; the views check the role again)
    "web:treasury_vouchers": _treasury_only,
    "web:treasury_batch": _treasury_only,
    "web:treasury_batch_csv": _treasury_only,
    "web:treasury_batch_pain001": _treasury_only,
    "web:treasury_notice_csv": _treasury_only,
    "web:treasury_imports": _treasury_only,
    "web:treasury_import": _treasury_only,
    "web:treasury_exceptions": _treasury_only,
    "web:treasury_exception_resolve": _treasury_only,
    "web:treasury_reconcile": _treasury_only,
    "web:treasury_bank_file": _treasury_only,
    "web:treasury_banks": _treasury_only,
    "web:treasury_bank": _treasury_only,
    "web:treasury_bank_new": _treasury_only,
    "web:public_home": PUBLIC,
    # 用款计划: a unit's filer applies, the treasury approves (web/views_plans.py)
    "web:plans": _unit_filer,
    "web:plan_review": _treasury_only,
    "web:plans_approve": _treasury_only,
    "web:plan_approve": _treasury_only,
    # 收款人: the unit's payee book (web/views_payees.py; payees scoped in the views: 404)
    "web:payees": _payee_reader,
    "web:payee": _payee_reader,
    "web:payee_block": _payee_reader,
    "web:payee_new": _unit_filer,
    # 合同: a unit's contract register (web/views_contracts.py; scoped in the views: 404)
    "web:contracts": _payee_reader,
    "web:contract": _payee_reader,
    "web:contract_new": _unit_filer,
    "web:contract_sign": _payee_reader,
    "web:contract_close": _payee_reader,
    # 工资统发: a unit's payroll batches (web/views_payroll.py; scoped in the views: 404;
    # the services check who uploads, submits, approves and issues vouchers)
    "web:payrolls": _payee_reader,
    "web:payroll": _payee_reader,
    "web:payroll_act": _payee_reader,
    # 公务卡: a unit's cards and transactions (web/views_cards.py: scoped in the view; the
    # services ask finance.roles who repays, registers and imports)
    "web:official_cards": _payee_reader,
    # budget screens (web/views_budget.py; objects are scoped in the views' queries: 404)
    "web:budget_projects": budget.page_reader,
    "web:budget_project": budget.page_reader,
    "web:budget_project_act": budget.page_reader,
    "web:budget_project_new": budget.page_filer,
    "web:budget_plans": budget.page_reader,
    "web:budget_plan": budget.page_reader,
    "web:budget_plan_template": budget.page_reader,
    "web:budget_plan_act": budget.page_reader,
    "web:budget_plan_new": budget.page_filer,
    "web:budget_plan_lines": budget.page_filer,
    "web:budget_plan_upload": budget.page_filer,
    "web:budget_review": budget.page_reviewer,
    "web:budget_department_review": budget.page_reviewer,
    "web:budget_adjustments": budget.page_reader,
    "web:budget_adjustment": budget.page_reader,
    "web:budget_adjustment_act": budget.page_reader,
    "web:budget_adjustment_new": budget.page_adjustment_filer,
    # the bureau's period pages, the reports app's (web/views_periods.py: closing asks
    # reports.write and the auditors' read-only guard again, reopening reports.reopen_year)
    "web:bureau_periods": _city,
    "web:bureau_month_close": _city,
    "web:bureau_month_reopen": _city,
    "web:bureau_year_end": _city,
    "web:bureau_year_close": _city,
    "web:bureau_year_reopen": _city,
    # 控制方式 (web/views_control.py): the city level reads the rules, the budget office
    # changes them, the treasury director overrides (finance.control asks again)
    "web:bureau_control_rules": _city,
    "web:bureau_control_rule": _city,
    "web:request_control_override": _treasury_only,
    "web:contract_control_override": _treasury_only,
    # 序时进度 alerts (audit/pace_views.py): the people of an organization (their own,
    # scoped in the views: 404) and the city level; services check who may act
    "audit:pace_alerts": _payee_reader,
    "audit:pace_alert": _payee_reader,
    "audit:pace_alert_act": _payee_reader,
    # 绩效 (web/views_performance.py; projects and self-evaluations scoped in the views:
    # 404; the services ask finance.roles again)
    "web:performance_targets": budget.page_filer,
    "web:performance_monitoring": budget.page_filer,
    "web:performance_evaluate": budget.page_filer,
    "web:performance_evaluations": budget.page_reader,
    "web:performance_evaluation": budget.page_reader,
    "web:performance_evaluation_act": budget.page_performance_reviewer,
    # API endpoints that name a unit: the caller is authenticated here as DRF would.
    "budgets-unit-indicators": _unit_code,
    "budgets-plan-transition": _plan_unit,
    "budgets-plan-template": _plan_unit,
}
NAMESPACE_POLICY: dict[str, Check] = {"audit": _auditor}


class PagePolicyMiddleware:
    """Runs the POLICY check of a resolved page before its view (API views authenticate
    by token inside DRF and scope in their own querysets, so /api/ is left to them)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, args: Any,
                     kwargs: dict[str, Any]) -> HttpResponse | None:
        match = request.resolver_match
        if match is None:
            return None
        rule = POLICY.get(match.view_name) or NAMESPACE_POLICY.get(match.namespace)
        if rule is None or rule == PUBLIC:
            return None
        if request.path.startswith("/api/"):
            return self._api(request, rule, kwargs)  # type: ignore[arg-type]
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (_unassigned(request.user) or rule(request, kwargs)):  # type: ignore[operator]
            raise PermissionDenied
        return None

    def _api(self, request: HttpRequest, rule: Check, kwargs: dict[str, Any]) -> HttpResponse | None:
        drf = Request(request, authenticators=[a() for a in
                                               api_settings.DEFAULT_AUTHENTICATION_CLASSES])
        try:
            user = drf.user
        except Exception:  # noqa: BLE001 - a bad token: DRF itself answers 401 in the view
            return None
        if not user.is_authenticated:
            return None  # DRF answers 401/403 for the anonymous caller
        request.user = user
        if _unassigned(user) or rule(request, kwargs):
            return None
        return JsonResponse({"code": "out_of_scope",
                             "detail": _("This record belongs to an organization you may not "
                                         "see.")}, status=403)
