"""The demo command runs through the real services and is resumable; the trial
balance page shows what the selectors compute."""
from __future__ import annotations

from decimal import Decimal

from django.core.management import call_command

from finance import selectors
from finance.models import Entry, Organization


class TestDemoCommand:
    def test_posts_a_balanced_year_and_a_rerun_adds_nothing(self, codes, capsys):
        call_command("demo", units=6)
        out = capsys.readouterr().out
        assert out.count("balanced") == 3 and "NOT BALANCED" not in out
        entries = Entry.objects.count()
        assert entries > 6 * 2 * 12
        assert Organization.objects.filter(kind="budget_unit").count() == 6
        assert Entry.objects.filter(kind="reversal").exists()
        assert selectors.ledger_verify().ok
        paid = selectors.balance(account="9301")
        assert paid == selectors.balance(account="7101") == selectors.balance(account="5001")
        assert paid > 0

        call_command("demo", units=6)
        assert Entry.objects.count() == entries
        assert selectors.balance(account="9301") == paid


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
