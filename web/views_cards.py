"""公务卡: one page for official cards — the cards the user may see, their transactions
with filters (card, status, overdue), the unit filer's repayment (报销还款) of chosen open
transactions against an indicator, the registration of a card and, for the treasury, the
upload of an issuing bank's card file.

Who: a unit's people see their unit's cards (a department its units'), the city level
every card; the unit's filer repays and registers its cards; the treasury imports the
files and registers any unit's cards. Every write is one payments service call, which asks
finance.roles again; its domain errors are shown on the page."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from budgets import selectors as budget_selectors
from finance import roles
from finance.errors import LedgerError
from finance.models import Organization
from payments.models import CardTransaction, OfficialCard
from payments.services import cards as card_services
from web import scoping
from web.forms import dims_parse, indicator_choices

ROWS = 300  # transactions shown at most (filters narrow them)


def visible_cards(user: Any) -> QuerySet[OfficialCard]:
    qs = OfficialCard.objects.select_related("organization")
    if scoping.is_city_level(user):
        return qs
    if scoping.organization_of(user) is None:
        return qs.none()
    return qs.filter(organization__in=scoping.visible_organizations(user))


class RepayForm(forms.Form):
    indicator = forms.ChoiceField(label=gettext_lazy("Indicator"))
    purpose = forms.CharField(label=gettext_lazy("Purpose"), max_length=300, required=False)

    def __init__(self, *args: Any, choices: list, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["indicator"].choices = choices

    def clean_indicator(self) -> Any:
        return dims_parse(self.cleaned_data["indicator"])


class CardForm(forms.Form):
    unit = forms.ModelChoiceField(label=gettext_lazy("Unit"), required=False,
                                  queryset=Organization.objects.filter(
                                      kind=Organization.Kind.BUDGET_UNIT).order_by("code"))
    holder = forms.CharField(label=gettext_lazy("Cardholder"), max_length=100)
    number = forms.CharField(label=gettext_lazy("Card number"), max_length=30)
    cnaps = forms.CharField(label=gettext_lazy("Issuing bank (CNAPS code)"), max_length=12)
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=100)


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Card transaction file (CSV from the issuing bank)"))


def _post(request: HttpRequest, org: Organization | None, year: int) -> None:
    """repay / register / upload: one service call each; errors become messages."""
    action, user = request.POST.get("action", ""), request.user
    if action == "repay":
        if org is None or not roles.may_file(user, org.code):
            raise PermissionDenied(_("Only the unit's filer repays its cards."))
        form = RepayForm(request.POST, choices=_choices(org, year))
        ids = [int(x) for x in request.POST.getlist("tx") if x.isdigit()]
        chosen = list(CardTransaction.objects.filter(pk__in=ids, card__organization=org))
        if not form.is_valid():
            messages.error(request, _("Choose an indicator."))
            return
        if not chosen:
            messages.error(request, _("Choose the transactions to repay."))
            return
        req = card_services.card_repayment_file(
            transactions=chosen, dims=form.cleaned_data["indicator"], year=year, user=user,
            purpose=form.cleaned_data["purpose"])
        messages.success(request, _("Repayment %(tracking_id)s of %(amount)s filed; it awaits "
                                    "the unit head.") % {"tracking_id": req.tracking_id,
                                                         "amount": f"{req.amount:,.2f}"})
    elif action == "register":
        form = CardForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Enter the cardholder, number, bank and reason."))
            return
        unit = form.cleaned_data["unit"] if roles.has_role(
            user, *roles.TREASURY_ROLES) and form.cleaned_data["unit"] else org
        if unit is None:
            messages.error(request, _("Choose the unit."))
            return
        card = card_services.official_card_save(
            unit=unit, holder=form.cleaned_data["holder"], number=form.cleaned_data["number"],
            cnaps=form.cleaned_data["cnaps"], user=user, reason=form.cleaned_data["reason"])
        messages.success(request, _("Card %(card)s registered.") % {"card": card.number_masked})
    elif action == "upload":
        form = UploadForm(request.POST, request.FILES)
        if not form.is_valid():
            messages.error(request, _("Choose the file."))
            return
        f = form.cleaned_data["file"]
        report = card_services.card_file_import(f.read(), f.name, user)
        for issue in report.issues:
            messages.error(request, str(issue))
        messages.success(request, _("%(stored)s transactions imported, %(skipped)s known "
                                    "already.") % {"stored": report.stored,
                                                   "skipped": report.skipped})
    else:
        messages.error(request, _("Unknown action."))


def _overdue_days() -> int:
    """The monitoring rule's limit (audit: card_overdue), its default before it is installed."""
    from audit.models import MonitoringRule  # noqa: PLC0415 - web reads audit

    rule = MonitoringRule.objects.filter(code="card_overdue").first()
    return int(rule.params.get("days", card_services.OVERDUE_DAYS)) if rule else \
        card_services.OVERDUE_DAYS


