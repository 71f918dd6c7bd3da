"""Models of the payments app: payees, plans, requests, rules, vouchers, bank feeds,
statement lines, reconciliation exceptions."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from finance.dimensions import code_field
from finance.ledger import Dims
from finance.models import LoadedValues
from finance.models import Membership as Membership  # moved to finance; kept importable

MONEY = {"max_digits": 16, "decimal_places": 2}


class Bank(models.Model):
    """A bank branch identified by its 12-digit CNAPS code (联行号)."""

    cnaps = models.CharField(_("CNAPS code"), max_length=12, unique=True)
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("bank branch")
        verbose_name_plural = _("bank branches")
        ordering = ["cnaps"]

    def __str__(self) -> str:
        return f"{self.cnaps} {self.name}"


class Payee(models.Model):
    """收款人: account changes are kept in history (django-simple-history). `unit` is the
    budget unit whose payee book (收款人) holds it; none: a shared payee every unit may pay
    (the payees kept before units had books)."""

    unit = models.ForeignKey("finance.Organization", null=True, blank=True,
                             on_delete=models.PROTECT, related_name="payees",
                             verbose_name=_("unit (payee book)"),
                             help_text=_("empty: a shared payee every unit may pay"))
    name = models.CharField(max_length=200)
    account_number = models.CharField(max_length=40)
    bank_name = models.CharField(max_length=200)
    branch_name = models.CharField(max_length=200, blank=True)
    cnaps = models.CharField(_("CNAPS code"), max_length=20, blank=True)
    is_individual = models.BooleanField(
        _("individual (natural person)"), default=False,
        help_text=_("Personal data of individuals is never published; monitoring watches "
                    "payments to individuals above a threshold."))
    blocked = models.BooleanField(default=False)
    blocked_reason = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("payee")
        verbose_name_plural = _("payees")
        ordering = ["name", "id"]
        constraints = [
            # one entry per account in a unit's book (shared payees are not checked)
            models.UniqueConstraint(fields=["unit", "account_number"],
                                    condition=Q(unit__isnull=False),
                                    name="payee_unit_account_unique"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name} {self.account_number}"


class AgentAccount(models.Model):
    """The treasury's zero-balance account at an agent bank (代理银行): vouchers are
    batched per agent account, statements arrive for it."""

    number = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="agent_accounts")
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("agent bank account")
        verbose_name_plural = _("agent bank accounts")

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class FundSourceSetting(models.Model):
    """Per fund source: whether monthly plan control (用款计划控制) applies."""

    fund_source = models.CharField(max_length=10, unique=True)
    plan_control = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("fund source setting")
        verbose_name_plural = _("fund source settings")

    def __str__(self) -> str:
        return f"{self.fund_source} plan_control={self.plan_control}"


class IndicatorFields(LoadedValues, models.Model):
    """The dimension tuple of an indicator (指标), stored as codes."""

    year = models.PositiveSmallIntegerField()
    # the tuple's fields as finance.dimensions defines them (lengths of the code lists)
    region = code_field("region")
    unit = code_field("unit")
    function = code_field("function")
    economic = code_field("economic")
    fund_source = code_field("fund_source")
    project = code_field("project")

    class Meta:
        abstract = True

    @property
    def dims(self) -> Dims:
        return Dims.of(self)


class PaymentPlan(IndicatorFields):
    """用款计划: a month's applied and approved amounts for one indicator."""

    class Status(models.TextChoices):
        APPLIED = "applied", _("applied")
        APPROVED = "approved", _("approved")

    month = models.PositiveSmallIntegerField()
    applied = models.DecimalField(**MONEY)
    approved = models.DecimalField(**MONEY, default=Decimal("0.00"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.APPLIED)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("payment plan")
        verbose_name_plural = _("payment plans")
        constraints = [
            models.UniqueConstraint(
                fields=["year", "month", "region", "unit", "function", "economic",
                        "fund_source", "project"], name="plan_unique_indicator_month"),
            models.CheckConstraint(condition=Q(applied__gt=0), name="plan_applied_positive"),
            models.CheckConstraint(condition=Q(approved__gte=0), name="plan_approved_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d} {self.unit} {self.economic} {self.approved}"


class Contract(IndicatorFields):
    """合同: a unit's contract with a payee, charged to one indicator (its tuple) and paid
    in instalments. Signing commits the amount (Dr 9201 / Cr 9101, `sign_entry`); the
    requests filed against it draw on that commitment (they commit nothing of their own);
    closing it early releases what is left (`release_entry`). `unit` (the tuple's unit
    code) is the unit whose register holds it."""

    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("contract status", "draft")
        SIGNED = "signed", pgettext_lazy("contract status", "signed")
        COMPLETED = "completed", pgettext_lazy("contract status", "completed")
        CLOSED = "closed", pgettext_lazy("contract status", "closed early")

    number = models.CharField(_("contract number (合同号)"), max_length=100)
    counterparty = models.ForeignKey(Payee, on_delete=models.PROTECT, related_name="contracts",
                                     verbose_name=_("counterparty"))
    title = models.CharField(_("contract title"), max_length=200)
    amount = models.DecimalField(_("contract amount"), **MONEY)
    start = models.DateField(_("term start"))
    end = models.DateField(_("term end"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField()
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("signed by"))
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    sign_entry = models.ForeignKey("finance.Entry", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("commitment entry (signing)"))
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(_("reason for closing early"), max_length=300, blank=True)
    release_entry = models.ForeignKey("finance.Entry", null=True, blank=True,
                                      on_delete=models.PROTECT, related_name="+",
                                      verbose_name=_("release entry (closing early)"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "number"], name="contract_unit_number"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="contract_amount_positive"),
            models.CheckConstraint(condition=Q(end__gte=models.F("start")),
                                   name="contract_term_order"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class ContractInstalment(models.Model):
    """One instalment of a contract's payment schedule (due date and amount); the
    schedule adds up to the contract amount. Changed only while the contract is a draft."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="instalments",
                                 verbose_name=_("contract"))
    seq = models.PositiveSmallIntegerField(_("instalment number"))
    due = models.DateField(_("due date"))
    amount = models.DecimalField(_("instalment amount"), **MONEY)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("contract instalment")
        verbose_name_plural = _("contract instalments")
        ordering = ["contract", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "seq"], name="instalment_unique_seq"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="instalment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id}#{self.seq} {self.due} {self.amount}"


class PaymentRequest(IndicatorFields):
    """支付申请: a budget unit's request to pay a payee from an indicator."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        REFUSED = "refused", _("refused by rules")
        UNIT_REVIEW = "unit_review", _("awaiting unit head")
        TREASURY_REVIEW = "treasury_review", _("awaiting treasury reviewer")
        DIRECTOR_REVIEW = "director_review", _("awaiting treasury director")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        VOUCHERED = "vouchered", _("voucher issued")
        PAID = "paid", _("paid")
        RETURNED = "returned", _("returned by bank (退票)")
        WITHDRAWN = "withdrawn", _("withdrawn")

    tracking_id = models.CharField(_("tracking id"), max_length=40, unique=True)
    plan = models.ForeignKey(PaymentPlan, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="requests")
    amount = models.DecimalField(**MONEY)
    # no index of its own: the indexes (payee, amount) and (payee, filed_at) lead with it
    payee = models.ForeignKey(Payee, on_delete=models.PROTECT, related_name="requests",
                              db_index=False)
    purpose = models.CharField(max_length=300)
    contract_ref = models.CharField(max_length=100, blank=True)
    # a payment under a signed contract: draws on the contract's commitment (contract_ref
    # holds its number)
    contract = models.ForeignKey(Contract, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="requests", verbose_name=_("contract"))
    procurement_ref = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="+")
    filed_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    commit_entry = models.ForeignKey("finance.Entry", null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    pay_entry = models.ForeignKey("finance.Entry", null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    return_reason = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("payment request")
        verbose_name_plural = _("payment requests")
        ordering = ["-filed_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="request_amount_positive"),
        ]
        indexes = [models.Index(fields=["payee", "amount"]), models.Index(fields=["status"]),
                   # requests are found again by their contract reference (合同号)
                   models.Index(fields=["contract_ref"]),
                   # the rules' window of open requests to a batch's payees (duplicates,
                   # splits): only the window's rows, not every request of the year to a
                   # payee many units pay (83 → 3 ms per batch by October at 3,000 units)
                   models.Index(fields=["payee", "filed_at"], name="payreq_payee_filed_idx")]

    def __str__(self) -> str:
        return f"{self.tracking_id} {self.amount} {self.get_status_display()}"

    def audit_related_documents(self) -> list[models.Model]:
        """The audit trace's next document: the contract a payment under one draws on."""
        return [self.contract] if self.contract_id else []


class Attachment(models.Model):
    """A file filed with a request (contract, invoice …), stored under MEDIA_ROOT and
    served only to those who may see the request (web: request_attachment)."""

    request = models.ForeignKey(PaymentRequest, on_delete=models.CASCADE,
                                related_name="attachments")
    name = models.CharField(max_length=200)
    file = models.FileField(upload_to="payments/attachments/%Y/%m/")
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"


class Rule(models.Model):
    """A pre-review rule: data (enabled, action, params with Decimals as strings),
    changed with history, never by a code edit."""

    class Action(models.TextChoices):
        REFUSE = "refuse", _("refuse")
        FLAG = "flag", _("flag for review")

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.FLAG)
    params = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("pre-review rule")
        verbose_name_plural = _("pre-review rules")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} ({'on' if self.enabled else 'off'})"


class RuleHit(models.Model):
    """One finding of the pre-review on one submission of a request."""

    request = models.ForeignKey(PaymentRequest, on_delete=models.CASCADE, related_name="hits")
    rule_code = models.CharField(max_length=40)
    action = models.CharField(max_length=10, choices=Rule.Action.choices)
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("rule hit")
        verbose_name_plural = _("rule hits")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.rule_code}: {self.reason}"


class VoucherSeq(models.Model):
    """Last voucher number per month (ZF + YYYYMM + 4 digits)."""

    year = models.PositiveSmallIntegerField()
    month = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("voucher number sequence")
        verbose_name_plural = _("voucher number sequences")
        constraints = [models.UniqueConstraint(fields=["year", "month"], name="voucherseq_unique")]

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d}: {self.last}"


class VoucherBatch(models.Model):
    """A day's vouchers for one agent bank, exported together (CSV, pain.001)."""

    agent_account = models.ForeignKey(AgentAccount, on_delete=models.PROTECT,
                                      related_name="batches")
    date = models.DateField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("voucher batch")
        verbose_name_plural = _("voucher batches")

    def __str__(self) -> str:
        return f"#{self.pk} {self.date} {self.agent_account_id}"


class Voucher(LoadedValues, models.Model):
    """支付凭证: one approved request sent to the agent bank."""

    class Status(models.TextChoices):
        ISSUED = "issued", _("issued")
        PAID = "paid", _("paid")
        RETURNED = "returned", _("returned (退票)")

    number = models.CharField(max_length=20, unique=True)
    batch = models.ForeignKey(VoucherBatch, on_delete=models.PROTECT, related_name="vouchers")
    request = models.OneToOneField(PaymentRequest, on_delete=models.PROTECT,
                                   related_name="voucher")
    amount = models.DecimalField(**MONEY)
    amount_capital = models.CharField(_("amount in capitals (大写)"), max_length=100)
    date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ISSUED)
    bank_ref = models.CharField(max_length=60, blank=True)
    paid_on = models.DateField(null=True, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("payment voucher")
        verbose_name_plural = _("payment vouchers")
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="voucher_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.amount} {self.get_status_display()}"

    def audit_related_documents(self) -> list[models.Model]:
        """The audit trace's next document: a payment under a contract names its request
        (and through it the contract); other vouchers name nothing more."""
        return [self.request] if self.request.contract_id else []


class ClearingNotice(models.Model):
    """清算额度通知单: the day's voucher total per agent bank, for the central bank."""

    agent_account = models.ForeignKey(AgentAccount, on_delete=models.PROTECT,
                                      related_name="notices")
    date = models.DateField()
    total = models.DecimalField(**MONEY)
    count = models.PositiveIntegerField()
    amount_capital = models.CharField(max_length=100)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("clearing-limit notice")
        verbose_name_plural = _("clearing-limit notices")
        constraints = [models.UniqueConstraint(fields=["agent_account", "date"],
                                               name="notice_unique_day")]

    def __str__(self) -> str:
        return f"notice {self.date} {self.total}"


class BankProfile(models.Model):
    """How one agent bank writes its files (`payments.importers.dialect.Dialect`): kept as
    data with history, edited by treasury staff in the app — adding a bank is adding a
    profile, not code. `cnaps` names the agent bank (`Bank.cnaps`) whose files it reads;
    the standard profile names none."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    cnaps = models.CharField(_("agent bank (CNAPS code)"), max_length=12, blank=True,
                             help_text=_("the agent bank whose files this profile reads"))
    encoding = models.CharField(_("encoding"), max_length=10, default="auto", choices=[
        ("auto", _("automatic (UTF-8 or GBK)")), ("utf-8", "UTF-8"), ("gb18030", "GBK/GB18030")])
    delimiter = models.CharField(_("delimiter"), max_length=1, default=",")
    result_columns = models.JSONField(_("result file columns"), default=dict, blank=True)
    statement_columns = models.JSONField(_("CSV statement columns"), default=dict, blank=True)
    time_formats = models.JSONField(_("time formats"), default=list, blank=True)
    date_formats = models.JSONField(_("date formats"), default=list, blank=True)
    decimal_mark = models.CharField(_("decimal mark"), max_length=1, default=".")
    thousands_sep = models.CharField(_("thousands separator"), max_length=1, default=",",
                                     blank=True)
    statuses = models.JSONField(_("status words"), default=dict, blank=True)
    direction_words = models.JSONField(_("debit/credit words"), default=dict, blank=True)
    statement_formats = models.JSONField(_("statement formats"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)
    note = models.TextField(_("note"), blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("bank profile")
        verbose_name_plural = _("bank profiles")
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["cnaps"], condition=~Q(cnaps=""),
                                               name="bankprofile_one_per_bank")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def dialect(self):  # noqa: ANN201 - payments.importers.dialect.Dialect
        from payments.importers.dialect import Dialect  # noqa: PLC0415 - plain data layer

        return Dialect(
            code=self.code, name=self.name, encoding=self.encoding, delimiter=self.delimiter,
            result_columns=dict(self.result_columns), statement_columns=dict(self.statement_columns),
            time_formats=list(self.time_formats) or ["%Y-%m-%d %H:%M:%S"],
            date_formats=list(self.date_formats) or ["%Y-%m-%d"],
            decimal_mark=self.decimal_mark, thousands_sep=self.thousands_sep,
            statuses=dict(self.statuses), direction_words=dict(self.direction_words),
            statement_formats=list(self.statement_formats))


class BankFile(models.Model):
    """One imported bank file (results or statement): what was read and found."""

    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    format = models.CharField(max_length=20)
    imported_at = models.DateTimeField()
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                    related_name="+")
    profile = models.CharField(max_length=40, blank=True,
                               help_text=_("the bank profile a table was read with"))
    stored = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0, help_text=_("lines already known"))
    pending = models.PositiveIntegerField(default=0)
    issues = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("bank file")
        verbose_name_plural = _("bank files")

    def __str__(self) -> str:
        return f"#{self.pk} {self.filename} {self.format}"


class BankResult(models.Model):
    """One payment result an agent bank reported (回单: a result-file line, a pain.002
    status) and applied: paid, or 退票/refused (returned, rejected)."""

    class Outcome(models.TextChoices):
        PAID = "paid", _("paid")
        RETURNED = "returned", _("returned (退票)")
        REJECTED = "rejected", _("rejected by the bank")

    bank_ref = models.CharField(max_length=60, unique=True)
    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="results")
    success = models.BooleanField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PAID)
    status_word = models.CharField(_("the bank's status word"), max_length=40, blank=True)
    amount = models.DecimalField(**MONEY)
    traded_at = models.DateTimeField()
    reason = models.CharField(max_length=300, blank=True)
    file = models.ForeignKey(BankFile, on_delete=models.PROTECT, related_name="results")

    class Meta:
        verbose_name = _("bank result")
        verbose_name_plural = _("bank results")

    def __str__(self) -> str:
        return f"{self.bank_ref} {self.get_outcome_display()}"


class StatementLine(models.Model):
    """One booked entry of an account statement; stored once per (account, bank ref)."""

    class Match(models.TextChoices):
        NONE = "", _("unmatched")
        VOUCHER = "voucher", _("by voucher number")
        AMOUNT = "amount", _("by amount, date and payee account")
        CLEARING = "clearing", _("clearing credit")
        RETURN = "return", _("returned payment (退票 credit)")

    account = models.CharField(max_length=40)
    bank_ref = models.CharField(max_length=60)
    booking_date = models.DateField()
    amount = models.DecimalField(**MONEY)
    credit = models.BooleanField()
    end_to_end_id = models.CharField(max_length=60, blank=True)
    payee_account = models.CharField(max_length=40, blank=True)
    payee_name = models.CharField(max_length=200, blank=True)
    info = models.CharField(max_length=300, blank=True)
    currency = models.CharField(max_length=3, default="CNY")
    batch_ref = models.CharField(max_length=60, blank=True,
                                 help_text=_("the booked entry a batch line was split from"))
    file = models.ForeignKey(BankFile, on_delete=models.PROTECT, related_name="lines")
    line_no = models.PositiveIntegerField()
    voucher = models.ForeignKey(Voucher, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="statement_lines")
    notice = models.ForeignKey(ClearingNotice, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="clearing_lines")
    matched_by = models.CharField(max_length=10, choices=Match.choices, blank=True, default="")
    tracking_id = models.CharField(max_length=40, blank=True)

    class Meta:
        verbose_name = _("statement line")
        verbose_name_plural = _("statement lines")
        ordering = ["booking_date", "id"]
        constraints = [models.UniqueConstraint(fields=["account", "bank_ref"],
                                               name="statement_line_unique_ref")]
        indexes = [models.Index(fields=["account", "booking_date"],
                                name="statement_line_account_day")]

    def __str__(self) -> str:
        return f"{self.account} {self.bank_ref} {'C' if self.credit else 'D'}{self.amount}"


class ReconException(models.Model):
    """对账差异: what reconciliation could not match; treasury resolves it by hand."""

    class Kind(models.TextChoices):
        LINE_WITHOUT_VOUCHER = "line_without_voucher", _("statement line without voucher")
        VOUCHER_WITHOUT_LINE = "voucher_without_line", _("paid voucher without statement line")
        AMOUNT_DIFFERENCE = "amount_difference", _("amount difference")
        CLEARING_DIFFERENCE = "clearing_difference", _("clearing difference")
        UNKNOWN_ACCOUNT = "unknown_account", _("statement line on an unknown account")
        FOREIGN_CURRENCY = "foreign_currency", _("statement line in a currency other than CNY")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        RESOLVED = "resolved", _("resolved")

    kind = models.CharField(max_length=30, choices=Kind.choices)
    key = models.CharField(max_length=120, unique=True,
                           help_text=_("what the exception is about; found once"))
    account = models.CharField(max_length=40)
    date = models.DateField()
    statement_line = models.ForeignKey(StatementLine, null=True, blank=True,
                                       on_delete=models.PROTECT, related_name="exceptions")
    voucher = models.ForeignKey(Voucher, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="exceptions")
    expected = models.DecimalField(**MONEY, null=True, blank=True)
    actual = models.DecimalField(**MONEY, null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolution = models.TextField(blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    auto = models.BooleanField(default=False, help_text=_(
        "resolved by reconciliation itself (a later file explained it); opened again if "
        "what explained it goes away"))
    created_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("reconciliation exception")
        verbose_name_plural = _("reconciliation exceptions")
        ordering = ["date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open") | ~Q(resolution=""), name="resolved_needs_reason"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.get_status_display()}"


class PayrollBatch(IndicatorFields):
    """工资统发: one unit's payroll for one month, imported from the file its HR system
    writes (`payments.services.payroll`). The tuple is the 人员类 indicator it is paid
    from; submitted, its lines become payment requests (one per person, one per withheld
    kind) that go the ordinary way: commitment, approvals, vouchers, bank results.
    `sha256` is the imported file's: the same file again changes nothing."""

    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("payroll status", "imported")
        SUBMITTED = "submitted", pgettext_lazy("payroll status", "submitted for payment")

    organization = models.ForeignKey("finance.Organization", on_delete=models.PROTECT,
                                     related_name="payrolls", verbose_name=_("unit"))
    month = models.PositiveSmallIntegerField(_("month"))
    filename = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("file hash (SHA-256)"), max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    gross = models.DecimalField(_("gross pay (应发)"), **MONEY)
    tax = models.DecimalField(_("income tax withheld (代扣个税)"), **MONEY)
    social = models.DecimalField(_("social insurance withheld (代扣社保)"), **MONEY)
    housing = models.DecimalField(_("housing fund withheld (代扣公积金)"), **MONEY)
    net = models.DecimalField(_("net pay (实发)"), **MONEY)
    staff = models.PositiveIntegerField(_("staff"))
    issues = models.JSONField(_("problems found"), default=list, blank=True)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="+")
    filed_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("payroll batch")
        verbose_name_plural = _("payroll batches")
        ordering = ["-year", "-month", "organization"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "year", "month"],
                                    name="payroll_one_per_unit_month"),
            models.CheckConstraint(condition=Q(month__gte=1, month__lte=12),
                                   name="payroll_month_range"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.unit} {self.year}-{self.month:02d}"


