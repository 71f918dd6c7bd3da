"""Who may see what: object scoping in the query layer, over the roles and organization
that finance.roles gives each user (the role names are defined there, not here).

A budget unit's people see their unit; a department's people its units; a district's
people the organizations of their region (and its sub-regions); the city level (bureau,
treasury, budget office, auditors, staff) sees everything. Every web view reads through
these functions, so a screen can never show more than its query allows."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from finance import request_cache, roles
from finance.models import Organization, Region
from payments.models import PaymentRequest

# The role names and the user's roles and organization (cached on the user object for
# the request) come from finance.roles; these names are kept for the pages' code.
BUDGET_OFFICE = roles.BUDGET_OFFICE
TREASURY = roles.TREASURY_ROLES
CITY_ROLES = roles.CITY_ROLES
UNIT_ROLES = roles.UNIT_ROLES
ROLES = roles.GROUP_ROLES
roles_of = roles.roles_of
organization_of = roles.organization_of


def is_city_level(user: Any) -> bool:
    """Sees every organization: superusers, staff, city roles, members of the bureau."""
    if not user or not user.is_authenticated:
        return False
    if user.is_superuser or user.is_staff or roles_of(user) & set(CITY_ROLES):
        return True
    org = organization_of(user)
    return bool(org and org.kind == Organization.Kind.BUREAU and org.region.level == "city")


def _region_codes(region: Region) -> set[str]:
    """The codes of a region and its sub-regions (read once per request)."""
    return request_cache.cached(("region_codes", region.pk), lambda: _region_tree(region))


def _region_tree(region: Region) -> set[str]:
    codes, frontier = {region.code}, [region.pk]
    while frontier:
        kids = list(Region.objects.filter(parent_id__in=frontier).values_list("pk", "code"))
        frontier = [pk for pk, _ in kids]
        codes |= {code for _, code in kids}
    return codes


def visible_organizations(user: Any) -> QuerySet[Organization]:
    """The organizations a user may see (none for the anonymous public)."""
    qs = Organization.objects.all()
    if is_city_level(user):
        return qs
    org = organization_of(user)
    if org is None:
        return qs.none()
    if org.kind == Organization.Kind.DEPARTMENT:
        return qs.filter(pk=org.pk) | qs.filter(parent=org)
    if org.kind == Organization.Kind.BUREAU:  # a district bureau: its region
        return qs.filter(region__code__in=_region_codes(org.region))
    return qs.filter(pk=org.pk)


def can_see_unit(user: Any, unit_code: str) -> bool:
    """Whether the organization `unit_code` is one the user may see (answered once per
    user, code and request: the page policy, the rules and the view all ask)."""
    return request_cache.cached(("scope", getattr(user, "pk", None), unit_code), lambda: (
        visible_organizations(user).filter(code=unit_code).exists()))


def visible_requests(user: Any) -> QuerySet[PaymentRequest]:
    """Payment requests of the organizations the user may see."""
    qs = PaymentRequest.objects.select_related("payee").prefetch_related("hits")
    if is_city_level(user):
        return qs
    return qs.filter(unit__in=visible_organizations(user).values("code"))


def visible_unit_codes(user: Any) -> QuerySet[Any] | None:
    """Codes of the organizations the user may see (None: all, for the city level); the
    provider behind finance.access.scope_by_unit, which the API querysets use."""
    if is_city_level(user):
        return None
    return visible_organizations(user).values_list("code", flat=True)
