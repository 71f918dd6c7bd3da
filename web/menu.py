"""The menu of every page (web/base.html): the pages the signed-in user's roles may open,
grouped, each with the count of what waits there for the user (the home's 待办事项).

Which pages: the same rule the page policy (web.policy.POLICY) applies when the page is
opened, so the menu never offers a page that answers 403. The counts are the home's
(web.views._waiting), kept in the session for a minute so that other pages do not count
again on every request; the home counts afresh each time it is shown."""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

SESSION_KEY = "web_menu_waiting"
MAX_AGE = 60  # seconds a session keeps the counts of the menu's badges


@dataclass
class Item:
    label: str
    url: str
    active: bool = False
    count: int = 0


@dataclass
class Group:
    label: str
    items: list[Item] = field(default_factory=list)


# (group, [(url name, label)]); the policy decides which of them a user sees.
MENU: tuple[tuple[Any, tuple[tuple[str, Any], ...]], ...] = (
    (_("Work"), (("web:home", _("My work")), ("web:plans", _("Payment plans")),
                 ("web:payees", _("Payees")),
                 ("web:contracts", _("Contracts")),
                 ("web:payrolls", _("Payroll (工资统发)")),
                 ("web:official_cards", _("Official cards (公务卡)")))),
    (_("Budget"), (
        ("web:budget_projects", _("Projects")),
        ("web:budget_plans", _("Budget plans")),
        ("web:budget_review", _("Plan review and consolidation")),
        ("web:budget_adjustments", _("Adjustments")),
    )),
    (_("Treasury"), (
        ("web:plan_review", _("Payment plan review")),
        ("web:treasury_vouchers", _("Vouchers")),
        ("web:treasury_imports", _("Bank files")),
        ("web:treasury_exceptions", _("Reconciliation exceptions")),
        ("web:treasury_banks", _("Bank profiles")),
    )),
    (_("Finance bureau"), (
        ("web:bureau_periods", _("Month and year-end close")),
        ("web:bureau_control_rules", _("Control rules (控制方式)")),
    )),
    (_("Reports"), (
        ("reports:execution", _("Execution report")),
        ("reports:final_accounts", _("Final accounts")),
        ("reports:disclosure", _("Disclosure sets and deadlines")),
        ("finance:trial_balance", _("Trial balance")),
    )),
    (_("Audit"), (
        ("audit:trace", _("Trace a figure")),
        ("audit:alerts", _("Alerts")),
    )),
    (_("Public"), (
        ("web:public_home", _("Published budgets and final accounts")),
        ("reports:public", _("Disclosure files")),
    )),
)


def _allowed(request: HttpRequest, name: str) -> bool:
    """What web.policy.PagePolicyMiddleware would let the user open (without arguments)."""
    from web import policy

    rule = policy.POLICY.get(name) or policy.NAMESPACE_POLICY.get(name.split(":", 1)[0])
    if rule is None or rule == policy.PUBLIC:
        return name in policy.POLICY or request.user.is_authenticated
    if not request.user.is_authenticated:
        return False
    return bool(policy._unassigned(request.user) or rule(request, {}))  # noqa: SLF001


def remember(request: HttpRequest, waiting: Iterable[tuple[str, int, str]]) -> None:
    """Keep the home's counts for the menu (called by the home and by `counts`)."""
    if hasattr(request, "session"):
        request.session[SESSION_KEY] = {"at": time.time(),
                                        "rows": [[str(n), int(c), str(u)] for n, c, u in waiting]}


def counts(request: HttpRequest) -> dict[str, int]:
    """The count of waiting work per page path: a link into the home (#unit) counts for the
    home; a link with a query (?year=) counts for its page."""
    user = request.user
    kept = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not kept or time.time() - kept.get("at", 0) > MAX_AGE:
        from web import scoping
        from web.views import _waiting, _year

        waiting = _waiting(user, set(scoping.roles_of(user)), scoping.organization_of(user),
                           _year(request))
        remember(request, waiting)
        kept = request.session.get(SESSION_KEY) if hasattr(request, "session") else {
            "rows": [list(w) for w in waiting]}
    home = reverse("web:home")
    out: dict[str, int] = {}
    for _label, n, link in kept["rows"]:
        path = urlsplit(link).path or home
        out[path] = out.get(path, 0) + n
    return out


def build(request: HttpRequest) -> list[Group]:
    """The groups of the menu with their items (only groups with an item are kept)."""
    user = getattr(request, "user", None)
    if user is None:
        return []
    waiting = counts(request) if user.is_authenticated else {}
    here = request.path
    groups: list[Group] = []
    for label, entries in MENU:
        group = Group(str(label))
        for name, text in entries:
            if name == "web:home" and not user.is_authenticated:
                continue
            try:
                url = reverse(name)
            except NoReverseMatch:  # an app not mounted in this deployment
                continue
            if not _allowed(request, name):
                continue
            group.items.append(Item(str(text), url, False, waiting.get(url, 0)))
        if group.items:
            groups.append(group)
    # the page shown, or the list it belongs to (the longest address the path starts with)
    items = [i for g in groups for i in g.items if here == i.url or (
        here.startswith(i.url) and i.url != reverse("web:home"))]
    if items:
        max(items, key=lambda i: len(i.url)).active = True
    return groups
