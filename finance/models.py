"""Master data (years, periods, regions, organizations, classifications, accounts),
the ledger (entries, lines, balances) and workflow steps of documents."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords
from stdnum.cn import uscc

from finance import labels
from finance.chart import EntryKind
from finance.dimensions import code_field
from finance.errors import LedgerImmutable

MONEY = {"max_digits": 18, "decimal_places": 2}
CENT = Decimal("0.01")


def fen_to_decimal(fen: int) -> Decimal:
    """Integer fen (分) to a 2-place Decimal yuan; amounts are stored as fen so that
    SQL sums are exact on every database."""
    return (Decimal(fen) / 100).quantize(CENT)


def validate_uscc(value: str) -> None:
    """统一社会信用代码: 18 characters with a check character (GB 32100-2015)."""
    if not uscc.is_valid(value):
        raise ValidationError(_("Invalid unified social credit code (统一社会信用代码): %(v)s"),
                              params={"v": value})


# --------------------------------------------------------------------------- time
class FiscalYear(models.Model):
    """预算年度: the calendar year."""

    year = models.PositiveSmallIntegerField(unique=True)
    is_closed = models.BooleanField(default=False)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("fiscal year")
        verbose_name_plural = _("fiscal years")
        ordering = ["year"]

    def __str__(self) -> str:
        return f"{self.year}"


class Period(models.Model):
    """会计期间: one month of a fiscal year, open or closed."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("period", "open")
        CLOSED = "closed", pgettext_lazy("period", "closed")

    fiscal_year = models.ForeignKey(FiscalYear, on_delete=models.PROTECT, related_name="periods")
    month = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("period")
        verbose_name_plural = _("periods")
        ordering = ["fiscal_year__year", "month"]
        constraints = [
            models.UniqueConstraint(fields=["fiscal_year", "month"], name="period_unique_month"),
            models.CheckConstraint(condition=Q(month__gte=1, month__lte=12), name="period_month_1_12"),
        ]

    def __str__(self) -> str:
        return f"{self.fiscal_year_id}:{self.month:02d} ({self.status})"


