"""The Flask application factory of knotlog's sync API."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import flask_swagger_ui
from flask import Flask, Response, send_from_directory
from werkzeug.middleware.proxy_fix import ProxyFix

from api import body_limit, observability, rate_limits, security_headers
from api import db as request_db
from api.errors import register_error_handlers
from api.resources.accounts.routes import blp as accounts_blp
from api.resources.health.routes import blp as health_blp
from api.resources.reports.routes import blp as reports_blp
from api.resources.sessions.routes import blp as sessions_blp
from api.resources.summaries.routes import blp as summaries_blp
from api.resources.sync.routes import blp as sync_blp
from api.resources.tokens.routes import blp as tokens_blp
from api.resources.unsubscribe.routes import blp as unsubscribe_blp
from api.spec import API_DESCRIPTION, KnotlogApi, spec_yaml
from core.database import Database
from core.settings import Settings

# The docs page and Swagger UI's files are served by the app itself, so the docs work
# offline, behind a firewall and under a CSP that allows scripts from 'self' only.
SWAGGER_ASSETS = Path(flask_swagger_ui.__file__).parent / "dist"
DOCS_FILES = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None, database: Database | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        PUSH_MAX_ITEMS=settings.push_max_items,
        API_TITLE="knotlog",
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": API_DESCRIPTION},
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "opaque"}
                }
            },
        },
    )
    app.extensions["knotlog.settings"] = settings
    if settings.proxy_hops:
        # Behind N trusted proxies: the client's address and https come from X-Forwarded-*.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    request_db.init_app(app, database or Database.from_settings(settings))

    api = KnotlogApi(app)
    for blueprint in (
        health_blp,
        accounts_blp,
        tokens_blp,
        sessions_blp,
        sync_blp,
        summaries_blp,
        reports_blp,
        unsubscribe_blp,
    ):
        api.register_blueprint(blueprint)
    register_error_handlers(app)
    body_limit.init_app(app)
    observability.init_app(app)
    rate_limits.init_app(app, settings)  # after observability: a 429 keeps its request id
    security_headers.init_app(app)

    @cache
    def published_spec() -> str:
        with app.app_context():
            return spec_yaml(api)

    app.extensions["knotlog.spec_yaml"] = published_spec
    app.extensions["knotlog.api"] = api

    @app.get("/docs")
    def docs() -> Response:
        return send_from_directory(DOCS_FILES, "docs.html", max_age=0)

    @app.get("/docs/knotlog-docs.js")
    def docs_script() -> Response:
        return send_from_directory(DOCS_FILES, "knotlog-docs.js", max_age=0)

    @app.get("/docs/assets/<path:filename>")
    def swagger_assets(filename: str) -> Response:
        return send_from_directory(SWAGGER_ASSETS, filename, max_age=86400)

    return app


def openapi_document(app: Flask) -> str:
    spec: Any = app.extensions["knotlog.spec_yaml"]
    return str(spec())
