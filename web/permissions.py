"""The API's role and object rules in one table (django-rules). The apps' API views name a
rule (``rule_perm = "payments.view_exceptions"``) and finance.access.RulePermission asks
this table; which rows a permitted user then sees is narrowed in the querysets through
finance.access.scope_by_unit, backed by web.scoping. Workflow rights that depend on the
document's state (who may approve which level, the filer never approving) stay in the
services, which refuse and log; the rows marked "service" below only name them.

Accounts with neither a role nor an organization (set up by an administrator before roles
existed) keep the access the API always gave them unless WEB_STRICT_PAGES is on, as on
the pages (web.policy._unassigned)."""
from __future__ import annotations

from typing import Any

import rules

from finance import roles
from web import scoping


def _signed_in(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated)


@rules.predicate
def is_staff(user: Any) -> bool:
    return _signed_in(user) and bool(user.is_staff or user.is_superuser)


@rules.predicate
def is_unassigned(user: Any) -> bool:
    from web.policy import _unassigned

    return _signed_in(user) and _unassigned(user)


def has_role(*names: str) -> rules.Predicate:
    @rules.predicate(name=f"has_role({', '.join(names)})")
    def check(user: Any) -> bool:
        return _signed_in(user) and bool(scoping.roles_of(user) & set(names))

    return check


is_filer = has_role(roles.UNIT_FILER)
is_unit_head = has_role(roles.UNIT_HEAD)
is_treasury = has_role(*roles.TREASURY_ROLES)
is_budget_office = has_role(roles.BUDGET_OFFICE)
is_auditor = has_role(roles.AUDITOR)


@rules.predicate
def is_city(user: Any) -> bool:
    return scoping.is_city_level(user)


def unit_code_of(obj: Any) -> str:
    """A unit code, or the code of an object's unit (.unit: a code or an Organization)."""
    if obj is None or isinstance(obj, str):
        return obj or ""
    unit = getattr(obj, "unit", None)
    if unit is not None:
        return unit if isinstance(unit, str) else str(getattr(unit, "code", ""))
    return str(getattr(obj, "code", ""))


@rules.predicate
def sees_unit(user: Any, obj: Any) -> bool:
    """The object names a unit the user may see."""
    code = unit_code_of(obj)
    return _signed_in(user) and bool(code) and scoping.can_see_unit(user, code)


@rules.predicate
def is_unit_head_of_request(user: Any, request: Any) -> bool:
    return _signed_in(user) and roles.may_approve_unit(user, request.unit)


@rules.predicate
def owns_alert(user: Any, alert: Any) -> bool:
    return _signed_in(user) and alert.owner_id == user.pk


@rules.predicate
def sees_alert_unit(user: Any, alert: Any) -> bool:
    return _signed_in(user) and bool(alert.unit_code) and scoping.can_see_unit(
        user, alert.unit_code)


@rules.predicate
def owns_job(user: Any, job: Any) -> bool:
    return _signed_in(user) and job.created_by_id == user.pk


@rules.predicate
def is_payments_job(user: Any, job: Any) -> bool:  # noqa: ARG001
    return job.kind.startswith("payments.")


@rules.predicate
def is_budgets_job(user: Any, job: Any) -> bool:  # noqa: ARG001
    return job.kind == "import_projects" or job.kind.startswith("budgets.")


@rules.predicate
def heads_a_department(user: Any) -> bool:
    """A department's head (主要负责人), who signs its disclosure sets."""
    from reports.services import department_headed_by

    return _signed_in(user) and department_headed_by(user) is not None


everyone = rules.always_allow
legacy = is_staff | is_unassigned

# rule name → who (object rules get the object as second argument)
PERMISSIONS: dict[str, rules.Predicate] = {
    # finance
    "finance.view_job": owns_job | is_staff | (is_treasury & is_payments_job)
    | (is_budget_office & is_budgets_job) | is_auditor,
    # budgets
    "budgets.import_projects": is_budget_office | legacy,
    "budgets.view_unit": sees_unit | is_city | legacy,  # object: the unit code
    "budgets.view_plan": sees_unit | is_city | legacy,  # object: the plan; web.policy too
    # payments (lists are narrowed by unit in their querysets)
    "payments.file_request": is_filer | legacy,  # service: the unit is the filer's own
    "payments.approve_request": is_treasury | is_unit_head_of_request,  # service: level, SoD
    "payments.view_exceptions": is_treasury | is_auditor | legacy,
    "payments.resolve_exception": is_treasury | legacy,
    "payments.create_batch": is_treasury | legacy,
    "payments.export_batch": is_treasury | is_auditor | legacy,
    "payments.upload_bank_file": is_treasury | legacy,
    # audit: auditors read everything (writes: audit.access.AuditorReadOnlyPermission)
    "audit.view": is_auditor | legacy,
    # alert transitions (object: the alert): its owner or who sees its unit; the service
    # checks who may explain or close, and auditors may not (AuditorReadOnlyPermission)
    "audit.act_on_alert": owns_alert | sees_alert_unit | is_city | legacy,
    # reports: the city's figures; publishing rights are checked again by the services
    "reports.view": is_city | legacy,
    "reports.write": is_city | legacy,
    # 主要负责人审签: a department's head (the service checks it is the set's department)
    "reports.sign_disclosure": is_city | heads_a_department | legacy,
    "reports.view_public": everyone,  # published sets only (the queryset)
}


def register() -> None:
    """Fill the rules table (idempotent) and hand the unit scope to finance.access."""
    from finance.access import unit_scope_register

    for name, predicate in PERMISSIONS.items():
        rules.set_perm(name, predicate)
    unit_scope_register(scoping.visible_unit_codes)
