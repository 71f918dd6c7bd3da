"""控制方式 on a request's or a contract's page: the control checks of the request (rule, mode, threshold,
usage, outcome), its overrides and, for the treasury director, the override form."""
from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from finance import control, roles
from finance.models import ControlCheck
from payments.models import Contract
from payments.services import control as request_control

register = template.Library()


@register.inclusion_tag("web/_control.html", takes_context=True)
def control_panel(context: dict[str, Any], req: Any) -> dict[str, Any]:
    user = context["request"].user
    checks = control.checks_of(req)
    for c in checks:
        c.name = control.rule_name(c.rule)  # type: ignore[attr-defined]
    overrides = control.overrides_of(req)
    # the last check blocked it and no override covers its amount yet
    blocked = (bool(checks) and checks[-1].outcome == ControlCheck.Outcome.BLOCKED
               and not any(o.amount >= req.amount for o in overrides))
    if isinstance(req, Contract):  # a contract's signing: its registrar may not override
        overridable, filer_id = request_control.CONTRACT_OVERRIDABLE, req.created_by_id
        url = reverse("web:contract_control_override", args=[req.pk])
    else:
        overridable, filer_id = request_control.OVERRIDABLE, req.filed_by_id
        url = reverse("web:request_control_override", args=[req.tracking_id])
    return {"req": req, "checks": checks, "overrides": overrides, "override_url": url,
            "can_override": bool(blocked and req.status in overridable
                                 and roles.may_override_control(user)
                                 and user.pk != filer_id),
            "csrf_token": context.get("csrf_token")}
