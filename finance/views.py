"""Read-only ledger pages; each view makes one selector call."""
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from finance import selectors
from finance.models import Book


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "finance/home.html", {})


@login_required
def trial_balance_view(request: HttpRequest) -> HttpResponse:
    year = request.GET.get("year")
    books = [
        (label, selectors.trial_balance(book=value, year=int(year) if year and year.isdigit() else None))
        for value, label in Book.choices
    ]
    return render(request, "finance/trial_balance.html", {"books": books, "year": year})
