"""Device tokens: sign in a device, list and revoke them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Response, request

from api.auth import account_id, login_policy, require_token
from api.db import get_db
from api.resources.common import BEARER, PUBLIC, Blueprint, errors_documented, json_response
from api.resources.tokens.schemas import (
    TokenCreatedSchema,
    TokenPageSchema,
    TokenRequestSchema,
)
from core.errors import TooManyRequests, Unauthorized
from core.models.account import Token
from core.services import tokens

blp = Blueprint("tokens", __name__, url_prefix="/v1/tokens", description="Device tokens")


def token_json(token: Token) -> dict[str, Any]:
    return {
        "id": str(token.id),
        "device_name": token.device_name,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }


@blp.route("", methods=["POST"])
@blp.doc(operationId="createToken", security=PUBLIC)
@blp.arguments(
    TokenRequestSchema,
    example={
        "email": "rosa@example.com",
        "password": "correct horse battery staple",
        "device_name": "Rosa's Pixel 8",
    },
)
@blp.response(201, TokenCreatedSchema)
@errors_documented(blp, 400, 401, 422)
def create_token(body: dict[str, Any]) -> Response:
    """Sign in a device and get its bearer token

    After too many consecutive wrong passwords an account refuses sign-ins for a
    while (429 with Retry-After), even with the right password.
    """
    db = get_db()
    try:
        token, secret = tokens.issue_token(
            db, now=datetime.now(UTC), policy=login_policy(), ip=request.remote_addr, **body
        )
    except (Unauthorized, TooManyRequests):
        db.commit()  # the failed attempt (and its audit event) must count, though it fails
        raise
    db.commit()
    return json_response({**token_json(token), "token": secret}, 201)


@blp.route("", methods=["GET"])
@blp.doc(operationId="listTokens", security=BEARER)
@blp.response(200, TokenPageSchema)
@errors_documented(blp, 401)
@require_token
def list_tokens() -> Response:
    """List my devices' tokens"""
    items = [token_json(t) for t in tokens.list_tokens(get_db(), account_id())]
    return json_response({"items": items, "next_cursor": None})


@blp.route("/<uuid:token_id>", methods=["DELETE"])
@blp.doc(operationId="revokeToken", security=BEARER)
@blp.response(204, description="Revoked; it stops working at once.")
@errors_documented(blp, 401, 404)
@require_token
def revoke_token(token_id: uuid.UUID) -> Response:
    """Revoke a token"""
    db = get_db()
    tokens.revoke_token(db, account_id(), token_id, ip=request.remote_addr)
    db.commit()
    return Response(status=204)
