"""Offline-first sync: push a batch of sessions, pull every change after a cursor."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app

from api.auth import account_id, require_token
from api.db import get_db
from api.resources.common import BEARER, Blueprint, errors_documented, json_response
from api.resources.sessions.routes import request_json
from api.resources.sync.schemas import (
    PUSH_EXAMPLE,
    PullQuerySchema,
    PullReplySchema,
    PushReplySchema,
    PushRequestSchema,
)
from core import telemetry
from core.errors import InvalidInput
from core.services import session_reads, session_writes
from core.session_rules import SessionInput, validate_session

blp = Blueprint("sync", __name__, url_prefix="/v1/sync", description="Offline-first sync")


@blp.route("/push", methods=["POST"])
@blp.doc(
    operationId="pushSessions",
    security=BEARER,
    requestBody={
        "required": True,
        "content": {"application/json": {"schema": PushRequestSchema, "example": PUSH_EXAMPLE}},
    },
)
@blp.response(200, PushReplySchema)
@errors_documented(blp, 400, 401, 413, 422, 503)
@require_token
def push() -> Response:
    """Push up to 500 sessions

    One result per item, in order. Invalid items are reported and the valid ones
    stored; replaying a push changes nothing.
    """
    body = request_json()
    items = body.get("sessions") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise InvalidInput({"sessions": ["Send an object with a 'sessions' list."]})
    limit = current_app.config["PUSH_MAX_ITEMS"]
    if len(items) > limit:
        raise InvalidInput(
            {"sessions": [f"At most {limit} sessions per push; split the batch."]},
            f"A push carries at most {limit} sessions.",
        )
    now = datetime.now(UTC)
    results: list[dict[str, Any]] = []
    valid: list[SessionInput] = []
    valid_at: list[int] = []
    for index, raw in enumerate(items):
        item, errors = validate_session(raw, now)
        if item is None:
            results.append(
                {"index": index, "id": _readable_id(raw), "status": "invalid", "errors": errors}
            )
        else:
            results.append({"index": index, "id": str(item.id), "status": None, "errors": None})
            valid.append(item)
            valid_at.append(index)
    db = get_db()
    outcome = session_writes.apply_changes(db, account_id(), valid)
    db.commit()
    for index, status in zip(valid_at, outcome.statuses, strict=True):
        results[index]["status"] = status
    # One increment per status, not per item: a 500-item push stays cheap to count.
    for status, count in Counter(result["status"] for result in results).items():
        telemetry.SYNC_ITEMS.labels(result=status).inc(count)
    return json_response({"results": results})


def _readable_id(raw: Any) -> str | None:
    try:
        return str(uuid.UUID(raw.get("id"))) if isinstance(raw, dict) else None
    except (TypeError, ValueError, AttributeError):
        return None


@blp.route("/pull", methods=["GET"])
@blp.doc(operationId="pullChanges", security=BEARER)
@require_token  # before the arguments: no validation errors for strangers
@blp.arguments(PullQuerySchema, location="query", as_kwargs=True)
@blp.response(200, PullReplySchema)
@errors_documented(blp, 401, 410, 422)
def pull(cursor: str | None = None, limit: int = 500) -> Response:
    """Pull every change after a cursor

    Changes come in server order, tombstones included. A 410 means the cursor is
    older than the tombstone retention: drop local state and pull without a cursor.
    """
    page = session_reads.pull_changes(get_db(), account_id(), cursor, limit)
    return json_response(
        {"changes": page.changes, "cursor": page.cursor, "has_more": page.has_more}
    )
