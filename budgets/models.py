"""Models of the budgets app: the project library (项目库), budget plans of the 二上二下
compilation with their lines and control numbers, the indicator register and
adjustments/virements. Indicator amounts are never stored here: they are ledger
balances (finance.selectors); the register only names the tuples and their origin."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from finance.dimensions import ProjectCategory, code_field, is_basic
from finance.models import (
    MONEY,
    EconomicCode,
    Entry,
    FunctionCode,
    FundSource,
    LoadedValues,
    Organization,
)


class Project(LoadedValues, models.Model):
    """项目: a project in (or on its way into) the project library."""

    Category = ProjectCategory  # 人员类 / 运转类 / 特定目标类 (finance.dimensions)

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SUBMITTED = "submitted", _("submitted")
        REVIEWED = "reviewed", _("reviewed")
        IN_LIBRARY = "in_library", _("in library")
        RETURNED = "returned", _("returned")

    class Source(models.TextChoices):
        UNIT = "unit", _("filed by the unit")
        NDRC = "ndrc", _("development and reform commission feed")

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    unit = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="projects")
    category = models.CharField(_("category (项目类别)"), max_length=10,
                                choices=ProjectCategory.choices, default=ProjectCategory.SPECIFIC)
    industry = models.CharField(_("industry (行业)"), max_length=60, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    total_amount = models.DecimalField(**MONEY)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    return_reason = models.TextField(blank=True)
    source = models.CharField(max_length=6, choices=Source.choices, default=Source.UNIT)
    approval_no = models.CharField(max_length=100, blank=True)
    stage = models.CharField(max_length=60, blank=True)
    external_status = models.CharField(max_length=30, blank=True)
    change_note = models.CharField(max_length=300, blank=True)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(total_amount__gte=0), name="project_total_not_negative"),
            models.CheckConstraint(condition=~Q(status="returned") | ~Q(return_reason=""),
                                   name="project_returned_has_reason"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.code} {self.name}"

    @property
    def is_basic(self) -> bool:
        """基本支出 (人员类, 运转类) rather than 项目支出 (特定目标类)."""
        return is_basic(self.category)


class ProjectAnnualPlan(models.Model):
    """A project's planned amount for one year and fund source (年度计划)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annual_plans")
    year = models.PositiveSmallIntegerField()
    fund_source = models.ForeignKey(FundSource, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("project annual plan")
        verbose_name_plural = _("project annual plans")
        ordering = ["project_id", "year", "fund_source_id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "year", "fund_source"],
                                    name="annual_plan_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="annual_plan_not_negative"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.project_id} {self.year}: {self.amount}"


class PerformanceTarget(models.Model):
    """绩效目标: a named target with its value and unit of measure."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="targets")
    name = models.CharField(max_length=200)
    target_value = models.CharField(max_length=60)
    measure_unit = models.CharField(max_length=30, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("performance target")
        verbose_name_plural = _("performance targets")
        ordering = ["project_id", "id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name} {self.target_value}{self.measure_unit}"


class BudgetPlan(LoadedValues, models.Model):
    """A unit's budget for one fiscal year through 一上 → 一下 → 二上 → 批复."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft (一上 in preparation)")
        FIRST_SUBMITTED = "first_submitted", _("一上 submitted to the department")
        FIRST_REVIEWED = "first_reviewed", _("一上 reviewed by the department")
        CONTROLLED = "controlled", _("一下 control numbers issued")
        SECOND_SUBMITTED = "second_submitted", _("二上 submitted to the department")
        SECOND_REVIEWED = "second_reviewed", _("二上 reviewed by the department")
        APPROVED = "approved", _("approved (批复)")

    unit = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="budget_plans")
    year = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    return_reason = models.TextField(blank=True)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    approval_entry = models.ForeignKey(Entry, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+")
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("budget plan")
        verbose_name_plural = _("budget plans")
        ordering = ["year", "unit__code"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "year"], name="plan_unique_unit_year"),
            models.CheckConstraint(
                condition=Q(status="approved", approval_entry__isnull=False)
                | (~Q(status="approved") & Q(approval_entry__isnull=True)),
                name="plan_approved_has_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.unit_id}/{self.year} {self.status}"

    @property
    def editable(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.CONTROLLED)


class PlanLine(LoadedValues, models.Model):
    """One line of a budget plan: project × function × economic × fund source."""

    plan = models.ForeignKey(BudgetPlan, on_delete=models.CASCADE, related_name="lines")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="plan_lines")
    function = models.ForeignKey(FunctionCode, on_delete=models.PROTECT, related_name="+")
    economic = models.ForeignKey(EconomicCode, on_delete=models.PROTECT, related_name="+")
    fund_source = models.ForeignKey(FundSource, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)
    last_year_amount = models.DecimalField(**MONEY, default=0)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("budget plan line")
        verbose_name_plural = _("budget plan lines")
        ordering = ["plan_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "project", "function", "economic", "fund_source"],
                                    name="plan_line_unique_tuple"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="plan_line_amount_positive"),
            models.CheckConstraint(condition=Q(last_year_amount__gte=0),
                                   name="plan_line_last_year_not_negative"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} plan {self.plan_id}: {self.amount}"


class ControlNumber(models.Model):
    """控制数 (一下): the ceiling the bureau sets per unit and fund source."""

    plan = models.ForeignKey(BudgetPlan, on_delete=models.CASCADE, related_name="control_numbers")
    fund_source = models.ForeignKey(FundSource, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("control number")
        verbose_name_plural = _("control numbers")
        ordering = ["plan_id", "fund_source__code"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "fund_source"], name="control_unique_fund"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="control_not_negative"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} plan {self.plan_id} fund {self.fund_source_id}: {self.amount}"


class Indicator(LoadedValues, models.Model):
    """指标 register: one dimension tuple of the control book and where it came from.
    The amounts are ledger balances (budgets.selectors), never stored here."""

    year = models.PositiveSmallIntegerField()
    dim_key = models.CharField(max_length=200)
    region_code = code_field("region")
    unit = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="indicators")
    function_code = code_field("function")
    economic_code = code_field("economic")
    fund_source_code = code_field("fund_source")
    project_code = code_field("project")
    plan_line = models.OneToOneField(PlanLine, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="indicator")
    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="+",
                              help_text=_("the entry that created the tuple"))

    class Meta:
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")
        ordering = ["year", "dim_key"]
        constraints = [
            models.UniqueConstraint(fields=["year", "dim_key"], name="indicator_unique_tuple"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.dim_key}"


class Adjustment(LoadedValues, models.Model):
    """调整 (increase/decrease of one indicator) or 调剂 (virement between two)."""

    class Kind(models.TextChoices):
        INCREASE = "increase", _("adjustment: increase (调增)")
        DECREASE = "decrease", _("adjustment: decrease (调减)")
        VIREMENT = "virement", _("virement (调剂)")

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("submitted")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    year = models.PositiveSmallIntegerField()
    batch_no = models.CharField(_("batch number"), max_length=40)
    doc_no = models.CharField(_("document number (文号)"), max_length=100)
    date = models.DateField()
    reason = models.TextField()
    unit = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="adjustments")
    source_key = models.CharField(max_length=200, blank=True,
                                  help_text=_("tuple reduced (decrease, virement source)"))
    target_key = models.CharField(max_length=200, blank=True,
                                  help_text=_("tuple increased (increase, virement target)"))
    amount = models.DecimalField(**MONEY)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                 related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey(Entry, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("adjustment")
        verbose_name_plural = _("adjustments")
        ordering = ["year", "batch_no", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="adjustment_amount_positive"),
            models.CheckConstraint(
                condition=(Q(kind="increase") & Q(source_key="") & ~Q(target_key=""))
                | (Q(kind="decrease") & ~Q(source_key="") & Q(target_key=""))
                | (Q(kind="virement") & ~Q(source_key="") & ~Q(target_key="")),
                name="adjustment_tuples_match_kind",
            ),
            models.CheckConstraint(
                condition=Q(status="approved", entry__isnull=False)
                | (~Q(status="approved") & Q(entry__isnull=True)),
                name="adjustment_approved_has_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.batch_no} {self.amount}"
