"""Access checks the apps' API views use without importing the web layer: a DRF
permission class that asks the ``rules`` table (filled by web.permissions at start-up) and
a registry for "which units may this user see", which web.scoping provides.

An API view names its rule: ``rule_perm = "payments.view_exceptions"`` (checked for every
method), or ``rule_perms = {"GET": ..., "POST": ...}``; ``RulePermission`` is in the
project's DEFAULT_PERMISSION_CLASSES, so a view without a rule only needs a signed-in user.
Querysets are narrowed with ``units_visible_to`` (``None``: every unit)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import rules
from django.db.models import QuerySet
from rest_framework.permissions import BasePermission

UnitScope = Callable[[Any], "QuerySet[Any] | None"]
_unit_scope: list[UnitScope] = []


def unit_scope_register(provider: UnitScope) -> None:
    """Called once by the web app's AppConfig.ready()."""
    _unit_scope[:] = [provider]


def units_visible_to(user: Any) -> QuerySet[Any] | None:
    """Codes of the units the user may see, as a values_list queryset; None means all.
    Without a registered provider only staff see anything (deny by default)."""
    if _unit_scope:
        return _unit_scope[0](user)
    from finance.models import Organization

    if getattr(user, "is_staff", False):
        return None
    return Organization.objects.none().values_list("code", flat=True)


def scope_by_unit(qs: QuerySet[Any], user: Any, field: str = "unit") -> QuerySet[Any]:
    """``qs`` narrowed to rows whose ``field`` (a unit code, or a FK to Organization
    written as ``field="unit__code"``) is a unit the user may see."""
    codes = units_visible_to(user)
    return qs if codes is None else qs.filter(**{f"{field}__in": codes})


def rule_of(view: Any, method: str) -> str | None:
    perms = getattr(view, "rule_perms", None)
    if perms:
        return perms.get(method) or perms.get("*")
    return getattr(view, "rule_perm", None)


class RulePermission(BasePermission):
    """DRF permission: the view's rule from the ``rules`` table (see web.permissions)."""

    message = "Your role may not use this endpoint."

    def has_permission(self, request: Any, view: Any) -> bool:
        perm = rule_of(view, request.method)
        return perm is None or rules.has_perm(perm, request.user)

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        perm = getattr(view, "object_rule_perm", None)
        return perm is None or rules.has_perm(perm, request.user, obj)
