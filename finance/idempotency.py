"""Idempotency keys for every API write: a POST under /api/ sent with an ``Idempotency-Key``
header runs at most once per user and key; a retry gets the stored answer again.

How it works (one middleware, so every API endpoint, present or future, is covered):
1. The caller is identified as DRF would (session or token); anonymous calls pass through
   (the view answers 401).
2. A claim row (finance.IdempotentRequest, unique on user + key) is inserted and committed
   before the view runs, so a concurrent request with the same key cannot run too: it gets
   409 ``idempotency_in_progress``.
3. The view runs inside one transaction together with the update that stores its answer:
   either the action and its stored answer are both committed, or neither is (a dropped
   connection rolls both back, and the claim, left in progress, may be retaken after
   ``IDEMPOTENCY_STALE_SECONDS``). A 5xx answer rolls the action back and frees the key;
   401/403/429 answers are not stored either (the caller may retry once allowed).
4. A retry with the same key, method, path and body gets the stored status and body
   (header ``Idempotent-Replayed: true``); the same key with anything else is refused with
   422 ``idempotency_key_reused``.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import load_handler
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParser
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

from finance.models import IdempotentRequest

HEADER = "Idempotency-Key"
META_KEY = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 255
NOT_STORED = {401, 403, 409, 429}
KEY_REUSED = "idempotency_key_reused"
IN_PROGRESS = "idempotency_in_progress"
KEY_INVALID = "idempotency_key_invalid"
HEADER_DESCRIPTION = (
    "Optional. A unique string chosen by the client (e.g. a UUID) for this write. Retrying "
    "with the same key, method, path and body returns the original answer (status and body, "
    "header Idempotent-Replayed: true) without running the action again; the same key with "
    "another body answers 422, and while the first request is still running 409. Keys are "
    "per user.")


def _stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, "IDEMPOTENCY_STALE_SECONDS", 300))


def _read_body(request: HttpRequest) -> bytes:
    """The raw body, left readable for the view. Unlike ``request.body`` this also works for
    uploads larger than DATA_UPLOAD_MAX_MEMORY_SIZE (the upload limit middleware has
    already capped the whole request)."""
    try:
        return request.body
    except Exception:  # noqa: BLE001 - RequestDataTooBig: read it ourselves
        body = request.read()
        request._body = body  # noqa: SLF001 - what HttpRequest.body itself does
        request._stream = io.BytesIO(body)  # noqa: SLF001
        request._read_started = False  # noqa: SLF001
        return body


def fingerprint(request: HttpRequest, body: bytes) -> str:
    """sha256 over method, path (with query) and body. Multipart bodies are hashed by their
    fields and file contents, since a client picks a new boundary for each attempt."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.get_full_path()}\n".encode())
    ctype = request.META.get("CONTENT_TYPE", "")
    if ctype.startswith("multipart/form-data"):
        meta = {**request.META, "CONTENT_LENGTH": str(len(body))}
        try:
            handlers = [load_handler(h, request) for h in settings.FILE_UPLOAD_HANDLERS]
            data, files = MultiPartParser(meta, io.BytesIO(body), handlers,
                                          request.encoding).parse()
        except Exception:  # noqa: BLE001 - malformed multipart: hash the bytes; the view refuses it
            digest.update(body)
            return digest.hexdigest()
        fields = sorted((k, v) for k in data for v in data.getlist(k))
        uploads = sorted((k, f.name, hashlib.sha256(f.read()).hexdigest())
                         for k in files for f in files.getlist(k))
        digest.update(json.dumps([fields, uploads], ensure_ascii=False).encode())
    else:
        digest.update(body)
    return digest.hexdigest()


