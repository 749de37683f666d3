"""PUT/GET/DELETE one session, and the filtered, paginated list."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Response, request

from api.auth import account_id, require_token
from api.db import get_db
from api.resources.common import BEARER, Blueprint, errors_documented, json_response
from api.resources.sessions.schemas import (
    SESSION_EXAMPLE,
    SessionListQuerySchema,
    SessionPageSchema,
    SessionReplaceSchema,
    SessionSchema,
)
from core.errors import Conflict, InvalidInput, MalformedRequest
from core.services import session_reads, session_writes
from core.session_rules import validate_session

blp = Blueprint("sessions", __name__, url_prefix="/v1/sessions", description="Logged sessions")

# OpenAPI links: what a client (or a stateful fuzzer) can do next with a stored session.
SESSION_LINKS = {
    name: {"operationId": operation, "parameters": {"session_id": "$response.body#/id"}}
    for name, operation in (("GetSession", "getSession"), ("DeleteSession", "deleteSession"))
}


def request_json() -> Any:
    """The body parsed with orjson; malformed JSON or invalid UTF-8 is a 400."""
    try:
        return orjson.loads(request.get_data(cache=False))
    except orjson.JSONDecodeError as exc:
        raise MalformedRequest(f"The body is not valid JSON (or not UTF-8): {exc}.") from None


@blp.route("/<uuid:session_id>", methods=["PUT"])
@blp.doc(
    operationId="putSession",
    security=BEARER,
    requestBody={
        "required": True,
        "content": {
            "application/json": {"schema": SessionReplaceSchema, "example": SESSION_EXAMPLE}
        },
    },
)
@blp.response(200, SessionSchema, description="Updated or unchanged.")
@blp.alt_response(201, schema=SessionSchema, description="Created.")
@blp.doc(responses={200: {"links": SESSION_LINKS}, 201: {"links": SESSION_LINKS}})
@errors_documented(blp, 400, 401, 409, 413, 422)
@require_token
def put_session(session_id: uuid.UUID) -> Response:
    """Create or replace one session

    Last writer wins by client_updated_at: an older or equal one answers 409 and
    changes nothing; a body equal to the stored one answers 200 unchanged.
    """
    now = datetime.now(UTC)
    item, errors = validate_session(request_json(), now, path_id=session_id)
    if item is None:
        raise InvalidInput(errors)
    db = get_db()
    status = session_writes.apply_changes(db, account_id(), [item]).statuses[0]
    if status == session_writes.STALE:
        raise Conflict(
            "A version with a later client_updated_at is stored; fetch it and edit that."
        )
    stored = session_reads.get_session(db, account_id(), session_id, include_deleted=True)
    db.commit()
    return json_response(stored, 201 if status == session_writes.CREATED else 200)


@blp.route("/<uuid:session_id>", methods=["GET"])
@blp.doc(operationId="getSession", security=BEARER)
@blp.response(200, SessionSchema)
@errors_documented(blp, 401, 404)
@require_token
def get_session(session_id: uuid.UUID) -> Response:
    """Read one session"""
    return json_response(session_reads.get_session(get_db(), account_id(), session_id))


@blp.route("/<uuid:session_id>", methods=["DELETE"])
@blp.doc(operationId="deleteSession", security=BEARER)
@blp.response(204, description="Deleted; devices receive a tombstone on their next pull.")
@errors_documented(blp, 401, 404)
@require_token
def delete_session(session_id: uuid.UUID) -> Response:
    """Delete one session"""
    db = get_db()
    session_writes.delete_session(db, account_id(), session_id, datetime.now(UTC))
    db.commit()
    return Response(status=204)


@blp.route("", methods=["GET"])
@blp.doc(operationId="listSessions", security=BEARER)
@require_token  # before the arguments: no validation errors for strangers
@blp.arguments(SessionListQuerySchema, location="query", as_kwargs=True)
@blp.response(200, SessionPageSchema)
@errors_documented(blp, 401)
def list_sessions(**query: Any) -> Response:
    """List live sessions, newest first"""
    page = session_reads.list_sessions(
        get_db(),
        account_id(),
        limit=query["limit"],
        cursor=query.get("cursor"),
        date_from=query.get("from_"),
        date_to=query.get("to"),
        region=query.get("region"),
        tool=query.get("tool"),
    )
    return json_response({"items": page.items, "next_cursor": page.next_cursor})
