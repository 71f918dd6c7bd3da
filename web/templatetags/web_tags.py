"""Template helpers of every page: amounts with thousands separators and two decimals
(1,234,567.89), times in the city's zone (Asia/Shanghai), a status as a coloured badge,
and the role-aware menu of web/base.html."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

register = template.Library()


def payee_account_shown(payee: Any, user: Any) -> str:
    """A payee's account as `user` may see it: an individual's (a person's salary card,
    工资统发) in full only for `finance.roles.may_see_personal_data` of the payee's unit
    (its filer, the treasury), masked (6214********5566) for everyone else."""
    from finance import roles
    from payments.services.payroll import mask_account

    account = getattr(payee, "account_number", "") or ""
    if not getattr(payee, "is_individual", False):
        return account
    unit = payee.unit.code if getattr(payee, "unit_id", None) else ""
    return account if roles.may_see_personal_data(user, unit) else mask_account(account)


@register.filter
def payee_account(payee: Any, user: Any) -> str:
    return payee_account_shown(payee, user)


@register.filter
def money(value: object) -> str:
    if value is None or value == "":
        return ""
    try:
        return f"{Decimal(str(value)):,.2f}"
    except InvalidOperation:
        return str(value)


@register.filter
def local_time(value: object, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment (datetime or ISO text, aware or naive UTC) in the current time zone
    (settings.TIME_ZONE, Asia/Shanghai), as 2026-03-10 10:00; a date as 2026-03-10."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            return value
        value = parsed
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            value = timezone.make_aware(value, dt.UTC)
        return timezone.localtime(value).strftime(fmt)
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    return str(value)


# A status value → Bootstrap's badge colour (text-bg-*); values not listed are neutral.
BADGES = {
    "success": {"approved", "paid", "published", "in_library", "resolved", "done", "closed",
                "explained", "controlled"},
    "danger": {"rejected", "refused", "returned", "failed"},
    "warning": {"unit_review", "treasury_review", "director_review", "submitted",
                "first_submitted", "second_submitted", "first_reviewed", "second_reviewed",
                "reviewed", "open", "applied", "reopened", "in_progress"},
    "info": {"vouchered", "issued", "queued", "running"},
    "secondary": {"draft", "withdrawn"},
}
_BADGE_OF = {status: colour for colour, statuses in BADGES.items() for status in statuses}


@register.filter
def named(code: object, names: dict[str, str] | None) -> str:
    """A code with its name beside it (2050203 初中教育), from a {code: name} dict the
    view looked up in one query (finance.dimensions.code_names); the code alone when the
    name is unknown."""
    if code in (None, ""):
        return "—"
    name = (names or {}).get(str(code))
    if not name:
        return str(code)
    return format_html('{} <small class="text-muted">{}</small>', code, name)


@register.filter
def bank_format(code: object) -> str:
    """A bank file's format by its name (payments.importers.FORMAT_NAMES)."""
    from payments.importers import format_label

    return format_label(str(code) if code else "") or "—"


@register.filter
def badge_class(status: object) -> str:
    """`text-bg-success` for 'paid', … (web/static/vendor/bootstrap)."""
    return f"text-bg-{_BADGE_OF.get(str(status), 'light')}"


@register.filter
def status_badge(obj: Any) -> str:
    """An object's status (its `status` and `get_status_display`) as a coloured badge."""
    status = getattr(obj, "status", obj)
    label = obj.get_status_display() if hasattr(obj, "get_status_display") else status
    return format_html('<span class="badge {} status-{}">{}</span>', badge_class(status),
                       status, label)


@register.simple_tag(takes_context=True)
def main_menu(context: template.Context) -> list[Any]:
    request = context.get("request")
    if request is None:
        return []
    from web import menu

    return menu.build(request)
