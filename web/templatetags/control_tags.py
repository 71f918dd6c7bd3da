"""控制方式 on a request's page: the control checks of the request (rule, mode, threshold,
usage, outcome), its overrides and, for the treasury director, the override form."""
from __future__ import annotations

from typing import Any

from django import template

from finance import control, roles
from finance.models import ControlCheck
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
    return {"req": req, "checks": checks, "overrides": overrides,
            "can_override": bool(blocked and req.status in request_control.OVERRIDABLE
                                 and roles.may_override_control(user)
                                 and user.pk != req.filed_by_id),
            "csrf_token": context.get("csrf_token")}
