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


@login_required
def job_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A progress bar that polls /api/finance/jobs/<pk>/ until the job ends."""
    import rules
    from django.http import Http404
    from django.shortcuts import get_object_or_404

    from finance.models import Job

    job = get_object_or_404(Job, pk=pk)
    if not rules.has_perm("finance.view_job", request.user, job):  # as the API: 404
        raise Http404
    return render(request, "finance/job.html", {"job": job})
