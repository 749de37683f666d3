"""Pieces every resource uses: the problem schema, week fields, error docs, fast JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import flask_smorest
import orjson
from flask import Request, Response
from marshmallow import EXCLUDE, Schema, fields, missing, validate
from webargs.flaskparser import FlaskParser
from werkzeug.routing import BaseConverter

from core.errors import MalformedRequest
from core.weeks import WEEK_PATTERN, format_week, parse_week


class BaseSchema(Schema):
    """Unknown fields are ignored (PRODUCT.md), never an error."""

    class Meta:
        unknown = EXCLUDE


class StrictInteger(fields.Integer):
    """A JSON integer: 3 and 3.0 (JSON Schema's integers), never "3", true or 3.5."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """A JSON boolean: true or false, never 1, "yes" or "true"."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


# PostgreSQL text cannot hold NUL; stored text says so in the contract (a `pattern`).
NO_NUL = validate.Regexp(r"^[^\x00]*$", error="Must not contain NUL characters.")


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
        metadata = {"type": "string", "pattern": WEEK_PATTERN, "example": "2026-W47"}
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


class WeekConverter(BaseConverter):
    """A path segment naming an ISO week; the view checks it (422 when it is not one)."""


def week_converter_schema(_: BaseConverter) -> dict[str, Any]:
    return {"type": "string", "pattern": WEEK_PATTERN, "example": "2026-W47"}


class KnotlogParser(FlaskParser):
    """A JSON body must be there (send {} to change nothing): a missing one is a 400."""

    def load_json(self, req: Request, schema: Schema) -> Any:
        data = super().load_json(req, schema)
        if data is missing:
            raise MalformedRequest("Send a JSON body (Content-Type: application/json).")
        return data


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with knotlog's argument parser."""

    ARGUMENTS_PARSER = KnotlogParser()


def errors_documented(
    blp: Blueprint, *statuses: int, rate_limited: bool = True
) -> Callable[[Any], Any]:
    """Document the problem responses an operation can give; every operation but the
    health checks is rate limited (api/rate_limits.py), so 429 is added by default."""
    if rate_limited and 429 not in statuses:
        statuses = (*statuses, 429)

    def decorate(view: Any) -> Any:
        for status in statuses:
            view = blp.alt_response(status, response=_RESPONSE_NAMES[status])(view)
        return view

    return decorate


_RESPONSE_NAMES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    410: "GONE",
    413: "REQUEST_ENTITY_TOO_LARGE",
    422: "UNPROCESSABLE_ENTITY",
    429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
}


def json_response(payload: Any, status: int = 200) -> Response:
    """Serialise with orjson: the hot paths (push, pull) skip marshmallow's dump."""
    body = orjson.dumps(payload, option=orjson.OPT_UTC_Z)  # UTC times end in "Z", as before
    return Response(body, status=status, mimetype="application/json")


BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
PUBLIC: list[dict[str, list[str]]] = []
