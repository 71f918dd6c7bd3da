"""Who may act: the role names (Django groups) with their Chinese labels, a user's roles
and organization (cached on the user object), and the decisions every app's services
ask before they write ("may this user file for that unit?"), with `require` raising the
one domain error (finance.errors.NotPermitted) when the answer is no.

Pages and the API ask the same functions (web.scoping, web.permissions) for what they
show; the services ask them again for what they do. Segregation of duties (the filer of
a document never approves it) depends on the document and stays in each app's
services."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from finance import request_cache
from finance.errors import NotPermitted
from finance.models import Membership, Organization

# Roles are Django groups of these names (the names are stored data: never rename one).
UNIT_FILER = "unit_filer"  # 经办人: files a budget unit's requests, projects, plans, adjustments
UNIT_HEAD = "unit_head"  # 单位负责人: approves the unit's payment requests (first level)
TREASURY_REVIEWER = "treasury_reviewer"  # 国库审核: approves payment requests, vouchers, bank files
TREASURY_DIRECTOR = "treasury_director"  # 国库负责人: approves requests above the threshold
BUDGET_OFFICE = "budget_office"  # 预算处: control numbers, 批复, adjustments, the project feed
AUDITOR = "auditor"  # 审计: reads everything, changes nothing
# Not a group: the members of a supervising department (主管部门) review its units'
# projects and plans; the name is used in messages and labels.
DEPARTMENT_REVIEWER = "department_reviewer"

GROUP_ROLES = (UNIT_FILER, UNIT_HEAD, TREASURY_REVIEWER, TREASURY_DIRECTOR, BUDGET_OFFICE,
               AUDITOR)
UNIT_ROLES = (UNIT_FILER, UNIT_HEAD)
TREASURY_ROLES = (TREASURY_REVIEWER, TREASURY_DIRECTOR)
CITY_ROLES = (TREASURY_REVIEWER, TREASURY_DIRECTOR, BUDGET_OFFICE, AUDITOR)

LABELS = {
    UNIT_FILER: _("unit filer"),
    UNIT_HEAD: _("unit head"),
    DEPARTMENT_REVIEWER: _("department reviewer"),
    BUDGET_OFFICE: _("budget office"),
    TREASURY_REVIEWER: _("treasury reviewer"),
    TREASURY_DIRECTOR: _("treasury director"),
    AUDITOR: _("auditor"),
}


def label(role: str) -> str:
    """The role's name for people (经办人 for unit_filer in Chinese); unknown names as they are."""
    return str(LABELS.get(role, role))


# ------------------------------------------------------- the user's roles and unit
# Read once per user object and cached on it (as Django's ModelBackend caches
# permissions), and once per web request for every object of the same user (the
# middleware, DRF and the views may each load one: finance.request_cache). A web
# request loads its user afresh and opens a new request cache, so a change takes effect
# with the next request; `forget` drops the caches of a user whose roles just changed.
_ROLES = "_finance_roles"
_ORG = "_finance_organization"


def _known(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False)
                and getattr(user, "pk", None) is not None)


def roles_of(user: Any) -> frozenset[str]:
    """The role names (groups among GROUP_ROLES) the user holds; none for the anonymous."""
    if not _known(user):
        return frozenset()
    cached = user.__dict__.get(_ROLES)
    if cached is None:
        cached = request_cache.cached((_ROLES, user.pk), lambda: frozenset(
            user.groups.filter(name__in=GROUP_ROLES).values_list("name", flat=True)))
        user.__dict__[_ROLES] = cached
    return cached


def has_role(user: Any, *roles: str) -> bool:
    """Whether the user holds at least one of `roles`."""
    return bool(roles_of(user) & set(roles))


def organization_of(user: Any) -> Organization | None:
    """The organization the user works for (with its region), None without a membership."""
    if not _known(user):
        return None
    if _ORG not in user.__dict__:
        user.__dict__[_ORG] = request_cache.cached((_ORG, user.pk), lambda: _membership(user))
    return user.__dict__[_ORG]


def _membership(user: Any) -> Organization | None:
    m = Membership.objects.filter(user_id=user.pk).select_related("organization__region").first()
    return m.organization if m else None


def unit_of(user: Any) -> str:
    """The code of the user's organization ("" without a membership)."""
    org = organization_of(user)
    return org.code if org is not None else ""


def users_prefetch(users: Iterable[Any]) -> None:
    """Fill the role and organization caches of many users in two queries (a batch job
    acting for thousands of users, e.g. citysim)."""
    users = [u for u in users if _known(u)]
    if not users:
        return
    ids = {u.pk for u in users}
    groups: dict[Any, set[str]] = defaultdict(set)
    for uid, name in get_user_model().groups.through.objects.filter(
            user_id__in=ids, group__name__in=GROUP_ROLES).values_list("user_id", "group__name"):
        groups[uid].add(name)
    orgs = {m.user_id: m.organization for m in Membership.objects.filter(
        user_id__in=ids).select_related("organization__region")}
    for u in users:
        u.__dict__[_ROLES] = frozenset(groups.get(u.pk, ()))
        u.__dict__[_ORG] = orgs.get(u.pk)


def remember_organization(user: Any, organization: Organization | None) -> None:
    """Set the cached organization of a user object whose membership was just written."""
    if user is not None:
        user.__dict__[_ORG] = organization
        request_cache.put((_ORG, user.pk), organization)
        request_cache.drop(lambda k: _about(k, user.pk, "scope"))


