"""Headers that keep personal data out of caches and pages out of other sites' frames."""

from __future__ import annotations

from dataclasses import replace

from flask.testing import FlaskClient
from sqlalchemy import Engine

from api import create_app
from api.security_headers import API_CSP, DOCS_CSP, HSTS
from core.database import Database
from core.settings import Settings
from tests.conftest import register


def test_personal_data_is_never_stored_by_caches_or_sniffed(client: FlaskClient) -> None:
    user = register(client)
    for path in ("/v1/me", "/v1/sessions", "/v1/me/export", "/v1/nowhere"):
        reply = client.get(path, headers=user["headers"])
        assert reply.headers["Cache-Control"] == "no-store", path
        assert reply.headers["X-Content-Type-Options"] == "nosniff", path
        assert reply.headers["Content-Security-Policy"] == API_CSP, path
        assert reply.headers["Referrer-Policy"] == "no-referrer", path


def test_docs_get_a_csp_that_allows_only_the_apps_own_files(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == DOCS_CSP
    assert b"<script>" not in page.data  # no inline script: script-src 'self' suffices
    asset = client.get("/docs/assets/swagger-ui.css")
    assert asset.status_code == 200 and "max-age=86400" in asset.headers["Cache-Control"]
    assert asset.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_is_sent_over_tls_only(client: FlaskClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    secure = client.get("/healthz", base_url="https://knotlog.example")
    assert secure.headers["Strict-Transport-Security"] == HSTS


def test_behind_a_trusted_tls_proxy_hsts_follows_x_forwarded_proto(
    settings: Settings, engine: Engine
) -> None:
    proxied = create_app(replace(settings, proxy_hops=1), Database.from_engine(engine))
    reply = proxied.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert reply.headers["Strict-Transport-Security"] == HSTS
    # Without the setting, a client cannot claim TLS by sending the header itself.
    direct = create_app(settings, Database.from_engine(engine)).test_client()
    assert (
        "Strict-Transport-Security"
        not in direct.get("/healthz", headers={"X-Forwarded-Proto": "https"}).headers
    )