def _choices(org: Organization, year: int) -> list:
    return indicator_choices(budget_selectors.unit_indicators(unit_code=org.code, year=year),
                             year)


@login_required
def official_cards(request: HttpRequest) -> HttpResponse:
    from web.views import _year  # noqa: PLC0415 - the pages' year

    year = _year(request)
    user = request.user
    org = scoping.organization_of(user)
    if request.method == "POST":
        try:
            _post(request, org, year)
        except LedgerError as exc:
            messages.error(request, str(exc))
        return redirect(request.get_full_path())
    today = timezone.localdate()
    days = _overdue_days()
    cutoff = card_services.card_overdue_cutoff(today, days)
    overdue_q = Q(status=CardTransaction.Status.OPEN, amount__gt=0, posted_on__lt=cutoff)
    cards_qs = visible_cards(user).annotate(
        open_count=Count("transactions", filter=Q(transactions__status="open")),
        open_amount=Sum("transactions__amount", filter=Q(transactions__status="open")),
        overdue_count=Count("transactions", filter=Q(
            transactions__status="open", transactions__amount__gt=0,
            transactions__posted_on__lt=cutoff))).order_by("organization__code", "holder")
    card_list = list(cards_qs)
    show_card = request.GET.get("card", "")
    show = request.GET.get("status", "")
    overdue_only = request.GET.get("overdue") == "1"
    txs = CardTransaction.objects.filter(card__in=[c.pk for c in card_list]).select_related(
        "card", "request").order_by("-posted_on", "-id")
    if show_card.isdigit():
        txs = txs.filter(card_id=int(show_card))
    if show in CardTransaction.Status.values:
        txs = txs.filter(status=show)
    if overdue_only:
        txs = txs.filter(overdue_q)
    rows = list(txs[:ROWS])
    for t in rows:
        t.overdue = (t.status == CardTransaction.Status.OPEN and t.amount > 0
                     and t.posted_on < cutoff)
    can_repay = org is not None and roles.may_file(user, org.code)
    treasury = roles.has_role(user, *roles.TREASURY_ROLES)
    full = {c.pk for c in card_list if roles.may_see_personal_data(user, c.organization.code)}
    for c in card_list:
        c.shown = c.number if c.pk in full else c.number_masked
    card_form = None
    if treasury or (org is not None and roles.may_manage_cards(user, org.code)):
        card_form = CardForm()
        if not treasury:
            del card_form.fields["unit"]
    return render(request, "web/cards.html", {
        "year": year, "cards": card_list, "rows": rows, "limit": ROWS,
        "more": len(rows) == ROWS, "show_card": show_card, "show": show,
        "overdue_only": overdue_only, "statuses": CardTransaction.Status.choices,
        "days": days, "today": today,
        "repay_form": RepayForm(choices=_choices(org, year)) if can_repay else None,
        "card_form": card_form, "upload_form": UploadForm() if treasury else None,
    })


__all__ = ["official_cards", "visible_cards"]
