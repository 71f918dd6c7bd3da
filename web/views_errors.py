"""The error pages users see instead of Django's (config/urls.py: handler403/404/500):
in the site's layout and language, with a way back home; never a list of routes."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader
from django.views import defaults


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return defaults.page_not_found(request, exception, template_name="404.html")


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return defaults.permission_denied(request, exception, template_name="403.html")


def server_error(request: HttpRequest) -> HttpResponse:
    """Rendered without the request's context: nothing here may need the database."""
    return HttpResponseServerError(loader.get_template("500.html").render())
