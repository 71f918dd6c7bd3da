"""The trial balance page shows what the selectors compute. (The city-year demo is
tested in tests/citysim.)"""
from __future__ import annotations

from decimal import Decimal

from finance import selectors


class TestTrialBalancePage:
    def test_requires_login(self, client, db):
        response = client.get("/ledger/trial-balance/")
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    def test_shows_totals_per_book_with_thousands_separators(self, client, ledger, user):
        client.force_login(user)
        response = client.get("/ledger/trial-balance/?year=2026", HTTP_ACCEPT_LANGUAGE="en")
        html = response.content.decode()
        assert response.status_code == 200
        assert "1,000.00" in html
        assert html.count("✔") == 3
        assert selectors.trial_balance(book="indicator").total_debit == Decimal("1000.00")

    def test_home_page_in_chinese_by_default(self, client, db):
        html = client.get("/").content.decode()
        assert "智慧财政" in html and 'lang="zh-hans"' in html
