"""Audit's own records: history seals (tamper evidence of history rows), monitoring
rules and alerts (预警), and the log of what auditors view and export."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class HistorySeal(models.Model):
    """One sealed history row: the hash of its content, chained per history table in
    history_id order (`chain = sha256(prev_chain|history_id|row_hash)`). Sealing runs
    periodically and before each daily verification; `verify_ledger` recomputes it."""

    table = models.CharField(max_length=100)  # db_table of the historical model
    history_id = models.BigIntegerField()
    row_hash = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    chain_hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("history seal")
        verbose_name_plural = _("history seals")
        ordering = ["table", "history_id"]
        constraints = [
            models.UniqueConstraint(fields=["table", "history_id"], name="historyseal_unique_row"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.table}:{self.history_id}"


class MonitoringRule(models.Model):
    """预警规则: a monitoring rule as data; the code selects the check, params hold its
    thresholds (amounts as strings of yuan, never floats)."""

    class Severity(models.TextChoices):
        INFO = "info", _("info")
        WARNING = "warning", _("warning")
        HIGH = "high", _("high")

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    params = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("monitoring rule")
        verbose_name_plural = _("monitoring rules")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.code}"


class Alert(models.Model):
    """预警: one finding of a rule, with an owner and a status open → explained → closed."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        EXPLAINED = "explained", _("explained")
        CLOSED = "closed", _("closed")

    rule = models.ForeignKey(MonitoringRule, on_delete=models.PROTECT, related_name="alerts")
    fingerprint = models.CharField(max_length=200, unique=True,
                                   help_text="rule code + subject; a finding is raised once")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    message = models.TextField()
    amount_fen = models.BigIntegerField(default=0)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    unit_code = models.CharField(max_length=20, blank=True)
    entry = models.ForeignKey("finance.Entry", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    details = models.JSONField(default=dict, blank=True)
    raised_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["status", "raised_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gte=0), name="alert_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.rule_id} {self.status}"


class AlertComment(models.Model):
    """A comment on an alert (an explanation, a closing note, a question)."""

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                               related_name="+")
    text = models.TextField()
    at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("alert comment")
        verbose_name_plural = _("alert comments")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"#{self.pk} on alert {self.alert_id}"


class AccessLog(models.Model):
    """What an auditor viewed or exported (who, when, what, with which parameters)."""

    class Action(models.TextChoices):
        VIEW = "view", _("view")
        EXPORT = "export", _("export")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                             related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    target = models.CharField(max_length=200)
    params = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.user_id} {self.action} {self.target}"


class PaceAlert(models.Model):
    """执行进度预警: spending of a department or a project lagging the time elapsed in
    the year (序时进度), graded yellow or red by the rule `execution_pace`; one per subject
    and month, upgraded when it worsens; the loop notified → explained → rectified (or
    closed), each step in the workflow log (finance.services.workflow_record)."""

    class Scope(models.TextChoices):
        DEPARTMENT = "department", _("department")
        PROJECT = "project", _("project")

    class Grade(models.TextChoices):
        YELLOW = "yellow", _("yellow")
        RED = "red", _("red")

    class Status(models.TextChoices):
        NOTIFIED = "notified", _("notified")
        EXPLAINED = "explained", _("explained")
        RECTIFIED = "rectified", _("rectified")
        CLOSED = "closed", _("closed")

    rule = models.ForeignKey(MonitoringRule, on_delete=models.PROTECT, related_name="pace_alerts")
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices)
    subject_code = models.CharField(_("subject code"), max_length=40)  # the department's or the project's code
    subject_name = models.CharField(_("subject name"), max_length=200, blank=True)
    # who answers: the department, or the project's unit (finance.roles.may_explain_pace)
    organization = models.ForeignKey("finance.Organization", on_delete=models.PROTECT,
                                     related_name="+")
    year = models.PositiveSmallIntegerField()
    month = models.PositiveSmallIntegerField()  # the period: one alert per subject and month
    measured_on = models.DateField(_("measured on"))  # the last day counted (inclusive)
    grade = models.CharField(_("alert grade"), max_length=6, choices=Grade.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NOTIFIED)
    # percentages with 2 places: time elapsed, spent (paid / indicator), lag in points
    time_pct = models.DecimalField(_("time elapsed (%)"), max_digits=7, decimal_places=2)
    execution_pct = models.DecimalField(_("execution (%)"), max_digits=9, decimal_places=2)
    lag_points = models.DecimalField(_("lag (points)"), max_digits=9, decimal_places=2)
    budget_fen = models.BigIntegerField(_("indicator (fen)"))
    paid_fen = models.BigIntegerField(_("paid (fen)"))
    raised_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("execution pace alert")
        verbose_name_plural = _("execution pace alerts")
        ordering = ["-year", "-month", "-lag_points", "id"]
        constraints = [
            models.UniqueConstraint(fields=["scope", "subject_code", "year", "month"],
                                    name="pacealert_one_per_subject_and_month"),
            models.CheckConstraint(condition=Q(month__gte=1, month__lte=12),
                                   name="pacealert_month_1_12"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.scope} {self.subject_code} {self.year}-{self.month:02d} {self.grade}"

    @property
    def budget(self) -> Decimal:
        return Decimal(self.budget_fen) / 100

    @property
    def paid(self) -> Decimal:
        return Decimal(self.paid_fen) / 100
