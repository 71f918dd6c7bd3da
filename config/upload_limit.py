"""Refuses an upload larger than settings.UPLOAD_MAX_BYTES before its body is read (413 with
a message), for every form and API endpoint alike."""
from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _

MSG_UPLOAD_TOO_LARGE = _("The upload is %(size)s bytes; the limit is %(limit)s bytes.")
log = logging.getLogger("smart_finance.security")


class UploadLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.UPLOAD_MAX_BYTES
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        if size > limit:
            log.warning("upload refused: %s bytes to %s (limit %s)", size, request.path, limit)
            detail = str(MSG_UPLOAD_TOO_LARGE % {"size": f"{size:,}", "limit": f"{limit:,}"})
            return JsonResponse({"code": "upload_too_large", "detail": detail}, status=413)
        return self.get_response(request)
