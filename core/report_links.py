"""Signed, expiring links that open one weekly report page without a bearer token.

The Monday email carries one, so a person can open the full report in a
browser; the API checks the signature and serves (or presigns) the stored page.
"""

from __future__ import annotations

import uuid

from itsdangerous import BadSignature, URLSafeTimedSerializer

from core.errors import NotFound

LINK_MAX_AGE_S = 30 * 24 * 3600
_SALT = "knotlog.report-link"


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def report_link(base_url: str, secret: str, account_id: uuid.UUID, week_label: str) -> str:
    token = _serializer(secret).dumps({"a": str(account_id), "w": week_label})
    return f"{base_url}/v1/report-pages/{token}"


def verify_report_token(secret: str, token: str) -> tuple[uuid.UUID, str]:
    """(account id, week label) of a valid link; NotFound for a bad or expired one."""
    try:
        payload = _serializer(secret).loads(token, max_age=LINK_MAX_AGE_S)
        return uuid.UUID(payload["a"]), str(payload["w"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise NotFound("This report link is invalid or has expired.") from None
