"""Every write of the payments app: one function per use case, keyword-only, under
transaction.atomic, taking the acting user and the time; ledger postings go through
finance.ledger (entry_post / entry_reverse) only.

One module per stage of a payment's life (master data, plans, requests, vouchers, bank
files, reconciliation); this package re-exports their names, so callers keep writing
`from payments import services; services.payment_request_create(...)`."""
from __future__ import annotations

from payments import errors
from payments.services._common import (
    CENT,
    DIRECTOR,
    FILER,
    REVIEWER,
    UNIT_HEAD,
    S,
    amount_in_capitals,
    director_threshold,
    users_prefetch,
)
from payments.services.bankfiles import (
    ImportReport,
    NotBatchable,
    bank_file_import,
    bank_result_apply,
    bank_results_apply,
)
from payments.services.contracts import (
    ContractFigures,
    contract_close,
    contract_create,
    contract_entries,
    contract_figures,
    contract_sign,
    contracts_for_unit,
)
from payments.services.filing import (
    BATCH_LIMIT,
    Filed,
    RequestInput,
    payment_requests_file,
)
from payments.services.masterdata import (
    PayeeBank,
    agent_account_upsert,
    bank_upsert,
    fund_source_plan_control_set,
    membership_set,
    payee_bank,
    payee_block,
    payee_save,
    payee_unit_block,
    payee_unit_save,
    rule_update,
)
from payments.services.plans import (
    PlanApplyLine,
    plan_apply,
    plan_approve,
    plans_apply,
    plans_approve,
)
from payments.services.reconciliation import (
    recon_exception_resolve,
    reconcile,
    statement_reconcile,
)
from payments.services.requests import (
    ATTACHMENT_TYPES,
    LEVELS,
    REFILABLE,
    WITHDRAWABLE,
    Decided,
    attachment_limits,
    attachments_check,
    payment_request_approve,
    payment_request_create,
    payment_request_refile,
    payment_request_reject,
    payment_request_submit,
    payment_request_withdraw,
    payment_requests_approve,
    payment_requests_reject,
    refiled_as,
    refiled_from,
)
from payments.services.vouchers import voucher_batch_create

__all__ = [
    "ContractFigures", "contract_close", "contract_create", "contract_entries",
    "contract_figures", "contract_sign", "contracts_for_unit",
    "ATTACHMENT_TYPES", "CENT", "DIRECTOR", "FILER", "LEVELS", "REFILABLE", "REVIEWER",
    "UNIT_HEAD", "WITHDRAWABLE", "S",
    "Decided", "ImportReport", "NotBatchable", "PayeeBank", "PlanApplyLine",
    "attachment_limits", "attachments_check", "payee_bank", "payee_unit_block",
    "payee_unit_save", "payment_request_withdraw",
    "agent_account_upsert", "amount_in_capitals", "bank_file_import", "bank_result_apply",
    "bank_results_apply", "bank_upsert", "director_threshold", "errors",
    "fund_source_plan_control_set", "membership_set", "payee_block", "payee_save",
    "payment_request_approve", "payment_request_create", "payment_request_refile",
    "payment_request_reject", "refiled_as", "refiled_from",
    "payment_request_submit", "payment_requests_approve", "payment_requests_reject",
    "plan_apply", "plan_approve",
    "plans_apply", "plans_approve", "recon_exception_resolve", "reconcile", "rule_update",
    "statement_reconcile", "users_prefetch", "voucher_batch_create",
    "BATCH_LIMIT", "Filed", "RequestInput", "payment_requests_file",
]
