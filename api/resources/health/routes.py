"""Liveness, readiness and the published contract."""

from __future__ import annotations

from flask import Response, current_app
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import text

from api.db import database
from api.resources.common import PUBLIC, BaseSchema, errors_documented, json_response

blp = Blueprint("health", __name__, description="Health checks")


class HealthSchema(BaseSchema):
    status = fields.String(required=True, metadata={"example": "ok"})


@blp.route("/healthz", methods=["GET"])
@blp.doc(operationId="healthz", security=PUBLIC)
@blp.response(200, HealthSchema)
def healthz() -> Response:
    """Process is up"""
    return json_response({"status": "ok"})


@blp.route("/readyz", methods=["GET"])
@blp.doc(operationId="readyz", security=PUBLIC)
@blp.response(200, HealthSchema)
@errors_documented(blp, 503, rate_limited=False)
def readyz() -> Response:
    """Database is reachable"""
    with database().engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return json_response({"status": "ok"})


@blp.route("/openapi.yaml", methods=["GET"])
@blp.doc(
    operationId="getOpenapi",
    security=PUBLIC,
    responses={
        "200": {
            "description": "This API's OpenAPI document.",
            # The YAML text is a document (a mapping), which is what a YAML-aware client sees.
            "content": {"application/yaml": {"schema": {"type": "object"}}},
        }
    },
)
@errors_documented(blp)
def openapi_yaml() -> Response:
    """The OpenAPI document"""
    return Response(current_app.extensions["knotlog.spec_yaml"](), mimetype="application/yaml")