# ------------------------------------------------------------------ master data
class Region(models.Model):
    """行政区划: the city and its districts."""

    class Level(models.TextChoices):
        CITY = "city", _("city")
        DISTRICT = "district", _("district")

    code = models.CharField(max_length=6, unique=True)
    name = models.CharField(max_length=100)
    level = models.CharField(max_length=10, choices=Level.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Organization(models.Model):
    """A node of the organization tree: bureau, department (主管部门), budget unit
    (预算单位) or non-tax revenue unit (非税收入单位)."""

    class Kind(models.TextChoices):
        BUREAU = "bureau", _("finance bureau")
        DEPARTMENT = "department", _("department")
        BUDGET_UNIT = "budget_unit", _("budget unit")
        NONTAX_UNIT = "nontax_unit", _("non-tax revenue unit")

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="organizations")
    uscc = models.CharField(_("unified social credit code"), max_length=18, unique=True,
                            validators=[validate_uscc])
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Membership(models.Model):
    """Which organization a user works for (one each); the user's roles are Django groups
    (finance.roles). The table kept its name when the model moved here from payments."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="membership")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords(table_name="payments_historicalmembership")

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        db_table = "payments_membership"

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.organization_id}"


class LoadedValues:
    """Mixin for a model saved often after being read: remembers the values each instance
    was loaded with (Django's documented `from_db` hook), so that validation can skip a
    unique check whose fields still hold the values read from the database
    (finance.services.full_clean). The database's unique constraints guard every write."""

    @classmethod
    def from_db(cls, db, field_names, values):  # noqa: ANN001, ANN206
        instance = super().from_db(db, field_names, values)  # type: ignore[misc]
        instance._loaded_values = dict(zip(field_names, values, strict=True))
        return instance


class CodeBase(models.Model):
    """A classification code (类/款/项 tree). Codes are strings; retired, never deleted."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    level = models.CharField(max_length=10, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")
    active = models.BooleanField(default=True)

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class FunctionCode(CodeBase):
    """支出功能分类 (类 3 / 款 5 / 项 7 digits)."""

    history = HistoricalRecords()

    class Meta(CodeBase.Meta):
        verbose_name = _("function code")
        verbose_name_plural = _("function codes")


class GovEconomicCode(CodeBase):
    """政府预算支出经济分类."""

    history = HistoricalRecords()

    class Meta(CodeBase.Meta):
        verbose_name = _("government economic code")
        verbose_name_plural = _("government economic codes")


class EconomicCode(CodeBase):
    """部门预算支出经济分类, mapped to the government economic classification."""

    government = models.ForeignKey(GovEconomicCode, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="department_codes")
    history = HistoricalRecords()

    class Meta(CodeBase.Meta):
        verbose_name = _("economic code")
        verbose_name_plural = _("economic codes")


class RevenueCode(CodeBase):
    """收入分类."""

    history = HistoricalRecords()

    class Meta(CodeBase.Meta):
        verbose_name = _("revenue code")
        verbose_name_plural = _("revenue codes")


class FundSource(CodeBase):
    """资金性质: 一般公共预算, 政府性基金预算, …"""

    history = HistoricalRecords()

    class Meta(CodeBase.Meta):
        verbose_name = _("fund source")
        verbose_name_plural = _("fund sources")


class Book(models.TextChoices):
    INDICATOR = "indicator", _("indicator control book (指标账)")
    BUDGET = "budget", _("budget accounting (预算会计)")
    FINANCIAL = "financial", _("financial accounting (财务会计)")


class Side(models.TextChoices):
    DEBIT = "debit", _("debit")
    CREDIT = "credit", _("credit")


class Account(CodeBase):
    """会计科目 of the government accounting chart, plus the indicator control accounts."""

    book = models.CharField(max_length=10, choices=Book.choices)
    category = models.CharField(max_length=30)
    normal_side = models.CharField(max_length=6, choices=Side.choices)
    must_not_go_negative = models.BooleanField(
        default=False,
        help_text=_("Balance on the normal side per dimension tuple may never go below zero."),
    )
    history = HistoricalRecords()

    class Meta(CodeBase.Meta):
        verbose_name = _("account")
        verbose_name_plural = _("accounts")


# ----------------------------------------------------------------------- ledger
class ImmutableQuerySet(models.QuerySet):
    """Posted rows are never updated or deleted through the ORM."""

    def update(self, **kwargs):  # noqa: ANN003
        raise LedgerImmutable()

    def delete(self):
        raise LedgerImmutable()


class Entry(models.Model):
    """凭证: a posted, balanced, immutable set of lines with a chained hash."""

    fiscal_year = models.PositiveSmallIntegerField()
    number = models.PositiveIntegerField(help_text=_("Gap-free voucher number within the year"))
    date = models.DateField()
    month = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=300)
    kind = models.CharField(max_length=40, blank=True, choices=EntryKind.choices)
    source_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT)
    source_id = models.CharField(max_length=64, blank=True)
    source = GenericForeignKey("source_type", "source_id")
    tracking_id = models.CharField(max_length=64, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=128, null=True, blank=True, unique=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="reversed_by")
    content_hash = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    posted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    posted_at = models.DateTimeField()

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        verbose_name = _("entry")
        verbose_name_plural = _("entries")
        ordering = ["fiscal_year", "number"]
        constraints = [
            models.UniqueConstraint(fields=["fiscal_year", "number"], name="entry_unique_number"),
        ]
        indexes = [models.Index(fields=["source_type", "source_id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.fiscal_year}-{self.number:07d} {self.description}"

    def save(self, *args, **kwargs):  # noqa: ANN002, ANN003
        if not self._state.adding:
            raise LedgerImmutable()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # noqa: ANN002, ANN003
        raise LedgerImmutable()


class Line(models.Model):
    """One line of an entry: book, account, dimension tuple, debit or credit."""

    # The entry is a foreign key in the database. The account and the codes are not
    # (db_constraint=False): the posting service reads every code before it writes a line
    # and refuses an unknown one, codes are never deleted (PROTECT: Django refuses to
    # delete a code a line uses) and `verify_ledger` checks that every line's codes
    # exist. A database check of six codes per line cost more than half of a line's
    # INSERT and locked the code rows (FOR KEY SHARE) on every posting. Indexes: the
    # entry's is the unique (entry, seq); the account's is (account, year, unit); the
    # unit's for a unit's lines; a project's lines by the partial (year, project_code).
    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="lines",
                              db_index=False)
    seq = models.PositiveSmallIntegerField()
    book = models.CharField(max_length=10, choices=Book.choices)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines",
                                db_constraint=False, db_index=False)
    year = models.PositiveSmallIntegerField()
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", db_constraint=False, db_index=False)
    unit = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+", db_constraint=False)
    function = models.ForeignKey(FunctionCode, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", db_constraint=False, db_index=False)
    economic = models.ForeignKey(EconomicCode, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", db_constraint=False, db_index=False)
    fund_source = models.ForeignKey(FundSource, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", db_constraint=False, db_index=False)
    project_code = models.CharField(max_length=40, blank=True)
    debit_fen = models.BigIntegerField(default=0)
    credit_fen = models.BigIntegerField(default=0)

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        verbose_name = _("entry line")
        verbose_name_plural = _("entry lines")
        ordering = ["entry_id", "seq"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(debit_fen__gt=0, credit_fen=0) | Q(debit_fen=0, credit_fen__gt=0)),
                name="line_one_positive_side",
            ),
            models.UniqueConstraint(fields=["entry", "seq"], name="line_unique_seq"),
        ]
        indexes = [models.Index(fields=["account", "year", "unit"]),
                   models.Index(fields=["year", "project_code"], name="line_project",
                                condition=~Q(project_code=""))]

    def __str__(self) -> str:
        return f"#{self.pk} {self.book}/{self.account_id} Dr {self.debit} Cr {self.credit}"

    def save(self, *args, **kwargs):  # noqa: ANN002, ANN003
        if not self._state.adding:
            raise LedgerImmutable()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # noqa: ANN002, ANN003
        raise LedgerImmutable()

    @property
    def debit(self) -> Decimal:
        return fen_to_decimal(self.debit_fen)

    @property
    def credit(self) -> Decimal:
        return fen_to_decimal(self.credit_fen)


class Balance(models.Model):
    """Running totals per account and dimension tuple, maintained only by the posting
    service in the same transaction as the lines; `verify_ledger` recomputes them."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="balances")
    dim_key = models.CharField(max_length=200)
    year = models.PositiveSmallIntegerField()
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    function = models.ForeignKey(FunctionCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    economic = models.ForeignKey(EconomicCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    fund_source = models.ForeignKey(FundSource, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    project_code = models.CharField(max_length=40, blank=True)
    debit_fen = models.BigIntegerField(default=0)
    credit_fen = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("balance")
        verbose_name_plural = _("balances")
        constraints = [
            models.UniqueConstraint(fields=["account", "dim_key"], name="balance_unique_tuple"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.account_id} {self.dim_key}: Dr {self.debit_fen} Cr {self.credit_fen}"


class VoucherSequence(models.Model):
    """Per-year counter and chain head; locking it orders postings (gap-free numbers)."""

    fiscal_year = models.PositiveSmallIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)
    last_hash = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64, blank=True,
                                 help_text="chain head before the last posting")
    closed_months = models.PositiveIntegerField(
        default=0, help_text="bit m-1 set: month m closed; mirrors Period.status under this row's "
                             "lock so a posting checks it in the statement that numbers it")

    class Meta:
        verbose_name = _("entry number sequence")
        verbose_name_plural = _("entry number sequences")

    def __str__(self) -> str:
        return f"{self.fiscal_year}: {self.last_number}"


# -------------------------------------------------------------------- workflow
class WorkflowStep(models.Model):
    """The one record of workflow transitions for every document (who, when, from, to, why)."""

    doc_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    doc_id = models.CharField(max_length=64)
    document = GenericForeignKey("doc_type", "doc_id")
    from_state = models.CharField(max_length=40, blank=True)
    to_state = models.CharField(max_length=40)
    action = models.CharField(max_length=40)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                              related_name="+")
    at = models.DateTimeField()
    comment = models.TextField(blank=True)

    class Meta:
        verbose_name = _("workflow step")
        verbose_name_plural = _("workflow steps")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["doc_type", "doc_id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.doc_type_id}:{self.doc_id} {self.from_state}->{self.to_state}"

    # how people read the step (finance.labels: the one vocabulary of actions and states)
    def _doc_model(self) -> type[models.Model] | None:
        return ContentType.objects.get_for_id(self.doc_type_id).model_class()

    @property
    def action_label(self) -> str:
        return labels.action_label(self.action)

    @property
    def from_label(self) -> str:
        return labels.state_label(self._doc_model(), self.from_state)

    @property
    def to_label(self) -> str:
        return labels.state_label(self._doc_model(), self.to_state)


# ------------------------------------------------------------------------- jobs
class Job(models.Model):
    """A long-running piece of work (a feed import, an export) run as a Celery task,
    with progress users can watch and the issues it found. Shared by every app."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    kind = models.CharField(max_length=40)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    filename = models.CharField(max_length=255, blank=True)
    file = models.FileField(upload_to="jobs/%Y/%m/", blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    issues = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.status} {self.done}/{self.total}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0


# ------------------------------------------------------------------ idempotency
class IdempotentRequest(models.Model):
    """One API write sent with an ``Idempotency-Key`` header: claimed before the view runs
    (the unique constraint lets only one request with a key run), then holding the answer
    that a retry with the same key and body is given again (finance.idempotency)."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("in progress")
        DONE = "done", _("done")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    fingerprint = models.CharField(max_length=64)  # sha256 of method, path and body
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(default=b"", blank=True)
    response_type = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("idempotent request")
        verbose_name_plural = _("idempotent requests")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotent_request_user_key"),
            models.CheckConstraint(
                condition=Q(status="in_progress") | Q(response_status__isnull=False),
                name="idempotent_request_done_has_response"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.key} {self.method} {self.path} {self.status}"


# ------------------------------------------------------------ control strength (控制方式)
class ControlRule(models.Model):
    """控制方式: how strongly spending against an indicator is controlled, per fund source,
    economic class (a code prefix: '302' or '30201') and unit — blank means any. Data
    with history, changed only through `finance.control.control_rule_save` with a reason;
    `finance.control.rule_for` picks the one that applies. Whatever the mode, the ledger
    never lets an indicator go below zero (finance.ledger)."""

    class Mode(models.TextChoices):
        BLOCK = "block", pgettext_lazy("control mode", "block (刚性控制)")
        WARN = "warn", pgettext_lazy("control mode", "warn (预警控制)")
        RECORD = "record", pgettext_lazy("control mode", "record only (仅记录)")

    fund_source = code_field("fund_source", blank=True)
    economic_prefix = code_field("economic", blank=True,
                                 verbose_name=_("economic class (code prefix)"))
    unit = code_field("unit", blank=True)
    mode = models.CharField(_("control mode"), max_length=10, choices=Mode.choices,
                            default=Mode.BLOCK)
    threshold_percent = models.DecimalField(_("threshold (%)"), max_digits=5,
                                            decimal_places=2, default=Decimal("100.00"))
    effective_from = models.DateField(_("effective from"))
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("control rule")
        verbose_name_plural = _("control rules")
        ordering = ["fund_source", "economic_prefix", "unit", "effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["fund_source", "economic_prefix", "unit",
                                            "effective_from"], name="control_rule_unique_scope"),
            models.CheckConstraint(condition=Q(threshold_percent__gt=0,
                                               threshold_percent__lte=100),
                                   name="control_rule_threshold_0_100"),
        ]

    def __str__(self) -> str:
        scope = "/".join(v or "*" for v in (self.fund_source, self.economic_prefix, self.unit))
        return f"#{self.pk} {scope} {self.mode} {self.threshold_percent}% from {self.effective_from}"


class ControlCheck(models.Model):
    """One control check of a document (a payment request on submission): the rule that
    applied (None: the default, block at 100 %), its mode and threshold as they were, the
    usage with the document's amount, and the outcome. Written once, never changed."""

    class Outcome(models.TextChoices):
        WITHIN = "within", pgettext_lazy("control outcome", "within the threshold")
        RECORDED = "recorded", pgettext_lazy("control outcome", "recorded (record only)")
        WARNED = "warned", pgettext_lazy("control outcome", "warning")
        BLOCKED = "blocked", pgettext_lazy("control outcome", "blocked")
        OVERRIDDEN = "overridden", pgettext_lazy("control outcome", "allowed by override")

    doc_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    doc_id = models.CharField(max_length=64)
    document = GenericForeignKey("doc_type", "doc_id")
    rule = models.ForeignKey(ControlRule, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="checks")
    mode = models.CharField(max_length=10, choices=ControlRule.Mode.choices)
    threshold_percent = models.DecimalField(max_digits=5, decimal_places=2)
    indicator_amount = models.DecimalField(**MONEY)
    used_amount = models.DecimalField(**MONEY)  # spent + committed before this document
    amount = models.DecimalField(**MONEY)
    usage_percent = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    override = models.ForeignKey("ControlOverride", null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="checks")
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("control check")
        verbose_name_plural = _("control checks")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["doc_type", "doc_id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.doc_type_id}:{self.doc_id} {self.outcome} {self.usage_percent}%"


class ControlOverride(models.Model):
    """An authorised approver's override of a blocking control rule for one document and
    amount (finance.roles.may_override_control): who, when, why, which rule, the usage it
    allowed. Never above 100 %: the ledger refuses that anyway."""

    doc_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    doc_id = models.CharField(max_length=64)
    document = GenericForeignKey("doc_type", "doc_id")
    rule = models.ForeignKey(ControlRule, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="overrides")
    mode = models.CharField(max_length=10, choices=ControlRule.Mode.choices)
    threshold_percent = models.DecimalField(max_digits=5, decimal_places=2)
    amount = models.DecimalField(**MONEY)
    usage_percent = models.DecimalField(max_digits=9, decimal_places=2)
    reason = models.TextField()
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    granted_at = models.DateTimeField()

    class Meta:
        verbose_name = _("control override")
        verbose_name_plural = _("control overrides")
        ordering = ["granted_at", "id"]
        indexes = [models.Index(fields=["doc_type", "doc_id"])]
        constraints = [models.CheckConstraint(condition=~Q(reason=""),
                                              name="control_override_has_reason")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.doc_type_id}:{self.doc_id} {self.amount} by {self.granted_by_id}"
