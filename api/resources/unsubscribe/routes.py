"""One-click unsubscribe from the weekly email (RFC 8058), from a signed link."""

from __future__ import annotations

from html import escape

from flask import Response, request
from flask_smorest import Blueprint

from api.db import get_db
from api.reports import link_secret
from api.resources.common import PUBLIC, errors_documented
from core.services.accounts import stop_weekly_email
from core.signing import verify_unsubscribe

blp = Blueprint("unsubscribe", __name__, url_prefix="/v1", description="Weekly email")

_TOKEN = [{"name": "token", "in": "query", "required": True, "schema": {"type": "string"}}]
_HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}


def _page(title: str, body: str) -> Response:
    html = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title>"
        "<body style='font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto'>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return Response(html, mimetype="text/html")


@blp.route("/unsubscribe", methods=["GET"])
@blp.doc(
    operationId="confirmUnsubscribe",
    security=PUBLIC,
    parameters=_TOKEN,
    responses={"200": {"description": "A page with a button that unsubscribes.", **_HTML}},
)
@errors_documented(blp, 422)
def confirm_unsubscribe() -> Response:
    """Show the unsubscribe page (GET never changes anything: mail scanners follow links)"""
    token = request.args.get("token", "")
    verify_unsubscribe(link_secret(), token)
    return _page(
        "Stop the weekly email?",
        f"<form method=post action='?token={escape(token)}'>"
        "<button type=submit>Unsubscribe</button></form>",
    )


@blp.route("/unsubscribe", methods=["POST"])
@blp.doc(
    operationId="unsubscribe",
    security=PUBLIC,
    parameters=_TOKEN,
    responses={"200": {"description": "The weekly email is off.", **_HTML}},
)
@errors_documented(blp, 422)
def unsubscribe() -> Response:
    """Turn the weekly email off (one-click, RFC 8058)"""
    account_id = verify_unsubscribe(link_secret(), request.args.get("token", ""))
    db = get_db()
    stop_weekly_email(db, account_id)
    db.commit()
    return _page(
        "You are unsubscribed",
        "<p>knotlog will not email you weekly summaries any more. "
        "You can turn them back on in the app.</p>",
    )
