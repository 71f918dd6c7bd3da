"""Forms of the report pages: the execution report's year, grouping and scope are chosen
from lists (the years of the ledger, the dimensions, the regions, departments and units),
so a typo cannot reach the selector; what is refused is said on the page."""
from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from finance.models import FiscalYear, Organization, Region

# the dimensions a report can group by (reports.selectors.DIMENSIONS), as people say them
GROUPINGS = (
    ("department", _("department")),
    ("unit", _("budget unit")),
    ("function", _("function class")),
    ("economic", _("economic class")),
    ("fund_source", _("fund source")),
    ("region", _("region")),
)

MSG_SAME_GROUPING = _("Choose a second grouping different from the first.")
MSG_TOO_MANY_GROUPINGS = _("A report is grouped by at most two dimensions.")


def year_choices() -> list[tuple[int, str]]:
    """The fiscal years of the ledger, newest first (this year if there is none yet)."""
    years = sorted(FiscalYear.objects.values_list("year", flat=True), reverse=True)
    return [(y, str(y)) for y in (years or [timezone.localdate().year])]


def scope_choices() -> list[tuple[Any, Any]]:
    """全部; every region (with its districts), department and unit, code and name."""
    orgs = list(Organization.objects.order_by("code").values_list("code", "name", "kind"))
    return [
        ("all", _("whole city (all regions)")),
        (_("Region"), [(f"region:{c}", f"{c} {n}") for c, n in
                       Region.objects.order_by("code").values_list("code", "name")]),
        (_("Department"), [(f"department:{c}", f"{c} {n}") for c, n, k in orgs
                           if k == Organization.Kind.DEPARTMENT]),
        (_("Budget unit"), [(f"unit:{c}", f"{c} {n}") for c, n, k in orgs
                            if k != Organization.Kind.DEPARTMENT]),
    ]


class ExecutionForm(forms.Form):
    """年度, 分组 (and an optional second grouping), 范围. Old addresses with
    `by=department,function` are read as the two groupings (`from_query`)."""

    year = forms.TypedChoiceField(label=_("Year"), coerce=int)
    by = forms.ChoiceField(label=_("Group by"), choices=GROUPINGS)
    then = forms.ChoiceField(label=_("then by"), required=False,
                             choices=[("", _("(none)")), *GROUPINGS])
    scope = forms.ChoiceField(label=_("Scope"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = year_choices()
        self.fields["scope"].choices = scope_choices()
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select form-select-sm"

    @classmethod
    def from_query(cls, query: Any) -> ExecutionForm:
        """The form bound to the page's query string, the defaults filled in (this year or
        the newest, by department, the whole city)."""
        years = [y for y, _label in year_choices()]
        today = timezone.localdate().year
        data = {"year": query.get("year") or (today if today in years else years[0]),
                "by": query.get("by") or "department", "then": query.get("then", ""),
                "scope": query.get("scope") or "all"}
        by = [g for g in str(data["by"]).split(",") if g]
        if len(by) > 1:  # an address of the earlier page: by=department,function
            data["by"], data["then"] = by[0], by[1]
        form = cls(data)
        form.extra_groupings = by[2:]
        return form

    extra_groupings: list[str] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        then = data.get("then") or ""
        if self.extra_groupings:
            self.add_error("then", MSG_TOO_MANY_GROUPINGS)
        elif then and then == data.get("by"):
            self.add_error("then", MSG_SAME_GROUPING)
        return data

    @property
    def group_by(self) -> tuple[str, ...]:
        data = self.cleaned_data
        return tuple(g for g in (data["by"], data.get("then") or "") if g)


class FinalAccountsForm(forms.Form):
    """决算报表: 年度 and 范围 from lists, like the execution report."""

    year = forms.TypedChoiceField(label=_("Year"), coerce=int)
    scope = forms.ChoiceField(label=_("Scope"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = year_choices()
        self.fields["scope"].choices = scope_choices()
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select form-select-sm"

    @classmethod
    def from_query(cls, query: Any) -> FinalAccountsForm:
        years = [y for y, _label in year_choices()]
        today = timezone.localdate().year
        return cls({"year": query.get("year") or (today if today in years else years[0]),
                    "scope": query.get("scope") or "all"})
