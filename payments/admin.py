"""Admin: the payments master data (banks, payees, agent accounts, rules, plan-control
settings) with history; memberships are in finance's admin; documents change only through services."""
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from payments import models as m


class NoDelete(SimpleHistoryAdmin):
    def has_delete_permission(self, request, obj=None):  # noqa: ANN001, ARG002
        return False


@admin.register(m.Bank)
class BankAdmin(NoDelete):
    list_display = ["cnaps", "name", "active"]
    search_fields = ["cnaps", "name"]


@admin.register(m.Payee)
class PayeeAdmin(NoDelete):
    list_display = ["name", "account_number", "bank_name", "branch_name", "cnaps", "blocked"]
    search_fields = ["name", "account_number"]
    list_filter = ["blocked"]


@admin.register(m.AgentAccount)
class AgentAccountAdmin(NoDelete):
    list_display = ["number", "name", "bank"]


@admin.register(m.Rule)
class RuleAdmin(NoDelete):
    list_display = ["code", "name", "enabled", "action", "params"]
    list_filter = ["enabled", "action"]


admin.site.register(m.FundSourceSetting, NoDelete)
