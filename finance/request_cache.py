"""Look-ups cached for one web request: who the caller is and what they may see (the
token's user, a user's roles and organization, which units a user may see, the codes
under a region). A list page or an API call asks these many times — the policy
middleware, the idempotency middleware, DRF's authentication and permissions, the
queryset scoping, the templates — and each answer is read from the database once.

The cache is a dict in a context variable that `RequestCacheMiddleware` opens at the
start of each request and drops at its end, so nothing outlives the request: a role
granted or taken away shows with the next request. Outside a request (Celery tasks,
management commands, citysim) there is no cache and every look-up reads the database
(finance.roles still keeps its answers on the user object; `roles.forget` drops both).
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse
from rest_framework.authentication import TokenAuthentication

T = TypeVar("T")
_CACHE: ContextVar[dict[Hashable, Any] | None] = ContextVar("finance_request_cache", default=None)


def cached(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, once per key and request; outside a request, every time."""
    cache = _CACHE.get()
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def put(key: Hashable, value: Any) -> None:
    """Set an answer just written (e.g. the organization of a membership just saved)."""
    cache = _CACHE.get()
    if cache is not None:
        cache[key] = value


def drop(match: Callable[[Hashable], bool]) -> None:
    """Forget the cached answers whose key matches (e.g. every look-up of one user)."""
    cache = _CACHE.get()
    if cache:
        for key in [k for k in cache if match(k)]:
            del cache[key]


def active() -> bool:
    return _CACHE.get() is not None


class RequestCacheMiddleware:
    """Opens an empty cache for the request and drops it when the response is returned
    (first in settings.MIDDLEWARE, so every other middleware runs inside it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _CACHE.set({})
        try:
            return self.get_response(request)
        finally:
            _CACHE.reset(token)


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication with the token's user read once per request: the
    idempotency middleware, the page policy and DRF's view all authenticate the same
    caller, and get the same user object (whose roles are then read once too)."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        return cached(("token", key), lambda: super(
            CachedTokenAuthentication, self).authenticate_credentials(key))