class PayrollLine(models.Model):
    """One person's line of a payroll batch. The ID number and bank account are kept in
    full (the payment needs the account) and masked (`*_masked`) for display; only
    `finance.roles.may_see_personal_data` sees the full values. net = gross − withheld is
    checked by the importer to the cent (a database check would compare floating sums on
    SQLite). Deliberately without
    history rows: personal data is not copied into history. `request` is the payment
    request that pays the net now (a returned one's new request after a re-payment)."""

    batch = models.ForeignKey(PayrollBatch, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField(_("line"))
    staff_no = models.CharField(_("staff number (工号)"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    id_number = models.CharField(max_length=18)
    id_masked = models.CharField(_("ID number (身份证号)"), max_length=18)
    bank_name = models.CharField(_("bank (开户银行)"), max_length=200)
    account = models.CharField(max_length=40)
    account_masked = models.CharField(_("bank account (银行账号)"), max_length=40)
    gross = models.DecimalField(_("gross pay (应发)"), **MONEY)
    tax = models.DecimalField(_("income tax withheld (代扣个税)"), **MONEY)
    social = models.DecimalField(_("social insurance withheld (代扣社保)"), **MONEY)
    housing = models.DecimalField(_("housing fund withheld (代扣公积金)"), **MONEY)
    net = models.DecimalField(_("net pay (实发)"), **MONEY)
    request = models.ForeignKey(PaymentRequest, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="payroll_lines")

    class Meta:
        verbose_name = _("payroll line")
        verbose_name_plural = _("payroll lines")
        ordering = ["batch", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "staff_no"], name="payroll_line_staff"),
            models.CheckConstraint(condition=Q(net__gt=0), name="payroll_line_net_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.line_no} {self.staff_no} {self.id_masked}"


class PayrollWithholding(models.Model):
    """代扣代缴: a batch's withheld total of one kind (个税, 社保, 公积金), paid to the
    collecting payee by its own request in the batch."""

    class Kind(models.TextChoices):
        TAX = "tax", _("income tax (个税)")
        SOCIAL = "social", _("social insurance (社保)")
        HOUSING = "housing", _("housing fund (公积金)")

    batch = models.ForeignKey(PayrollBatch, on_delete=models.CASCADE,
                              related_name="withholdings")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.DecimalField(**MONEY)
    request = models.ForeignKey(PaymentRequest, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("payroll withholding")
        verbose_name_plural = _("payroll withholdings")
        constraints = [models.UniqueConstraint(fields=["batch", "kind"],
                                               name="payroll_withholding_kind")]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.kind} {self.amount}"


class OfficialCard(models.Model):
    """公务卡: a credit card the issuing bank gives a unit's staff member for official
    expenses (personal liability). The unit repays its transactions from an indicator
    within the interest-free period (`payments.services.cards`). The number is kept in
    full (the repayment is paid to it) and masked for display (6222 **** **** 1234)."""

    organization = models.ForeignKey("finance.Organization", on_delete=models.PROTECT,
                                     related_name="official_cards", verbose_name=_("unit"))
    holder = models.CharField(_("cardholder"), max_length=100)
    number = models.CharField(_("card number"), max_length=19, unique=True)
    number_masked = models.CharField(_("card number"), max_length=25)
    bank_cnaps = models.CharField(_("issuing bank (CNAPS code)"), max_length=12)
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords(excluded_fields=["number"])

    class Meta:
        verbose_name = _("official card")
        verbose_name_plural = _("official cards")
        ordering = ["organization", "holder", "id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.number_masked} {self.holder}"


class CardTransaction(models.Model):
    """One transaction of an official card as the issuing bank's file gives it (a refund,
    退货, is negative). open → matched (a repayment request filed for it) → repaid (that
    request paid); a returned (退票), rejected or withdrawn request puts it back to open.
    The bank's reference is unique per issuing bank; `sha256` and `line_no` name the file
    and line it came from."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("card transaction", "open")
        MATCHED = "matched", pgettext_lazy("card transaction", "repayment filed")
        REPAID = "repaid", pgettext_lazy("card transaction", "repaid")

    card = models.ForeignKey(OfficialCard, on_delete=models.PROTECT,
                             related_name="transactions", verbose_name=_("official card"))
    bank_cnaps = models.CharField(_("issuing bank (CNAPS code)"), max_length=12)
    reference = models.CharField(_("bank reference"), max_length=60)
    traded_on = models.DateField(_("transaction date"))
    posted_on = models.DateField(_("posting date"))
    merchant = models.CharField(_("merchant"), max_length=200)
    mcc = models.CharField(_("merchant category code (MCC)"), max_length=4, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    request = models.ForeignKey(PaymentRequest, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="card_transactions",
                                verbose_name=_("repayment request"))
    filename = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("file hash (SHA-256)"), max_length=64)
    line_no = models.PositiveIntegerField(_("line"))
    imported_at = models.DateTimeField(_("imported at"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("card transaction")
        verbose_name_plural = _("card transactions")
        ordering = ["card", "posted_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bank_cnaps", "reference"],
                                    name="card_transaction_bank_ref"),
            models.CheckConstraint(condition=~Q(amount=0), name="card_transaction_not_zero"),
            models.CheckConstraint(condition=Q(status="open") | Q(request__isnull=False),
                                   name="card_transaction_request_when_matched"),
        ]
        indexes = [models.Index(fields=["status", "posted_on"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.reference} {self.amount} {self.status}"
