"""Treasury payments: payees, requests, rules, approvals, vouchers, bank feeds, reconciliation."""
