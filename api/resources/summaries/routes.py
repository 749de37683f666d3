"""Weekly summaries of the signed-in account."""

from __future__ import annotations

from typing import Any

from flask import Response

from api.auth import account_id, require_token
from api.db import get_db
from api.resources.common import BEARER, Blueprint, errors_documented, json_response
from api.resources.summaries.schemas import SummaryPageSchema, SummaryQuerySchema, SummarySchema
from core.errors import InvalidInput
from core.services import summaries
from core.weeks import parse_week

blp = Blueprint("summaries", __name__, url_prefix="/v1/summaries", description="Weekly summaries")


def week_from_path(week: str) -> Any:
    try:
        return parse_week(week)
    except ValueError as exc:
        raise InvalidInput({"week": [str(exc)]}) from None


@blp.route("", methods=["GET"])
@blp.doc(operationId="listSummaries", security=BEARER)
@require_token  # before the arguments: no validation errors for strangers
@blp.arguments(SummaryQuerySchema, location="query", as_kwargs=True)
@blp.response(200, SummaryPageSchema)
@errors_documented(blp, 401, 422)
def list_summaries(**query: Any) -> Response:
    """List my weekly summaries, oldest first"""
    items = summaries.list_summaries(get_db(), account_id(), query.get("from_"), query.get("to"))
    return json_response({"items": items, "next_cursor": None})


@blp.route("/<week:week>", methods=["GET"])
@blp.doc(operationId="getSummary", security=BEARER)
@blp.response(200, SummarySchema)
@errors_documented(blp, 401, 404, 422)
@require_token
def get_summary(week: str) -> Response:
    """Read my summary of one ISO week"""
    return json_response(summaries.get_summary(get_db(), account_id(), week_from_path(week)))
