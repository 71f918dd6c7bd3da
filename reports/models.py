"""Models of the reports app: the carry-forward policy per fund source, year-end closes
(with the entries they posted, so a reopening can reverse exactly those) and disclosure
sets (预决算公开) with their files and manifest. No amount is stored here: every figure
is computed from ledger lines and carries a trace reference."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from finance.models import FundSource, LoadedValues, Organization


class FundSourcePolicy(models.Model):
    """What happens to unspent indicators (9101 available) of a fund source at year end:
    carried forward into next year (结转) or taken back (收回)."""

    class Action(models.TextChoices):
        CARRY_FORWARD = "carry_forward", _("carry forward (结转)")
        TAKE_BACK = "take_back", _("take back (收回)")

    fund_source = models.OneToOneField(FundSource, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=20, choices=Action.choices)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("fund source year-end policy")
        verbose_name_plural = _("fund source year-end policies")
        ordering = ["fund_source__code"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.fund_source_id}: {self.action}"


class YearEndClose(models.Model):
    """年终结账 of one fiscal year: the closing, carry-forward and opening entries it
    posted. Reopening reverses exactly these entries."""

    class Status(models.TextChoices):
        CLOSED = "closed", pgettext_lazy("year-end close", "closed")
        REOPENED = "reopened", _("reopened (reversed)")

    year = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CLOSED)
    entry_ids = models.JSONField(default=list, help_text="ids of the entries the close posted")
    summary = models.JSONField(default=dict, blank=True,
                               help_text="amounts moved, as strings of yuan")
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                  related_name="+")
    closed_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("year-end close")
        verbose_name_plural = _("year-end closes")
        ordering = ["year", "id"]
        constraints = [
            models.UniqueConstraint(fields=["year"], condition=Q(status="closed"),
                                    name="yearendclose_one_closed_per_year"),
        ]
        permissions = [("reopen_year", "Can reopen a closed fiscal year (by reversal)")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.year} {self.status}"


class DisclosureSet(LoadedValues, models.Model):
    """One department's disclosure (预算公开 or 决算公开) of a year: draft → approved →
    published, after the confidentiality review (保密审查) and the department head's
    sign-off (主要负责人审签). A published set is immutable; its manifest lists each
    file's SHA-256, each figure's trace reference, both sign-offs and the deadline."""

    class Kind(models.TextChoices):
        BUDGET = "budget", _("budget disclosure (预算公开)")
        FINAL = "final", _("final accounts disclosure (决算公开)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        APPROVED = "approved", _("approved")
        PUBLISHED = "published", pgettext_lazy("disclosure status", "published")

    class ApprovalSource(models.TextChoices):
        BUDGET_APPROVAL = "budget_approval", _("the budget approval (批复) in the ledger")
        ENTERED = "entered", _("entered by hand")

    class Confidentiality(models.TextChoices):
        CLEARED = "cleared", _("no state secrets: may be published")
        WITHHELD = "withheld", _("contains state secrets: may not be published")

    department = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    approved_on = models.DateField(help_text=_("date of 批复; publication is due 20 days later"))
    approved_on_source = models.CharField(
        _("source of the approval date"), max_length=20, choices=ApprovalSource.choices, default=ApprovalSource.ENTERED,
        help_text=_("where the date of 批复 comes from"))
    # 保密审查: who, when, the conclusion and a note
    confidentiality_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                           on_delete=models.PROTECT, related_name="+",
                                           verbose_name=_("confidentiality reviewed by"))
    confidentiality_at = models.DateTimeField(_("confidentiality reviewed at"), null=True,
                                              blank=True)
    confidentiality_conclusion = models.CharField(_("confidentiality conclusion"),
                                                  max_length=10, blank=True,
                                                  choices=Confidentiality.choices)
    confidentiality_note = models.TextField(_("confidentiality note"), blank=True)
    # 主要负责人审签: the department head, who and when
    head_signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                       on_delete=models.PROTECT, related_name="+",
                                       verbose_name=_("signed by the department head"))
    head_signed_at = models.DateTimeField(_("signed by the department head at"), null=True,
                                          blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField()
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    approved_figures_sha256 = models.CharField(
        max_length=64, blank=True, help_text="digest of every figure and trace when approved; "
        "publishing refuses if the ledger changed them since")
    manifest = models.JSONField(default=dict, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("disclosure set")
        verbose_name_plural = _("disclosure sets")
        ordering = ["year", "department__code", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["department", "year", "kind"],
                                    name="disclosureset_unique"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(approved_by__isnull=False, approved_at__isnull=False),
                name="disclosureset_approved_has_who_when"),
            models.CheckConstraint(
                condition=~Q(status="published") | Q(published_at__isnull=False,
                                                     manifest_sha256__gt=""),
                name="disclosureset_published_has_manifest"),
        ]
        permissions = [("approve_disclosure", "Can approve a disclosure set"),
                       ("publish_disclosure", "Can publish a disclosure set"),
                       ("review_disclosure_confidentiality",
                        "Can record the confidentiality review (保密审查) of a disclosure set")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.year} {self.department_id} {self.kind} {self.status}"


class DisclosureFile(models.Model):
    """A generated file of a disclosure set (xlsx, pdf, csv, datapackage.json)."""

    disclosure = models.ForeignKey(DisclosureSet, on_delete=models.PROTECT, related_name="files")
    name = models.CharField(max_length=200)
    file = models.FileField(upload_to="disclosure/%Y/")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("disclosure file")
        verbose_name_plural = _("disclosure files")
        ordering = ["disclosure_id", "name"]
        constraints = [models.UniqueConstraint(fields=["disclosure", "name"],
                                               name="disclosurefile_unique_name")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.disclosure_id} {self.name}"
