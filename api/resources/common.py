"""Pieces every resource uses: the problem schema, week fields, error docs, fast JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import orjson
from flask import Response
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields

from core.weeks import format_week, parse_week


class BaseSchema(Schema):
    """Unknown fields are ignored (PRODUCT.md), never an error."""

    class Meta:
        unknown = EXCLUDE


class ProblemSchema(BaseSchema):
    """RFC 9457 problem details, with per-field errors where they apply."""

    type = fields.String(metadata={"example": "about:blank"})
    title = fields.String(metadata={"example": "Unprocessable Entity"})
    status = fields.Integer(metadata={"example": 422})
    detail = fields.String(metadata={"example": "Some fields are invalid; see errors."})
    code = fields.String(
        metadata={"description": "Stable machine-readable reason.", "example": "invalid_fields"}
    )
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={
            "description": "Messages per field.",
            "example": {"email": ["Not a valid email address."]},
        },
    )


class WeekField(fields.Field):
    """An ISO week written `2026-W47`; loads to the Monday it starts on."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "pattern": r"^\d{4}-W\d{2}$", "example": "2026-W47"}
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_week(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return parse_week(value)
        except ValueError as exc:
            raise self.make_error("invalid", detail=str(exc)) from None

    default_error_messages = {"invalid": "Not a valid ISO week (like 2026-W47): {detail}"}

    def make_error(self, key: str, **kwargs: Any) -> Any:
        kwargs.setdefault("detail", "wrong format")
        return super().make_error(key, **kwargs)


def errors_documented(blp: Blueprint, *statuses: int) -> Callable[[Any], Any]:
    """Document the problem responses an operation can give."""

    def decorate(view: Any) -> Any:
        for status in statuses:
            view = blp.alt_response(status, response=_RESPONSE_NAMES[status])(view)
        return view

    return decorate


_RESPONSE_NAMES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    409: "CONFLICT",
    410: "GONE",
    413: "REQUEST_ENTITY_TOO_LARGE",
    422: "UNPROCESSABLE_ENTITY",
    503: "SERVICE_UNAVAILABLE",
}


def json_response(payload: Any, status: int = 200) -> Response:
    """Serialise with orjson: the hot paths (push, pull) skip marshmallow's dump."""
    body = orjson.dumps(payload, option=orjson.OPT_UTC_Z)  # UTC times end in "Z", as before
    return Response(body, status=status, mimetype="application/json")


BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
PUBLIC: list[dict[str, list[str]]] = []
