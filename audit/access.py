"""The auditor role (finance.roles.AUDITOR): reads everything, changes nothing. A guard
any app's services call before writing, a DRF permission for write endpoints, and the
log of what auditors view and export."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from rest_framework.permissions import SAFE_METHODS, BasePermission

from audit.errors import AuditorReadOnly
from audit.models import AccessLog
from finance import roles

AUDITOR_GROUP = roles.AUDITOR  # the name this module always had for it


def is_auditor(user: Any) -> bool:
    """True for an authenticated holder of the auditor role (superusers included if they
    hold it: the role wins over the flag); finance.roles caches the user's roles."""
    return roles.is_auditor(user)


def ensure_not_auditor(user: Any) -> None:
    """Call first in every write service: auditors may not change anything."""
    if is_auditor(user):
        raise AuditorReadOnly(user=getattr(user, "username", user))


class AuditorReadOnlyPermission(BasePermission):
    """DRF permission: auditors may use safe methods only (services check again)."""

    message = str(AuditorReadOnly.message)

    def has_permission(self, request, view) -> bool:  # noqa: ANN001, ARG002
        return request.method in SAFE_METHODS or not is_auditor(request.user)


def access_log_record(*, user: Any, action: str, target: str, params: dict | None = None,
                      as_of: datetime | None = None) -> AccessLog | None:
    """Log a view or export by an auditor; other users' reads are not logged here."""
    if not is_auditor(user):
        return None
    clean = {k: (v if isinstance(v, str | int | bool) or v is None else str(v))
             for k, v in (params or {}).items()}
    return AccessLog.objects.create(user=user, action=action, target=target[:200], params=clean,
                                    at=as_of or timezone.now())
