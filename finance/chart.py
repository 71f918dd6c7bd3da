"""The chart's roles in code: the account codes and entry kinds the apps post and read.

Every other module names an account by these constants, never by a literal code; the
codes themselves (names, books, normal sides, the must-not-go-negative flag) are master
data in `finance/data/codes/accounts.csv`."""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# books (finance.models.Book values)
INDICATOR_BOOK = "indicator"  # 指标账
BUDGET_BOOK = "budget"  # 预算会计
FINANCIAL_BOOK = "financial"  # 财务会计

# ----------------------------------------------------- indicator control book (指标账)
AUTHORITY = "9001"  # 指标来源（预算授权）, credit
AVAILABLE = "9101"  # 可用指标, debit, must not go negative
COMMITTED = "9201"  # 已冻结指标, debit, must not go negative
EXPENDED = "9301"  # 已支付指标, debit

# ------------------------------------------------------ budget accounting (预算会计)
FISCAL_APPROPRIATION_REVENUE = "6001"  # 财政拨款预算收入
BUSINESS_BUDGET_REVENUE = "6101"  # 事业预算收入
OTHER_BUDGET_REVENUE = "6609"  # 其他预算收入
ADMINISTRATIVE_EXPENDITURE = "7101"  # 行政支出
FUNDS_BALANCE = "8001"  # 资金结存
APPROPRIATION_CARRYOVER = "8101"  # 财政拨款结转
APPROPRIATION_SURPLUS = "8102"  # 财政拨款结余
NON_APPROPRIATION_CARRYOVER = "8201"  # 非财政拨款结转

# ---------------------------------------------------- financial accounting (财务会计)
FISCAL_RECEIVABLE = "1201"  # 财政应返还额度 (an appropriation carried into next year)
ACCUMULATED_SURPLUS = "3001"  # 累计盈余
CURRENT_SURPLUS = "3301"  # 本期盈余
SURPLUS_DISTRIBUTION = "3302"  # 本年盈余分配
FISCAL_APPROPRIATION_INCOME = "4001"  # 财政拨款收入
OPERATING_EXPENSE = "5001"  # 业务活动费用

# leading digits of the account classes (政府会计制度)
ASSETS, LIABILITIES, NET_ASSETS = "1", "2", "3"
REVENUE, EXPENSE = "4", "5"
BUDGET_REVENUE, BUDGET_EXPENDITURE, BUDGET_BALANCE = "6", "7", "8"


class EntryKind(models.TextChoices):
    """What an entry records (Entry.kind). A reversal counts with the kind of the entry
    it reverses wherever figures are split by kind."""

    APPROVAL = "approval", _("budget approval (批复)")
    ADJUSTMENT = "adjustment", _("budget adjustment (调整)")
    VIREMENT = "virement", _("virement (调剂)")
    COMMIT = "commit", _("commitment of a payment request (冻结)")
    PAYMENT = "payment", _("payment (支付)")
    RECEIPT = "receipt", _("revenue received (收入)")
    REVERSAL = "reversal", _("reversal (冲销)")
    CLOSING = "closing", _("year-end closing (年终结账)")
    CARRY_FORWARD = "carry_forward", _("carry-forward (结转结余)")
    OPENING = "opening", _("opening balances (年初结转)")
