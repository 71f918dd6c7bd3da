"""Forms of the budget screens: they parse input; the budgets services decide (codes,
amounts and workflow rules are checked there and reported on the page)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from budgets.models import Adjustment, Project
from budgets.validation import PlanLineInput


class ProjectForm(forms.Form):
    code = forms.CharField(label=_("Project code"), max_length=40)
    name = forms.CharField(label=_("Project name"), max_length=200)
    category = forms.ChoiceField(label=_("Category"), choices=Project.Category.choices,
                                 initial=Project.Category.SPECIFIC)
    industry = forms.CharField(label=_("Industry"), max_length=60, required=False)
    start_date = forms.DateField(label=_("Start date"), required=False)
    end_date = forms.DateField(label=_("End date"), required=False)
    total_amount = forms.CharField(label=_("Total amount"), max_length=30)
    plan_year = forms.IntegerField(label=_("Annual plan: year"), min_value=2000, max_value=2100,
                                   required=False)
    plan_fund_source = forms.CharField(label=_("Annual plan: fund source"), max_length=20,
                                       required=False)
    plan_amount = forms.CharField(label=_("Annual plan: amount"), max_length=30, required=False)
    target_name = forms.CharField(label=_("Performance target"), max_length=200, required=False)
    target_value = forms.CharField(label=_("Target value"), max_length=60, required=False)
    target_unit = forms.CharField(label=_("Unit of measure"), max_length=30, required=False)

    def annual_plans(self) -> list[tuple[int, str, str]]:
        d = self.cleaned_data
        if d.get("plan_year") and d.get("plan_fund_source"):
            return [(d["plan_year"], d["plan_fund_source"].strip(), d.get("plan_amount") or "")]
        return []


class PlanCreateForm(forms.Form):
    year = forms.IntegerField(label=_("Fiscal year"), min_value=2000, max_value=2100)


class PlanLineForm(forms.Form):
    """One line of the online filing form; a row left blank is not a line."""

    project = forms.ChoiceField(label=_("Project"), required=False)
    function = forms.CharField(label=_("Function code"), max_length=20, required=False)
    economic = forms.CharField(label=_("Economic code"), max_length=20, required=False)
    fund_source = forms.CharField(label=_("Fund source"), max_length=20, required=False)
    amount = forms.CharField(label=_("Amount"), max_length=30, required=False)
    last_year_amount = forms.CharField(label=_("Last year"), max_length=30, required=False)

    def __init__(self, *args: Any, projects: list[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", "—"), *[(c, f"{c} {n}") for c, n in projects]]

    def line(self) -> PlanLineInput | None:
        d = {k: (v or "").strip() for k, v in self.cleaned_data.items()}
        if not any(d.values()):
            return None
        return PlanLineInput(project=d["project"], function=d["function"], economic=d["economic"],
                             fund_source=d["fund_source"], amount=d["amount"],
                             last_year_amount=d["last_year_amount"] or "0")


PlanLineFormSet = forms.formset_factory(PlanLineForm, extra=5, max_num=500, validate_max=True)


class TemplateUploadForm(forms.Form):
    file = forms.FileField(label=_("Filled template (.xlsx)"))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)


class ControlForm(forms.Form):
    """一下: one control number per fund source (blank: not set)."""

    def __init__(self, *args: Any, funds: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for fund in funds:
            self.fields[f"fund_{fund}"] = forms.CharField(
                label=_("Control number, fund source %(fund)s") % {"fund": fund},
                max_length=30, required=False)

    def amounts(self) -> dict[str, str]:
        return {name.removeprefix("fund_"): value.strip()
                for name, value in self.cleaned_data.items() if (value or "").strip()}


class AdjustmentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Adjustment.Kind.choices)
    year = forms.IntegerField(label=_("Fiscal year"), min_value=2000, max_value=2100)
    amount = forms.CharField(label=_("Amount"), max_length=30)
    batch_no = forms.CharField(label=_("Batch number"), max_length=40)
    doc_no = forms.CharField(label=_("Document number (文号)"), max_length=100)
    date = forms.DateField(label=_("Date"), initial=dt.date.today)
    reason = forms.CharField(label=_("Reason"), max_length=500)
    source = forms.ChoiceField(label=_("Source indicator (decrease, virement)"), required=False)
    target = forms.ChoiceField(label=_("Target indicator (increase, virement)"), required=False)
    target_unit = forms.CharField(label=_("or a new target: unit code"), max_length=20,
                                  required=False)
    target_function = forms.CharField(label=_("function code"), max_length=20, required=False)
    target_economic = forms.CharField(label=_("economic code"), max_length=20, required=False)
    target_fund = forms.CharField(label=_("fund source"), max_length=20, required=False)
    target_project = forms.CharField(label=_("project code"), max_length=40, required=False)

    def __init__(self, *args: Any, indicators: list[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "—"), *indicators]
        self.fields["source"].choices = choices
        self.fields["target"].choices = choices
