"""The payments fixtures (people in their roles, payee, agent account, approved plan)."""
from tests.payments.conftest import acme, agent, banks, ledger, people, plan, ready  # noqa: F401
