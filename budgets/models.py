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
    """绩效目标: one indicator of a project, reviewed with the project. Its class (一级/二级
    指标), the comparison with the target value, the unit of measure and its weight (分值):
    a project's weights sum to 90 for the self-evaluation (预算执行率 takes the other 10;
    budgets.performance). `target_text` keeps the value as first written when it was
    free text (targets filed before issue 22); `target_value` is None when no number could
    be read from it (the target cannot be scored until the unit gives one)."""

    class IndicatorClass(models.TextChoices):
        OUTPUT_QUANTITY = "output_quantity", _("output: quantity (数量指标)")
        OUTPUT_QUALITY = "output_quality", _("output: quality (质量指标)")
        OUTPUT_TIMELINESS = "output_timeliness", _("output: timeliness (时效指标)")
        OUTPUT_COST = "output_cost", _("output: cost (成本指标)")
        BENEFIT_ECONOMIC = "benefit_economic", _("benefit: economic (经济效益指标)")
        BENEFIT_SOCIAL = "benefit_social", _("benefit: social (社会效益指标)")
        BENEFIT_ECOLOGICAL = "benefit_ecological", _("benefit: ecological (生态效益指标)")
        BENEFIT_SUSTAINABLE = "benefit_sustainable", _("benefit: sustainable (可持续影响指标)")
        SATISFACTION = "satisfaction", _("satisfaction (满意度指标)")

    class Comparison(models.TextChoices):
        GE = "ge", "≥"
        LE = "le", "≤"
        EQ = "eq", "="

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="targets")
    name = models.CharField(max_length=200)
    indicator_class = models.CharField(_("indicator class"), max_length=24,
                                       choices=IndicatorClass.choices,
                                       default=IndicatorClass.OUTPUT_QUANTITY)
    comparison = models.CharField(_("comparison"), max_length=2, choices=Comparison.choices,
                                  default=Comparison.GE)
    target_value = models.DecimalField(_("target value"), max_digits=18, decimal_places=4,
                                       null=True, blank=True)
    target_text = models.CharField(_("target as first written"), max_length=60, blank=True)
    measure_unit = models.CharField(max_length=30, blank=True)
    weight = models.DecimalField(_("weight (分值)"), max_digits=5, decimal_places=2, default=0)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("performance target")
        verbose_name_plural = _("performance targets")
        ordering = ["project_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(weight__gte=0) & Q(weight__lte=90),
                                   name="target_weight_0_to_90"),
            models.CheckConstraint(condition=Q(target_value__isnull=True) | Q(target_value__gte=0),
                                   name="target_value_not_negative"),
        ]

    def __str__(self) -> str:
        value = self.target_text if self.target_value is None else f"{self.target_value.normalize():f}"
        return f"#{self.pk} {self.name} {self.get_comparison_display()}{value}{self.measure_unit}"

    @property
    def is_output(self) -> bool:
        return self.indicator_class.startswith("output_")


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


class PerformanceReport(models.Model):
    """运行监控: a unit's mid-year report on a project's targets as of a date; spending
    (执行率) is read from the ledger for the same date, never stored here."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="performance_reports")
    year = models.PositiveSmallIntegerField()
    as_of = models.DateField(_("as of"))
    note = models.TextField(blank=True)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    filed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("performance monitoring report")
        verbose_name_plural = _("performance monitoring reports")
        ordering = ["project_id", "year", "as_of"]
        constraints = [
            models.UniqueConstraint(fields=["project", "year", "as_of"], name="perf_report_unique_date"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.project_id} {self.as_of}"


class PerformanceProgress(models.Model):
    """One target's value achieved so far in a monitoring report."""

    report = models.ForeignKey(PerformanceReport, on_delete=models.CASCADE, related_name="progress")
    target = models.ForeignKey(PerformanceTarget, on_delete=models.PROTECT, related_name="+")
    achieved = models.DecimalField(_("achieved so far"), max_digits=18, decimal_places=4)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("target progress")
        verbose_name_plural = _("target progress")
        ordering = ["report_id", "target_id"]
        constraints = [
            models.UniqueConstraint(fields=["report", "target"], name="perf_progress_unique_target"),
            models.CheckConstraint(condition=Q(achieved__gte=0), name="perf_progress_not_negative"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} target {self.target_id}: {self.achieved}"


class SelfEvaluation(models.Model):
    """项目支出绩效自评: a project's year-end self-evaluation, scored when the unit submits
    it (targets 90 + 预算执行率 10) and reviewed by the bureau."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("submitted to the bureau")
        APPROVED = "approved", _("approved")
        RETURNED = "returned", _("returned")

    class Grade(models.TextChoices):
        EXCELLENT = "优", _("excellent (优)")
        GOOD = "良", _("good (良)")
        FAIR = "中", _("fair (中)")
        POOR = "差", _("poor (差)")

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="self_evaluations")
    year = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    budget = models.DecimalField(_("budget (全年预算数)"), **MONEY)
    spent = models.DecimalField(_("spent (全年执行数)"), **MONEY)
    execution_score = models.DecimalField(_("execution score (预算执行率得分)"), max_digits=5,
                                          decimal_places=2)
    total_score = models.DecimalField(_("total score (总分)"), max_digits=5, decimal_places=2)
    grade = models.CharField(_("grade (评价等级)"), max_length=1, choices=Grade.choices)
    summary = models.TextField(_("summary (总体目标完成情况)"), blank=True)
    return_reason = models.TextField(blank=True)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("performance self-evaluation")
        verbose_name_plural = _("performance self-evaluations")
        ordering = ["year", "project__code"]
        constraints = [
            models.UniqueConstraint(fields=["project", "year"], name="self_evaluation_unique_year"),
            models.CheckConstraint(condition=Q(total_score__gte=0) & Q(total_score__lte=100),
                                   name="self_evaluation_score_0_to_100"),
            models.CheckConstraint(condition=~Q(status="returned") | ~Q(return_reason=""),
                                   name="self_evaluation_returned_has_reason"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.project_id}/{self.year} {self.total_score} {self.grade}"


class SelfEvaluationLine(models.Model):
    """One target's actual value (实际完成值) and score in a self-evaluation."""

    evaluation = models.ForeignKey(SelfEvaluation, on_delete=models.CASCADE, related_name="lines")
    target = models.ForeignKey(PerformanceTarget, on_delete=models.PROTECT, related_name="+")
    actual = models.DecimalField(_("actual value"), max_digits=18, decimal_places=4)
    score = models.DecimalField(max_digits=5, decimal_places=2)
    note = models.CharField(_("reason for a deviation"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("self-evaluation line")
        verbose_name_plural = _("self-evaluation lines")
        ordering = ["evaluation_id", "target_id"]
        constraints = [
            models.UniqueConstraint(fields=["evaluation", "target"], name="self_eval_line_unique"),
            models.CheckConstraint(condition=Q(actual__gte=0), name="self_eval_line_not_negative"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} target {self.target_id}: {self.actual} → {self.score}"