def forget(user: Any) -> None:
    """Drop the cached roles and organization of a user object (roles just changed)."""
    if user is not None:
        user.__dict__.pop(_ROLES, None)
        user.__dict__.pop(_ORG, None)
        request_cache.drop(lambda k: _about(k, user.pk))


def _about(key: Any, user_pk: Any, *kinds: str) -> bool:
    """A request-cache key of this user's look-ups: (kind, user pk, ...); all kinds, or
    only `kinds`."""
    return (isinstance(key, tuple) and len(key) >= 2 and key[1] == user_pk  # noqa: PLR2004
            and (not kinds or key[0] in kinds))


# ------------------------------------------------------------- who may act
def _code(org: Organization | str | None) -> str:
    if org is None:
        return ""
    return org if isinstance(org, str) else org.code


def may_file(user: Any, unit_code: str) -> bool:
    """The unit's filer (经办人) files its documents: payment requests and plans, projects,
    budget plans and their lines, adjustments."""
    return bool(unit_code) and has_role(user, UNIT_FILER) and unit_of(user) == unit_code


def may_approve_unit(user: Any, unit_code: str) -> bool:
    """The unit's head (单位负责人) approves its payment requests at the unit level."""
    return bool(unit_code) and has_role(user, UNIT_HEAD) and unit_of(user) == unit_code


def may_sign_contract(user: Any, unit_code: str) -> bool:
    """合同: the unit's head (单位负责人) signs its contracts (committing the amount) and
    closes them early (releasing the rest); the unit's filer drafts them (`may_file`)."""
    return may_approve_unit(user, unit_code)


def may_see_personal_data(user: Any, unit_code: str) -> bool:
    """工资统发: the full ID numbers and bank accounts of a unit's staff are seen by the
    unit's filer (who files its payroll) and the treasury (who pays it); everyone else
    sees them masked (440***********1234)."""
    return may_file(user, unit_code) or has_role(user, *TREASURY_ROLES)


def may_manage_cards(user: Any, unit_code: str = "") -> bool:
    """公务卡: the treasury imports the issuing banks' card files and registers any unit's
    cards; a unit's filer registers its own unit's cards (`unit_code`). Repaying a card
    is filing a payment request: `may_file`."""
    return has_role(user, *TREASURY_ROLES) or may_file(user, unit_code)


def department_of(user: Any) -> Organization | None:
    """The supervising department the user works for, if any."""
    org = organization_of(user)
    return org if org is not None and org.kind == Organization.Kind.DEPARTMENT else None


def may_review_department(user: Any, department: Organization | str | None) -> bool:
    """A member of the supervising department (主管部门) reviews the projects and plans of
    its units (`department`: the department or its code; a unit's is `unit.parent`)."""
    own = department_of(user)
    return own is not None and bool(_code(department)) and own.code == _code(department)


def may_act_as_budget_office(user: Any) -> bool:
    """The bureau's budget office (预算处): control numbers (一下), approval (批复),
    adjustments and virements, the investment-project feed."""
    return has_role(user, BUDGET_OFFICE)


def may_override_control(user: Any) -> bool:
    """控制方式: the treasury director (国库负责人) overrides a blocking control rule for one
    payment request or one contract's signing, with a reason (finance.control); never above
    100 %, never the filer."""
    return has_role(user, TREASURY_DIRECTOR)


def may_review_performance(user: Any) -> bool:
    """The bureau reviews (approves or returns) the units' performance self-evaluations
    (项目支出绩效自评): its budget office, which holds the performance desk (绩效管理)."""
    return has_role(user, BUDGET_OFFICE)


def may_review_for_unit(user: Any, unit: Organization) -> bool:
    """Reviews a unit's projects and plans: its supervising department (the unit's
    parent, compared by id: no query), or the budget office."""
    own = department_of(user)
    return ((own is not None and unit.parent_id is not None and own.pk == unit.parent_id)
            or may_act_as_budget_office(user))


def may_explain_pace(user: Any, organization: Organization) -> bool:
    """执行进度预警: the organization an alert names explains its lag — a unit's filer or
    head for the unit (a project's alert names its unit), a member of a department for
    the department and for each of its units."""
    own = organization_of(user)
    if own is None or organization is None:
        return False
    if own.kind == Organization.Kind.DEPARTMENT:
        return own.pk in (organization.pk, organization.parent_id)
    return own.pk == organization.pk and has_role(user, *UNIT_ROLES)


def may_supervise_pace(user: Any) -> bool:
    """执行进度预警: the bureau (budget office, treasury) confirms a rectification (整改)
    or closes an alert."""
    return has_role(user, BUDGET_OFFICE, *TREASURY_ROLES)


def is_auditor(user: Any) -> bool:
    return has_role(user, AUDITOR)


def user_name(user: Any) -> str:
    """How messages name the acting user."""
    return getattr(user, "username", "") or str(user or "") or "unknown user"


def require(allowed: bool, *, user: Any, role: str | Sequence[str],
            unit: Organization | str | None = None) -> None:
    """Raise NotPermitted (naming the user, the role needed — any of several — and the
    unit or department, if one) unless `allowed`, the answer of one of the decisions
    above: ``require(may_file(user, code), user=user, role=UNIT_FILER, unit=code)``."""
    if allowed:
        return
    names = [role] if isinstance(role, str) else list(role)
    raise NotPermitted(user=user_name(user), role=names[0] if len(names) == 1 else names,
                       labels=[LABELS.get(r, r) for r in names], unit=_code(unit))
