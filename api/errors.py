"""Every error response is built here, as an RFC 9457 problem document."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from flask import Flask, Response, current_app
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Gone,
    InvalidInput,
    MalformedRequest,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_DOMAIN_STATUS: dict[type[DomainError], int] = {
    InvalidInput: 422,
    MalformedRequest: 400,
    NotFound: 404,
    Conflict: 409,
    Unauthorized: 401,
    Forbidden: 403,
    Gone: 410,
    TooManyRequests: 429,
    Unavailable: 503,
}

# Database constraints that mean "already taken"; named by core's naming convention.
_UNIQUE_MESSAGES = {
    "uq_accounts_email": ("email", "An account with this email already exists."),
}


def problem(
    status: int,
    detail: str | None = None,
    *,
    code: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": phrase,
        "status": status,
        "detail": detail or phrase,
        "code": code or phrase.lower().replace(" ", "_").replace("-", "_"),
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = Response(orjson.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten_locations(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs nests errors by location ({"json": {...}}); clients want the fields."""
    flat: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, dict) and location in {"json", "query", "path", "form", "headers"}:
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


def http_exception_problem(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    headers = dict(data.get("headers") or {})
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    detail = data.get("message") or error.description
    if status == 422 and errors:
        detail = "Some fields are invalid; see errors."
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        detail = "The request body is larger than this server accepts" + (
            f" ({limit} bytes)." if limit else "."
        )
    return problem(
        status,
        detail,
        errors=_flatten_locations(errors) if isinstance(errors, dict) else None,
        headers=headers,
    )


def domain_problem(error: DomainError) -> Response:
    status = next((code for cls, code in _DOMAIN_STATUS.items() if isinstance(error, cls)), 400)
    headers = {}
    if isinstance(error, Unavailable | TooManyRequests):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="knotlog"'
    errors = error.errors if isinstance(error, InvalidInput) else None
    return problem(status, error.detail, code=error.code, errors=errors, headers=headers)


def integrity_problem(error: IntegrityError) -> Response:
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None) or ""
    field, message = _UNIQUE_MESSAGES.get(constraint, ("", "This conflicts with stored data."))
    errors = {field: [message]} if field else None
    return problem(409, message, code="conflict", errors=errors)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, domain_problem)
    app.register_error_handler(IntegrityError, integrity_problem)

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> Response:
        log.warning("database unavailable: %s", type(error.orig).__name__)
        return problem(
            503, "The database is unavailable; retry shortly.", headers={"Retry-After": "5"}
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):
            return http_exception_problem(error)
        log.exception("unhandled error")
        return problem(500, "An unexpected error occurred; it has been logged.")
