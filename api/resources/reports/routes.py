"""Weekly reports: a link for the app, and the signed page behind links in emails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Response, redirect, request
from flask_smorest import Blueprint
from werkzeug.wrappers import Response as WerkzeugResponse

from api.auth import account_id, require_token
from api.db import get_db
from api.reports import link_secret, report_store
from api.resources.common import BEARER, PUBLIC, errors_documented, json_response
from api.resources.summaries.routes import week_from_path
from api.resources.summaries.schemas import ReportLinkSchema
from core.errors import NotFound
from core.reports.store import weekly_keys
from core.services import summaries
from core.signing import LINK_MAX_AGE_S, report_link, verify_report_token
from core.weeks import format_week

blp = Blueprint("reports", __name__, url_prefix="/v1", description="Weekly reports")

PRESIGNED_TTL_S = 300
_CONTENT_TYPES = {"html": "text/html; charset=utf-8", "json": "application/json"}


@blp.route("/reports/<week:week>", methods=["GET"])
@blp.doc(operationId="getReport", security=BEARER)
@blp.response(200, ReportLinkSchema)
@errors_documented(blp, 401, 404, 422)
@require_token
def get_report(week: str) -> Response:
    """Get links to my stored report of one ISO week

    On S3 the links are presigned and valid for five minutes; otherwise they are
    signed links served by this API.
    """
    monday = week_from_path(week)
    label = format_week(monday)
    version = summaries.reported_version(get_db(), account_id(), monday)
    store = report_store()
    json_key, html_key = weekly_keys(account_id(), label)
    html_url = store.presigned_url(html_key, PRESIGNED_TTL_S)
    json_url = store.presigned_url(json_key, PRESIGNED_TTL_S)
    ttl = PRESIGNED_TTL_S
    if html_url is None or json_url is None:
        page = report_link(request.host_url.rstrip("/"), link_secret(), account_id(), label)
        html_url, json_url, ttl = page, f"{page}?format=json", LINK_MAX_AGE_S
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl)
    return json_response(
        {
            "week": label,
            "version": version,
            "html_url": html_url,
            "json_url": json_url,
            "expires_at": expires_at.isoformat(),
        }
    )


@blp.route("/report-pages/<string:token>", methods=["GET"])
@blp.doc(
    operationId="openReportPage",
    security=PUBLIC,
    parameters=[
        {
            "name": "format",
            "in": "query",
            "schema": {"type": "string", "enum": ["html", "json"], "default": "html"},
        }
    ],
    responses={
        "200": {
            "description": "The stored report.",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        "302": {"description": "Redirect to a presigned URL of the stored report."},
    },
)
@errors_documented(blp, 404)
def open_report_page(token: str) -> WerkzeugResponse:
    """Open a report from a signed link (as sent in the weekly email)"""
    owner, label = verify_report_token(link_secret(), token)
    fmt = request.args.get("format", "html")
    if fmt not in _CONTENT_TYPES:
        raise NotFound("Unknown report format; use html or json.")
    json_key, html_key = weekly_keys(owner, label)
    key = html_key if fmt == "html" else json_key
    store = report_store()
    url = store.presigned_url(key, PRESIGNED_TTL_S)
    if url is not None:
        return redirect(url, code=302)
    try:
        body = store.get(key)
    except KeyError:
        raise NotFound("This report no longer exists.") from None
    return Response(body, mimetype=_CONTENT_TYPES[fmt].split(";")[0])