def _caller(request: HttpRequest) -> Any:
    """The user DRF will see: the session's, or the token's (a bad token: None)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    from rest_framework.exceptions import APIException
    from rest_framework.request import Request

    from finance.request_cache import CachedTokenAuthentication

    try:
        found = CachedTokenAuthentication().authenticate(Request(request))
    except APIException:
        return None
    return found[0] if found else None


def _problem(code: str, detail: str, status: int) -> JsonResponse:
    response = JsonResponse({"code": code, "detail": detail}, status=status)
    if status == 409:
        response["Retry-After"] = "1"
    return response


def _replay(row: IdempotentRequest) -> HttpResponse:
    response = HttpResponse(bytes(row.response_body), status=row.response_status,
                            content_type=row.response_type or None)
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotencyMiddleware:
    """Applies idempotency keys to every POST under /api/ (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.META.get(META_KEY)
        if key is None or request.method != "POST" or not request.path.startswith("/api/"):
            return self.get_response(request)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            return _problem(KEY_INVALID, _("The Idempotency-Key header must be 1 to 255 "
                                           "characters."), 400)
        user = _caller(request)
        if user is None:
            return self.get_response(request)
        body = _read_body(request)
        row, answer = self._claim(user=user, key=key, request=request,
                                  fp=fingerprint(request, body))
        if answer is not None:
            return answer
        return self._run(request, row)

    def _claim(self, *, user: Any, key: str, request: HttpRequest,
               fp: str) -> tuple[IdempotentRequest | None, HttpResponse | None]:
        now = timezone.now()
        # In autocommit (the server) the INSERT commits by itself, one statement; inside a
        # transaction (a test's) a savepoint keeps a clash from breaking it.
        claim = (transaction.atomic() if transaction.get_connection().in_atomic_block
                 else contextlib.nullcontext())
        try:
            with claim:
                row = IdempotentRequest.objects.create(
                    user=user, key=key, method=request.method or "POST",
                    path=request.get_full_path()[:2000], fingerprint=fp, created_at=now)
            return row, None
        except IntegrityError:
            pass
        row = IdempotentRequest.objects.filter(user=user, key=key).first()
        if row is None:  # freed meanwhile (the first attempt failed): the caller retries
            return None, _problem(IN_PROGRESS, _("A request with this Idempotency-Key is "
                                                 "being processed; retry shortly."), 409)
        if row.fingerprint != fp:
            return None, _problem(KEY_REUSED, _(
                "This Idempotency-Key was already used for a different request (%(method)s "
                "%(path)s with another body). Use a new key for a new request.") % {
                "method": row.method, "path": row.path}, 422)
        if row.status == IdempotentRequest.Status.DONE:
            return None, _replay(row)
        # In progress: retake it only if it is stale (its process died; its transaction, and
        # so the action, was rolled back with it).
        retaken = IdempotentRequest.objects.filter(
            pk=row.pk, status=IdempotentRequest.Status.IN_PROGRESS,
            created_at=row.created_at, created_at__lt=now - _stale_after(),
        ).update(created_at=now)
        if retaken:
            row.created_at = now
            return row, None
        return None, _problem(IN_PROGRESS, _("A request with this Idempotency-Key is being "
                                             "processed; retry shortly."), 409)

    def _run(self, request: HttpRequest, row: IdempotentRequest) -> HttpResponse:
        keep = False
        try:
            with transaction.atomic():
                response = self.get_response(request)
                status = response.status_code
                if status >= 500 or status in NOT_STORED or response.streaming:
                    transaction.set_rollback(status >= 500)
                else:
                    IdempotentRequest.objects.filter(pk=row.pk).update(
                        status=IdempotentRequest.Status.DONE, response_status=status,
                        response_body=response.content,
                        response_type=response.get("Content-Type", ""),
                        finished_at=timezone.now())
                    keep = True
        finally:
            if not keep:
                IdempotentRequest.objects.filter(
                    pk=row.pk, status=IdempotentRequest.Status.IN_PROGRESS).delete()
        return response


class IdempotentAutoSchema(AutoSchema):
    """drf-spectacular schema: every POST operation documents the Idempotency-Key header."""

    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        if self.method == "POST":
            params.append(OpenApiParameter(HEADER, str, OpenApiParameter.HEADER, required=False,
                                           description=HEADER_DESCRIPTION))
        return params
