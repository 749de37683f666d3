"""Domain errors raised by services; api/errors.py turns each into a problem document."""

from __future__ import annotations

from typing import Any

FieldErrors = dict[str, list[str]]


class DomainError(Exception):
    """Base class: `code` is a stable machine-readable slug clients may branch on."""

    code = "error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(DomainError):
    code = "invalid_fields"

    def __init__(self, errors: FieldErrors, detail: str = "Some fields are invalid.") -> None:
        super().__init__(detail)
        self.errors = errors


class MalformedRequest(DomainError):
    """The request cannot be read at all (not JSON, bad encoding)."""

    code = "malformed_request"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Unauthorized(DomainError):
    code = "unauthorized"


class Gone(DomainError):
    code = "gone"


class Unavailable(DomainError):
    """A transient failure: the client should retry after `retry_after` seconds."""

    code = "unavailable"

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class TooManyRequests(DomainError):
    """Refused for now (e.g. an account locked after many failed sign-ins); retry later."""

    code = "too_many_requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Forbidden(DomainError):
    """Authenticated, but this action needs more (e.g. the password re-confirmed)."""

    code = "forbidden"
