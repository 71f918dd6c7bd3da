"""Admin: master data with history; the ledger is read-only."""
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from finance import models as m


class MasterDataAdmin(SimpleHistoryAdmin):
    search_fields = ["code", "name"]
    list_display = ["code", "name", "active"]
    list_filter = ["active"]

    def has_delete_permission(self, request, obj=None):  # noqa: ANN001, ARG002
        return False  # retire (active=False) instead


for model in (m.FunctionCode, m.GovEconomicCode, m.EconomicCode, m.RevenueCode, m.FundSource,
              m.Region):
    admin.site.register(model, MasterDataAdmin)


@admin.register(m.Account)
class AccountAdmin(MasterDataAdmin):
    list_display = ["code", "name", "book", "category", "normal_side", "must_not_go_negative", "active"]
    list_filter = ["book", "active"]


@admin.register(m.Organization)
class OrganizationAdmin(MasterDataAdmin):
    list_display = ["code", "name", "kind", "region", "uscc", "active"]
    list_filter = ["kind", "region", "active"]
    search_fields = ["code", "name", "uscc"]


@admin.register(m.Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    """Who works for which organization (roles are the user's groups)."""

    list_display = ["user", "organization"]
    search_fields = ["user__username", "organization__code", "organization__name"]
    raw_id_fields = ["user", "organization"]

    def has_delete_permission(self, request, obj=None):  # noqa: ANN001, ARG002
        return False


@admin.register(m.FiscalYear)
class FiscalYearAdmin(SimpleHistoryAdmin):
    list_display = ["year", "is_closed"]

    def has_delete_permission(self, request, obj=None):  # noqa: ANN001, ARG002
        return False


@admin.register(m.Period)
class PeriodAdmin(SimpleHistoryAdmin):
    list_display = ["fiscal_year", "month", "status"]
    list_filter = ["fiscal_year", "status"]

    def has_add_permission(self, request):  # noqa: ANN001, ARG002
        return False

    def has_change_permission(self, request, obj=None):  # noqa: ANN001, ARG002
        return False  # opened with the year, closed through period_close

    def has_delete_permission(self, request, obj=None):  # noqa: ANN001, ARG002
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):  # noqa: ANN001, ARG002
        return False

    def has_change_permission(self, request, obj=None):  # noqa: ANN001, ARG002
        return False

    def has_delete_permission(self, request, obj=None):  # noqa: ANN001, ARG002
        return False


class LineInline(admin.TabularInline):
    model = m.Line
    extra = 0
    can_delete = False
    fields = ["seq", "book", "account", "unit", "function", "economic", "fund_source",
              "project_code", "debit", "credit"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):  # noqa: ANN001, ARG002
        return False

    def has_change_permission(self, request, obj=None):  # noqa: ANN001, ARG002
        return False


@admin.register(m.Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ["fiscal_year", "number", "date", "kind", "description", "tracking_id", "posted_by"]
    list_filter = ["fiscal_year", "kind"]
    search_fields = ["description", "tracking_id", "idempotency_key"]
    inlines = [LineInline]


@admin.register(m.Balance)
class BalanceAdmin(ReadOnlyAdmin):
    list_display = ["account", "dim_key", "debit_fen", "credit_fen"]
    search_fields = ["dim_key"]


@admin.register(m.WorkflowStep)
class WorkflowStepAdmin(ReadOnlyAdmin):
    list_display = ["doc_type", "doc_id", "from_state", "to_state", "action", "actor", "at"]
