"""Read-only pages of the budgets app; each view makes one selector call."""
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from budgets import selectors


@login_required
def unit_indicators_view(request: HttpRequest, code: str) -> HttpResponse:
    """A unit's indicators: approved, adjusted, used, available (all from the ledger)."""
    year = request.GET.get("year", "")
    year_n = int(year) if year.isdigit() else timezone.localdate().year
    rows = selectors.unit_indicators(unit_code=code, year=year_n)
    return render(request, "budgets/unit_indicators.html",
                  {"rows": rows, "unit_code": code, "year": year_n})
